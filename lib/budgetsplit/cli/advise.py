"""`budgetsplit advise --profile toy --task math --budget 2000 [--cost-ratio 2] [--json]`: the
advisor's recommended SFT share for a budget (`analysis.advise`), from a profile's records, its
committed results table, or any results file (`--results`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

import pandas as pd

from budgetsplit.analysis.advise import (
    AdviceError,
    load_table,
    methods_of,
    recommend,
    records_table,
    text_table,
)
from budgetsplit.config.params import profile_layout
from budgetsplit.config.profiles import add_params_argument, use_params_dir
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.layout import committed_results_dir
from budgetsplit.study.results import model_rows


def add_parser(subparsers) -> None:
    p = subparsers.add_parser("advise", help="recommend an SFT fraction for a budget")
    p.set_defaults(run=main)
    p.add_argument("--profile", default="toy")
    p.add_argument("--output-dir", help="where the profile's records are (default: its output_dir)")
    p.add_argument("--results", help="a results CSV/parquet instead of the records")
    p.add_argument("--task", required=True)
    p.add_argument("--budget", type=float, required=True, help="in preference-pair costs")
    p.add_argument("--cost-ratio", type=float, default=1.0, help="c_sft / c_pref (default 1)")
    p.add_argument("--method", help="default: every method of the task, best first")
    p.add_argument("--metric", help="metric column (default: score, else the primary metric)")
    p.add_argument("--model", help="one model of the profile's model axis (needed if several)")
    p.add_argument("--json", action="store_true")
    add_params_argument(p)


def _table(args: argparse.Namespace) -> pd.DataFrame:
    """--results, else the profile's records (under --output-dir, else the profile's own), else
    its committed `results/<profile>/results.csv`."""
    if args.results:
        return _of_model(load_table(args.results, args.metric), args.model)
    layout = profile_layout(args.profile, args.output_dir)
    try:
        return records_table(layout.output_dir, args.profile, args.model)
    except FileNotFoundError:
        committed = committed_results_dir(args.profile) / "results.csv"
        if committed.is_file():
            return _of_model(load_table(committed, args.metric), args.model)
        raise AdviceError(
            f"no results: no records of {args.profile!r} under {layout.output_dir} and no "
            f"{committed}; pass --results FILE"
        ) from None


def _of_model(table: pd.DataFrame, model: str | None) -> pd.DataFrame:
    """The rows of `model` in a table read from a file (records_table selects its own)."""
    try:
        return model_rows(table, model)
    except ValueError as e:
        raise AdviceError(f"{e} (--model)") from None


def main(args: argparse.Namespace) -> int:
    """`budgetsplit advise` (arguments as `add_parser` defines them); 2 on input it cannot use."""
    try:
        if args.params:
            use_params_dir(args.params)
        table = _table(args)
        methods = [args.method] if args.method else methods_of(table, args.task) or [None]
        advice = [recommend(table, args.task, args.budget, args.cost_ratio, m) for m in methods]
    except (AdviceError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    advice.sort(key=lambda a: -a.predicted)
    if args.json:  # NaN (no interval with one seed, no LOBO fold) as null: valid JSON
        text = json.dumps([asdict(a) for a in advice], indent=1)
        print(json.dumps(json.loads(text, parse_constant=lambda _: None), indent=1))
    else:
        print(text_table(advice))
    return 0
