"""Command line: `python -m budgetsplit <command>` (also installed as `budgetsplit`).

    budgetsplit plan  --profile toy [--task math ...]     cells, SFT stages, time; runs nothing
    budgetsplit grid  --profile toy --task math [--workers 2 | --executor ray] [--set pft.beta=0.5]
    budgetsplit grid  --profile toy --task math --strategy adaptive [--max-cells 5]   fewer cells
    budgetsplit table --profile toy [--export]            rebuild runs/<profile>/results.* from the records, print a summary [and write results/<profile>/]
    budgetsplit calibrate --profile toy [--task math] [--dry-run]   settings on the validation split
    budgetsplit advise --profile toy --task math --budget 2000 [--cost-ratio 2] [--json]

`--set key=value` overrides any params key (values are read as YAML: 0.5, [1, 2], true).
`--params DIR` reads profiles from DIR (a folder of <profile>/<task>.yaml) instead of the shipped
params; worker processes inherit it (config.use_params_dir).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budgetsplit.cluster import check_address
from budgetsplit.config import (
    PARAMS_DIR,
    TASKS,
    ConfigError,
    Params,
    load_params,
    params_dir,
    profile_dir,
    profiles,
    use_params_dir,
)
from budgetsplit.schema import parse_overrides


def recipes(profile: str, tasks: list[str] | None) -> list[Path]:
    """The recipe files of a profile: one per task, plus extra recipes (e.g. math_costs.yaml)."""
    folder = profile_dir(profile) if not Path(profile).is_dir() else Path(profile)
    if not folder.is_dir():
        known = ", ".join(profiles())
        raise ConfigError(str(folder), "profile", profile, f"no such profile; known: {known}")
    names = tasks or [t for t in TASKS if (folder / f"{t}.yaml").is_file()]
    return [folder / f"{n}.yaml" for n in names]


def _count(text: str) -> int:
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
    return f"model={params.model.name} ({lora}); data: {data}; methods={list(params.methods)}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="budgetsplit", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    helps = {
        "plan": "list the cells, SFT stages and estimated time of a profile's grid; runs nothing",
        "grid": "train and evaluate every cell without a record (resumable)",
        "table": "rebuild <output_dir>/<profile>/results.{parquet,csv} from the cell records and "
        "print a summary of it (cells, budgets, fractions, seeds and the metric's range per task "
        "and method)",
    }
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--profile", default="toy")
        p.add_argument("--task", action="append", help="task or recipe name (repeatable)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("--params", metavar="DIR", help="folder of profiles (default: shipped)")
        if name == "grid":
            p.add_argument("--executor", choices=("local", "ray"), default="local")
            p.add_argument("--strategy", choices=("full", "adaptive"), default="full",
                           help="full: every cell; adaptive: per budget, only the cells that "
                                "decide the best split (budgetsplit.adaptive)")  # fmt: skip
            p.add_argument(
                "--max-cells",
                type=_count,
                default=0,
                help="adaptive: cells per budget and method (default: 40%% of its grid)",
            )
            p.add_argument("--address", default=None, help="Ray cluster address (default: local)")
            p.add_argument("--workers", type=_count, default=0,
                           help="local executor: cells at once (default 0: one per CPU core, 1 on a GPU)")  # fmt: skip
        if name == "table":
            p.add_argument("--export", action="store_true",
                           help="also write the tables to results/<profile>/ (committed beside the figures)")  # fmt: skip
        p.add_argument(
            "--replace",
            action="store_true",
            help="redo cells whose records are damaged or made with other settings (grid: moves "
            "those records aside first; table: moves damaged records aside and leaves them out)",
        )
    from budgetsplit import advise, calibrate  # light: no torch until a command trains

    calibrate.add_parser(sub)
    advise.add_parser(sub)
    args = ap.parse_args(argv)
    if args.command == "advise":
        return advise.main(args)
    if args.command == "calibrate":
        return calibrate.main(args)
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

    from budgetsplit import records, store

    try:
        return _run(args, paths, all_params)
    except (
        store.DamagedFileError,
        records.StaleRecordError,
        FileNotFoundError,
        PermissionError,
    ) as e:
        print(f"error: {e}", file=sys.stderr)  # one message naming the file and the ways out
        return 2


def _run(args, paths: list[Path], all_params: list[Params]) -> int:
    from budgetsplit import grid, results
    from budgetsplit.layout import RunLayout

    if args.command == "table":
        first = all_params[0]
        df = results.results_table(first.output_dir, first.profile, replace=args.replace)
        print(f"{len(df)} cells -> {RunLayout.of(first).results_path('.*')}")
        print(results.summary(df).to_string(index=False, float_format=lambda x: f"{x:.4g}"))
        if args.export:
            for path in results.export(all_params[0].output_dir, all_params[0].profile):
                print(f"  -> {path}")
        return 0
    total_cells = total_stages = 0
    total_s: float | None = 0.0
    for path, params in zip(paths, all_params, strict=True):
        if args.command == "plan":
            p = grid.plan(params, replace=args.replace)
            homes = [h.parent for h in (params_dir(), PARAMS_DIR) if path.is_relative_to(h.parent)]
            print(path.relative_to(homes[0]) if homes else path)
            print(f"  {describe(params)}")
            print(f"  {p}")
            for cell in p.cells:
                n_sft, n_pref = grid.cell_sizes(params, cell)
                mark = "done" if cell in p.done else "copy" if cell in p.copies else "todo"
                print(f"    [{mark}] {cell.cell_id}: n_sft={n_sft} n_pref={n_pref}")
            total_cells += len(p.cells)
            total_stages += p.sft_stages
            total_s = None if total_s is None or p.estimate_s is None else total_s + p.estimate_s
        elif args.strategy == "adaptive":
            from budgetsplit import adaptive

            adaptive.run_adaptive(
                params, executor=args.executor, address=args.address, workers=args.workers,
                max_cells=args.max_cells or None, replace=args.replace,
            )  # fmt: skip
        else:
            grid.run_grid(
                params, executor=args.executor, address=args.address, workers=args.workers,
                replace=args.replace,
            )  # fmt: skip
    if args.command == "plan":
        est = "no time estimate yet" if total_s is None else f"estimated {grid._fmt(total_s)}"
        print(f"total: {total_cells} cells, {total_stages} distinct SFT stages, {est}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
