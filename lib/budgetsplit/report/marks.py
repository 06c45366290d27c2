"""What the figures read off a results table with its verdicts (budgetsplit.analysis.verdicts):
the example-budget cells of a method, the verdict columns as booleans, each group's best-set top
and span, the PFT methods in the methods table's order, and a panel grid with a row per method.
Nothing here decides a best split; it only reads the columns `verdicts.with_intervals` wrote.

    from budgetsplit.report.marks import method_grid, set_tops
"""

from __future__ import annotations

import pandas as pd

from budgetsplit.analysis.verdicts import GROUP, NOT_SPLITS, VERDICT_COLUMNS
from budgetsplit.core.methods import METHODS
from budgetsplit.report.plotstyle import metric_label, panels
from budgetsplit.study.cells import BASE


def task_metric(df: pd.DataFrame, task: str) -> tuple[str, float]:
    return metric_label(str(df.loc[df["task"] == task, "primary_metric"].iloc[0]))


def default_method(df: pd.DataFrame) -> str:
    """The PFT method the study's main figures show: the one run on the most tasks."""
    # Cells that bought preference data: prepare() copies SFT-only cells onto every method.
    d = df[(df["method"] != "sft") & (df["n_pref"] > 0)]
    if d.empty:
        return "sft"
    counts = d.groupby("method")["task"].nunique()
    return str(counts[counts == counts.max()].index.sort_values()[0])


def examples_only(df: pd.DataFrame) -> pd.DataFrame:
    """Example-budget cells, base-model rows left out (they are no budget)."""
    df = df[df["method"] != BASE]
    return df[df["cost_ratio"].isna()] if "cost_ratio" in df else df


def marked(d: pd.DataFrame, col: str) -> pd.Series:
    """A verdict column as booleans: False where the table has no verdict (base-model rows)."""
    return d[col].fillna(False).astype(bool)


def no_best_budgets(d: pd.DataFrame) -> set:
    """The budgets of `d` (one task and method) where no split is above the floor."""
    return set(d.loc[marked(d, "no_best"), "budget"]) if "no_best" in d else set()


def require_verdicts(df: pd.DataFrame, figure: str) -> None:
    """ValueError unless the table carries the verdicts the figure draws."""
    missing = [c for c in VERDICT_COLUMNS if c not in df]
    if missing:
        raise ValueError(
            f"{figure} draws the table's verdicts, and it lacks {missing}: draw it from the "
            "table verdicts.verdicts(results, scores) returns"
        )


def set_tops(d: pd.DataFrame) -> pd.DataFrame:
    """Per group (verdicts.GROUP) with a best: its set's top split and the set's span. Columns:
    the group's, sft_fraction (the top), set_low, set_high."""
    top = d[marked(d, "set_top")].drop_duplicates(GROUP)[[*GROUP, "sft_fraction"]]
    span = d[marked(d, "in_best_set")].groupby(GROUP, dropna=False)["sft_fraction"]
    return top.merge(span.agg(set_low="min", set_high="max").reset_index(), on=GROUP, how="left")


def pft_methods(df: pd.DataFrame) -> list[str]:
    """The PFT methods of a prepared table, the methods table's order (the paper's first), then
    others by name; ["sft"] when it ran none."""
    found = set(df["method"]) - {"sft", *NOT_SPLITS}
    order = {m: i for i, m in enumerate(METHODS)}
    return sorted(found, key=lambda m: (order.get(m, len(order)), m)) or ["sft"]


def method_grid(df: pd.DataFrame, method: str | None):
    """(methods, tasks, their example-budget cells, fig, axes): a row of task panels per PFT method
    (or for `method` alone); a panel whose task did not run the method says so."""
    methods = [method] if method else pft_methods(df)
    d = examples_only(df[df["method"].isin(methods)])
    tasks = sorted(d["task"].unique())
    if d.empty:
        return methods, tasks, d, None, None
    fig, axes = panels(len(tasks), rows=len(methods))
    grid = {}
    for i, m in enumerate(methods):
        for j, task in enumerate(tasks):
            ax = axes[i * len(tasks) + j]
            if d[(d["task"] == task) & (d["method"] == m)].empty:
                ax.axis("off")
                ax.text(0.5, 0.5, f"{task}: {m} not run", ha="center", va="center")
            else:
                grid[task, m] = ax
    return methods, tasks, d, fig, grid
