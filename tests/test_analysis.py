"""Tests of budgetsplit.analysis.verdicts: best sets, the floor and equal performance, on score
tables with known answers (built by test_stats.score_table)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from test_stats import score_table

from budgetsplit.analysis import stats, verdicts
from budgetsplit.study.cells import expand


def best_of(cells, **kw):
    boot = stats.bootstrap_cells(verdicts.per_method(score_table(cells, **kw)))
    return verdicts.best_sets(boot), boot


def group(best, budget=100, method="dpo"):
    g = best[(best["budget"] == budget) & (best["method"] == method)]
    return g.set_index("sft_fraction")


def test_clear_winner_is_the_only_member():
    best, _ = best_of({("dpo", 100, 0.0): 0.1, ("dpo", 100, 0.5): 0.4, ("sft", 100, 1.0): 0.2})
    g = group(best)
    assert g["best_set"].iloc[0] == (0.5,) and g["leader"].iloc[0] == 0.5
    assert not g["no_best"].any() and g["above_floor"].all()
    assert list(g[g["set_top"]].index) == [0.5]  # the one split a figure draws: the leader


def test_exact_ties_are_all_in_the_set_and_have_no_leader():
    cells = {("dpo", 100, 0.0): 0.3, ("dpo", 100, 0.5): 0.3, ("sft", 100, 1.0): 0.1}
    g = group(best_of(cells, exact=True)[0])
    assert g["best_set"].iloc[0] == (0.0, 0.5)
    assert np.isnan(g["leader"].iloc[0])  # never broken toward the lowest fraction
    assert list(g[g["set_top"]].index) == [0.0]  # a figure draws one: the smallest tied


def test_overlapping_intervals_share_the_set():
    # 0.30 vs 0.31 on 200 independent rows x 3 seeds: not separable
    cells = {("dpo", 100, 0.0): 0.30, ("dpo", 100, 0.5): 0.31, ("sft", 100, 1.0): 0.05}
    g = group(best_of(cells, n_rows=200, exact=True, nested=False)[0])
    assert g["best_set"].iloc[0] == (0.0, 0.5)


def test_sft_only_cells_join_every_method_curve():
    cells = {("dpo", 100, 0.5): 0.1, ("kto", 100, 0.5): 0.5, ("sft", 100, 1.0): 0.3}
    best, _ = best_of(cells)
    assert group(best, method="dpo")["best_set"].iloc[0] == (1.0,)
    assert group(best, method="kto")["best_set"].iloc[0] == (0.5,)


def test_all_zero_group_has_no_best_without_a_base_row():
    cells = {
        ("dpo", 100, 0.0): 0.0,
        ("dpo", 100, 0.5): 0.0,
        ("sft", 100, 1.0): 0.0,
        ("dpo", 300, 0.5): 0.2,
        ("sft", 300, 1.0): 0.0,
    }
    best, _ = best_of(cells)
    g = group(best)
    assert g["no_best"].all() and g["best_set"].iloc[0] == () and np.isnan(g["leader"].iloc[0])
    assert not g["set_top"].any()
    assert group(best, 300)["best_set"].iloc[0] == (0.5,)
    s = verdicts.summary(best).set_index("budget")
    assert s.loc[100.0, "no_best"] and np.isnan(s.loc[100.0, "set_low"])


def test_base_row_sets_the_floor():
    # every split within noise of the base model (0.10): no best, though the means differ
    cells = {
        ("base", 0, 0.0): 0.10,
        ("dpo", 100, 0.0): 0.10,
        ("dpo", 100, 0.5): 0.11,
        ("sft", 100, 1.0): 0.09,
        ("dpo", 300, 0.5): 0.3,
        ("sft", 300, 1.0): 0.1,
    }
    best, _ = best_of(cells, n_rows=300, exact=True, nested=False)
    assert group(best)["no_best"].all()
    g = group(best, 300)
    assert not g["no_best"].any() and g["best_set"].iloc[0] == (0.5,)
    assert "base" not in set(best["method"])


def test_equal_performance_on_intervals():
    cells = {
        ("dpo", 100, 0.0): 0.05,
        ("dpo", 100, 0.5): 0.10,
        ("sft", 100, 1.0): 0.08,
        ("dpo", 300, 0.0): 0.10,
        ("dpo", 300, 0.5): 0.30,
        ("sft", 300, 1.0): 0.20,
        ("dpo", 1000, 0.0): 0.0,
        ("dpo", 1000, 0.5): 0.50,
        ("sft", 1000, 1.0): 0.29,
    }
    best, boot = best_of(cells, exact=True, nested=False)
    row = verdicts.equal_performance(best, boot).iloc[0]
    # 1000 at 0.0 scores 0: not a reference; the worst split that learned is 1.0 (0.29);
    # 300's leader (0.30) is within noise of it, 100's (0.10) is not
    assert row["poor_fraction"] == 1.0 and row["matching_budget"] == 300.0
    assert row["matching_fraction"] == 0.5 and row["budget_ratio"] == 1000 / 300
    assert row["diff"] > 0 and row["diff_low"] < 0 < row["diff_high"]


def test_equal_performance_without_reference_or_match():
    nothing = {("dpo", 100, 0.5): 0.0, ("dpo", 1000, 0.5): 0.0, ("sft", 1000, 1.0): 0.0}
    row = verdicts.equal_performance(*best_of(nothing)).iloc[0]
    assert row["poor_fraction"] is None and row["matching_budget"] is None
    steep = {("dpo", 100, 0.5): 0.05, ("dpo", 1000, 0.5): 0.5, ("sft", 1000, 1.0): 0.4}
    row = verdicts.equal_performance(*best_of(steep)).iloc[0]
    assert row["poor_fraction"] == 1.0 and row["matching_budget"] is None


def test_prepare_scores_from_the_primary_metric():
    df = pd.DataFrame(
        {
            "task": "math",
            "method": ["dpo", "sft"],
            "primary_metric": "acc",
            "metric.acc": [0.2, 0.3],
        }
    )
    out = verdicts.prepare(df)
    assert sorted(out["score"]) == [0.2, 0.3] and set(out["method"]) == {"dpo"}


def test_intervals_and_verdicts_join_the_results_table():
    scores = score_table({("dpo", 100, 0.0): 0.1, ("dpo", 100, 0.5): 0.4, ("sft", 100, 1.0): 0.2})
    cells = scores.drop(columns=["row", "score"]).drop_duplicates(
        ["method", "sft_fraction", "seed"]
    )
    results = verdicts.per_method(cells.assign(primary_metric="accuracy", score=0.0))
    boot = verdicts.bootstrap(scores, results, n_resamples=500)
    out = verdicts.with_intervals(results, verdicts.best_sets(boot))
    assert len(out) == len(results) == 9 and out["ci_low"].notna().all()
    assert set(out.loc[out["in_best_set"], "sft_fraction"]) == {0.5}
    assert set(out.loc[out["set_top"], "sft_fraction"]) == {0.5}
    assert (out["ci_low"] < out["ci_high"]).all() and not out["no_best"].any()


def test_recipe_rows_pick_this_recipes_cells(tmp_path):
    from test_grid import _fake_smoke_recipes

    from budgetsplit.study import results

    examples, costs = _fake_smoke_recipes(tmp_path)
    table = results.results_table(tmp_path, "smoke")  # NaN cost ratios, as the records give them
    assert len(table) == len(expand(examples)) + len(expand(costs))
    assert len(verdicts.recipe_rows(table, examples)) == len(expand(examples))
    picked = verdicts.recipe_rows(table, costs)
    assert len(picked) == len(expand(costs)) and picked["cost_ratio"].notna().all()


def test_one_seed_without_row_scores_decides_nothing():
    res = pd.DataFrame(
        {
            "task": "math",
            "method": ["dpo", "dpo", "sft"],
            "cost_ratio": None,
            "budget": 100.0,
            "sft_fraction": [0.0, 0.5, 1.0],
            "seed": 0,
            "n_sft": [0, 50, 100],
            "n_pref": [100, 50, 0],
            "score": [0.1, 0.5, 0.2],
        }
    )
    boot = stats.bootstrap_cells(stats.scores_from_results(verdicts.per_method(res)))
    assert boot.cells["low"].isna().all()  # no interval, not a zero-width one
    best = verdicts.best_sets(boot)
    assert best["best_set"].iloc[0] == (0.0, 0.5, 1.0) and best["leader"].iloc[0] == 0.5


def test_best_set_reads_the_seed_mean_and_puts_sft_only_on_every_curve():
    rows = [
        {
            "task": "math",
            "method": m,
            "cost_ratio": None,
            "budget": 100,
            "sft_fraction": f,
            "seed": seed,
            "n_sft": int(100 * f),
            "n_pref": 100 - int(100 * f),
            "primary_metric": "accuracy",
            "metric.accuracy": score + 0.01 * seed,
        }
        for m, f, score in (("dpo", 0.0, 0.30), ("ipo", 0.0, 0.10), ("sft", 1.0, 0.295))
        for seed in range(3)
    ]
    df, best, _ = verdicts.verdicts(pd.DataFrame(rows))
    assert set(df["method"]) == {"dpo", "ipo"} and df["budget"].dtype.kind == "i"
    top = best.loc[best["mean"].idxmax()]
    assert (top["method"], top["sft_fraction"]) == ("dpo", 0.0)
    assert abs(top["mean"] - 0.31) < 1e-12  # the mean over seeds, not one seed's score
    assert set(best.loc[best["method"] == "ipo", "sft_fraction"]) == {0.0, 1.0}


def test_verdicts_read_per_row_scores_and_fall_back_to_seed_means():
    scores = score_table({("dpo", 100, 0.0): 0.1, ("dpo", 100, 0.5): 0.4, ("sft", 100, 1.0): 0.2})
    cells = scores.drop(columns=["row", "score"]).drop_duplicates(
        ["method", "sft_fraction", "seed"]
    )
    means = scores.groupby(["method", "sft_fraction", "seed"])["score"].mean()
    results = cells.assign(
        primary_metric=scores["metric"].iloc[0],
        **{f"metric.{scores['metric'].iloc[0]}": means.to_numpy()},
    )
    df, best, boot = verdicts.verdicts(results, scores, n_resamples=500)
    assert (boot.cells["n_rows"] > 1).all()  # the per-row scores, not the seed means
    assert set(df.loc[df["in_best_set"], "sft_fraction"]) == {0.5}
    other = scores["sft_fraction"] != 0.0  # one cell without per-row scores: its seed means
    _, _, boot = verdicts.verdicts(results, scores[other], n_resamples=500)
    n_rows = boot.cells.set_index("sft_fraction")["n_rows"]
    assert n_rows[0.0] == 1 and n_rows[0.5] > 1


def test_sft_only_cells_join_only_the_methods_their_task_ran():
    df = pd.DataFrame(
        {
            "task": ["math", "math", "math", "chat", "chat", "solo"],
            "method": ["dpo", "sft", "base", "ipo", "sft", "sft"],
        }
    )
    out = verdicts.per_method(df).groupby("task")["method"].apply(sorted).to_dict()
    assert out == {"math": ["base", "dpo", "dpo"], "chat": ["ipo", "ipo"], "solo": ["sft"]}
