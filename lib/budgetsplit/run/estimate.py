"""Before a grid runs: what it would do and how long it should take. `plan` lists the cells done,
to run, and to copy from recorded work, the distinct SFT stages (cached ones not counted as to
train) and an estimated time; `rates` and `cell_estimate` are the cost model the executors also
use to run the longest cells first.

    from budgetsplit.run.estimate import plan
    print(plan(params))     # "36 cells (0 done, 36 to run); 9 distinct SFT stages (9 to train); ..."

Before a recipe has finished cells, the toy world's per-example costs (`DEFAULT_COST_S`) are scaled
by this machine's bare-loop speed (`run.speed`); after, the recipe's measured wall times are used.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass

from budgetsplit.config.params import Params, model_params
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import DamagedFileError
from budgetsplit.run.speed import tokens_per_s
from budgetsplit.study.cells import Cell, buys, cell_sizes, expand, sft_stage
from budgetsplit.study.records import (
    find_same_work,
    load_record,
    review_records,
    stored_settings,
    work_key,
)
from budgetsplit.tasks import get_task, is_toy
from budgetsplit.training.stages import cached_stages

# Seconds per example (per epoch for training) of toy cells and fixed seconds per cell, measured
# on the default grid of 2026-11-30 (commit ef63390; AMD EPYC, 2 cores, two single-thread
# workers), whose bare loop ran REFERENCE_TOKENS_S (`budgetsplit speed`). Used only before a recipe has finished cells, scaled
# by this machine's own bare-loop speed; after that, the recipe's measured wall times are used.
# "rl" (an RL prompt of grpo) was measured on 2026-12-07 on an AMD EPYC 2-core machine (bare loop
# 9,408 tokens/s) as a ratio, in one run: a toy-size math cell's GRPO stage took 5.8 times its DPO
# stage per annotated example (53.2 s and 9.1 s for 270 prompts or pairs, 2 epochs, 4 samples of
# up to 64 tokens each, both with the dense LM head), so it is DPO's rate times 5.8.
DEFAULT_COST_S = {"sft": 0.014, "pref": 0.03, "rl": 0.175, "eval": 0.011, "cell": 3.2}
REFERENCE_TOKENS_S = 8600.0


@dataclass
class Plan:
    cells: list[Cell]
    done: list[Cell]
    sft_stages: int
    sft_stages_todo: int
    estimate_s: float | None  # None: no basis yet (not the toy world, no finished cell)
    copies: list[Cell] = dataclasses.field(default_factory=list)  # to run by copying recorded work

    def __str__(self) -> str:
        todo = len(self.cells) - len(self.done)
        copies = f", {len(self.copies)} of them copying recorded work" if self.copies else ""
        est = (
            "no time estimate until a cell finishes"
            if self.estimate_s is None
            else (f"estimated time {fmt_duration(self.estimate_s)} one cell at a time")
        )
        return (
            f"{len(self.cells)} cells ({len(self.done)} done, {todo} to run{copies}); "
            f"{self.sft_stages} distinct SFT stages ({self.sft_stages_todo} to train); {est}"
        )


def fmt_duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m // 60}h{m % 60:02d}m" if m >= 60 else f"{m}m{s:02d}s"


def rates(params: Params) -> dict[str, float] | None:
    """Seconds per SFT example, preference pair, RL prompt, eval example and cell, from the recipe's finished
    records where they have them; the toy world's defaults scaled to this machine's bare-loop speed
    otherwise; None for other models with no finished cell."""
    totals, counts = defaultdict(float), defaultdict(float)
    for path in RunLayout.of(params).record_paths(params.task):
        try:
            rec = load_record(path)
        except DamagedFileError:  # another recipe's concern; this plan's own are reviewed
            continue
        if rec.cell.model != params.model_label:  # another model's cells run at its own speed
            continue
        w = rec.wall_s
        if w.get("sft") and not rec.sft_reused and rec.n_sft:
            totals["sft"] += w["sft"] / params.sft.epochs
            counts["sft"] += rec.n_sft
        if w.get("pft") and rec.n_pref:  # per pair, or per RL prompt for grpo (`buys`)
            totals[buys(rec.cell.method)] += w["pft"] / params.pft.epochs
            counts[buys(rec.cell.method)] += rec.n_pref
        if w.get("eval") and rec.n_eval:
            totals["eval"] += w["eval"]
            counts["eval"] += rec.n_eval
        if w.get("total"):
            totals["cell"] += w["total"] - sum(w.get(k, 0.0) for k in ("sft", "pft", "eval"))
            counts["cell"] += 1
    if not counts and not is_toy(params.profile):
        return None
    scale = 1.0
    if is_toy(params.profile) and not all(counts[k] for k in DEFAULT_COST_S):
        scale = REFERENCE_TOKENS_S / tokens_per_s()
    return {k: totals[k] / counts[k] if counts[k] else v * scale for k, v in DEFAULT_COST_S.items()}


def cell_estimate(
    params: Params, cell: Cell, rates: dict[str, float], with_sft: bool = True
) -> float:
    """Seconds a cell should take at `rates` (see `_rates`), training its SFT stage or not."""
    n_sft, n_pref = cell_sizes(params, cell)
    est = (
        n_pref * params.pft.epochs * rates[buys(cell.method)]
        + (params.eval.n_examples or 500) * rates["eval"]
        + rates.get("cell", 0.0)
    )
    return est + (n_sft * params.sft.epochs * rates["sft"] if with_sft else 0.0)


def _copies_recorded_work(params: Params, settings: dict, cell: Cell) -> bool:
    """Whether `cell` would copy a recorded cell's work (`budgetsplit.study.records.find_same_work`),
    in this profile or another one under the same output_dir; `settings`: params as stored."""
    key = work_key(settings, cell.method, *cell_sizes(params, cell), cell.seed)
    return find_same_work(params, cell.task, key) is not None


def plan(params: Params, cells: list[Cell] | None = None, replace: bool = False) -> Plan:
    """What `run_grid` would do; stops (before any training) on a damaged record or one made with
    other settings, unless `replace` (then they count as cells to run; nothing is moved)."""
    cells = expand(params) if cells is None else cells
    if len(several := model_params(params)) > 1:  # the model axis: each model's plan, summed
        parts = [
            plan(mp, [c for c in cells if c.model == mp.model_label], replace) for mp in several
        ]
        est = [p.estimate_s for p in parts]
        return Plan(
            [c for p in parts for c in p.cells],
            [c for p in parts for c in p.done],
            sum(p.sft_stages for p in parts),
            sum(p.sft_stages_todo for p in parts),
            None if None in est else sum(est),
            [c for p in parts for c in p.copies],
        )
    done_ids = set(review_records(params, cells, replace=replace, dry_run=True))
    done = [c for c in cells if c.cell_id in done_ids]
    settings = stored_settings(params)
    copies = [
        c for c in cells if c.cell_id not in done_ids and _copies_recorded_work(params, settings, c)
    ]
    trains = [c for c in cells if c.cell_id not in done_ids and c not in copies]
    stages = {sft_stage(params, c) for c in cells} - {None}
    todo_stages = {sft_stage(params, c) for c in trains} - {None}
    # (n_sft, seed) of each stage: one model's, so its label is left out
    cached = cached_stages(params, lambda: get_task(params), {s[1:3] for s in todo_stages})
    todo_stages = {s for s in todo_stages if s[1:3] not in cached}  # cached: nothing to train
    r = rates(params)
    if r is None:
        return Plan(cells, done, len(stages), len(todo_stages), None, copies)
    est = sum(s[1] * params.sft.epochs * r["sft"] for s in todo_stages)
    est += sum(cell_estimate(params, c, r, with_sft=False) for c in trains)
    return Plan(cells, done, len(stages), len(todo_stages), est, copies)
