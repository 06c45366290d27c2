"""Confidence intervals for cell metrics and their differences: a paired bootstrap over test rows
and seeds (scipy.stats.bootstrap), computed once for every cell of a table.

    from budgetsplit.analysis import stats
    boot = stats.bootstrap_cells(scores)              # the long per-row score table
    boot.cells                                        # one row per cell: mean, low, high, ...
    stats.difference(boot, i, j)                      # (mean, low, high) of cell i minus cell j

The score table has one row per (cell, seed, test row): columns task, method, budget,
sft_fraction, seed, cost_ratio, n_sft, n_pref, metric, ids_digest, row, score. A cell is
(task, method, cost_ratio, budget, sft_fraction); its metric is the mean over its seeds and rows.

How it resamples. Cells of a task scored on the same rows (same `ids_digest`) form a block. Every
bootstrap draw picks one multiset of rows for the whole block, and one multiset of seeds for all
cells of the block that ran the same seeds: differences between cells are paired over both
(the same test questions; seed s draws the same examples in every cell). Cells with another seed
set get their own, independent seed draw; a single seed cannot be resampled and adds no seed
spread (the report must say how many seeds ran); a cell with one seed and one "row" (a results
table without per-row scores, one seed) has no interval at all: NaN, never zero width. Blocks are
independent draws, so a difference across blocks is unpaired (still valid, wider). With only a few seeds the bootstrap understates
the seed spread (by a factor (n-1)/n in variance): 3 seeds are the minimum, not a luxury.

Intervals are percentile intervals of the draws (not BCa: BCa is undefined for constant cells,
e.g. a model that scores 0 on every row, which are common here). Everything is seeded: the same
table and seed give the same intervals, and each block draws from its own stream (seed, task,
ids_digest), so a task's intervals do not move when other tasks join the table. Cost: one matrix
product per cell, rows x draws.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from budgetsplit.study.cells import CELL_KEY

# A cell of the statistics: a study cell with its seeds pooled. Its columns in the order cells sort,
# the budget and the split last, so that a group's splits and a cost ratio's budgets sit side by
# side (the order also fixes which random stream each set of seeds draws from).
CELL = [k for k in CELL_KEY if k not in ("seed", "budget", "sft_fraction")]
CELL += ["budget", "sft_fraction"]
SCORE_COLUMNS = [*CELL, "seed", "n_sft", "n_pref", "metric", "ids_digest", "row", "score"]


@dataclass
class Bootstrap:
    """Cells (one row each: CELL keys, n_sft, n_pref, metric, n_seeds, n_rows, block, mean, low,
    high) and their bootstrap draws, one row of `draws` per cell, drawn jointly within a block."""

    cells: pd.DataFrame
    draws: np.ndarray
    level: float

    def index(self, **keys) -> int:
        """The position of the one cell matching `keys` (cost_ratio=None matches no cost ratio)."""
        hit = np.ones(len(self.cells), dtype=bool)
        for k, v in keys.items():
            col = self.cells[k]
            hit &= col.isna().to_numpy() if v is None else (col == v).to_numpy()
        found = np.flatnonzero(hit)
        if len(found) != 1:
            raise KeyError(f"{len(found)} cells match {keys}; expected exactly one")
        return int(found[0])


def check_columns(df: pd.DataFrame, needed: list[str], what: str) -> None:
    """One error naming every missing column of a table."""
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")


def _one_metric(scores: pd.DataFrame, metric: str | dict | None) -> pd.DataFrame:
    """The rows of one metric per task: `metric` is a name, {task: name}, or None (the only one)."""
    parts = []
    for task, t in scores.groupby("task"):
        name = metric.get(task) if isinstance(metric, dict) else metric
        if name is None:
            names = sorted(t["metric"].unique())
            if len(names) != 1:
                raise ValueError(f"task {task!r} has scores for metrics {names}; name one")
            name = names[0]
        picked = t[t["metric"] == name]
        if picked.empty:
            raise ValueError(f"task {task!r} has no per-row scores for metric {name!r}")
        parts.append(picked)
    return pd.concat(parts, ignore_index=True)


def _weights(idx: np.ndarray, n: int) -> np.ndarray:
    """Resampled indices (draws x n) -> how often each index was drawn, as a share (draws x n)."""
    idx = np.atleast_2d(idx)
    flat = idx + n * np.arange(len(idx))[:, None]
    return np.bincount(flat.ravel(), minlength=len(idx) * n).reshape(len(idx), n) / n


def _block(block: pd.DataFrame, n_resamples: int, rng: np.random.Generator):
    """(cells, draws) of one block: every cell's mean under shared row draws and per-seed-set
    seed draws."""
    rows = np.sort(block["row"].unique())
    cells, mats, seed_sets = [], [], {}
    for key, c in block.groupby(CELL, dropna=False, sort=True):
        seeds = tuple(sorted(c["seed"].unique()))
        wide = c.pivot_table(index="seed", columns="row", values="score", aggfunc="first")
        wide = wide.reindex(index=list(seeds), columns=rows)
        if wide.isna().any().any() or len(c) != len(seeds) * len(rows):
            raise ValueError(
                f"cell {dict(zip(CELL, key, strict=True))} is not scored (a number) once on each of "
                f"the {len(rows)} rows of its block for every seed {list(seeds)}"
            )
        group = seed_sets.setdefault(seeds, len(seed_sets))
        mats.append(wide.to_numpy(float))
        first = c.iloc[0]
        cells.append(
            {
                **dict(zip(CELL, key, strict=True)),
                "n_sft": first["n_sft"],
                "n_pref": first["n_pref"],
                "metric": first["metric"],
                "n_seeds": len(seeds),
                "n_rows": len(rows),
                "seed_set": group,
            }
        )
    # The resampled samples: rows always (when there are 2+), then each seed set with 2+ seeds.
    samples = [np.arange(len(rows))] if len(rows) > 1 else []
    sample_of = {}
    for seeds, g in seed_sets.items():
        if len(seeds) > 1:
            sample_of[g] = len(samples)
            samples.append(np.arange(len(seeds)))

    def statistic(*idx, axis=-1):
        n_draws = np.atleast_2d(idx[0]).shape[0] if idx else 1
        w_rows = _weights(idx[0], len(rows)) if len(rows) > 1 else np.ones((n_draws, 1))
        out = np.empty((len(mats), n_draws))
        for i, (m, cell) in enumerate(zip(mats, cells, strict=True)):
            per_seed = m @ w_rows.T  # seeds x draws: each seed's mean over the drawn rows
            s = sample_of.get(cell["seed_set"])
            w_seeds = _weights(idx[s], m.shape[0]) if s is not None else np.full((n_draws, 1), 1.0)
            out[i] = np.einsum("sd,ds->d", per_seed, w_seeds)
        return out

    if not samples:  # one row, one seed everywhere: nothing to resample
        draws = statistic()
    else:
        res = scipy.stats.bootstrap(
            samples,
            statistic,
            paired=False,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            rng=rng,
        )
        draws = res.bootstrap_distribution
    draws = np.array(np.atleast_2d(draws), dtype=float)
    # one seed scored once has no spread to resample: unknown (NaN), never "certain"
    draws[[m.size == 1 for m in mats]] = np.nan
    means = np.array([m.mean() for m in mats])
    return pd.DataFrame(cells).assign(mean=means), draws


def bootstrap_cells(
    scores: pd.DataFrame,
    metric: str | dict | None = None,
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Bootstrap:
    """Bootstrap every cell of a per-row score table: `level` percentile intervals of each cell's
    mean over seeds and rows, and the draws from which `difference` builds paired intervals."""
    check_columns(scores, SCORE_COLUMNS, "the score table")
    if scores.empty:
        raise ValueError("the score table is empty")
    scores = _one_metric(scores, metric)
    frames, draws = [], []
    for b, ((task, digest), block) in enumerate(scores.groupby(["task", "ids_digest"])):
        # each block its own stream, from (seed, task, rows): a task's intervals do not change
        # when other tasks join the table
        key = int.from_bytes(hashlib.sha256(f"{task}/{digest}".encode()).digest()[:8], "big")
        cells, d = _block(block, n_resamples, np.random.default_rng([seed, key]))
        frames.append(cells.assign(block=b, ids_digest=digest))
        draws.append(d if d.shape[1] == n_resamples else np.repeat(d, n_resamples, axis=1))
    cells = pd.concat(frames, ignore_index=True)
    dup = cells.duplicated(CELL, keep=False)
    if dup.any():
        raise ValueError(
            "cells scored on different rows across seeds (more than one ids_digest): "
            f"{cells.loc[dup, CELL].drop_duplicates().to_dict('records')}"
        )
    draws = np.vstack(draws)
    tail = (1 - level) / 2
    cells["low"], cells["high"] = np.quantile(draws, [tail, 1 - tail], axis=1)
    cells = cells.drop(columns="seed_set")
    return Bootstrap(cells, draws, level)


def difference(boot: Bootstrap, i: int, j: int) -> tuple[float, float, float]:
    """(mean, low, high) of cell i's metric minus cell j's: paired when both share a block."""
    cells = boot.cells
    if cells.at[i, "task"] != cells.at[j, "task"]:
        raise ValueError("cells of different tasks are not comparable")
    tail = (1 - boot.level) / 2
    d = boot.draws[i] - boot.draws[j]
    low, high = np.quantile(d, [tail, 1 - tail])
    return float(cells.at[i, "mean"] - cells.at[j, "mean"]), float(low), float(high)


def scores_from_results(results: pd.DataFrame, metric_column: str = "score") -> pd.DataFrame:
    """A score table from a results table (one value per cell and seed): each cell-seed mean is
    one "row", so the bootstrap runs over seeds only. For tables without per-row scores. The
    metric is named by the `primary_metric` column where there is one (`score` is the primary
    metric after analysis.prepare), else by `metric_column`."""
    check_columns(results, [*CELL, "seed", "n_sft", "n_pref", metric_column], "the results table")
    name = results["primary_metric"] if "primary_metric" in results else metric_column
    return results.assign(
        metric=name, ids_digest="cell-means", row=0, score=results[metric_column]
    )[SCORE_COLUMNS].reset_index(drop=True)
