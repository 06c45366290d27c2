"""Grid cost: our grid runner (SFT stages shared, reference log-probs precomputed once per starting
model and pair set, the cold-start diagnostic once per starting model, cells with another cell's
exact work copied) vs the same grid run naively (each cell trains its own SFT stage, the reference
model runs every step), in wall time and SFT stages trained.

    .venv/bin/python bench/grid_cost.py                      # reduced math grid, ~5 min
    .venv/bin/python bench/grid_cost.py --grid default --task math --no-executors   # ~26 min
    .venv/bin/python bench/grid_cost.py --profile toy_large --grid default --task math_costs --no-executors

`--grid reduced` (the default): the task's recipe with budgets 100 and 200, SFT fractions 0.25,
0.5, 0.75 and 1.0, methods dpo and ipo, and 50 test examples per cell: 14 cells (the f = 1.0 cells
are SFT only, one per budget), 6 distinct SFT stages; it fits the 10 minutes a CPU benchmark may
take. `--grid default`: the cells and settings of the recipe `--task` (any file in
params/<profile>/) as `./run_all.sh` runs them, evaluation included; the default math recipe both
ways took 26 minutes here.
Both variants run the same cells in the same order (largest SFT stage first) through `run_cell`,
one cell of one variant then the same cell of the other, so load changes hit both alike. The naive
variant gives every cell its own output folder and turns off `pft.precompute_ref_log_probs`. Then
(unless `--no-executors`) the same cells run again in a fresh folder through `run_grid` with worker
processes (`--workers`, default 2 single-thread workers: the default on this 2-core machine), and
naively at torch's default thread count (every core), each variant as a user gets it without
options; these two rows run one after the other, not alternated.
Writes bench/results/<name>.json and its section of BENCHMARKS.md (name: grid_cost for the reduced
grid, grid_cost_<task> for a default one). Target: >= 30% less wall time.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import benchlib

benchlib.setup_env()

TARGET_SAVING = 0.30
BUDGETS, FRACTIONS, METHODS = (100, 200), (0.25, 0.5, 0.75, 1.0), ("dpo", "ipo")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="toy", help="toy world profile (toy, toy_large, smoke)")
    ap.add_argument("--task", default="math", help="a recipe of the profile: math, math_costs, ...")
    ap.add_argument("--grid", choices=("reduced", "default"), default="reduced")
    ap.add_argument(
        "--n-eval",
        type=int,
        help="test examples per cell (reduced grid: 50; default grid: the recipe's)",
    )
    ap.add_argument(
        "--no-executors",
        action="store_true",
        help="skip the two rows run as each variant runs by default",
    )
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per cell")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the parallel run")
    ap.add_argument("--no-write", action="store_true", help="print only; no JSON, no BENCHMARKS.md")
    a = ap.parse_args()
    load_before = benchlib.loadavg()

    from budgetsplit.config.params import load_params
    from budgetsplit.run.grid import cell_sizes, expand, plan
    from budgetsplit.run.runner import run_cell
    from budgetsplit.tasks import get_task

    base = load_params(a.profile, a.task)
    if a.grid == "reduced":
        base = dataclasses.replace(
            base,
            budget=dataclasses.replace(base.budget, budgets=BUDGETS, sft_fractions=FRACTIONS),
            methods=METHODS,
            seeds=(0,),
        )
        a.n_eval = a.n_eval or 50
    a.n_eval = a.n_eval or base.eval.n_examples
    base = dataclasses.replace(
        base,
        cpu_threads=a.threads,
        device="cpu",
        eval=dataclasses.replace(base.eval, n_examples=a.n_eval),
    )
    task = get_task(base)
    with tempfile.TemporaryDirectory(prefix="bench-grid-") as tmp:
        ours = dataclasses.replace(base, output_dir=str(Path(tmp, "ours")))
        cells = expand(ours)
        cells.sort(key=lambda c: (-cell_sizes(ours, c)[0], c.cell_id))
        p = plan(ours, cells)
        naive_pft = dataclasses.replace(base.pft, precompute_ref_log_probs=False)
        # One untimed cell first: the first cell in a process pays one-time costs (lazy imports,
        # first model load) that would otherwise land on whichever variant goes first.
        print("  warm-up cell (not timed)", file=sys.stderr)
        run_cell(dataclasses.replace(base, output_dir=str(Path(tmp, "warm-up"))), cells[-1], task)
        wall = {"ours": {}, "naive": {}}
        records = {"ours": {}, "naive": {}}
        for i, cell in enumerate(cells):
            naive = dataclasses.replace(
                base, pft=naive_pft, output_dir=str(Path(tmp, "naive", cell.cell_id))
            )
            pair = [("ours", ours), ("naive", naive)]
            for name, params in pair if i % 2 == 0 else pair[::-1]:
                print(f"  cell {i + 1}/{len(cells)} {cell.cell_id}: {name}", file=sys.stderr)
                t = time.perf_counter()
                records[name][cell.cell_id] = run_cell(params, cell, task)
                wall[name][cell.cell_id] = time.perf_counter() - t
        executors = None if a.no_executors else _as_run_by_default(a, base, ours, cells, task, tmp)

    summary = {}
    for name in ("ours", "naive"):
        recs = records[name].values()
        parts = {
            k: sum(r["wall_s"][k] for r in recs) for k in ("sft", "diagnostics", "pft", "eval")
        }
        trained = [
            r for r in recs if r["n_sft"] and not r["sft_reused"] and "same_work_as" not in r
        ]
        summary[name] = {
            "wall_s": sum(wall[name].values()),
            "sft_stages_trained": len(trained),
            "cells_copied": sum(1 for r in recs if "same_work_as" in r),
            "parts_s": parts,
        }
    saving = 1 - summary["ours"]["wall_s"] / summary["naive"]["wall_s"]
    rows = [
        [
            name,
            len(cells),
            s["sft_stages_trained"],
            s["wall_s"],
            s["parts_s"]["sft"],
            s["parts_s"]["pft"],
            s["parts_s"]["diagnostics"] + s["parts_s"]["eval"],
        ]
        for name, s in summary.items()
    ]
    if executors:
        rows.append(
            [
                f"ours, {a.workers} workers",
                len(cells),
                p.sft_stages,
                executors["parallel_s"],
                "-",
                "-",
                "-",
            ]
        )
        rows.append(
            [
                f"naive, {executors['threads']} threads",
                len(cells),
                summary["naive"]["sft_stages_trained"],
                executors["naive_s"],
                "-",
                "-",
                "-",
            ]
        )
    md = benchlib.table(
        ["variant", "cells", "SFT stages trained", "wall s", "SFT s", "PFT s", "eval+diag s"], rows
    )
    b = base.budget
    copied = summary["ours"]["cells_copied"]
    md += (
        f"\n\nGrid: profile `{a.profile}`, recipe `{a.task}` ({a.grid}), budgets "
        f"{list(b.budgets)}{f' ({b.unit})' if b.unit != 'examples' else ''}, SFT fractions "
        f"{list(b.sft_fractions)}, methods {list(base.methods)}, seeds {list(base.seeds)}"
        f"{f', cost ratios {list(b.cost_ratios)}' if b.unit != 'examples' else ''}, "
        f"{a.n_eval} eval examples per cell, {a.threads} thread(s); {p.sft_stages} distinct SFT "
        f"stages{f'; {copied} cells copied a recorded cell with the same work' if copied else ''}. "
        f"Ours: {_less(saving)} wall time than naive (target >= {TARGET_SAVING:.0%}: "
        f"{'met' if saving >= TARGET_SAVING else 'NOT met'})."
    )
    if executors:
        shipped = executors["saving"]
        md += (
            f" As each is run by default: the same cells through `run_grid` ({a.workers} worker "
            f"processes of {a.threads} thread(s)) took "
            f"{executors['parallel_s'] / summary['ours']['wall_s']:.0%} of ours one after "
            f"another, and {_less(shipped)} wall time than naive one cell at a time at torch's "
            f"default {executors['threads']} threads (target >= {TARGET_SAVING:.0%}: "
            f"{'met' if shipped >= TARGET_SAVING else 'NOT met'})."
        )
    md += "\n"
    print(md)
    if not a.no_write:
        data = {
            "args": vars(a),
            "cells": [c.cell_id for c in cells],
            "summary": summary,
            "saving": saving,
            "target_saving": TARGET_SAVING,
            "met": saving >= TARGET_SAVING,
            "wall_s_per_cell": wall,
            "as_run_by_default": executors,
        }
        name = "grid_cost" if a.grid == "reduced" else f"grid_cost_{a.task}"
        print("wrote", benchlib.write_results(name, data, load_before, md))


def _less(saving: float) -> str:
    return f"{saving:.0%} less" if saving >= 0 else f"{-saving:.0%} more"


def _as_run_by_default(a, base, ours, cells, task, tmp) -> dict:
    """Ours through `run_grid` with worker processes (longest cells first), then naive one cell at
    a time with torch at its default thread count: each variant as a user gets it."""
    import torch

    from budgetsplit.run.grid import run_grid
    from budgetsplit.run.runner import run_cell

    par = dataclasses.replace(ours, output_dir=str(Path(tmp, "parallel")))
    print(f"  all {len(cells)} cells: ours with {a.workers} worker processes", file=sys.stderr)
    t = time.perf_counter()
    run_grid(par, cells=cells, workers=a.workers, progress=False)
    parallel_s = time.perf_counter() - t
    print(f"  all {len(cells)} cells: naive at torch's default threads", file=sys.stderr)
    naive_pft = dataclasses.replace(base.pft, precompute_ref_log_probs=False)
    t = time.perf_counter()
    for cell in cells:
        folder = str(Path(tmp, "naive-default", cell.cell_id))
        params = dataclasses.replace(base, pft=naive_pft, output_dir=folder, cpu_threads=None)
        run_cell(params, cell, task)
    naive_s = time.perf_counter() - t
    return {
        "workers": a.workers,
        "parallel_s": parallel_s,
        "threads": torch.get_num_threads(),
        "naive_s": naive_s,
        "saving": 1 - parallel_s / naive_s,
    }


if __name__ == "__main__":
    main()
