"""Cost of a reduced toy grid: our grid runner (SFT stages shared, reference log-probs precomputed
once per starting model and pair set, the cold-start diagnostic once per starting model) vs the
same grid run naively (each cell trains its own SFT stage, the reference model runs every step),
in wall time and SFT stages trained.

    .venv/bin/python bench/grid_cost.py [--profile toy] [--task math] [--threads 1]

The grid: the task's recipe with budgets 100 and 200, SFT fractions 0.25, 0.5, 0.75 and 1.0, and
methods dpo and ipo: 14 cells (the f = 1.0 cells are SFT only, one per budget), 6 distinct SFT
stages; evaluation cut to 50 test examples. (The default toy math grid, 33 cells, run both ways
would take over half an hour, past the 10 minutes a CPU benchmark may take.) Both variants run
the same cells in the same order (largest SFT stage first) through `run_cell`, one cell
of one variant then the same cell of the other, so load changes hit both alike. The naive variant
gives every cell its own output folder and turns off `pft.precompute_ref_log_probs`. Last, the same
cells run again in a fresh folder through `run_grid` with worker processes (`--workers`, default 2
single-thread workers: the default on this 2-core machine), and naively at torch's default
thread count (every core), each variant as a user gets it without options; these two rows run
one after the other, not alternated.
Writes bench/results/grid_cost.json and its section of BENCHMARKS.md. Target: >= 30% less wall time.
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
    ap.add_argument("--profile", default="toy", help="toy world profile (toy or smoke)")
    ap.add_argument("--task", default="math")
    ap.add_argument("--n-eval", type=int, default=50, help="test examples per cell")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads per cell")
    ap.add_argument("--workers", type=int, default=2, help="worker processes of the parallel run")
    ap.add_argument("--no-write", action="store_true", help="print only; no JSON, no BENCHMARKS.md")
    a = ap.parse_args()
    load_before = benchlib.loadavg()

    import torch

    from budgetsplit.cell import run_cell
    from budgetsplit.config import load_params
    from budgetsplit.grid import cell_sizes, expand, plan, run_grid
    from budgetsplit.tasks import get_task

    base = load_params(a.profile, a.task)
    base = dataclasses.replace(
        base,
        budget=dataclasses.replace(base.budget, budgets=BUDGETS, sft_fractions=FRACTIONS),
        methods=METHODS,
        seeds=(0,),
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
        # Ours again as `run_grid` runs it by default: worker processes, longest cells first.
        par = dataclasses.replace(ours, output_dir=str(Path(tmp, "parallel")))
        print(f"  all {len(cells)} cells: ours with {a.workers} worker processes", file=sys.stderr)
        t = time.perf_counter()
        run_grid(par, cells=cells, workers=a.workers, progress=False)
        parallel_s = time.perf_counter() - t
        # And naive as a user runs it by default: one cell at a time, torch using every core.
        print(f"  all {len(cells)} cells: naive at torch's default threads", file=sys.stderr)
        t = time.perf_counter()
        for cell in cells:
            folder = str(Path(tmp, "naive-default", cell.cell_id))
            run_cell(
                dataclasses.replace(base, pft=naive_pft, output_dir=folder, cpu_threads=None),
                cell,
                task,
            )
        naive_default_s = time.perf_counter() - t
        default_threads = torch.get_num_threads()

    summary = {}
    for name in ("ours", "naive"):
        recs = records[name].values()
        parts = {
            k: sum(r["wall_s"][k] for r in recs) for k in ("sft", "diagnostics", "pft", "eval")
        }
        summary[name] = {
            "wall_s": sum(wall[name].values()),
            "sft_stages_trained": sum(1 for r in recs if r["n_sft"] and not r["sft_reused"]),
            "parts_s": parts,
        }
    saving = 1 - summary["ours"]["wall_s"] / summary["naive"]["wall_s"]
    rows = [
        [name, len(cells), s["sft_stages_trained"], s["wall_s"], s["parts_s"]["sft"],
         s["parts_s"]["pft"], s["parts_s"]["diagnostics"] + s["parts_s"]["eval"]]
        for name, s in summary.items()
    ]  # fmt: skip
    rows.append([f"ours, {a.workers} workers", len(cells), p.sft_stages, parallel_s, "-", "-", "-"])
    rows.append(
        [
            f"naive, {default_threads} threads",
            len(cells),
            len(cells),
            naive_default_s,
            "-",
            "-",
            "-",
        ]
    )
    shipped = 1 - parallel_s / naive_default_s
    md = benchlib.table(
        ["variant", "cells", "SFT stages trained", "wall s", "SFT s", "PFT s", "eval+diag s"], rows
    )
    md += (
        f"\n\nGrid: profile `{a.profile}`, task `{a.task}`, budgets {list(BUDGETS)}, SFT fractions "
        f"{list(FRACTIONS)}, methods {list(METHODS)}, seed 0, {a.n_eval} eval examples per cell, "
        f"{a.threads} thread(s); {p.sft_stages} distinct SFT stages. Ours: {saving:.0%} less wall "
        f"time than naive (target >= {TARGET_SAVING:.0%}: "
        f"{'met' if saving >= TARGET_SAVING else 'NOT met'}). As each is run by default: the same "
        f"cells through `run_grid` ({a.workers} worker processes of {a.threads} thread(s)) took "
        f"{parallel_s / summary['ours']['wall_s']:.0%} of ours one after another, and "
        f"{shipped:.0%} less wall time than naive one cell at a time at torch's default "
        f"{default_threads} threads (target >= {TARGET_SAVING:.0%}: "
        f"{'met' if shipped >= TARGET_SAVING else 'NOT met'}).\n"
    )
    print(md)
    if not a.no_write:
        data = {"args": vars(a), "cells": [c.cell_id for c in cells], "summary": summary,
                "saving": saving, "target_saving": TARGET_SAVING,
                "met": saving >= TARGET_SAVING, "wall_s_per_cell": wall,
                "parallel": {"workers": a.workers, "wall_s": parallel_s},
                "naive_default_threads": {"threads": default_threads, "wall_s": naive_default_s},
                "shipped_saving": shipped}  # fmt: skip
        print("wrote", benchlib.write_results("grid_cost", data, load_before, md))


if __name__ == "__main__":
    main()
