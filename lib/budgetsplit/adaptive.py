"""Adaptive search for the best split at one budget (issue 13, item 3; a sketch, not yet wired into
`grid --strategy adaptive`): Optuna proposes SFT fractions, seeds are added where the leading
fractions' intervals overlap, and the search stops when the best is separated or the cell budget
is spent.

    from budgetsplit import adaptive
    found = adaptive.search([0, 0.1, 0.25, 0.5, 0.75, 1], run, max_cells=12)
    found.best_set, found.stopped, found.log

`run(cells)` trains and scores a list of (sft_fraction, seed) cells of one (task, method, cost
ratio, budget) and returns their per-row scores (stats.SCORE_COLUMNS). In the grid it is
`run_grid` on that subset of cells, so the search keeps what the grid has: SFT-stage reuse,
resume after a kill (finished cells are records: asking again costs nothing), both executors, and
records in the same format; a later full grid reuses every cell it ran.

Each round: (1) the cells so far are bootstrapped and the best set taken by the study's rule
(analysis.best_sets); (2) if the set holds one fraction whose neighbours in the fraction list were tried,
the best is separated: stop (a lone leader among the fractions tried so far is not enough: its
untried neighbours are run first, to bracket it); (3) each fraction of an overlapping set gets one
more seed, fewest seeds first; (4) Optuna (TPE, seeded) proposes one untried fraction, told the cell means so far.
Nothing left to add, or `max_cells` spent: stop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import optuna
import pandas as pd

from budgetsplit import analysis, stats

optuna.logging.set_verbosity(optuna.logging.WARNING)


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


def search(
    fractions: list[float],
    run: Callable[[list[tuple[float, int]]], pd.DataFrame],
    max_cells: int,
    seeds: tuple[int, ...] = (0, 1, 2),
    first: int = 3,
    sampler_seed: int = 0,
    n_resamples: int = 1000,
) -> Search:
    """Search one budget's fractions (module docstring); at most `max_cells` cells run."""
    if max_cells < first:
        raise ValueError(f"max_cells={max_cells} is below the {first} first proposals")
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=sampler_seed)
    )
    grid = sorted(fractions)
    out, scores, pending = Search(), [], {}
    seeds_of: dict[float, list[int]] = {}

    def execute(cells: list[tuple[float, int]], why: str) -> None:
        cells = cells[: max_cells - len(out.cells)]
        if cells:
            scores.append(run(cells))
            out.cells += cells
            for f, s in cells:
                seeds_of.setdefault(f, []).append(s)
            out.log.append(f"{why}: ran {cells}")

    def propose() -> None:
        f, trial = _propose(study, fractions, set(seeds_of))
        if f is not None:
            pending[f] = trial
            execute([(f, seeds[0])], f"Optuna proposes {f:g}")

    def judge() -> None:
        boot = stats.bootstrap_cells(pd.concat(scores, ignore_index=True), n_resamples=n_resamples)
        best = analysis.best_sets(boot)
        for f, trial in pending.items():  # the sampler learns each proposal's mean
            if trial is not None:
                study.tell(trial, float(best.loc[best["sft_fraction"] == f, "mean"].iloc[0]))
        pending.clear()
        out.best_set, out.leader = best["best_set"].iloc[0], best["leader"].iloc[0]

    for _ in range(first):
        propose()
    while len(out.cells) < max_cells:
        judge()
        before = len(out.cells)
        if len(out.best_set) == 1:
            i = grid.index(out.best_set[0])
            around = [g for g in grid[max(i - 1, 0) : i + 2] if g not in seeds_of]
            if not around:
                out.stopped = (
                    f"separated: {out.best_set[0]:g} alone in the best set, neighbours tried"
                )
                return out
            execute([(g, seeds[0]) for g in around], f"bracket the leader {out.best_set[0]:g}")
        more = sorted((len(seeds_of[f]), f) for f in out.best_set if len(seeds_of[f]) < len(seeds))
        if len(more) > 1:
            execute(
                [(f, seeds[n]) for n, f in more], f"best set {out.best_set} overlaps: one more seed"
            )
        if len(out.cells) < max_cells:
            propose()
        if len(out.cells) == before:
            why = "no split above the floor" if not out.best_set else "the best set at full seeds"
            out.stopped = f"nothing left to add: every fraction tried, {why}"
            return out
    judge()
    out.stopped = f"cell budget spent ({max_cells} cells)"
    return out
