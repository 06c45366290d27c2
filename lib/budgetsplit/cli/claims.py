"""`budgetsplit claims --profile toy [--readme README.md] [--export]`: the paper's claims judged
from a profile's records (`analysis.claims`), written to `<output_dir>/<profile>/claims.md` (with
`--export` also to `results/<profile>/claims.md`, committed beside the tables), and with `--readme`
the claims and advisor tables put between the README's markers for the profile
(`report.claims_md`; a README without them is left as is). Without records (a fresh clone), the
committed tables of `results/<profile>/` are judged instead. A profile with a model axis
(`models:` in its params) is judged model by model, each in `models/<model>/` (`--model` picks
one): verdicts never pool models; `models.md` (and the README's `models` markers) puts the
models' best splits side by side."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from budgetsplit.analysis import claims, verdicts
from budgetsplit.config.params import profile_layout
from budgetsplit.config.profiles import add_params_argument, use_params_dir
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.layout import committed_results_dir
from budgetsplit.core.store import write_text
from budgetsplit.report import claims_md
from budgetsplit.study import results

HELP = "judge the paper's claims from a profile's records; write claims.md (and README tables)"


def add_parser(sub) -> None:
    p = sub.add_parser("claims", help=HELP, description=HELP)
    p.set_defaults(run=main)
    p.add_argument("--profile", required=True, help="the profile whose records to read")
    p.add_argument("--output-dir", help="where its runs are (default: the profile's output_dir)")
    p.add_argument("--readme", help="a README whose claims markers get the table")
    p.add_argument(
        "--export",
        action="store_true",
        help="also write claims.md to results/<profile>/ (committed beside the tables)",
    )
    p.add_argument(
        "--model",
        help="one model of the profile's model axis (default: each, its claims in models/<model>/)",
    )
    add_params_argument(p)


def main(args: argparse.Namespace) -> int:
    try:
        if args.params:
            use_params_dir(args.params)
        layout = profile_layout(args.profile, args.output_dir)
        table, scores, source = results.tables(layout.output_dir, args.profile)
    except (ConfigError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"claims: judging {source}")
    models = results.models_in(table)
    if args.model is not None and args.model not in models:
        print(
            f"error: no cells of model {args.model!r}; the results hold {models}", file=sys.stderr
        )
        return 2
    for model in [args.model] if args.model is not None else models:
        _judge(
            args,
            layout.for_model(model),
            results.model_rows(table, model),
            results.model_rows(scores, model),
        )
    if len(models) > 1 and args.model is None:  # how the best split moves with the model
        by_model = verdicts.by_model(table, scores)
        path = claims_md.write_models(layout, by_model)
        print(f"claims: {path}")
        if args.export:
            _export(args, layout, path)
        readme = Path(args.readme) if args.readme else None
        start = claims_md.markers(args.profile, "models")[0]
        if readme is not None and readme.is_file() and start in readme.read_text():
            claims_md.update_readme(
                readme, claims_md.models_table(by_model), args.profile, "models"
            )
            print(f"claims: the models table put into {readme}")
    return 0


def _export(args: argparse.Namespace, layout, path: Path) -> Path:
    """Copy `path` (under the profile's folder) to results/<profile>/, beside the tables."""
    committed = committed_results_dir(args.profile) / path.relative_to(layout.profile_dir)
    committed.parent.mkdir(parents=True, exist_ok=True)
    write_text(committed, path.read_text())
    print(f"claims: -> {committed}")
    return committed


def _judge(args: argparse.Namespace, layout, table, scores) -> None:
    """One model's claims (the profile's, when it has one model): claims.md, and its tables."""
    on = "" if layout.model is None else f" (model {layout.model})"
    found = claims.evaluate(scores, table)
    path = claims_md.write_claims(layout, found)
    print(f"claims{on}: {path}")
    if args.export:
        _export(args, layout, path)
    if args.readme:
        # The claims table, and the advisor's leave-one-budget-out table that advisor.ipynb wrote
        # beside claims.md, each where the README has the profile's (or model's) markers.
        readme = Path(args.readme)
        check = layout.advisor_check
        tables = {"claims": claims_md.readme_table(found)}
        if check.is_file():
            tables["advisor"] = check.read_text().strip()
        for section, text in tables.items():
            start = claims_md.markers(args.profile, section, layout.model)[0]
            if readme.is_file() and start in readme.read_text():
                claims_md.update_readme(readme, text, args.profile, section, layout.model)
                print(f"claims{on}: {section} table put into {readme}")
    for line in claims_md.summary(found):
        print(f"  {line}")
