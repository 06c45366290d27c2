"""The study's figures on budgets: the best SFT share of a money budget by cost ratio (figure 4), a
well-split small budget against a poorly split large one (figure 5), and the advisor's split by
budget (figure 6). budgetsplit.report.plots holds the others and draws them all.

    from budgetsplit.report import plots
    plots.costs(df); plots.equal_performance_plot(df, eq); plots.advice(curves)
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import PercentFormatter

from budgetsplit.report.marks import (
    default_method,
    marked,
    method_grid,
    no_best_budgets,
    require_verdicts,
    set_tops,
    task_metric,
)
from budgetsplit.report.plotstyle import (
    band_note,
    budget_axis,
    curve,
    empty,
    floor_line,
    legend_below,
    means_note,
    number,
    panels,
    percent_axis,
)


def costs(df: pd.DataFrame, method: str | None = None) -> plt.Figure:
    """Figure 4: the best SFT share against a money budget, per cost ratio c_sft/c_pref: a point at
    the top of each budget's best set with a bar over the set's span of shares (no line: two
    budgets are no trend), and "no best" written where every split is at the floor."""
    require_verdicts(df, "figure 4 (costs)")
    method = method or default_method(df)
    d = df[(df["method"] == method) & df["cost_ratio"].notna()] if "cost_ratio" in df else df[:0]
    if d.empty:
        return empty(
            "no money-budget cells (cost ratios) in the results:\n"
            "a profile with math_costs.yaml runs them (toy_large)"
        )
    best = set_tops(d)
    if best.empty:
        return empty("money budgets: no split is best at any budget (every split at the floor)")
    tasks = sorted(best["task"].unique())
    fig, axes = panels(len(tasks))
    ratios = sorted(d["cost_ratio"].unique())
    colors = dict(zip(ratios, sns.color_palette("flare", len(ratios)), strict=True))
    # Side by side at each budget (log axis: a factor), so that equal spans do not hide each other.
    shift = dict(
        zip(
            ratios, np.geomspace(0.94, 1.06, len(ratios)) if len(ratios) > 1 else [1.0], strict=True
        )
    )
    for ax, task in zip(axes, tasks, strict=True):
        for ratio in ratios:
            r = best[(best["task"] == task) & (best["cost_ratio"] == ratio)].sort_values("budget")
            x, c = r["budget"] * shift[ratio], colors[ratio]
            ax.errorbar(
                x,
                r["sft_fraction"],
                yerr=[r["sft_fraction"] - r["set_low"], r["set_high"] - r["sft_fraction"]],
                fmt="o",
                color=c,
                capsize=3,
                lw=1.5,
            )
            none = d[(d["task"] == task) & (d["cost_ratio"] == ratio)]
            for budget in sorted(no_best_budgets(none)):
                ax.text(
                    budget * shift[ratio],
                    0.5,
                    "no best",
                    rotation=90,
                    color=c,
                    fontsize=7,
                    ha="center",
                    va="center",
                )
        budget_axis(ax, d["budget"])
        ax.set_xlim(d["budget"].min() / 1.3, d["budget"].max() * 1.3)  # room for the shifts
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
        ax.set(ylim=(-0.05, 1.05), title=f"{task}, {method}", ylabel="best SFT share of the money")
        ax.set(xlabel="budget (money)")
    ratio_names = {r: f"{r:g}x" for r in ratios}
    legend_below(fig, colors, ratio_names, "a demonstration costs (x a pair)", ls="")
    fig.suptitle(
        f"Best SFT share of a money budget, by annotation-cost ratio ({method}, {means_note(d)}; "
        'dot: top of the best set, bar: the set\'s span; "no best": every split at the floor)'
    )
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    return fig


def _ratio(ratio: float) -> str:
    """A budget ratio as the panel prints it: 30x, 3.3x."""
    return f"{ratio:.0f}x" if ratio >= 10 else f"{ratio:.1f}".removesuffix(".0") + "x"


def equal_performance_plot(
    df: pd.DataFrame, eq: pd.DataFrame, method: str | None = None
) -> plt.Figure:
    """Figure 5: metric vs budget at the top of each budget's best set and at the large budget's
    poor share; a panel per task, a row of them per PFT method (or for `method` alone). `eq`:
    `verdicts.equal_performance(best, boot)` of the table's verdicts."""
    require_verdicts(df, "figure 5 (equal performance)")
    methods, _, d, fig, grid = method_grid(df, method)
    if fig is not None and d["budget"].nunique() < 2:
        plt.close(fig)
        fig = None
    if fig is None:
        return empty(f"equal performance needs at least two budgets ({', '.join(methods)} cells)")
    for (task, method), ax in grid.items():
        e = eq[(eq["method"] == method) & (eq["task"] == task)]
        e = e.iloc[0] if len(e) else None
        label, scale = task_metric(d, task)
        t = d[(d["task"] == task) & (d["method"] == method)]
        top = t[marked(t, "set_top")]
        if top.empty:  # no line: the budget axis is set by hand (a log axis of no data fails)
            ax.set_xlim(t["budget"].min() / 1.3, t["budget"].max() * 1.3)
            ax.text(0.5, 0.5, "no best at any budget", ha="center", transform=ax.transAxes)
        else:
            curve(ax, top, "budget", "score", scale, marker="o", label="best share")
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
        floor_line(ax, t, scale)
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
                ncol=min(entries, 2),
            )
    fig.suptitle(
        f"Equal performance: well-split small budgets vs a poorly split large one ({band_note(d)}; "
        "dotted: its score; arrow: first not worse, its budget so many times smaller)"
    )
    fig.tight_layout()
    return fig


# Figure 6 draws no recommendation whose interval spans more than this share of the fractions.
ADVICE_MAX_SPAN = 0.5


def advice(curves: pd.DataFrame, floor_below: dict | None = None) -> plt.Figure:
    """Figure 6: the advisor's recommended SFT fraction against budget
    (budgetsplit.analysis.advise.curves), one panel per task and method, one line per cost ratio,
    its 95% interval (seed bootstrap of the fit) shaded; beyond the grid's budgets the line is
    dashed (extrapolation). No recommendation is drawn where its interval spans more than
    `ADVICE_MAX_SPAN` of the fraction range, nor below `floor_below[(task, method)]`: the
    smallest grid budget with a split above the floor (inf: none; the grid says nothing there to
    fit); the panel says so."""
    floor_below = floor_below or {}
    if curves.empty:
        return empty("no task with enough cells to fit (advise.MIN_CELLS over 2+ budgets)")
    keys = list(curves.groupby(["task", "method"]).groups)
    fig, axes = panels(len(keys))
    ratios = sorted(curves["cost_ratio"].unique())
    colors = dict(zip(ratios, sns.color_palette("flare", len(ratios)), strict=True))
    for ax, (task, method) in zip(axes, keys, strict=True):
        d = curves[(curves["task"] == task) & (curves["method"] == method)]
        wide = (d["fraction_high"] - d["fraction_low"]) > ADVICE_MAX_SPAN
        low = d["budget"] < floor_below.get((task, method), 0)
        if low.all():
            note = "at its floor at every\nbudget of the grid:\nno advice"
        elif (wide | low).all():
            note = f"every interval spans more\nthan {ADVICE_MAX_SPAN:.0%} of the range:\nno advice"
        else:
            why = [f"below {number(floor_below[task, method])} (at the floor)"] if low.any() else []
            if (wide & ~low).any():
                why.append(f"where the interval spans\nover {ADVICE_MAX_SPAN:.0%} of the range")
            note = "not drawn " + "\nor ".join(why) if why else None
        for ratio, r in d[~wide & ~low].groupby("cost_ratio"):
            if note and note.endswith("no advice"):
                break
            r, c = r.sort_values("budget"), colors[ratio]
            inside = r[~r["extrapolating"]]
            ax.plot(r["budget"], r["fraction"], "--", color=c, alpha=0.6)
            ax.plot(inside["budget"], inside["fraction"], "o-", color=c)
            ax.fill_between(r["budget"], r["fraction_low"], r["fraction_high"], color=c, alpha=0.15)
        if note:  # a partial note sits low, clear of the lines drawn (they are near 100% or 0%)
            y = 0.5 if note.endswith("no advice") else 0.3
            ax.text(
                0.5,
                y,
                note,
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=7,
                color="0.25",
                bbox={"facecolor": "white", "edgecolor": "0.7"},
            )
        ax.set_xlim(d["budget"].min() / 1.3, d["budget"].max() * 1.3)  # also with no line drawn
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
    legend_below(fig, colors, {r: f"{r:g}x" for r in ratios}, "a demonstration costs (x a pair)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
