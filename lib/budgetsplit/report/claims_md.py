"""The paper's claims written down, once budgetsplit.analysis.claims has judged them: a profile's
claims.md (each claim's verdict with the groups and intervals it rests on) and the README's tables.

    from budgetsplit.analysis import claims
    from budgetsplit.core.layout import RunLayout
    from budgetsplit.report import claims_md
    found = claims.evaluate(score_table, results_table)      # {method: six claims}
    claims_md.write_claims(RunLayout("runs", "toy"), found)     # runs/toy/claims.md
    claims_md.update_readme("README.md", claims_md.readme_table(found), "toy")

A README section is the text between a profile's two markers (`markers`), e.g.
`<!-- claims:toy:start -->` and `<!-- claims:toy:end -->`: "claims" holds `readme_table`, "advisor"
the advisor's leave-one-budget-out table (`analysis.advise.validation_markdown`). Both files are
replaced whole (`core.store.write_text`): a crash leaves the old file or the new one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from budgetsplit.analysis.claims import Claim
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import write_text


def _cell(c: Claim) -> str:
    res = "" if c.resolution is None else f"; resolves differences of ~{c.resolution:.2g}"
    return f"**{c.verdict}**: {c.why}{res}"


def readme_table(found: dict[str, list[Claim]]) -> str:
    """One row per claim, one column per PFT method (the paper's first: analysis.claims): each
    method's verdict, why, and the smallest difference its intervals resolve."""
    methods = list(found)
    rows = ["| claim (paper.md) | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for i, first in enumerate(found[methods[0]] if methods else []):
        cells = " | ".join(_cell(found[m][i]) for m in methods)
        rows.append(f"| {first.number}. {first.text} | {cells} |")
    return "\n".join(rows)


def models_table(by_model: pd.DataFrame) -> str:
    """How the best split moves with the model (verdicts.by_model): one row per task, method and
    example budget, one column per model, each its best set of SFT shares and the leader's mean
    with its interval ("none above the floor" where no split is)."""
    d = by_model[by_model["cost_ratio"].isna()] if "cost_ratio" in by_model else by_model
    models = list(dict.fromkeys(d["model"]))
    rows = ["| task | method | budget | " + " | ".join(models) + " |"]
    rows.append("|---" * (len(models) + 3) + "|")
    for (task, method, budget), g in d.groupby(["task", "method", "budget"], sort=True):
        by = {r["model"]: r for _, r in g.iterrows()}
        cells = []
        for m in models:
            r = by.get(m)
            if r is None:
                cells.append("not run")
            elif r["no_best"]:
                cells.append("none above the floor")
            else:
                shares = ", ".join(f"{f:g}" for f in r["best_set"])
                cells.append(f"{{{shares}}}: {r['mean']:.3g} [{r['low']:.3g}, {r['high']:.3g}]")
        rows.append(f"| {task} | {method} | {budget:g} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def write_models(layout: RunLayout, by_model: pd.DataFrame) -> Path:
    """Write the profile's models.md (`layout.models_md`): `models_table` with how to read it."""
    text = (
        f"# The best split by model on the {layout.profile} profile, computed\n\n"
        "Made by `budgetsplit.analysis.verdicts.by_model`: each model judged alone, on its own cells, "
        "base cell and the task's floor (docs/statistics.md). A cell: the best set of SFT shares "
        "(the shares not significantly worse than the leader) and the leader's mean with its "
        "95% interval.\n\n" + models_table(by_model) + "\n"
    )
    write_text(layout.models_md, text)
    return layout.models_md


def summary(found: dict[str, list[Claim]]) -> list[str]:
    """A line per method: its six verdicts, never mixed with another method's."""
    return [
        f"{m}: " + "; ".join(f"{c.number} {c.verdict}" for c in claims)
        for m, claims in found.items()
    ]


def markdown(
    found: dict[str, list[Claim]], profile: str, level: float = 0.95, model: str | None = None
) -> str:
    """claims.md: the table, then each method's claims with their evidence (group by group,
    intervals at `level`); of one `model` of the profile's model axis when given."""
    on = "" if model is None else f", model {model}"
    parts = [
        f"# The paper's claims on the {profile} profile{on}, computed\n",
        f"Made by `budgetsplit.analysis.claims` from the results; rules in docs/statistics.md. "
        f"Intervals: {level:.0%} paired bootstrap over test rows and seeds. Each PFT method is "
        "judged on its own cells (with the SFT-only and base cells they are compared with).\n",
        readme_table(found),
        "",
    ]
    for method, claims in found.items():
        parts += [f"# {method}\n"]
        for c in claims:
            parts += [f"## {c.number}. {c.text} ({method}): {c.verdict}\n", f"{c.why}.\n"]
            parts += [f"- {line}" for line in c.evidence] + [""]
    return "\n".join(parts)


def write_claims(layout: RunLayout, found: dict[str, list[Claim]]) -> Path:
    """Write the profile's (or its model's) claims.md (`layout.claims_md`); returns its path."""
    write_text(layout.claims_md, markdown(found, layout.profile, model=layout.model))
    return layout.claims_md


def markers(profile: str, section: str = "claims", model: str | None = None) -> tuple[str, str]:
    """A README section's markers: `<!-- claims:toy:start -->`; of one model of the profile's
    model axis `<!-- claims:toy_sizes@m3:start -->`."""
    where = profile if model is None else f"{profile}@{model}"
    return f"<!-- {section}:{where}:start -->", f"<!-- {section}:{where}:end -->"


def update_readme(
    readme: str | Path, table: str, profile: str, section: str = "claims", model: str | None = None
) -> None:
    """Put `table` between the README's `markers(profile, section, model)`; ValueError unless it
    has exactly one pair."""
    readme = Path(readme)
    start, end = markers(profile, section, model)
    text = readme.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{readme}: needs exactly one {start} ... {end} pair of markers")
    write_text(readme, pattern.sub(lambda _: f"{start}\n{table}\n{end}", text))
