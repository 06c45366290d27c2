"""`budgetsplit is-toy PROFILE`: exit 0 when PROFILE is the toy world, 1 when not
(`budgetsplit.tasks.is_toy`, the one rule), 2 for a profile folder that does not exist; for shell
scripts (run_all.sh)."""

from __future__ import annotations

import sys

from budgetsplit.config.profiles import profile_dir, profiles
from budgetsplit.config.schema import ConfigError
from budgetsplit.tasks import is_toy


def add_parser(sub) -> None:
    p = sub.add_parser("is-toy", help="exit 0 if PROFILE is the toy world, 1 if not")
    p.set_defaults(run=main)
    p.add_argument("profile")


def main(args) -> int:
    if not profile_dir(args.profile).is_dir():
        known = ", ".join(profiles())
        print(f"error: no profile {args.profile!r}; known: {known}", file=sys.stderr)
        return 2
    try:
        return 0 if is_toy(args.profile) else 1
    except ConfigError as e:  # a broken inherit chain
        print(f"error: {e}", file=sys.stderr)
        return 2
