"""The figure of the third way to spend the budget: online RL (grpo) against preference pairs, each
method at its best split, per budget, on an annotation-cost axis and on a compute axis.

    from budgetsplit.analysis import verdicts
    from budgetsplit.report import plots_rl
    df, best, boot = verdicts.verdicts(table, scores)
    fig = plots_rl.rl_vs_pairs(df, best)

Example budgets only (the cost grid is figure 4's). Per task, two panels: the metric of each
method's leader (its highest-mean split below 1: the
splits that spend on its own kind; analysis/rl_vs_pairs.py's rule reads the same leaders) against
the budget, with its 95% CI as an error bar, and SFT only (f = 1, the same cell for every method)
as a grey line; then the same leaders against the training FLOPs their cells took (the mean over
seeds of `compute.train_flops`, core/compute.py). The leader is drawn, never chosen here: it is the
split with the highest mean, as in the verdicts; whether two methods differ is the rule's call
(the error bars of two leaders overlapping or not is not a test).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from budgetsplit.core.methods import TABLE
from budgetsplit.report.marks import task_metric
from budgetsplit.report.plotstyle import (
    HEIGHT,
    WIDTH,
    budget_axis,
    empty,
    floor_line,
    legend_below,
    number,
    percent_axis,
)

FLOPS = "compute.train_flops"


def leaders(df: pd.DataFrame, best: pd.DataFrame) -> pd.DataFrame:
    """One row per (task, budget, method) of the methods the table ran: its leader's fraction,
    mean, low, high and mean training FLOPs (NaN where the table has no compute columns)."""
    best = best[best["cost_ratio"].isna()]  # example budgets: the cost grid is figure 4's
    cells = best[best["sft_fraction"] < 1]
    keys = ["task", "method", "budget", "sft_fraction"]
    flops = df.groupby(keys)[FLOPS].mean() if FLOPS in df else pd.Series(dtype=float, name=FLOPS)
    rows = []
    for (task, method, budget), g in cells.groupby(["task", "method", "budget"]):
        top = g.loc[g["mean"].idxmax()]
        key = (task, method, budget, top["sft_fraction"])
        rows.append(
            {
                "task": task,
                "method": method,
                "budget": budget,
                "sft_fraction": top["sft_fraction"],
                "mean": top["mean"],
                "low": top["low"],
                "high": top["high"],
                "flops": flops.get(key, float("nan")),
            }
        )
    return pd.DataFrame(rows)


def rl_vs_pairs(df: pd.DataFrame, best: pd.DataFrame) -> plt.Figure:
    """Each method at its best split per budget, per task: against the budget and against FLOPs."""
    lead = leaders(df, best)
    rl = [m for m, row in TABLE.items() if row.buys == "rl"]
    if lead.empty or not lead["method"].isin(rl).any():
        return empty("no grpo cells in the results: nothing to compare with preference pairs")
    tasks = sorted(lead["task"].unique())
    methods = [m for m in TABLE if m in set(lead["method"])]
    colors = dict(zip(methods, sns.color_palette("colorblind", len(methods)), strict=True))
    fig, axes = plt.subplots(len(tasks), 2, figsize=(WIDTH, HEIGHT * len(tasks)), squeeze=False)
    sft = best[best["cost_ratio"].isna() & (best["sft_fraction"] == 1)]
    for row, task in enumerate(tasks):
        label, scale = task_metric(df, task)
        t = lead[lead["task"] == task]
        for col, x in enumerate(("budget", "flops")):
            ax = axes[row][col]
            for m in methods:
                d = t[t["method"] == m].sort_values(x)
                if d.empty or d[x].isna().all():
                    continue
                err = [(d["mean"] - d["low"]) * scale, (d["high"] - d["mean"]) * scale]
                ax.errorbar(
                    d[x], d["mean"] * scale, yerr=err, color=colors[m], marker="o", capsize=3
                )
                if col == 0:  # the leader's split, beside its point
                    for _, r in d.iterrows():
                        ax.annotate(
                            f"f={r['sft_fraction']:g}",
                            (r[x], r["mean"] * scale),
                            xytext=(4, -9),
                            textcoords="offset points",
                            fontsize=6,
                            color=colors[m],
                        )
            s = sft[sft["task"] == task].groupby("budget")["mean"].mean()
            if col == 0 and not s.empty:
                ax.plot(s.index, s * scale, color="0.5", ls=":", marker="s", ms=3)
            floor_line(ax, best[best["task"] == task], scale)
            if col == 0:
                budget_axis(ax, t["budget"])
                ax.set_xlabel("annotation budget (examples)")
            else:
                ax.set_xscale("log")
                ax.set_xlabel("training compute (FLOPs, SFT + second stage)")
            ax.set_ylabel(label)
            percent_axis(ax, scale)
            ax.set_title(f"{task}: each method at its best split below SFT only", fontsize=9)
    budgets = ", ".join(number(b) for b in sorted(lead["budget"].unique()))
    labels = {m: f"{m} ({'RL prompts' if m in rl else 'pairs'})" for m in methods}
    legend_below(
        fig, colors, labels, f"method; error bars: 95% CI; dotted grey: SFT only; budgets {budgets}"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig
