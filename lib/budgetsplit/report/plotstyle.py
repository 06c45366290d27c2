"""The look every figure of the study shares: seaborn's paper theme, one width for every figure,
metrics named in words with their unit, budgets written as people write them, and PNG + PDF
output that a rerun on the same records rewrites byte for byte, and the curves with their bands
(a 95% CI where the table has one, else the min-max over seeds) and best-set rings.
budgetsplit.report.plots draws the figures with these.

    from budgetsplit.report.plotstyle import metric_label, panels, save
    fig, axes = panels(2); axes[0].set_ylabel(metric_label("accuracy_strict")[0])
    save(fig, "figures", "my_figure")          # figures/my_figure.png and .pdf
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import NullFormatter

sns.set_theme(style="whitegrid", context="paper")
WIDTH, HEIGHT = 13.0, 3.6  # inches, every figure: side-by-side panels share the width
# metric -> (words with unit, factor the values are drawn with): shares in 0-1 are drawn in %.
METRICS = {
    "accuracy": ("accuracy (%)", 100),
    "accuracy_strict": ("accuracy (%)", 100),
    "accuracy_flexible": ("accuracy, any answer format (%)", 100),
    "prompt_level_strict": ("prompts with every instruction followed (%)", 100),
    "prompt_level_loose": ("prompts with every instruction followed, loose (%)", 100),
    "inst_level_strict": ("instructions followed (%)", 100),
    "inst_level_loose": ("instructions followed, loose (%)", 100),
    "answered_strict": ("answered, every\ninstruction followed (%)", 100),
    "fact_score": ("gold fact score", 1),
    "rouge_l": ("ROUGE-L", 1),
    "gold_score": ("gold summary score", 1),
    "gold_reward": ("gold reward", 1),
    "reward": ("reward-model score", 1),
    "diag.format_rate": ("answers in the required format (%)", 100),
    "diag.cold_start.chosen_logprob_per_token": ("log-prob of chosen responses (nats/token)", 1),
}


def metric_label(metric: str) -> tuple[str, float]:
    """(axis label in words with unit, factor to draw values with) for a metric or diag column."""
    return METRICS.get(metric, (metric.removeprefix("diag.").replace("_", " "), 1))


def number(x) -> str:
    """A budget or size as people write it: 100, not 100.0."""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def empty(msg: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(WIDTH, 1.5))
    ax.axis("off")
    ax.text(0.5, 0.5, msg, ha="center", va="center", wrap=True)
    return fig


def panels(n: int, rows: int = 1):
    """`n` subplots side by side in a WIDTH x HEIGHT figure, or `rows` rows of `n` (one HEIGHT
    each): (fig, axes), axes flat, row by row."""
    fig, axes = plt.subplots(rows, n, figsize=(WIDTH, HEIGHT * rows), squeeze=False)
    return fig, list(axes.ravel())


def legend_below(fig, colors: dict, labels: dict, title: str, ls: str = "-") -> None:
    """One legend below the panels, not on them (on a panel it hid the lines): a marker of each
    colour (`colors`: key -> colour, `labels`: key -> text), the same in every panel."""
    handles = [
        plt.Line2D([], [], color=c, marker="o", ls=ls, label=labels[k]) for k, c in colors.items()
    ]
    fig.legend(
        handles=handles,
        title=title,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=8,
        title_fontsize=8,
    )


def floor_line(ax, d: pd.DataFrame, scale: float) -> None:
    """The task's floor (the higher of the base model and its cheap outputs: analysis.verdicts) as
    a dashed grey line named by its source, where the table carries it."""
    if not has(d, "floor"):
        return
    value, source = d["floor"].dropna().iloc[0], d["floor_source"].dropna().iloc[0]
    ax.axhline(value * scale, color="grey", ls="--", lw=1)
    # named on the panel, not in a legend: the names are long and differ by task
    ax.annotate(
        f"floor: {source}",
        (0.01, value * scale),
        xycoords=("axes fraction", "data"),
        xytext=(0, 2),
        textcoords="offset points",
        fontsize=6,
        color="0.35",
    )


def percent_axis(ax, scale: float) -> None:
    if scale == 100:  # a share: no tick below 0%, 0-1% at least (every value 0), 0 not clipped
        top = max(ax.get_ylim()[1], 1)
        ax.set_ylim(-0.03 * top, top)


def budget_axis(ax, budgets) -> None:
    budgets = sorted(set(budgets))
    ax.set_xscale("log")
    ax.set_xticks(budgets, [number(b) for b in budgets])
    ax.xaxis.set_minor_formatter(NullFormatter())


def has(df: pd.DataFrame, col: str) -> bool:
    return col in df and df[col].notna().any()


def band_note(df: pd.DataFrame) -> str:
    """What the shaded bands of a figure drawn from `df` are."""
    if has(df, "ci_low") and has(df, "ci_high"):
        return "shaded: 95% CI"
    seeds = df["seed"].nunique() if "seed" in df else 1
    return f"shaded: min-max over {seeds} seeds" if seeds > 1 else "one seed, no band"


def means_note(df: pd.DataFrame) -> str:
    seeds = df["seed"].nunique() if "seed" in df else 1
    return f"means over {seeds} seeds" if seeds > 1 else "one seed"


def curve(ax, d: pd.DataFrame, x: str, y: str, scale: float, **style) -> None:
    """Mean of `y` over seeds against `x`, with the band `band_note` names."""
    agg = {"mean": (y, "mean"), "lo": (y, "min"), "hi": (y, "max")}
    ci = y == "score" and has(d, "ci_low") and has(d, "ci_high")
    if ci:
        agg.update(lo=("ci_low", "min"), hi=("ci_high", "max"))
    g = d.groupby(x)
    s = g.agg(**agg).reset_index()
    (line,) = ax.plot(s[x], s["mean"] * scale, **style)
    if ci or g[y].count().max() > 1:
        ax.fill_between(s[x], s["lo"] * scale, s["hi"] * scale, color=line.get_color(), alpha=0.2)
    if y == "score" and "in_best_set" in d:
        best = d[d["in_best_set"].fillna(False).astype(bool)].groupby(x)[y].mean()
        ax.scatter(best.index, best * scale, s=90, facecolors="none", edgecolors=line.get_color())


def save(fig: plt.Figure, folder: str | Path, name: str) -> list[Path]:
    """Write `name`.png and `name`.pdf into `folder`; returns the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{name}.png", folder / f"{name}.pdf"]
    for p in paths:
        # No creation date in the PDF: a rerun on the same records rewrites identical files.
        meta = {"CreationDate": None} if p.suffix == ".pdf" else None
        fig.savefig(p, dpi=150, bbox_inches="tight", metadata=meta)
    return paths
