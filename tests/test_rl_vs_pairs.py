"""The rule that compares RL prompts with preference pairs at equal cost (analysis/rl_vs_pairs.py),
on score tables built here: each verdict from differences the intervals resolve."""

from __future__ import annotations

import numpy as np
import pandas as pd

from budgetsplit.analysis import rl_vs_pairs, stats

ROWS = 200


def table(means: dict[tuple, float], base: float = 0.05) -> pd.DataFrame:
    """A score table: (method, budget, fraction) -> mean; 3 seeds x ROWS rows of 0/1 scores."""
    rng = np.random.default_rng(0)
    out = []
    cells = {**means, ("base", 0, 0.0): base}
    for (method, budget, frac), p in cells.items():
        for seed in (0, 1, 2) if method != "base" else (0,):
            scores = (rng.random(ROWS) < p).astype(float)
            for row, s in enumerate(scores):
                out.append(
                    dict(
                        task="math",
                        method=method,
                        cost_ratio=np.nan,
                        budget=budget,
                        sft_fraction=frac,
                        seed=seed,
                        n_sft=int(frac * budget),
                        n_pref=budget - int(frac * budget),
                        metric="accuracy",
                        ids_digest="rows",
                        row=row,
                        score=s,
                    )
                )
    return pd.DataFrame(out)


def verdicts(means, **kw):
    boot = stats.bootstrap_cells(table(means, **kw), n_resamples=500)
    return rl_vs_pairs.compare(boot), boot


def test_each_method_at_its_best_split_below_sft_only():
    groups, _ = verdicts(
        {
            ("grpo", 300, 0.0): 0.2,
            ("grpo", 300, 0.5): 0.6,
            ("dpo", 300, 0.0): 0.3,
            ("dpo", 300, 0.5): 0.35,
            ("sft", 300, 1.0): 0.9,  # SFT only: neither method's split
        }
    )
    (g,) = groups.to_dict("records")
    assert (g["rl_fraction"], g["pair_fraction"], g["pair_method"]) == (0.5, 0.5, "dpo")
    assert g["verdict"] == rl_vs_pairs.RL_BETTER and g["diff_low"] > 0
    assert g["diff"] == g["rl_mean"] - g["pair_mean"]


def test_pairs_better_equivalent_undecided_and_the_verdict_over_budgets():
    df = table(
        {
            ("grpo", 100, 0.5): 0.20,
            ("dpo", 100, 0.5): 0.60,  # pairs better
            ("grpo", 300, 0.5): 0.70,
            ("dpo", 300, 0.5): 0.70,  # the same answers: equivalent
            ("grpo", 1000, 0.5): 0.05,
            ("dpo", 1000, 0.5): 0.05,  # at the floor: undecided
        }
    )
    at = lambda m: (df["method"] == m) & (df["budget"] == 300)  # noqa: E731
    df.loc[at("grpo"), "score"] = df.loc[at("dpo"), "score"].to_numpy()
    groups = rl_vs_pairs.compare(stats.bootstrap_cells(df, n_resamples=500))
    got = dict(zip(groups["budget"], groups["verdict"], strict=True))
    assert got == {100: "pairs better", 300: "equivalent", 1000: "undecided"}
    (over,) = rl_vs_pairs.overall(groups).to_dict("records")
    assert over["verdict"] == "depends on the budget"
    assert over["budgets"] == {"pairs better": [100], "equivalent": [300], "undecided": [1000]}
    # one kind of decided group: its verdict; none decided: inconclusive
    one = rl_vs_pairs.overall(groups[groups["budget"] != 300])
    assert one["verdict"].tolist() == ["pairs better"]
    groups, _ = verdicts({("grpo", 100, 0.5): 0.05, ("dpo", 100, 0.5): 0.05})
    assert rl_vs_pairs.overall(groups)["verdict"].tolist() == ["inconclusive"]


def test_no_comparison_without_both_methods():
    groups, _ = verdicts({("dpo", 100, 0.5): 0.5, ("dpo_sft", 100, 0.5): 0.5})
    assert groups.empty
