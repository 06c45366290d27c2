"""`budgetsplit speed [--fresh] [--threads N]`: this machine's bare-loop tokens/s (`run.speed`),
the number every timing in the docs is quoted beside."""

from __future__ import annotations

HELP = "this machine's bare-loop training speed (tokens/s), to compare times across machines"


def add_parser(sub) -> None:
    p = sub.add_parser("speed", help=HELP, description=HELP)
    p.set_defaults(run=main)
    p.add_argument("--fresh", action="store_true", help="measure again (else the cached number)")
    p.add_argument("--threads", type=int, default=1)


def main(args) -> int:
    from budgetsplit.run.speed import describe, tokens_per_s  # torch: only when it measures

    print(describe(tokens_per_s(args.threads, args.fresh), args.threads))
    return 0
