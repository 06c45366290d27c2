"""`python -m budgetsplit.tasks is-toy PROFILE`: exit 0 when PROFILE is the toy world, 1 when not
(`budgetsplit.tasks.is_toy`), 2 for a profile folder that does not exist; for shell scripts."""

from __future__ import annotations

import argparse
import sys

from budgetsplit.config import PARAMS_DIR, ConfigError
from budgetsplit.tasks import is_toy


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m budgetsplit.tasks")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("is-toy", help="exit 0 if PROFILE is the toy world, 1 if not").add_argument(
        "profile"
    )
    args = ap.parse_args(argv)
    if not (PARAMS_DIR / args.profile).is_dir():
        print(f"budgetsplit.tasks: no profile {args.profile!r} in {PARAMS_DIR}", file=sys.stderr)
        return 2
    try:
        return 0 if is_toy(args.profile) else 1
    except ConfigError as e:  # a broken inherit chain
        print(f"budgetsplit.tasks: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
