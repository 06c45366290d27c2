"""Two results tables of one grid compared cell by cell: a rerun on another machine (or after a
change) against the committed table. Which cells score otherwise on their primary metric, by how
much, and how that sits next to the spread over seeds of the cell's group (its cells but for the
seed), which is the noise every verdict's interval already carries.

    budgetsplit compare results/toy/results.csv /tmp/clone/results/toy/results.csv

    from budgetsplit.study.compare import compare, read_table
    print(compare(read_table(a), read_table(b)))

Timing columns (`time.*`) are never compared; diagnostics that are floating-point sums (losses,
log-probs) are counted apart, as they differ in their last digits whenever the CPU's kernels do.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from budgetsplit.config.schema import ConfigError
from budgetsplit.study.cells import CELL_KEY, MODEL

KEY = ["profile", *CELL_KEY, MODEL]
GROUP = [k for k in KEY if k != "seed"]
NEEDED = [*KEY, "primary_metric"]


def read_table(path: str | Path) -> pd.DataFrame:
    """A results table (`results.csv` or `.parquet`); ConfigError naming the file when it is not
    one (missing, or without the cell key and the primary metric)."""
    path = Path(path)
    if not path.exists():  # a pipe (`<(git show HEAD:results/toy/results.csv)`) is no file
        raise ConfigError(str(path), "file", str(path), "no such results table")
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    missing = [c for c in NEEDED if c not in df.columns]
    if missing:
        raise ConfigError(str(path), "columns", missing, "a results table has these columns")
    return df


@dataclass
class Comparison:
    n_a: int
    n_b: int
    cells: pd.DataFrame  # one row per cell in both: key, score_a, score_b, diff, group_sd
    other_columns: int  # cells whose other metrics or diagnostics differ though the score does not

    @property
    def differing(self) -> pd.DataFrame:
        return self.cells[self.cells["diff"] != 0]

    def __str__(self) -> str:
        c, d = self.cells, self.differing
        lines = [
            f"{len(c)} cells in both tables ({self.n_a} and {self.n_b} in each); "
            f"{len(c) - len(d)} score identically, {len(d)} otherwise"
            + (
                f"; of the identical, {self.other_columns} differ in other columns"
                if len(c)
                else ""
            )
        ]
        if len(d):
            gap = d["diff"].abs()
            ratio = (gap / d["group_sd"]).dropna()
            lines.append(
                f"  |difference| mean {gap.mean():.4g}, max {gap.max():.4g}; next to the seed sd of "
                f"the cell's group (first table): median {ratio.median():.2g}x, max {ratio.max():.2g}x"
                if len(ratio)
                else f"  |difference| mean {gap.mean():.4g}, max {gap.max():.4g}"
            )
            per = d.groupby(["task", "method"]).size()
            total = c.groupby(["task", "method"]).size()
            lines.append(
                "  by task and method: "
                + ", ".join(f"{t}/{m} {per[(t, m)]} of {total[(t, m)]}" for t, m in per.index)
            )
            lines.append("  largest:")
            for _, r in d.reindex(gap.sort_values(ascending=False).index).head(5).iterrows():
                lines.append(
                    f"    {r['task']} {r['method']} B={r['budget']:g} f={r['sft_fraction']:g} "
                    f"seed {r['seed']:g}: {r['score_a']:.4g} -> {r['score_b']:.4g} "
                    f"(group seed sd {r['group_sd']:.3g})"
                )
        return "\n".join(lines)


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    # one dtype per key whatever the file made of it (an empty column reads as float from CSV,
    # as None from parquet), so that tables of either kind merge
    for k in KEY:
        numeric = k in ("budget", "sft_fraction", "seed", "cost_ratio")
        out[k] = pd.to_numeric(out[k]).astype(float) if numeric else out[k].astype("string")
    out["score"] = [r[f"metric.{r['primary_metric']}"] for _, r in out.iterrows()]
    return out


def compare(a: pd.DataFrame, b: pd.DataFrame) -> Comparison:
    """Table `b` against table `a` (the reference), cell by cell (module docstring)."""
    a, b = _scored(a), _scored(b)
    both = a.merge(b, on=KEY, suffixes=("_a", "_b"))
    both["diff"] = both["score_b"] - both["score_a"]
    # merge matches empty keys (no model axis, no cost ratio) to each other; groupby must keep them
    sd = a.groupby(GROUP, dropna=False)["score"].std().rename("group_sd").reset_index()
    both = both.merge(sd, on=GROUP, how="left")
    others = [
        c
        for c in a.columns
        if c in b.columns and c not in KEY and not c.startswith("time.") and c != "score"
    ]
    same = both[both["diff"] == 0]
    other = sum(any(_differ(r[f"{c}_a"], r[f"{c}_b"]) for c in others) for _, r in same.iterrows())
    cells = both[[*KEY, "score_a", "score_b", "diff", "group_sd"]]
    return Comparison(len(a), len(b), cells.reset_index(drop=True), int(other))


def _differ(x, y) -> bool:
    return not (pd.isna(x) and pd.isna(y)) and x != y
