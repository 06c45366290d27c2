"""Adaptive search vs the full grid: cells and wall time to find one budget's best split.

    .venv/bin/python bench/adaptive.py [--task math] [--budget 1000] [--workers 2]   # ~15 min

One toy recipe (`--task`, the default profile's file) at one budget, with toy_large's SFT fractions
(0, 0.05, 0.1, 0.25, 0.5, 0.75, 1) and seeds 0-2: 21 cells. Both variants run from scratch in one
process, one after the other, each into its own temp output folder (same world and base model):
the full grid (`grid.run_grid`), then `grid --strategy adaptive` (`adaptive.run_adaptive`) with its
default cell budget (40% of the grid's cells). The base-model cell each runs for the floor is
counted in neither. Reported: cells and wall time of each and their ratio, and whether the adaptive
search found a split within noise of the full grid's best (its leader inside the full grid's best
set, verdicts.best_sets on the full grid's cells). Targets: <= 40% of the cells and of the time.
Writes bench/results/adaptive.json and its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import benchlib

benchlib.setup_env()

FRACTIONS = [0.0, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0]
TARGET = 0.40


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--task", default="math")
    ap.add_argument("--budget", type=int, default=1000)
    ap.add_argument("--method", default="dpo_sft")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    from budgetsplit.analysis import verdicts
    from budgetsplit.config.params import load_params
    from budgetsplit.run import adaptive, grid
    from budgetsplit.study import results
    from budgetsplit.study.cells import BASE, expand

    load = benchlib.loadavg()
    with tempfile.TemporaryDirectory() as tmp:
        over = {
            "budget.budgets": [args.budget],
            "budget.sft_fractions": FRACTIONS,
            "seeds": [0, 1, 2],
            "methods": [args.method],
        }
        full_p = load_params("toy", args.task, overrides={**over, "output_dir": f"{tmp}/full"})
        adap_p = load_params("toy", args.task, overrides={**over, "output_dir": f"{tmp}/adaptive"})
        n_full = sum(c.method != BASE for c in expand(full_p))
        # the base cell first in both (the floor), untimed
        for p in (full_p, adap_p):
            grid.run_grid(p, cells=[c for c in expand(p) if c.method == BASE], workers=1)
        t = time.perf_counter()
        table = grid.run_grid(full_p, workers=args.workers)
        full_s = time.perf_counter() - t
        t = time.perf_counter()
        found = adaptive.run_adaptive(adap_p, workers=args.workers)
        adap_s = time.perf_counter() - t
        (search,) = found.values()
        scores = results.row_scores_table(full_p.output_dir, "toy")
        _, best, _ = verdicts.verdicts(table, scores)
        best = best[(best["method"] == args.method) & (best["budget"] == args.budget)]
        full_set = tuple(best["best_set"].iloc[0])
        leader = search.leader
        within = leader is not None and leader == leader and leader in full_set
    cell_ratio, time_ratio = len(search.cells) / n_full, adap_s / full_s
    data = {
        "task": args.task,
        "method": args.method,
        "budget": args.budget,
        "fractions": FRACTIONS,
        "seeds": 3,
        "workers": args.workers,
        "full": {"cells": n_full, "s": full_s, "best_set": full_set},
        "adaptive": {
            "cells": len(search.cells),
            "s": adap_s,
            "best_set": search.best_set,
            "leader": leader,
            "stopped": search.stopped,
            "log": search.log,
        },
        "cell_ratio": cell_ratio,
        "time_ratio": time_ratio,
        "within_noise": within,
        "target": TARGET,
    }
    rows = [
        ["full grid", n_full, full_s, ", ".join(f"{f:g}" for f in full_set), "", ""],
        [
            "adaptive",
            len(search.cells),
            adap_s,
            ", ".join(f"{f:g}" for f in search.best_set),
            f"{cell_ratio:.0%}",
            f"{time_ratio:.0%}",
        ],
    ]
    ok = within and cell_ratio <= TARGET and time_ratio <= TARGET
    md = (
        f"Toy `{args.task}` recipe, `{args.method}`, budget {args.budget}, SFT fractions "
        f"{FRACTIONS}, seeds 0-2, {args.workers} workers; both from scratch in one run.\n\n"
        + benchlib.table(
            ["variant", "cells", "wall s", "best set", "cells vs full", "time vs full"], rows
        )
        + f"\n\nAdaptive leader {leader if not within else format(leader, 'g')}: {'inside' if within else 'outside'} the full grid's best "
        f"set. Stopped: {search.stopped}. Target (<= {TARGET:.0%} of cells and time, leader "
        f"within noise): {'met' if ok else 'NOT met'}."
    )
    path = benchlib.write_results("adaptive", data, load, md)
    print(md)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
