"""`budgetsplit preflight [--profile paper] [--task math ...]`: before a paper-scale run, whether
the GPU and every model and dataset of the profile's recipes are available here
(`tasks.paper.preflight`); exit 0 when ready, else 2 with what is missing and how to get it."""

from __future__ import annotations

import sys

from budgetsplit.config.params import load_params, model_names
from budgetsplit.config.profiles import add_params_argument, recipe_path, use_params_dir
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.registry import TASKS

HELP = "check that the GPU, models and datasets of a paper-scale profile are available here"


def add_parser(sub) -> None:
    p = sub.add_parser("preflight", help=HELP, description=HELP)
    p.set_defaults(run=main)
    p.add_argument("--profile", default="paper", help="a profile on the paper path (default paper)")
    p.add_argument("--task", action="append", choices=TASKS)
    add_params_argument(p)


def main(args) -> int:
    # torch (to see the GPU): loaded when the check runs, not for `budgetsplit --help`.
    from budgetsplit.tasks.paper.preflight import PaperNotReady, check_paper_ready
    from budgetsplit.training import gguf

    try:
        if args.params:
            use_params_dir(args.params)
        tasks = args.task or [t for t in TASKS if recipe_path(args.profile, t).is_file()]
        params = [load_params(args.profile, t) for t in tasks]
        check_paper_ready(params, more=gguf.missing(model_names(params)))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except PaperNotReady as e:
        print(f"{args.profile} profile: not ready.\n{e}", file=sys.stderr)
        return 2
    print(f"{args.profile} profile: every model and dataset (and the GPU if one is named) is here.")
    return 0
