"""Adaptive search for the best split: the grid's cells, but only those that decide the best.

    budgetsplit grid --profile toy --task math --strategy adaptive [--max-cells 5]

    from budgetsplit.run import adaptive
    searches = adaptive.run_adaptive(params, workers=0)      # {(method, cost_ratio, budget): Search}
    found = adaptive.search([0, 0.1, 0.25, 0.5, 0.75, 1], run, max_cells=12)   # one group, any runner

Per group of the recipe (method, cost ratio, budget) a search over its SFT fractions and seeds,
each round: (1) the cells so far are bootstrapped and the best set taken by the study's rule
(verdicts.best_sets); (2) if the set holds one fraction whose neighbours in the fraction list were
tried, the best is separated: stop (a lone leader among the fractions tried so far is not enough:
its untried neighbours are run first, to bracket it); (3) each fraction of an overlapping set gets
one more seed, fewest seeds first; (4) Optuna (TPE, seeded) proposes one untried fraction, told the
cell means so far. Nothing left to add, or the group's cell budget spent: stop.

`steps` is that search as a generator (it yields the cells it wants, is sent their scores), so
`run_adaptive` advances every group in lockstep and runs each round's cells of all groups as one
`grid.run_grid` call: SFT-stage reuse, worker processes or Ray, records in the grid's format.
Resume after a kill is free: the sampler is seeded and finished cells are records, so a rerun
proposes the same cells and trains only those without a record; a later full grid reuses them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import optuna
import pandas as pd

from budgetsplit.analysis import stats, verdicts
from budgetsplit.config.params import ConfigError, model_params
from budgetsplit.core.layout import RunLayout
from budgetsplit.run.grid import run_grid
from budgetsplit.study.cells import BASE, expand
from budgetsplit.study.results import row_scores_table

optuna.logging.set_verbosity(optuna.logging.WARNING)

# A group's default cell budget: this share of its full grid (fractions x seeds), at least `first`.
MAX_SHARE = 0.4


@dataclass
class Search:
    best_set: tuple = ()
    leader: float | None = None
    cells: list = field(default_factory=list)  # (sft_fraction, seed) in the order they ran
    stopped: str = ""
    log: list = field(default_factory=list)  # one line per decision


def _propose(study: optuna.Study, fractions: list[float], tried: set[float]):
    """(an untried fraction, its Optuna trial) from the sampler; a repeat is pruned and asked again
    (bounded); then the first untried fraction, outside the study; (None, None) when none is left."""
    for _ in range(4 * len(fractions)):
        trial = study.ask()
        f = trial.suggest_categorical("sft_fraction", fractions)
        if f not in tried:
            return f, trial
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    untried = [f for f in fractions if f not in tried]
    return (untried[0] if untried else None), None


Cells = list[tuple[float, int]]


def steps(
    fractions: list[float],
    max_cells: int,
    seeds: tuple[int, ...] = (0, 1, 2),
    first: int = 3,
    sampler_seed: int = 0,
    n_resamples: int = 1000,
) -> Generator[Cells, pd.DataFrame, Search]:
    """One group's search (module docstring) as a generator: yields the (sft_fraction, seed) cells
    to run next, is sent their per-row score table (stats.SCORE_COLUMNS), returns the Search."""
    if max_cells < first:
        raise ValueError(f"max_cells={max_cells} is below the {first} first proposals")
    # TPE models after `first` trials (its default, 10 random ones, would spend a group's budget)
    study = optuna.create_study(
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=first),
    )
    grid = sorted(fractions)
    out, scores, pending = Search(), [], {}
    seeds_of: dict[float, list[int]] = {}

    def request(cells: Cells, why: str) -> Cells:
        cells = cells[: max_cells - len(out.cells)]
        if cells:
            out.cells += cells
            for f, s in cells:
                seeds_of.setdefault(f, []).append(s)
            out.log.append(f"{why}: ran {cells}")
        return cells

    def propose() -> Cells:
        f, trial = _propose(study, fractions, set(seeds_of))
        if f is None:
            return []
        pending[f] = trial
        return request([(f, seeds[0])], f"Optuna proposes {f:g}")

    def judge() -> None:
        boot = stats.bootstrap_cells(pd.concat(scores, ignore_index=True), n_resamples=n_resamples)
        best = verdicts.best_sets(boot)
        for f, trial in pending.items():  # the sampler learns each proposal's mean
            if trial is not None:
                study.tell(trial, float(best.loc[best["sft_fraction"] == f, "mean"].iloc[0]))
        pending.clear()
        out.best_set, out.leader = best["best_set"].iloc[0], best["leader"].iloc[0]

    batch = [c for _ in range(first) for c in propose()]
    scores.append((yield batch))
    while len(out.cells) < max_cells:
        judge()
        batch = []
        if len(out.best_set) == 1:
            i = grid.index(out.best_set[0])
            around = [g for g in grid[max(i - 1, 0) : i + 2] if g not in seeds_of]
            if not around:
                out.stopped = (
                    f"separated: {out.best_set[0]:g} alone in the best set, neighbours tried"
                )
                return out
            batch += request(
                [(g, seeds[0]) for g in around], f"bracket the leader {out.best_set[0]:g}"
            )
        more = sorted((len(seeds_of[f]), f) for f in out.best_set if len(seeds_of[f]) < len(seeds))
        if len(more) > 1:
            batch += request(
                [(f, seeds[n]) for n, f in more], f"best set {out.best_set} overlaps: one more seed"
            )
        if len(out.cells) < max_cells:
            batch += propose()
        if not batch:
            why = "no split above the floor" if not out.best_set else "the best set at full seeds"
            out.stopped = f"nothing left to add: every fraction tried, {why}"
            return out
        scores.append((yield batch))
    judge()
    out.stopped = f"cell budget spent ({max_cells} cells)"
    return out


def search(
    fractions: list[float], run: Callable[[Cells], pd.DataFrame], max_cells: int, **kw
) -> Search:
    """Search one group's fractions with `run(cells) -> score table` (`kw`: see `steps`)."""
    gen = steps(fractions, max_cells, **kw)
    try:
        cells = next(gen)
        while True:
            cells = gen.send(run(cells))
    except StopIteration as stop:
        return stop.value


def default_max_cells(params, first: int = 3) -> int:
    """A group's cell budget when none is given: MAX_SHARE of its full grid, at least `first`."""
    full = len(params.budget.sft_fractions) * len(params.seeds)
    return max(first, math.floor(MAX_SHARE * full))


def run_adaptive(
    params,
    executor: str = "local",
    address: str | None = None,
    workers: int | None = 0,
    max_cells: int | None = None,
    replace: bool = False,
    sampler_seed: int = 0,
) -> dict[tuple, Search]:
    """Adaptive search in every group of a recipe (module docstring), each round's cells of all
    groups run together by `grid.run_grid`; the task's base-model cell runs first (the floor the
    figures draw). Returns {(method, cost_ratio, budget): Search}."""
    if len(model_params(params)) > 1:
        raise ConfigError(
            "params",
            "models",
            list(params.models),
            "the adaptive search runs one model at a time: for_model(params, label) for each",
        )
    fractions = list(params.budget.sft_fractions)
    limit = max_cells or default_max_cells(params)
    all_cells = expand(params)
    base = [c for c in all_cells if c.method == BASE]
    by_key = {(c.method, c.cost_ratio, c.budget, c.sft_fraction, c.seed): c for c in all_cells}

    def cell_of(method, ratio, budget, f, seed):
        # the SFT-only cell (method "sft") is on every method's curve
        return (
            by_key.get((method, ratio, budget, f, seed)) or by_key[("sft", ratio, budget, f, seed)]
        )

    groups = {
        (m, r, b): steps(fractions, limit, tuple(params.seeds), sampler_seed=sampler_seed)
        for m in params.methods
        for r in (params.budget.cost_ratios or [None])
        for b in params.budget.budgets
    }
    wants = {key: next(gen) for key, gen in groups.items()}
    done: dict[tuple, Search] = {}
    layout, rounds, extra = RunLayout.of(params), 0, base
    while wants:
        rounds += 1
        cells = {cell_of(*key, f, s) for key, want in wants.items() for f, s in want} | set(extra)
        print(
            f"[{params.profile}/{params.task}] adaptive round {rounds}: {len(cells)} cells "
            f"for {len(wants)} open groups",
            flush=True,
        )
        run_grid(
            params,
            executor,
            address,
            cells=sorted(cells, key=lambda c: c.cell_id),
            workers=workers,
            replace=replace,
        )
        extra, table = [], row_scores_table(layout.output_dir, params.profile)
        for key, want in list(wants.items()):
            ids = {(f, s) for f, s in want}
            m, r, b = key
            rows = table[
                (table["task"] == params.task)
                & table["method"].isin([m, "sft"])
                & (table["budget"] == b)
                & _matches(table["cost_ratio"], r)
                & _matches(table["model"], params.model_label)
            ]
            rows = rows[
                [(f, s) in ids for f, s in zip(rows["sft_fraction"], rows["seed"], strict=True)]
            ]
            try:
                wants[key] = groups[key].send(rows.assign(method=m))
            except StopIteration as stop:
                done[key] = stop.value
                del wants[key]
    for (m, r, b), s in sorted(done.items(), key=lambda kv: str(kv[0])):
        cost = "" if r is None else f" cost ratio {r:g}"
        print(f"  {m}{cost} B={b:g}: best set {s.best_set} after {len(s.cells)} cells; {s.stopped}")
    return done


def _matches(col: pd.Series, value) -> pd.Series:
    """Rows whose `col` is `value` (a cost ratio, a model label), None matching a missing one."""
    return col.isna() if value is None else col == value
