"""RL prompts against preference pairs at equal annotation cost: the `grpo` comparison, by rule.

The rule (docs/statistics.md, "RL prompts against preference pairs", written before any study's
grpo cell ran): per task, cost ratio and budget, each method's leader among the splits that spend
on its own kind (fractions below 1: SFT only is no method's split); the paired-bootstrap
interval of grpo's leader minus the pair method's; *RL better* above 0, *pairs better* below,
*equivalent* within +-m (m = `EQUIVALENCE` x (the higher leader's mean minus the floor)), else
*undecided*, and undecided where neither leader is above the floor. Over budgets, per task and
pair method: one verdict (`VERDICTS`).

    from budgetsplit.analysis import rl_vs_pairs, verdicts
    df, best, boot = verdicts.verdicts(table, scores)
    groups = rl_vs_pairs.compare(boot)         # one row per (task, cost ratio, budget, pair method)
    rl_vs_pairs.overall(groups)                # one row per (task, pair method)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from budgetsplit.analysis import stats
from budgetsplit.analysis.stats import Bootstrap
from budgetsplit.analysis.verdicts import EQUIVALENCE, NOT_SPLITS, _floors
from budgetsplit.core.methods import TABLE

RL_BETTER, PAIRS_BETTER, EQUIVALENT, UNDECIDED = (
    "RL better",
    "pairs better",
    "equivalent",
    "undecided",
)
VERDICTS = {
    RL_BETTER: "RL prompts better",
    PAIRS_BETTER: "pairs better",
    EQUIVALENT: "no difference",
}
_AT = ["task", "cost_ratio", "budget"]


def _leader(g: pd.DataFrame, method: str) -> int | None:
    own = g[(g["method"] == method) & (g["sft_fraction"] < 1)]
    return None if own.empty else int(own["mean"].idxmax())


def compare(boot: Bootstrap, floor_names: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (task, cost ratio, budget, pair method) where both grpo and the pair method ran
    a split below 1: each leader's fraction and mean, the difference with its interval, the
    margin and the group's `verdict`."""
    cells = _floors(boot, floor_names or {})
    cells = cells[~cells["method"].isin(NOT_SPLITS)]
    rl = [m for m, row in TABLE.items() if row.buys == "rl"]
    pairs = [m for m, row in TABLE.items() if row.buys == "pref"]
    rows = []
    for key, g in cells.groupby(_AT, dropna=False, sort=True):
        for r in rl:
            i = _leader(g, r)
            for p in pairs:
                j = _leader(g, p)
                if i is None or j is None:
                    continue
                diff, low, high = stats.difference(boot, i, j)
                floor = cells.at[i, "floor"]
                top = max(cells.at[i, "mean"], cells.at[j, "mean"])
                margin = EQUIVALENCE * (top - (0.0 if pd.isna(floor) else floor))
                learned = bool(cells.at[i, "above_floor"] or cells.at[j, "above_floor"])
                if not learned or np.isnan(low):
                    verdict = UNDECIDED
                elif low > 0:
                    verdict = RL_BETTER
                elif high < 0:
                    verdict = PAIRS_BETTER
                elif margin > 0 and low >= -margin and high <= margin:
                    verdict = EQUIVALENT
                else:
                    verdict = UNDECIDED
                rows.append(
                    {
                        **dict(zip(_AT, key, strict=True)),
                        "rl_method": r,
                        "pair_method": p,
                        "rl_fraction": cells.at[i, "sft_fraction"],
                        "rl_mean": cells.at[i, "mean"],
                        "pair_fraction": cells.at[j, "sft_fraction"],
                        "pair_mean": cells.at[j, "mean"],
                        "diff": diff,
                        "diff_low": low,
                        "diff_high": high,
                        "floor": floor,
                        "margin": margin,
                        "verdict": verdict,
                    }
                )
    return pd.DataFrame(rows)


def overall(groups: pd.DataFrame) -> pd.DataFrame:
    """Per (task, cost ratio, RL method, pair method), over budgets: the verdict of the rule (RL
    prompts better, pairs better, no difference, depends on the budget, inconclusive) and the
    budgets each group verdict came from."""
    rows = []
    keys = ["task", "cost_ratio", "rl_method", "pair_method"]
    for key, g in groups.groupby(keys, dropna=False, sort=True):
        said = g[g["verdict"] != UNDECIDED]
        kinds = set(said["verdict"])
        if not kinds:
            verdict = "inconclusive"
        elif len(kinds) == 1:
            verdict = VERDICTS[kinds.pop()]
        else:
            verdict = "depends on the budget"
        by = {v: sorted(g.loc[g["verdict"] == v, "budget"].tolist()) for v in g["verdict"].unique()}
        rows.append({**dict(zip(keys, key, strict=True)), "verdict": verdict, "budgets": by})
    return pd.DataFrame(rows)
