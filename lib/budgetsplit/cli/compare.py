"""`budgetsplit compare A B`: two results tables of one grid, cell by cell (`study.compare`): which
cells score otherwise, by how much, next to their group's seed spread. Exit 0 when every cell in
both scores identically, 1 when some differ, 2 on a file that is not a results table."""

from __future__ import annotations

import sys

from budgetsplit.config.schema import ConfigError
from budgetsplit.study.compare import compare, read_table

HELP = "compare two results tables cell by cell (e.g. a rerun against the committed one)"


def add_parser(sub) -> None:
    p = sub.add_parser("compare", help=HELP, description=HELP)
    p.set_defaults(run=main)
    p.add_argument("reference", help="results.csv or .parquet taken as the reference")
    p.add_argument("other", help="the table compared with it")


def main(args) -> int:
    try:
        result = compare(read_table(args.reference), read_table(args.other))
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(result)
    return 1 if len(result.differing) else 0
