"""The study's readings of a results table, decided by rule with intervals: which SFT fractions are
best at each budget (a set, or none), and the equal-performance comparison (claim 5).

    from budgetsplit.analysis import verdicts
    from budgetsplit.study import results
    table = results.results_table("runs", "toy")        # or verdicts.recipe_rows(table, params)
    df, best, boot = verdicts.verdicts(table, results.row_scores_table("runs", "toy"))
    verdicts.summary(best)                               # one row per (task, method, cost, budget)
    verdicts.equal_performance(best, boot)

`verdicts` is the steps in one: `prepare` the table (score, SFT-only cells on every method's
curve), `bootstrap` its cells' scores (`cell_scores`: per-row, else a cell-seed's mean, via
`stats.scores_from_results`), `best_sets` (one row per cell, with its group's verdict) and
`with_intervals` (the table + ci_low, ci_high, in_best_set, no_best, set_top: the columns the
figures draw; they never decide a best themselves).

The rules (docs/statistics.md states them with their reasons):

* Best set. In each group (task, method, cost ratio, budget) the leader is the fraction with the
  highest mean. A fraction is in the best set when the 95% paired-bootstrap interval of its
  difference to the leader reaches 0 (upper end >= 0): it is not significantly worse. The margin
  is therefore the interval itself, never a fixed number. Ties are never broken: tied fractions are
  all in the set, and `leader` is NaN when the top mean is shared. A split without an interval
  (NaN: one seed, no per-row scores) cannot be shown worse and stays in the set. Where a figure
  draws one split for the set, it is `set_top`: the leader, or on a shared top mean the smallest
  of the tied fractions.
* Floor. A task's floor is the higher-scoring of its base-model row (method "base", budget 0) and
  its floor of cheap outputs (method "floor", study/floors.py: the best of an empty answer, a copy
  of the prompt, a constant guess, ...). A fraction is above the floor when the interval of its
  difference to the floor lies wholly above 0; with neither row, when it scored anything but 0. A
  group none of whose fractions is above the floor has no best (`no_best`), and an empty set.
* Equivalence. A fraction is equivalent to its group's leader when the interval of its difference
  to the leader lies within +-`EQUIVALENCE` of the leader's gain over the floor (`margin`): a
  tenth of what the best split learned. Claims may read "no worse than the best" only from this,
  never from an interval that merely reaches 0.
* Equal performance (per task and method, example budgets): the reference is the largest budget's
  worst fraction that is above the floor and poorly allocated (outside the best set: when every
  split is within noise of the best, allocation did not matter and there is no reference); the
  match is the smallest budget whose leader is not significantly worse than the reference
  (interval of leader minus reference reaches 0) and is above the floor itself. `unresolved`
  counts the smaller budgets whose leader is neither (at the floor, yet not shown worse).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from budgetsplit.analysis import stats
from budgetsplit.analysis.stats import CELL, Bootstrap
from budgetsplit.study.cells import BASE, CELL_KEY, FLOOR, MODEL, Cell, expand
from budgetsplit.study.results import model_rows, models_in

GROUP = [k for k in CELL if k != "sft_fraction"]  # a cell less its split: the splits compared
# Rows that are no split of a budget: the base model and the floor of cheap outputs.
NOT_SPLITS = (BASE, FLOOR)
# The equivalence margin, as a share of the leader's gain over the floor (docs/statistics.md,
# stated 2026-12-02 before the default grid was rerun).
EQUIVALENCE = 0.1
# The verdict of each cell that `with_intervals` puts on the table, beside its interval.
VERDICT_COLUMNS = ("in_best_set", "no_best", "set_top")


def per_method(df: pd.DataFrame) -> pd.DataFrame:
    """SFT-only cells (method "sft") belong to every method's curve: copy them once per method
    run on their task (kept as "sft" where the task ran none). Works on a results table and on a
    per-row score table alike; base and floor rows stay as they are."""
    if df.empty or not (df["method"] == "sft").any():
        return df
    parts = [df[df["method"] != "sft"]]
    for _, t in df.groupby("task", sort=True):
        sft = t[t["method"] == "sft"]
        methods = sorted(set(t["method"]) - {"sft", *NOT_SPLITS})
        parts += [sft.assign(method=m) for m in methods] or [sft]
    return pd.concat(parts, ignore_index=True)


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(score=[r[f"metric.{r['primary_metric']}"] for _, r in df.iterrows()])


def one_model(df: pd.DataFrame) -> pd.DataFrame:
    """`df`, checked to hold one model's cells (with the floor rows every model shares): a verdict
    never pools models; study.results.model_rows picks one. ValueError naming them otherwise."""
    if MODEL in df and len(models := models_in(df)) > 1:
        raise ValueError(
            f"the table holds cells of several models {models}: judge one at a time "
            "(study.results.model_rows)"
        )
    return df


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Add `score` (each row's primary metric), put SFT-only cells on every method's curve, and
    make whole-number budgets and sizes integers (100, not 100.0). One model's table (`one_model`)."""
    one_model(df)
    if df.empty:
        return df.assign(score=pd.Series(dtype=float))
    return whole_numbers(per_method(_scored(df)), ("budget", "n_sft", "n_pref"))


def whole_numbers(df: pd.DataFrame, cols) -> pd.DataFrame:
    """Columns of whole numbers as integers, as people read them (100, not 100.0)."""
    for col in cols:
        if col in df and df[col].notna().all() and (df[col] % 1 == 0).all():
            df[col] = df[col].astype(int)
    return df


def recipe_rows(df: pd.DataFrame, params) -> pd.DataFrame:
    """The rows of a results table that are cells of this recipe (a profile's table holds every
    recipe's cells: math.yaml's and math_costs.yaml's, say)."""
    ids = {c.cell_id for c in expand(params)}
    keep = []
    models = df[MODEL] if MODEL in df else [None] * len(df)
    for r, model in zip(df[list(CELL_KEY)].to_dict("records"), models, strict=True):
        r["cost_ratio"] = None if pd.isna(r["cost_ratio"]) else r["cost_ratio"]
        r["seed"] = int(r["seed"])  # NaN (no cost ratio) back to None, ints back to ints
        keep.append(Cell(**r, model=None if pd.isna(model) else model).cell_id in ids)
    return df[keep].reset_index(drop=True)


def bootstrap(scores: pd.DataFrame, results: pd.DataFrame | None = None, **kw) -> Bootstrap:
    """`stats.bootstrap_cells` of a per-row score table with SFT-only cells on every method's
    curve, on each task's primary metric when the results table is given (`kw`: level,
    n_resamples, seed)."""
    one_model(scores)
    metric = None
    if results is not None and "primary_metric" in results:
        metric = results.groupby("task")["primary_metric"].first().to_dict()
    return stats.bootstrap_cells(per_method(scores), metric, **kw)


def _keyed(df: pd.DataFrame) -> pd.DataFrame:
    """The cell-and-seed columns in one dtype each, so that tables from different sources join."""
    out = df[list(CELL_KEY)].copy()
    for col in ("budget", "sft_fraction", "cost_ratio"):
        out[col] = pd.to_numeric(out[col]).astype(float)
    out["seed"] = out["seed"].astype(int)
    return out


def cell_scores(results: pd.DataFrame, scores: pd.DataFrame | None = None) -> pd.DataFrame:
    """The score table of a raw results table's cells: their rows of `scores` (the per-row score
    table, results.row_scores_table), and for a cell-seed without per-row scores its metric as one
    row (`stats.scores_from_results`), so tables of old records still get (wider, seed-only)
    intervals."""
    keys = _keyed(results).drop_duplicates()
    parts = []
    if scores is not None and not scores.empty:
        s = scores.reset_index(drop=True)
        mine = _keyed(s).merge(keys, how="left", indicator=True)["_merge"].eq("both")
        # the floor of the results' tasks belongs to them, though no record holds it
        floor = (s["method"] == FLOOR) & s["task"].isin(set(results["task"]))
        parts.append(s[mine.to_numpy() | floor.to_numpy()])
    have = pd.concat([_keyed(p) for p in parts]).drop_duplicates() if parts else keys[:0]
    missing = _keyed(results).merge(have, how="left", indicator=True)["_merge"].eq("left_only")
    if missing.any():
        parts.append(stats.scores_from_results(_scored(results[missing.to_numpy()])))
    return pd.concat(parts, ignore_index=True)


def verdicts(
    results: pd.DataFrame, scores: pd.DataFrame | None = None, **kw
) -> tuple[pd.DataFrame, pd.DataFrame, Bootstrap]:
    """(prepared table with intervals and verdicts, best sets, bootstrap) of a raw results table
    (as results_table gives it: a profile's or one recipe's rows) and its per-row scores
    (`cell_scores`). `kw`: level, n_resamples, seed."""
    boot = bootstrap(cell_scores(results, scores), results, **kw)
    best = best_sets(boot, floor_names(scores))
    return with_intervals(prepare(results), best), best, boot


def by_model(results: pd.DataFrame, scores: pd.DataFrame, **kw) -> pd.DataFrame:
    """`summary` of each model of a model axis, judged alone (`verdicts` on its rows, its base
    cell and the floor), in one table with a `model` column: how the best split moves with the
    model. `kw`: as `verdicts`."""
    parts = []
    for model in models_in(results):
        best = verdicts(model_rows(results, model), model_rows(scores, model), **kw)[1]
        parts.append(summary(best).assign(model=model))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def floor_names(scores: pd.DataFrame | None) -> dict[str, str]:
    """{task: the name of its floor of cheap outputs} from a per-row score table."""
    if scores is None or "output" not in scores:
        return {}
    f = scores[scores["method"] == FLOOR]
    return f.groupby("task")["output"].first().to_dict()


def with_intervals(df: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """A prepared results table (one row per cell and seed) with its cell's interval and verdict:
    `ci_low`, `ci_high`, `above_floor`, `in_best_set`, `no_best`, `set_top`, and its task's
    `floor` and `floor_source` (the columns the figures read)."""
    cols = {"low": "ci_low", "high": "ci_high", "above_floor": "above_floor"}
    cols |= {c: c for c in VERDICT_COLUMNS}
    marks = best[CELL + list(cols)].rename(columns=cols)
    # no cost ratio is None in some tables and NaN in others: one float dtype to join on
    marks = marks.assign(cost_ratio=pd.to_numeric(marks["cost_ratio"]).astype(float))
    drop = [*cols.values(), "floor", "floor_source"]
    df = df.drop(columns=drop, errors="ignore")
    df = df.assign(cost_ratio=pd.to_numeric(df["cost_ratio"]).astype(float))
    floors = best.groupby("task")[["floor", "floor_source"]].first().reset_index()
    return df.merge(marks, on=CELL, how="left").merge(floors, on="task", how="left")


def _interval(d: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - level) / 2
    low, high = np.quantile(d, [tail, 1 - tail], axis=-1)
    return low, high


def _floors(boot: Bootstrap, names: dict[str, str]) -> pd.DataFrame:
    """Per cell: `above_floor`, and its task's `floor` (mean) and `floor_source` (see the module
    docstring)."""
    cells = boot.cells
    above = np.zeros(len(cells), dtype=bool)
    # no floor row: NaN and None (the rule reads 0; figures draw no line)
    floor, source = np.full(len(cells), np.nan), np.full(len(cells), None, dtype=object)
    for task, idx in cells.groupby("task").groups.items():
        idx = np.asarray(idx)
        method = cells.loc[idx, "method"].to_numpy()
        for m in NOT_SPLITS:
            if (method == m).sum() > 1:
                raise ValueError(
                    f"task {task!r} has {(method == m).sum()} {m!r} rows; expected one"
                )
        low_rows = idx[np.isin(method, NOT_SPLITS)]
        if len(low_rows):
            f = low_rows[np.argmax(cells.loc[low_rows, "mean"].to_numpy())]  # base first on a tie
            low, _ = _interval(boot.draws[idx] - boot.draws[f], boot.level)
            above[idx] = low > 0
            floor[idx] = cells.at[f, "mean"]
            m = cells.at[f, "method"]
            source[idx] = "base model" if m == BASE else names.get(task, "cheap output")
        else:  # neither row: the floor is a model that scores 0 everywhere
            above[idx] = (cells.loc[idx, "mean"].to_numpy() != 0) | (boot.draws[idx] != 0).any(1)
    return cells.assign(above_floor=above, floor=floor, floor_source=source)


def best_sets(boot: Bootstrap, floor_names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per cell (base and floor rows left out): its mean and interval, its difference to
    the group's leader with interval (`diff`, `diff_low`, `diff_high`), `above_floor`, its task's
    `floor` and `floor_source` (the cheap output's name, from `floor_names`, or "base model"),
    `margin` and `equivalent` (to the leader, module docstring), `in_best_set`, `set_top` (the one
    split a figure draws for the set), and the group's `no_best`, `best_set` (sorted tuple of
    fractions) and `leader` (NaN when tied)."""
    cells = _floors(boot, floor_names or {})
    parts = []
    for _, g in cells[~cells["method"].isin(NOT_SPLITS)].groupby(GROUP, dropna=False, sort=True):
        g = g.sort_values("sft_fraction").copy()
        idx = g.index.to_numpy()
        means = g["mean"].to_numpy()
        top = np.flatnonzero(means == means.max())  # by fraction: top[0] the smallest tied
        ref = idx[top[0]]  # any of the tied tops
        g["diff"] = means - means.max()
        g["diff_low"], g["diff_high"] = _interval(boot.draws[idx] - boot.draws[ref], boot.level)
        floor = g["floor"].iloc[0]
        margin = EQUIVALENCE * (means.max() - (0.0 if pd.isna(floor) else floor))
        g["margin"] = margin
        g["equivalent"] = (margin > 0) & (g["diff_low"] >= -margin) & (g["diff_high"] <= margin)
        no_best = not g["above_floor"].any()
        # no interval (NaN: nothing to resample) cannot show a split worse: it stays in the set
        tied = means == means.max()  # in the set by definition, whatever a skewed interval says
        g["in_best_set"] = ((g["diff_high"] >= 0) | g["diff_high"].isna() | tied) & ~no_best
        g["set_top"] = (np.arange(len(g)) == top[0]) & (not no_best)
        g["no_best"] = no_best
        g["best_set"] = [tuple(g.loc[g["in_best_set"], "sft_fraction"])] * len(g)
        g["leader"] = g["sft_fraction"].iloc[top[0]] if len(top) == 1 and not no_best else np.nan
        parts.append(g)
    return pd.concat(parts).reset_index(drop=True)


def summary(best: pd.DataFrame) -> pd.DataFrame:
    """One row per group: leader, best_set, its lowest and highest fraction, no_best, and the
    leader's mean with interval."""
    rows = []
    for key, g in best.groupby(GROUP, dropna=False, sort=True):
        top = g.loc[g["mean"].idxmax()]
        s = g["best_set"].iloc[0]
        rows.append(
            {
                **dict(zip(GROUP, key, strict=True)),
                "leader": g["leader"].iloc[0],
                "best_set": s,
                "set_low": min(s, default=np.nan),
                "set_high": max(s, default=np.nan),
                "no_best": bool(g["no_best"].iloc[0]),
                "mean": top["mean"],
                "low": top["low"],
                "high": top["high"],
            }
        )
    return whole_numbers(pd.DataFrame(rows), ["budget"])


def equal_performance(best: pd.DataFrame, boot: Bootstrap) -> pd.DataFrame:
    """Per (task, method), example budgets: the largest budget's worst fraction above the floor and
    outside the best set, and the smallest budget whose leader is not significantly worse (rule in
    the module docstring)."""
    rows = []
    d = best[best["cost_ratio"].isna()]
    for (task, method), t in d.groupby(["task", "method"], sort=True):
        big = t["budget"].max()
        ref = t[(t["budget"] == big) & t["above_floor"] & ~t["in_best_set"]]
        row = {
            "task": task,
            "method": method,
            "large_budget": big,
            "poor_fraction": None,
            "poor_score": None,
            "matching_budget": None,
            "matching_fraction": None,
            "matching_score": None,
            "diff": None,
            "diff_low": None,
            "diff_high": None,
            "budget_ratio": None,
            "unresolved": 0,
        }
        if len(ref):
            poor = ref.loc[ref["mean"].idxmin()]
            i_poor = boot.index(**{k: _none(poor[k]) for k in CELL})
            row.update(poor_fraction=poor["sft_fraction"], poor_score=poor["mean"])
            for budget, g in t[t["budget"] < big].groupby("budget", sort=True):
                lead = g.loc[g["mean"].idxmax()]
                i = boot.index(**{k: _none(lead[k]) for k in CELL})
                diff = np.asarray(boot.draws[i] - boot.draws[i_poor])
                low, high = _interval(diff, boot.level)
                if high >= 0 and not lead["above_floor"]:
                    row["unresolved"] += 1  # not shown worse, yet at the floor: no match either
                    continue
                if high >= 0:
                    row.update(
                        matching_budget=budget,
                        matching_fraction=lead["sft_fraction"],
                        matching_score=lead["mean"],
                        diff=lead["mean"] - poor["mean"],
                        diff_low=float(low),
                        diff_high=float(high),
                        budget_ratio=big / budget,
                    )
                    break
        rows.append(row)
    return whole_numbers(pd.DataFrame(rows), ["large_budget"])


def _none(v):
    return None if pd.isna(v) else v
