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
points, figure 4 draws its span. Figures 2 to 5 need those columns (ValueError without them); figure 1 draws any prepared table, marking what it has. Shaded bands
say what they are in the title: a 95% CI when the table has `ci_low`/`ci_high` (in the metric's
own units), else the min-max over seeds when several ran, else none ("one seed"). A task's
base-model row (method "base", budget 0) is no budget: figure 1 draws it as a horizontal "base
model" line, the others leave it out.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from budgetsplit.analysis.verdicts import GROUP, VERDICT_COLUMNS
from budgetsplit.report.plotstyle import (
    WIDTH,
    band_note,
    budget_axis,
    curve,
    empty,
    has,
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


def _task_metric(df: pd.DataFrame, task: str) -> tuple[str, float]:
    return metric_label(str(df.loc[df["task"] == task, "primary_metric"].iloc[0]))


def default_method(df: pd.DataFrame) -> str:
    """The PFT method the study's main figures show: the one run on the most tasks."""
    # Cells that bought preference data: prepare() copies SFT-only cells onto every method.
    d = df[(df["method"] != "sft") & (df["n_pref"] > 0)]
    if d.empty:
        return "sft"
    counts = d.groupby("method")["task"].nunique()
    return str(counts[counts == counts.max()].index.sort_values()[0])


def _examples_only(df: pd.DataFrame) -> pd.DataFrame:
    """Example-budget cells, base-model rows left out (they are no budget)."""
    df = df[df["method"] != BASE]
    return df[df["cost_ratio"].isna()] if "cost_ratio" in df else df


def _marked(d: pd.DataFrame, col: str) -> pd.Series:
    """A verdict column as booleans: False where the table has no verdict (base-model rows)."""
    return d[col].fillna(False).astype(bool)


def _no_best(d: pd.DataFrame) -> set:
    """The budgets of `d` (one task and method) where no split is above the floor."""
    return set(d.loc[_marked(d, "no_best"), "budget"]) if "no_best" in d else set()


def _judged(df: pd.DataFrame, figure: str) -> None:
    """ValueError unless the table carries the verdicts the figure draws."""
    missing = [c for c in VERDICT_COLUMNS if c not in df]
    if missing:
        raise ValueError(
            f"{figure} draws the table's verdicts, and it lacks {missing}: draw it from the "
            "table verdicts.verdicts(results, scores) returns"
        )


def _tops(d: pd.DataFrame) -> pd.DataFrame:
    """Per group (verdicts.GROUP) with a best: its set's top split and the set's span. Columns:
    the group's, sft_fraction (the top), set_low, set_high."""
    top = d[_marked(d, "set_top")].drop_duplicates(GROUP)[[*GROUP, "sft_fraction"]]
    span = d[_marked(d, "in_best_set")].groupby(GROUP, dropna=False)["sft_fraction"]
    return top.merge(span.agg(set_low="min", set_high="max").reset_index(), on=GROUP, how="left")


def _method_cells(df: pd.DataFrame, method: str | None) -> tuple[str, pd.DataFrame]:
    """(method, its example-budget cells); the method defaults to the one run on most tasks."""
    method = method or default_method(df)
    return method, _examples_only(df[df["method"] == method])


def fraction_curves(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 1: the metric against the SFT share of the budget, one line per budget; one panel per
    task (or, for one task's table, per PFT method)."""
    if df["task"].nunique() == 1 and method is None:
        methods = sorted(set(df["method"]) - {"sft", BASE}) or ["sft"]
    else:
        methods = [method or default_method(df)]
    d = _examples_only(df[df["method"].isin(methods)])
    if d.empty:
        return empty(f"no {', '.join(methods)} cells in the results")
    pairs = [(t, m) for t in sorted(d["task"].unique()) for m in methods]
    fig, axes = panels(len(pairs))
    budgets = sorted(d["budget"].unique())
    colors = dict(zip(budgets, sns.color_palette("viridis", len(budgets)), strict=True))
    for ax, (task, m) in zip(axes, pairs, strict=True):
        t = d[(d["task"] == task) & (d["method"] == m)]
        label, scale = _task_metric(d, task)
        none = _no_best(t)
        for budget, b in t.groupby("budget"):
            name = number(budget) + (" (no best)" if budget in none else "")
            curve(
                ax, b, "sft_fraction", "score", scale, marker="o", color=colors[budget], label=name
            )
        base = df[(df["method"] == BASE) & (df["task"] == task)]["score"]
        if len(base):  # the floor every budget starts from: the model before any annotation
            ax.axhline(base.mean() * scale, color="grey", ls="--", lw=1, label="base model")
        ax.xaxis.set_major_formatter(PercentFormatter(xmax=1))
        percent_axis(ax, scale)
        ax.set(title=f"{task}, {m}", xlabel="SFT share of the budget", ylabel=label)
        # Below the panel, not on it: with four or five budgets the lines fill the panel.
        entries = len(ax.get_legend_handles_labels()[1])
        ax.legend(
            title="budget (examples)",
            fontsize=7,
            title_fontsize=8,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncol=min(entries, 3),
        )
    ring = "; ring: best set" if "in_best_set" in d else ""
    floor = "; dashed: base model" if (df["method"] == BASE).any() else ""
    fig.suptitle(f"Metric vs SFT share ({', '.join(methods)}; {band_note(d)}{ring}{floor})")
    fig.tight_layout()
    return fig


def _cell_format(scale: float) -> str:
    """How a heatmap cell prints its value: percents with one decimal, 0-1 scores with three."""
    return ".1f" if scale == 100 else ".3f"


def heatmaps(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 2: per task, budget x SFT share heatmap of the mean metric; each budget's best set
    boxed. Every panel is coloured on its metric's natural range (0-100% or 0-1, `scale`), so a
    task at its floor looks dark, with its colour bar; cells at the floor (`above_floor` False,
    where the table has it) are hatched grey."""
    _judged(df, "figure 2 (heatmaps)")
    method, d = _method_cells(df, method)
    if d.empty:
        return empty(f"no {method} cells in the results")
    tasks = sorted(d["task"].unique())
    fig, axes = panels(len(tasks))
    floor = "above_floor" in d
    for ax, task in zip(axes, tasks, strict=True):
        t = d[d["task"] == task]
        label, scale = _task_metric(d, task)
        cells = t.groupby(["budget", "sft_fraction"])
        grid = cells["score"].mean().unstack() * scale
        marked = cells["in_best_set"].any().unstack().fillna(False).to_numpy(bool)
        low = np.zeros_like(marked)
        if floor:  # a cell's seeds share one verdict: at the floor or above it
            low = ~cells["above_floor"].all().unstack().fillna(True).to_numpy(bool)
        none = _no_best(t)
        grid.index = [number(b) + ("\nno best" if b in none else "") for b in grid.index]
        grid.columns = [f"{f:.0%}" for f in grid.columns]
        fmt = _cell_format(scale)
        sns.heatmap(
            grid,
            annot=True,
            fmt=fmt,
            cmap="mako",
            vmin=0,
            vmax=scale,
            mask=low,
            ax=ax,
            annot_kws={"size": 6.5},
            cbar_kws={"label": label, "pad": 0.02},
        )
        for i, j in zip(*np.nonzero(low), strict=True):
            ax.add_patch(
                plt.Rectangle((j, i), 1, 1, facecolor="0.9", edgecolor="0.6", hatch="///", lw=0)
            )
            value = grid.iloc[i, j]
            if not pd.isna(value):
                ax.text(
                    j + 0.5,
                    i + 0.5,
                    format(value, fmt),
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    color="0.3",
                )
        for i, j in zip(*np.nonzero(marked), strict=True):  # inset: neighbours stay apart
            ax.add_patch(
                plt.Rectangle((j + 0.07, i + 0.07), 0.86, 0.86, fill=False, edgecolor="red", lw=1.5)
            )
        ax.set(
            title=f"{task}: {label}", xlabel="SFT share of the budget", ylabel="budget (examples)"
        )
    hatch = "; hatched: at the floor" if floor else ""
    fig.suptitle(
        f"Budget x SFT share ({method}, {means_note(d)}); red box: best set per budget{hatch}"
    )
    fig.tight_layout()
    return fig


def cold_start(df: pd.DataFrame, task: str = "math") -> plt.Figure:
    """Figure 3: the metric at SFT shares 0, 1% and 10% and at the best share, across budgets, for
    every PFT method (line style), beside the cold-start diagnostics (log-prob of the chosen
    responses under the model PFT starts from; share of answers in the required format)."""
    _judged(df, "figure 3 (cold start)")
    d = _examples_only(df[(df["task"] == task) & (df["method"] != "sft")])
    if d.empty:
        return empty(f"no {task} preference-finetuning cells in the results")
    parts = []
    for _, m in d.groupby("method"):
        cold = m[m["sft_fraction"].isin(COLD_FRACTIONS)]
        parts.append(cold.assign(setting=[f"{f:.0%} SFT" for f in cold["sft_fraction"]]))
        parts.append(m[_marked(m, "set_top")].assign(setting="best share"))
    d = pd.concat(parts, ignore_index=True)
    primary = str(d["primary_metric"].iloc[0])
    cols = ["score", "diag.cold_start.chosen_logprob_per_token", "diag.format_rate"]
    cols = [c for c in cols if has(d, c)]
    settings = [f"{f:.0%} SFT" for f in COLD_FRACTIONS] + ["best share"]
    colors = dict(zip(settings, sns.color_palette("tab10", len(settings)), strict=True))
    styles = dict(zip(sorted(d["method"].unique()), ["-", "--", ":", "-."], strict=False))
    fig, axes = panels(len(cols))
    for ax, col in zip(axes, cols, strict=True):
        label, scale = metric_label(primary if col == "score" else col)
        for (method, setting), s in d.groupby(["method", "setting"]):
            style = dict(marker="o", color=colors[setting], ls=styles[method])
            curve(ax, s, "budget", col, scale, label=f"{method}, {setting}", **style)
        budget_axis(ax, d["budget"])
        percent_axis(ax, scale)
        ax.set(ylabel=label, title=label, xlabel="budget (examples)")
    axes[0].legend(fontsize=6)
    fig.suptitle(
        f"Cold start on {task}: PFT from the base model vs a little SFT first "
        f"({band_note(d)}; best share: top of the best set)"
    )
    fig.tight_layout()
    return fig


def costs(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 4: the best SFT share against a money budget, one line per cost ratio c_sft/c_pref
    through the top of each budget's best set, a bar over the set's span of shares."""
    _judged(df, "figure 4 (costs)")
    method = method or default_method(df)
    d = df[(df["method"] == method) & df["cost_ratio"].notna()] if "cost_ratio" in df else df[:0]
    if d.empty:
        return empty(
            "no money-budget cells (cost ratios) in the results:\n"
            "a profile with math_costs.yaml runs them (toy_large)"
        )
    best = _tops(d)
    if best.empty:
        return empty("money budgets: no split is best at any budget (every split at the floor)")
    tasks = sorted(best["task"].unique())
    fig, axes = panels(len(tasks))
    ratios = sorted(best["cost_ratio"].unique())
    colors = dict(zip(ratios, sns.color_palette("flare", len(ratios)), strict=True))
    # Side by side at each budget (log axis: a factor), so that equal spans do not hide each other.
    shift = dict(
        zip(
            ratios, np.geomspace(0.94, 1.06, len(ratios)) if len(ratios) > 1 else [1.0], strict=True
        )
    )
    for ax, task in zip(axes, tasks, strict=True):
        for ratio, r in best[best["task"] == task].groupby("cost_ratio"):
            r = r.sort_values("budget")
            x, c = r["budget"] * shift[ratio], colors[ratio]
            ax.plot(x, r["sft_fraction"], "o-", color=c, label=f"{ratio:g}x")
            ax.vlines(x, r["set_low"], r["set_high"], color=c, lw=4, alpha=0.35)
        budget_axis(ax, best["budget"])
        ax.set_xlim(best["budget"].min() / 1.3, best["budget"].max() * 1.3)  # room for the shifts
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set(ylim=(-0.05, 1.05), title=f"{task}, {method}", ylabel="best SFT share of the money")
        ax.set(xlabel="budget (money)")
        ax.legend(title="a demonstration costs (x a pair)", fontsize=7)
    fig.suptitle(
        f"Best SFT share of a money budget, by annotation-cost ratio ({method}, {means_note(d)}; "
        "bar: best set, dot: its top; no point: no best)"
    )
    fig.tight_layout()
    return fig


def _ratio(ratio: float) -> str:
    """A budget ratio as the panel prints it: 30x, 3.3x."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}".removesuffix(".0") + "x"


def equal_performance_plot(
    df: pd.DataFrame, eq: pd.DataFrame, method: str | None = None
) -> plt.Figure:
    """Figure 5: metric vs budget at the top of each budget's best set and at the large budget's
    poor share. `eq`: `verdicts.equal_performance(best, boot)` of the table's verdicts."""
    _judged(df, "figure 5 (equal performance)")
    method, d = _method_cells(df, method)
    if d.empty or d["budget"].nunique() < 2:
        return empty(f"equal performance needs at least two budgets ({method} cells)")
    eq = eq[eq["method"] == method].set_index("task")
    tasks = sorted(d["task"].unique())
    fig, axes = panels(len(tasks))
    for ax, task in zip(axes, tasks, strict=True):
        label, scale = _task_metric(d, task)
        t = d[d["task"] == task]
        top = t[_marked(t, "set_top")]
        if top.empty:  # no line: the budget axis is set by hand (a log axis of no data fails)
            ax.set_xlim(t["budget"].min() / 1.3, t["budget"].max() * 1.3)
            ax.text(0.5, 0.5, "no best at any budget", ha="center", transform=ax.transAxes)
        else:
            curve(ax, top, "budget", "score", scale, marker="o", label="best share")
        e = eq.loc[task] if task in eq.index else None
        if e is not None and not pd.isna(e["poor_fraction"]):  # NaN: no poor split above floor
            share = f"{e['poor_fraction']:.0%}"
            poor = t[t["sft_fraction"] == e["poor_fraction"]]
            curve(ax, poor, "budget", "score", scale, marker="s", ls="--", label=f"{share} SFT")
            ax.axhline(e["poor_score"] * scale, color="grey", lw=0.8, ls=":")
            # Matched only by the largest budget itself: nothing to point at.
            if not pd.isna(e["matching_budget"]) and e["matching_budget"] < e["large_budget"]:
                ax.annotate(
                    f"{_ratio(e['budget_ratio'])} smaller: {number(e['matching_budget'])} at best"
                    f" ~ {number(e['large_budget'])} at {share} SFT",
                    (e["matching_budget"], e["matching_score"] * scale),
                    xytext=(0.03, 0.97),
                    textcoords="axes fraction",
                    fontsize=7,
                    va="top",
                    fontweight="bold",
                    arrowprops={"arrowstyle": "->", "color": "black"},
                )
        budget_axis(ax, t["budget"])
        percent_axis(ax, scale)
        ax.set(title=f"{task}, {method}", xlabel="budget (examples)", ylabel=label)
        entries = len(ax.get_legend_handles_labels()[1])
        if entries:  # below the panel, not on it: on it the legend hid the reference band
            ax.legend(
                fontsize=7,
                frameon=False,
                loc="upper center",
                bbox_to_anchor=(0.5, -0.22),
                ncol=entries,
            )
    fig.suptitle(
        f"Equal performance: well-split small budgets vs a poorly split large one ({band_note(d)}; "
        "dotted: its score; arrow: first not worse, its budget so many times smaller)"
    )
    fig.tight_layout()
    return fig


FIGURES = {
    "fig1_fraction_curves": fraction_curves,
    "fig2_heatmaps": heatmaps,
    "fig3_cold_start": cold_start,
    "fig4_costs": costs,
    "fig5_equal_performance": equal_performance_plot,
}


def advice(curves: pd.DataFrame) -> plt.Figure:
    """Figure 6: the advisor's recommended SFT fraction against budget
    (budgetsplit.analysis.advise.curves), one panel per task and method, one line per cost ratio,
    its 95% interval (seed bootstrap of the fit) shaded; beyond the grid's budgets the line is
    dashed (extrapolation)."""
    if curves.empty:
        return empty("no task with enough cells to fit (advise.MIN_CELLS over 2+ budgets)")
    keys = list(curves.groupby(["task", "method"]).groups)
    fig, axes = panels(len(keys))
    ratios = sorted(curves["cost_ratio"].unique())
    colors = dict(zip(ratios, sns.color_palette("flare", len(ratios)), strict=True))
    for ax, (task, method) in zip(axes, keys, strict=True):
        d = curves[(curves["task"] == task) & (curves["method"] == method)]
        for ratio, r in d.groupby("cost_ratio"):
            r, c = r.sort_values("budget"), colors[ratio]
            inside = r[~r["extrapolating"]]
            ax.plot(r["budget"], r["fraction"], "--", color=c, alpha=0.6)
            ax.plot(inside["budget"], inside["fraction"], "o-", color=c)
            ax.fill_between(r["budget"], r["fraction_low"], r["fraction_high"], color=c, alpha=0.15)
        budget_axis(ax, d["budget"])
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        model = ", ".join(sorted(d["model"].unique()))
        ax.set(
            ylim=(-0.05, 1.05),
            title=f"{task}, {method} ({model} fit)",
            xlabel="budget (pair costs)",
            ylabel="recommended SFT share",
        )
        ax.tick_params(axis="x", labelrotation=45)  # nine budgets on a narrow panel
    seeds = int(curves["n_seeds"].max())
    fig.suptitle(
        f"The advisor's split by budget and annotation cost (fits to {seeds} seeds; shaded: 95% "
        "interval of the best split over seed resamples; dashed: beyond the grid's budgets)"
    )
    # One legend below the panels (every panel has the same ratios): on a panel it hid the lines.
    handles = [plt.Line2D([], [], color=colors[r], marker="o", label=f"{r:g}x") for r in ratios]
    fig.legend(
        handles=handles,
        title="a demonstration costs (x a pair)",
        loc="lower center",
        ncol=len(ratios),
        frameon=False,
        fontsize=8,
        title_fontsize=9,
    )
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def all_figures(df: pd.DataFrame, folder: str | Path, eq: pd.DataFrame) -> dict[str, list[Path]]:
    """Every figure of the study from one prepared table with its verdicts and the
    equal-performance rows (`eq`), as verdicts.verdicts and verdicts.equal_performance give them."""
    out = {}
    for name, make in FIGURES.items():
        fig = make(df, eq=eq) if make is equal_performance_plot else make(df)
        out[name] = save(fig, folder, name)
        plt.close(fig)
    return out
