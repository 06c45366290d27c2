"""`budgetsplit calibrate --profile toy [--task math] [--method dpo] [--dry-run]`: the calibration protocol
(`run.calibrate`) on the validation split; writes `params/<profile>/calibration/<task>.yaml`."""

from __future__ import annotations

import sys

import yaml

from budgetsplit.config.profiles import (
    add_params_argument,
    existing_profile_dir,
    recipe_path,
    use_params_dir,
)
from budgetsplit.config.schema import ConfigError, parse_overrides
from budgetsplit.core.registry import TASKS


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("calibrate", help="pick training settings on the validation split")
    p.set_defaults(run=main)
    p.add_argument("--profile", default="toy")
    p.add_argument("--task", action="append", help="task (repeatable; default: every task)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument(
        "--method",
        action="append",
        help="sweep only this PFT method of the task's (repeatable; default: every one)",
    )
    p.add_argument("--dry-run", action="store_true", help="print the sweep plan; run nothing")
    add_params_argument(p)


def main(args) -> int:
    """`budgetsplit calibrate` (arguments as `add_parser` defines them); 2 on bad params."""
    # torch and the trainers: loaded when a calibration runs, not for `budgetsplit --help`.
    from budgetsplit.run.calibrate import calibrate, plan
    from budgetsplit.run.estimate import fmt_duration

    total: float | None = 0.0
    try:
        if args.params:
            use_params_dir(args.params)
        existing_profile_dir(args.profile)  # else no task would run, silently
        tasks = args.task or [t for t in TASKS if recipe_path(args.profile, t).is_file()]
        overrides = parse_overrides(args.set)
        for task in tasks:
            if args.dry_run:
                p = plan(args.profile, task, overrides, args.method)
                print(p)
                total = None if total is None or p.estimate_s is None else total + p.estimate_s
            else:
                r = calibrate(args.profile, task, overrides, methods=args.method)
                print(f"{r.yaml_path}:\n{yaml.safe_dump(r.choices, sort_keys=True)}")
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run and len(tasks) > 1:
        print(
            "total: "
            + ("no time estimate" if total is None else f"estimated {fmt_duration(total)}")
        )
    return 0
