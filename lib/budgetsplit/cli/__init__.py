"""Command line: `budgetsplit <command>` (also `python -m budgetsplit <command>`), one module each.

    budgetsplit plan | grid | table ...       a profile's grid (cli/grid.py)
    budgetsplit calibrate ...                 the calibration protocol (cli/calibrate.py)
    budgetsplit advise ...                    the allocation advisor (cli/advise.py)
    budgetsplit claims --profile toy          the paper's claims judged (cli/claims.py)
    budgetsplit compare A.csv B.csv           two results tables, cell by cell (cli/compare.py)
    budgetsplit speed                         this machine's bare-loop tokens/s (cli/speed.py)
    budgetsplit toyworld build | sample       the toy base model and tasks (cli/toyworld.py)
    budgetsplit is-toy PROFILE                for shell scripts (cli/tasks.py)
    budgetsplit preflight                     is a paper-scale profile runnable here (cli/preflight.py)
    budgetsplit layers                        the package's layers, checked (cli/layers.py)

Each module's `add_parser(subparsers)` registers its commands with `run=` the function that runs
them. Modules load torch and the trainers only inside the commands that train, so `--help`,
`advise` and `is-toy` start in a second.
"""

from __future__ import annotations

import argparse

from budgetsplit.cli import (
    advise,
    calibrate,
    claims,
    compare,
    grid,
    layers,
    preflight,
    speed,
    tasks,
    toyworld,
)

COMMANDS = (grid, calibrate, advise, claims, compare, speed, toyworld, tasks, preflight, layers)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="budgetsplit", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        command.add_parser(sub)
    args = ap.parse_args(argv)
    return args.run(args)
