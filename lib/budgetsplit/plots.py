"""The study's five figures, from a results table (`results.results_table`), with seaborn.

    from budgetsplit import plots, results
    df = plots.prepare(results.results_table("runs", "toy"))
    fig = plots.fraction_curves(df); plots.save(fig, "figures", "fig1_fraction_curves")

Every function takes the table and returns a matplotlib Figure; numbers are never invented here:
a missing piece (no cost grid, one budget only) gives a figure that says so. Seed spread is shown
as the min-max band over seeds (with one seed there is no band: the README says how many ran).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from budgetsplit.results import best_fraction, per_method

sns.set_theme(style="whitegrid", context="paper")
COLD_FRACTIONS = (0.0, 0.01, 0.1)


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """Add `score` (each row's primary metric) and put SFT-only cells on every method's curve."""
    if df.empty:
        return df.assign(score=pd.Series(dtype=float))
    df = df.copy()
    df["score"] = [row[f"metric.{row['primary_metric']}"] for _, row in df.iterrows()]
    return per_method(df)


def _metric_name(df: pd.DataFrame, task: str) -> str:
    return str(df.loc[df["task"] == task, "primary_metric"].iloc[0])


def _empty(msg: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 2))
    ax.axis("off")
    ax.text(0.5, 0.5, msg, ha="center", va="center", wrap=True)
    return fig


def default_method(df: pd.DataFrame) -> str:
    """The PFT method the study's main figures show: the one run on the most tasks."""
    # Cells that bought preference data: prepare() copies SFT-only cells onto every method.
    d = df[(df["method"] != "sft") & (df["n_pref"] > 0)]
    if d.empty:
        return "sft"
    counts = d.groupby("method")["task"].nunique()
    return str(counts[counts == counts.max()].index.sort_values()[0])


def _examples_only(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["cost_ratio"].isna()] if "cost_ratio" in df else df


def _method_cells(df: pd.DataFrame, method: str | None) -> tuple[str, pd.DataFrame]:
    """(method, its example-budget cells); the method defaults to the one run on most tasks."""
    method = method or default_method(df)
    return method, _examples_only(df[df["method"] == method])


def _panels(tasks: list[str], width: float, height: float = 3.4):
    """One subplot per task, side by side: (fig, axes)."""
    fig, axes = plt.subplots(1, len(tasks), figsize=(width * len(tasks), height), squeeze=False)
    return fig, axes[0]


def fraction_curves(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 1: per task, the metric against the SFT fraction, one line per budget."""
    method, d = _method_cells(df, method)
    if d.empty:
        return _empty(f"no {method} cells in the results")
    tasks = sorted(d["task"].unique())
    fig, axes = _panels(tasks, 4.2)
    for ax, task in zip(axes, tasks, strict=True):
        t = d[d["task"] == task]
        sns.lineplot(
            data=t, x="sft_fraction", y="score", hue="budget", marker="o", ax=ax,
            errorbar=("pi", 100), palette="viridis", legend="full",
        )  # fmt: skip
        ax.set(title=task, xlabel="SFT share of the budget", ylabel=_metric_name(d, task))
        ax.legend(title="budget", fontsize=7)
    fig.suptitle(f"Metric vs SFT fraction ({method}; band: min-max over seeds)")
    fig.tight_layout()
    return fig


def heatmaps(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 2: per task, budget x SFT fraction heatmap; the best cell of each budget boxed."""
    method, d = _method_cells(df, method)
    if d.empty:
        return _empty(f"no {method} cells in the results")
    tasks = sorted(d["task"].unique())
    fig, axes = _panels(tasks, 4.4, 3.6)
    for ax, task in zip(axes, tasks, strict=True):
        t = d[d["task"] == task].groupby(["budget", "sft_fraction"])["score"].mean().unstack()
        sns.heatmap(t, annot=True, fmt=".2f", cmap="mako", cbar=False, ax=ax, annot_kws={"size": 7})
        for i, (_, row) in enumerate(t.iterrows()):
            if row.notna().any():
                j = int(np.nanargmax(row.to_numpy()))
                ax.add_patch(plt.Rectangle((j, i), 1, 1, fill=False, edgecolor="red", lw=2))
        ax.set(title=f"{task} ({_metric_name(d, task)})", xlabel="SFT fraction", ylabel="budget")
    fig.suptitle(f"Budget x SFT fraction ({method}); red box: best fraction per budget")
    fig.tight_layout()
    return fig


def cold_start(df: pd.DataFrame, task: str = "math") -> plt.Figure:
    """Figure 3: the metric at SFT fractions 0, 0.01, 0.1 and the best, across budgets, for every
    PFT method, beside the cold-start diagnostics (log-prob of the chosen responses under the
    model PFT starts from; share of answers in the required format)."""
    d = _examples_only(df[(df["task"] == task) & (df["method"] != "sft")])
    if d.empty:
        return _empty(f"no {task} preference-finetuning cells in the results")
    parts = []
    for method, m in d.groupby("method"):
        best = best_fraction(m, "score").set_index("budget")["sft_fraction"]
        cold = m[m["sft_fraction"].isin(COLD_FRACTIONS)]
        parts.append(cold.assign(setting=[f"{method}, SFT {f:g}" for f in cold["sft_fraction"]]))
        top = m[m["sft_fraction"] == m["budget"].map(best)]
        parts.append(top.assign(setting=f"{method}, best fraction"))
    d = pd.concat(parts, ignore_index=True)
    panels = [
        ("score", _metric_name(d, task)),
        ("diag.cold_start.chosen_logprob_per_token", "log-prob of chosen, per token"),
        ("diag.format_rate", "share of answers in format"),
    ]
    panels = [(c, label) for c, label in panels if c in d and d[c].notna().any()]
    fig, axes = _panels(panels, 4.6, 3.6)
    for i, (ax, (col, label)) in enumerate(zip(axes, panels, strict=True)):
        sns.lineplot(
            data=d, x="budget", y=col, hue="setting", marker="o", ax=ax, errorbar=("pi", 100),
            legend=i == 0,
        )  # fmt: skip
        ax.set(xscale="log", ylabel=label, title=label)
        if i == 0:
            ax.legend(fontsize=6)
    fig.suptitle(f"Cold start on {task}: preference finetuning from the base model vs a little SFT")
    fig.tight_layout()
    return fig


def costs(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 4: the best SFT fraction against budget, one line per cost ratio c_sft / c_pref."""
    method = method or default_method(df)
    d = df[(df["method"] == method) & df["cost_ratio"].notna()] if "cost_ratio" in df else df[:0]
    if d.empty:
        return _empty("no money-budget cells (cost ratios) in the results")
    best = best_fraction(d, "score")
    tasks = sorted(best["task"].unique())
    fig, axes = _panels(tasks, 4.5)
    for ax, task in zip(axes, tasks, strict=True):
        sns.lineplot(
            data=best[best["task"] == task], x="budget", y="sft_fraction", hue="cost_ratio",
            marker="o", ax=ax, palette="flare", legend="full",
        )  # fmt: skip
        ax.set(xscale="log", ylim=(-0.05, 1.05), title=task, ylabel="best SFT fraction")
        ax.legend(title="c_sft / c_pref", fontsize=7)
    fig.suptitle("Best SFT share of a money budget, by annotation-cost ratio")
    fig.tight_layout()
    return fig


def equal_performance(df: pd.DataFrame, method: str | None = None) -> pd.DataFrame:
    """Per task: the largest budget at its worst fraction, and the smallest budget whose best
    fraction matches it (the paper's "balanced 5K matches unbalanced 20K").

    Splits that score 0 at the largest budget are not candidates for "worst": matching a total
    failure says nothing (any budget scoring 0 would), so the worst split that learned something
    is the reference, and a match must score above 0. No reference: all of the row is None."""
    rows = []
    _, d = _method_cells(df, method)
    for task, t in d.groupby("task"):
        mean = t.groupby(["budget", "sft_fraction"])["score"].mean().reset_index()
        big = mean["budget"].max()
        learned = mean[(mean["budget"] == big) & (mean["score"] > 0)]
        worst = learned.nsmallest(1, "score").iloc[0] if len(learned) else None
        best = mean.loc[mean.groupby("budget")["score"].idxmax()].sort_values("budget")
        match = (
            best[(best["score"] >= worst["score"]) & (best["score"] > 0)]
            if worst is not None
            else best[:0]
        )
        first = match.iloc[0] if len(match) else None
        if worst is None:
            worst = {"sft_fraction": None, "score": None}
        rows.append(
            {
                "task": task,
                "large_budget": big,
                "poor_fraction": worst["sft_fraction"],
                "poor_score": worst["score"],
                "matching_budget": None if first is None else first["budget"],
                "matching_fraction": None if first is None else first["sft_fraction"],
                "matching_score": None if first is None else first["score"],
                "budget_ratio": None if first is None else big / first["budget"],
            }
        )
    return pd.DataFrame(rows)


def equal_performance_plot(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 5: metric vs budget at the best fraction and at the large budget's poor fraction."""
    method, d = _method_cells(df, method)
    if d.empty or d["budget"].nunique() < 2:
        return _empty("equal-performance needs at least two budgets")
    eq = equal_performance(df, method).set_index("task")
    tasks = sorted(d["task"].unique())
    fig, axes = _panels(tasks, 4.3)
    for ax, task in zip(axes, tasks, strict=True):
        t = d[d["task"] == task]
        mean = t.groupby(["budget", "sft_fraction"])["score"].mean().reset_index()
        best = mean.loc[mean.groupby("budget")["score"].idxmax()]
        e = eq.loc[task]
        ax.plot(best["budget"], best["score"], "o-", label="best fraction")
        if not pd.isna(e["poor_fraction"]):  # NaN: every split at the largest budget scored 0
            poor = mean[mean["sft_fraction"] == e["poor_fraction"]]
            ax.plot(
                poor["budget"], poor["score"], "s--", label=f"SFT fraction {e['poor_fraction']:g}"
            )
            ax.axhline(e["poor_score"], color="grey", lw=0.8, ls=":")
        if e["matching_budget"] is not None and not pd.isna(e["matching_budget"]):
            ax.annotate(
                f"{e['matching_budget']:g} at best ~ {e['large_budget']:g} at {e['poor_fraction']:g}",
                (e["matching_budget"], e["matching_score"]), textcoords="offset points",
                xytext=(5, -25), fontsize=7, arrowprops={"arrowstyle": "->"},
            )  # fmt: skip
        ax.set(xscale="log", title=task, xlabel="budget", ylabel=_metric_name(d, task))
        ax.legend(fontsize=7)
    fig.suptitle("Equal performance: a well-split small budget vs a poorly split large one")
    fig.tight_layout()
    return fig


FIGURES = {
    "fig1_fraction_curves": fraction_curves,
    "fig2_heatmaps": heatmaps,
    "fig3_cold_start": cold_start,
    "fig4_costs": costs,
    "fig5_equal_performance": equal_performance_plot,
}


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


def all_figures(df: pd.DataFrame, folder: str | Path) -> dict[str, list[Path]]:
    """Every figure of the study from one (prepared) table."""
    out = {}
    for name, make in FIGURES.items():
        fig = make(df)
        out[name] = save(fig, folder, name)
        plt.close(fig)
    return out
