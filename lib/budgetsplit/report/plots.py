"""The study's six figures (five from the results table with its verdicts, the sixth from the
advisor's curves), with matplotlib.

    from budgetsplit.analysis import verdicts
    from budgetsplit.report import plots
    from budgetsplit.study import results
    table = results.results_table("runs", "toy")
    df, best, boot = verdicts.verdicts(table, results.row_scores_table("runs", "toy"))
    fig = plots.fraction_curves(df); plots.save(fig, "figures", "fig1_fraction_curves")
    plots.all_figures(df, "figures", eq=verdicts.equal_performance(best, boot))

Every function takes the table and returns a matplotlib Figure; numbers are never invented here:
a missing piece (no cost grid, one budget only) gives a figure that says so. Figures are meant to
be read without the code: metrics by name and unit (`plotstyle.METRICS`; shares are drawn in %),
budgets as whole numbers, the PFT method in every title, and every figure `WIDTH` inches wide.
That shared look (theme, width, metric names, axes, `save`) lives in budgetsplit.report.plotstyle.

Which split is best is budgetsplit.analysis.verdicts's verdict, read from the table's columns and
never decided here: `in_best_set` (the splits not significantly worse than the best), `no_best`
(every split of the budget at the floor: labelled "no best") and `set_top` (the one split drawn
for the set: "best share", figure 4's dot). The heatmaps box the set (and hatch the cells at the
floor, `above_floor`, which verdicts.with_intervals puts on the table too), the curves ring its
points, figure 4 draws its span. Figures 2 to 5 need those columns (ValueError without them);
figure 1 draws any prepared table, marking what it has. Figures 1 and 2 draw a row of task panels
per PFT method. Shaded bands say what they are in the title: a 95% CI when the table has
`ci_low`/`ci_high` (in the metric's own units), else the min-max over seeds when several ran,
else none ("one seed"). A task's floor (the verdicts' `floor`: the higher of its base model and its
cheap outputs, named by `floor_source`) is a dashed grey line in figures 1, 3 and 5; a table
without verdicts gets the base model's line in figure 1. Figures 4-6 are in
budgetsplit.report.plots_budget, what they all read off the table in budgetsplit.report.marks.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from budgetsplit.report.marks import (
    default_method,
    examples_only,
    marked,
    method_grid,
    no_best_budgets,
    require_verdicts,
    task_metric,
)
from budgetsplit.report.plots_budget import advice, costs, equal_performance_plot
from budgetsplit.report.plotstyle import (
    WIDTH,
    band_note,
    budget_axis,
    curve,
    empty,
    floor_line,
    has,
    legend_below,
    means_note,
    metric_label,
    number,
    panels,
    percent_axis,
    save,
)
from budgetsplit.study.cells import BASE

# The figures, and the two plotstyle names callers reach through plots (notebooks' save, WIDTH).
__all__ = [
    "FIGURES",
    "WIDTH",
    "advice",
    "all_figures",
    "cold_start",
    "costs",
    "default_method",
    "equal_performance_plot",
    "fraction_curves",
    "heatmaps",
    "save",
]

COLD_FRACTIONS = (0.0, 0.01, 0.1)


def fraction_curves(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 1: the metric against the SFT share of the budget, one line per budget; a panel per
    task, a row of them per PFT method (or for `method` alone); the task's floor dashed."""
    methods, _, d, fig, grid = method_grid(df, method)
    if fig is None:
        return empty(f"no {', '.join(methods)} cells in the results")
    budgets = sorted(d["budget"].unique())
    colors = dict(zip(budgets, sns.color_palette("viridis", len(budgets)), strict=True))
    for (task, m), ax in grid.items():
        t = d[(d["task"] == task) & (d["method"] == m)]
        label, scale = task_metric(d, task)
        none = no_best_budgets(t)
        for budget, b in t.groupby("budget"):
            curve(ax, b, "sft_fraction", "score", scale, marker="o", color=colors[budget])
        if none:
            ax.text(
                0.98,
                0.97,
                "no best: " + ", ".join(number(b) for b in sorted(none)),
                transform=ax.transAxes,
                ha="right",
                va="top",
                fontsize=6.5,
                color="0.3",
            )
        base = df[(df["method"] == BASE) & (df["task"] == task)]["score"]
        if has(t, "floor"):  # the floor every split must beat: base model or cheap outputs
            floor_line(ax, t, scale)
        elif len(base):  # a table without verdicts: the model before any annotation
            ax.axhline(base.mean() * scale, color="grey", ls="--", lw=1, label="base model")
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
        percent_axis(ax, scale)
        ax.set(title=f"{task}, {m}", xlabel="SFT share of the budget", ylabel=label)
    legend_below(fig, colors, {b: number(b) for b in budgets}, "budget (examples)")
    ring = "; ring: best set" if "in_best_set" in d else ""
    floor = "; dashed: the floor" if has(d, "floor") or (df["method"] == BASE).any() else ""
    fig.suptitle(f"Metric vs SFT share ({', '.join(methods)}; {band_note(d)}{ring}{floor})")
    rows = len(methods) if len(grid) > 1 or len(methods) > 1 else 1
    fig.tight_layout(rect=(0, 0.1 / rows, 1, 1))
    return fig


def _cell_text(value: float, scale: float) -> str:
    """How a heatmap cell prints its value: percents with one decimal, 0-1 scores with three and
    no leading zero (.019: six of them fit a narrow panel)."""
    if pd.isna(value):
        return ""
    return f"{value:.1f}" if scale == 100 else f"{value:.3f}".replace("0.", ".", 1)


def heatmaps(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 2: per task, budget x SFT share heatmap of the mean metric; each budget's best set
    boxed. Every panel is coloured on its metric's natural range (0-100% or 0-1, `scale`), so a
    task at its floor looks dark, with its colour bar; cells at the floor (`above_floor` False,
    where the table has it) are hatched grey."""
    require_verdicts(df, "figure 2 (heatmaps)")
    methods, _, d, fig, grid = method_grid(df, method)
    if fig is None:
        return empty(f"no {', '.join(methods)} cells in the results")
    floor = "above_floor" in d
    for (task, method), ax in grid.items():
        t = d[(d["task"] == task) & (d["method"] == method)]
        label, scale = task_metric(d, task)
        cells = t.groupby(["budget", "sft_fraction"])
        grid = cells["score"].mean().unstack() * scale
        marked = cells["in_best_set"].any().unstack().fillna(False).to_numpy(bool)
        low = np.zeros_like(marked)
        if floor:  # a cell's seeds share one verdict: at the floor or above it
            low = ~cells["above_floor"].all().unstack().fillna(True).to_numpy(bool)
        none = no_best_budgets(t)
        grid.index = [number(b) + ("\nno best" if b in none else "") for b in grid.index]
        grid.columns = [f"{f:.0%}" for f in grid.columns]
        text = grid.map(lambda v, s=scale: _cell_text(v, s))
        size = 6.5 if scale == 100 else 6
        sns.heatmap(
            grid,
            annot=text.to_numpy(),
            fmt="",
            cmap="mako",
            vmin=0,
            vmax=scale,
            mask=low,
            ax=ax,
            annot_kws={"size": size},
            cbar_kws={"label": label, "pad": 0.02},
        )
        for i, j in zip(*np.nonzero(low), strict=True):
            ax.add_patch(
                plt.Rectangle((j, i), 1, 1, facecolor="0.9", edgecolor="0.6", hatch="///", lw=0)
            )
            ax.text(
                j + 0.5,
                i + 0.5,
                text.iloc[i, j],
                ha="center",
                va="center",
                fontsize=size,
                color="0.3",
            )
        for i, j in zip(*np.nonzero(marked), strict=True):  # inset: neighbours stay apart
            ax.add_patch(
                plt.Rectangle((j + 0.07, i + 0.07), 0.86, 0.86, fill=False, edgecolor="red", lw=1.5)
            )
        title = f"{task}, {method}: {label}".replace("\n", " ")
        ax.set(title=title, xlabel="SFT share of the budget", ylabel="budget (examples)")
    hatch = "; hatched: at the floor" if floor else ""
    fig.suptitle(
        f"Budget x SFT share ({', '.join(methods)}; {means_note(d)}); red box: best set per "
        f"budget{hatch}"
    )
    fig.tight_layout()
    return fig


def cold_start(df: pd.DataFrame, task: str = "math") -> plt.Figure:
    """Figure 3: the metric at SFT shares 0, 1% and 10% and at the best share, across budgets, for
    every PFT method (line style), beside the cold-start diagnostics (log-prob of the chosen
    responses under the model PFT starts from; share of answers in the required format)."""
    require_verdicts(df, "figure 3 (cold start)")
    d = examples_only(df[(df["task"] == task) & (df["method"] != "sft")])
    if d.empty:
        return empty(f"no {task} preference-finetuning cells in the results")
    parts, tops = [], {}
    for method, m in d.groupby("method"):
        cold = m[m["sft_fraction"].isin(COLD_FRACTIONS)]
        parts.append(cold.assign(setting=[f"{f:.0%} SFT" for f in cold["sft_fraction"]]))
        top = m[marked(m, "set_top")]
        tops[method] = top
    # Where every method's best share is the same SFT-only cells, draw them once, not on top of
    # each other.
    same = len(
        {
            tuple(sorted(zip(t["budget"], t["sft_fraction"], t["score"], strict=True)))
            for t in tops.values()
        }
    )
    if len(tops) > 1 and same == 1 and all((t["sft_fraction"] == 1).all() for t in tops.values()):
        first = next(iter(tops.values()))
        parts.append(first.assign(setting="best share", method="every method"))
    else:
        parts += [t.assign(setting="best share") for t in tops.values()]
    d = pd.concat(parts, ignore_index=True)
    primary = str(d["primary_metric"].iloc[0])
    cols = ["score", "diag.cold_start.chosen_logprob_per_token", "diag.format_rate"]
    cols = [c for c in cols if has(d, c)]
    settings = [f"{f:.0%} SFT" for f in COLD_FRACTIONS] + ["best share"]
    colors = dict(zip(settings, sns.color_palette("tab10", len(settings)), strict=True))
    settings = [s for s in settings if (d["setting"] == s).any()]  # the legend: what was drawn
    styles = dict(zip(sorted(d["method"].unique()), ["-", "--", ":", "-."], strict=False))
    fig, axes = panels(len(cols))
    for ax, col in zip(axes, cols, strict=True):
        label, scale = metric_label(primary if col == "score" else col)
        for (method, setting), s in d.groupby(["method", "setting"]):
            style = dict(marker="o", color=colors[setting], ls=styles[method])
            # labelled for a reader of the figure's objects; the legends below say it in two parts
            curve(ax, s, "budget", col, scale, label=f"{method}, {setting}", **style)
        if col == "score":
            floor_line(ax, d, scale)
            _clip_to_cold_start(ax, d, scale)
        budget_axis(ax, d["budget"])
        percent_axis(ax, scale)
        ax.set(ylabel=label, title=label.replace("\n", " "), xlabel="budget (examples)")
    # Colour: the split; line style: the method; one legend of each below the panels.
    handles = [plt.Line2D([], [], color=colors[s], marker="o", label=s) for s in settings]
    handles += [plt.Line2D([], [], color="0.3", ls=styles[m], label=m) for m in styles]
    if has(d, "floor"):
        handles.append(plt.Line2D([], [], color="grey", ls="--", label="floor"))
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=8)
    fig.suptitle(
        f"Cold start on {task}: PFT from the base model vs a little SFT first "
        f"({band_note(d)}; best share: top of the best set)"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def _clip_to_cold_start(ax, d: pd.DataFrame, scale: float) -> None:
    """Keep the axis at the cold-start splits' scale when a best share far above them would
    squeeze them into the bottom of the panel: points above it are drawn at the top edge, with
    their value."""
    cold = d.loc[d["setting"] != "best share", "score"].max() * scale
    high = d.loc[d["setting"] == "best share", "score"]
    if high.empty or high.max() * scale <= 3 * max(cold, 1e-9):
        return
    top = max(cold * 1.8, 1.0 if scale == 100 else 0.01)
    ax.set_ylim(ax.get_ylim()[0], top)
    best = d[d["setting"] == "best share"].groupby(["method", "budget"])["score"].mean()
    methods = sorted(best.index.get_level_values("method").unique())
    for (method, budget), score in best[best * scale > top].items():
        ax.annotate(
            f"{method}: {score * scale:.3g} \u2191"
            if len(methods) > 1
            else f"{score * scale:.3g} \u2191",
            (budget, top),
            xytext=(-4, -10 - 9 * methods.index(method)),
            textcoords="offset points",
            ha="right",
            fontsize=7,
            color="0.2",
        )


FIGURES = {
    "fig1_fraction_curves": fraction_curves,
    "fig2_heatmaps": heatmaps,
    "fig3_cold_start": cold_start,
    "fig4_costs": costs,
    "fig5_equal_performance": equal_performance_plot,
}


def all_figures(df: pd.DataFrame, folder: str | Path, eq: pd.DataFrame) -> dict[str, list[Path]]:
    """Every figure of the study from one prepared table with its verdicts and the
    equal-performance rows (`eq`), as verdicts.verdicts and verdicts.equal_performance give them."""
    out = {}
    for name, make in FIGURES.items():
        fig = make(df, eq=eq) if make is equal_performance_plot else make(df)
        out[name] = save(fig, folder, name)
        plt.close(fig)
    return out
