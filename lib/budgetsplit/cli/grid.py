"""`budgetsplit plan | grid | table`: a profile's grid, planned, run, or tabled.

    budgetsplit plan  --profile toy [--task math ...]     cells, SFT stages, time; runs nothing
    budgetsplit grid  --profile toy --task math [--workers 2 | --executor ray] [--set pft.beta=0.5]
    budgetsplit grid  --profile toy --task math --strategy adaptive [--max-cells 5]   fewer cells
    budgetsplit table --profile toy [--export]     rebuild the results table, print a summary

`--set key=value` overrides any params key (values are read as YAML: 0.5, [1, 2], true).
`--params DIR` reads profiles from DIR (a folder of <profile>/<task>.yaml) besides the shipped
params; worker processes inherit it (config.profiles.use_params_dir).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budgetsplit.config.params import Params, load_params, model_params
from budgetsplit.config.profiles import (
    PARAMS_DIR,
    add_params_argument,
    existing_profile_dir,
    params_dir,
    use_params_dir,
)
from budgetsplit.config.schema import ConfigError, parse_overrides
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.registry import TASKS
from budgetsplit.core.store import DamagedFileError
from budgetsplit.run.cluster import check_address
from budgetsplit.study import results
from budgetsplit.study.cells import cell_sizes
from budgetsplit.study.records import StaleRecordError

HELP = {
    "plan": "list the cells, SFT stages and estimated time of a profile's grid; runs nothing",
    "grid": "train and evaluate every cell without a record (resumable)",
    "table": "rebuild <output_dir>/<profile>/results.{parquet,csv} from the cell records and print "
    "a summary of it (cells, budgets, fractions, seeds and the metric's range per task and method)",
}


def recipes(profile: str, tasks: list[str] | None) -> list[Path]:
    """The recipe files of a profile (a name, or a folder): those of `tasks` (task or recipe
    names, e.g. math_costs), else one per task it has."""
    folder = Path(profile) if Path(profile).is_dir() else existing_profile_dir(profile)
    return [
        folder / f"{n}.yaml"
        for n in tasks or [t for t in TASKS if (folder / f"{t}.yaml").is_file()]
    ]


def count(text: str) -> int:
    """argparse type of --workers and --max-cells: a whole number >= 0."""
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(
            f"expected a whole number >= 0 (0: automatic), got {text!r}"
        )
    return int(text)


def describe(params: Params) -> str:
    """One line of what a recipe trains on: model and data ids (no network)."""
    data = ", ".join(f"{k}={v}" for k, v in params.task_options.data.items()) or "toy world"
    lora = f"LoRA r={params.model.lora.r}" if params.model.lora.enabled else "full finetuning"
    label = "" if params.model_label is None else f"[{params.model_label}]"
    return (
        f"model{label}={params.model.name} ({lora}); data: {data}; methods={list(params.methods)}"
    )


def add_parser(sub) -> None:
    for name, text in HELP.items():
        p = sub.add_parser(name, help=text, description=text)
        p.set_defaults(run=main)
        p.add_argument("--profile", default="toy")
        p.add_argument("--task", action="append", help="task or recipe name (repeatable)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        add_params_argument(p)
        p.add_argument(
            "--replace",
            action="store_true",
            help="redo cells whose records are damaged or made with other settings (grid: moves "
            "those records aside first; table: moves damaged records aside and leaves them out)",
        )
        if name == "grid":
            p.add_argument("--executor", choices=("local", "ray"), default="local")
            p.add_argument(
                "--strategy",
                choices=("full", "adaptive"),
                default="full",
                help="full: every cell; adaptive: per budget, only the cells that decide the "
                "best split (budgetsplit.run.adaptive)",
            )
            p.add_argument(
                "--max-cells",
                type=count,
                default=0,
                help="adaptive: cells per budget and method (default: 40%% of its grid)",
            )
            p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
            p.add_argument(
                "--workers",
                type=count,
                default=0,
                help="local executor: cells at once (default 0: one per CPU core, 1 on a GPU)",
            )
        if name == "table":
            p.add_argument(
                "--export",
                action="store_true",
                help="also write the tables to results/<profile>/ (committed beside the figures)",
            )


def main(args: argparse.Namespace) -> int:
    try:
        if args.params:
            use_params_dir(args.params)
        overrides = parse_overrides(args.set)
        if getattr(args, "executor", None) == "ray":
            check_address(args.address)  # before any planning: a dead address fails in seconds
        paths = recipes(args.profile, args.task)
        all_params = [load_params(p, overrides=overrides) for p in paths]
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        return _run(args, paths, all_params)
    except (DamagedFileError, StaleRecordError, FileNotFoundError, PermissionError) as e:
        print(f"error: {e}", file=sys.stderr)  # one message naming the file and the ways out
        return 2


def _table(args, params: Params) -> int:
    df = results.results_table(params.output_dir, params.profile, replace=args.replace)
    print(f"{len(df)} cells -> {RunLayout.of(params).results_path('.*')}")
    print(results.summary(df).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    if args.export:
        for path in results.export(params.output_dir, params.profile):
            print(f"  -> {path}")
    return 0


def _plan(path: Path, params: Params, replace: bool):
    from budgetsplit.run.estimate import plan  # torch (stages): see _run

    p = plan(params, replace=replace)
    homes = [h.parent for h in (params_dir(), PARAMS_DIR) if path.is_relative_to(h.parent)]
    print(path.relative_to(homes[0]) if homes else path)
    print(f"  {describe(params)}")
    print(f"  {p}")
    for cell in p.cells:
        n_sft, n_pref = cell_sizes(params, cell)
        mark = "done" if cell in p.done else "copy" if cell in p.copies else "todo"
        print(f"    [{mark}] {cell.cell_id}: n_sft={n_sft} n_pref={n_pref}")
    return p


def _run(args, paths: list[Path], all_params: list[Params]) -> int:
    # torch, TRL and the executors are imported when a command runs, not for `budgetsplit --help`.
    from budgetsplit.run.adaptive import run_adaptive
    from budgetsplit.run.estimate import fmt_duration
    from budgetsplit.run.grid import run_grid

    if args.command == "table":
        return _table(args, all_params[0])
    total_cells = total_stages = 0
    total_s: float | None = 0.0
    # a recipe with a model axis runs (and plans) each model's grid in turn
    runs = [(path, mp) for path, p in zip(paths, all_params, strict=True) for mp in model_params(p)]
    for path, params in runs:
        if args.command == "plan":
            p = _plan(path, params, args.replace)
            total_cells += len(p.cells)
            total_stages += p.sft_stages
            total_s = None if total_s is None or p.estimate_s is None else total_s + p.estimate_s
            continue
        run = run_adaptive if args.strategy == "adaptive" else run_grid
        extra = {"max_cells": args.max_cells or None} if args.strategy == "adaptive" else {}
        kw = dict(executor=args.executor, address=args.address, workers=args.workers, **extra)
        run(params, replace=args.replace, **kw)
    if args.command == "plan":
        est = "no time estimate yet" if total_s is None else f"estimated {fmt_duration(total_s)}"
        print(f"total: {total_cells} cells, {total_stages} distinct SFT stages, {est}")
    return 0
