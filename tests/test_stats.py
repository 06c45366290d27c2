"""Tests of budgetsplit.analysis.stats on per-row score tables built here with known accuracies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from budgetsplit.analysis import stats


def score_table(
    cells: dict[tuple, float],
    seeds=(0, 1, 2),
    n_rows: int = 500,
    task: str = "math",
    seed: int = 0,
    exact: bool = False,
    nested: bool = True,
) -> pd.DataFrame:
    """A per-row score table as the records give it. `cells` maps (method, budget, fraction) or
    (method, budget, fraction, cost_ratio) to an accuracy p: each row of each seed scores 1 with
    probability p. With `exact`, exactly round(p * n_rows) rows score 1, the same on every seed:
    the first ones (`nested`: a better cell gets right what a worse one did) or rows drawn at
    random per cell (cells agree only by chance, as independent models would).
    Method "sft" marks SFT-only cells, "base" the base-model row (budget 0)."""
    rng = np.random.default_rng(seed)
    frames = []
    for key, p in cells.items():
        method, budget, frac, ratio = (*key, None)[:4]
        r = ratio if ratio is not None else 1
        n_sft = int(frac * budget / r)
        n_pref = int((1 - frac) * budget)
        order = np.arange(n_rows) if nested else rng.permutation(n_rows)
        for s in seeds:
            if exact:
                y = (order < round(p * n_rows)).astype(float)
            else:
                y = (rng.random(n_rows) < p).astype(float)
            frames.append(
                pd.DataFrame(
                    {
                        "profile": "toy",
                        "task": task,
                        "method": method,
                        "budget": float(budget),
                        "sft_fraction": float(frac),
                        "seed": s,
                        "cost_ratio": ratio,
                        "n_sft": n_sft,
                        "n_pref": n_pref,
                        "metric": "accuracy",
                        "split": "test",
                        "ids_digest": "d1",
                        "row": np.arange(n_rows),
                        "score": y,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_interval_covers_the_mean_and_shrinks_with_rows():
    small = stats.bootstrap_cells(score_table({("dpo", 100, 0.5): 0.3}, n_rows=100))
    large = stats.bootstrap_cells(score_table({("dpo", 100, 0.5): 0.3}, n_rows=2000))
    for boot in (small, large):
        c = boot.cells.iloc[0]
        assert c["low"] < c["mean"] < c["high"] and abs(c["mean"] - 0.3) < 0.05
    width = lambda b: b.cells.iloc[0]["high"] - b.cells.iloc[0]["low"]  # noqa: E731
    assert width(large) < width(small) / 3  # ~ 1/sqrt(20)


def test_deterministic_and_seeded():
    df = score_table({("dpo", 100, 0.5): 0.3, ("dpo", 100, 0.0): 0.2})
    a, b = stats.bootstrap_cells(df), stats.bootstrap_cells(df)
    pd.testing.assert_frame_equal(a.cells, b.cells)
    assert not np.array_equal(a.draws, stats.bootstrap_cells(df, seed=1).draws)
    # another task in the table leaves this task's intervals as they were
    both = stats.bootstrap_cells(pd.concat([score_table({("dpo", 100, 0.5): 0.5}, task="aaa"), df]))
    pd.testing.assert_frame_equal(
        both.cells[both.cells["task"] == "math"].drop(columns="block").reset_index(drop=True),
        a.cells.drop(columns="block"),
    )


def test_paired_difference_is_narrower_than_unpaired():
    # Two cells that get the same rows right but one extra row: a tiny, real difference.
    df = score_table({("dpo", 100, 0.5): 0.30, ("dpo", 100, 0.0): 0.32}, exact=True)
    boot = stats.bootstrap_cells(df)
    i, j = boot.index(sft_fraction=0.0), boot.index(sft_fraction=0.5)
    mean, low, high = stats.difference(boot, i, j)
    assert mean == pytest.approx(0.02) and 0 < low <= high
    # the same two cells scored on different rows (unpaired) cannot separate them
    other = df.assign(ids_digest=np.where(df["sft_fraction"] == 0.0, "d1", "d2"))
    boot2 = stats.bootstrap_cells(other)
    _, low2, _ = stats.difference(
        boot2, boot2.index(sft_fraction=0.0), boot2.index(sft_fraction=0.5)
    )
    assert low2 < 0


def test_seed_spread_widens_the_interval():
    df = score_table({("dpo", 100, 0.5): 0.3}, exact=True)
    same = stats.bootstrap_cells(df).cells.iloc[0]
    # seeds that disagree (0.2, 0.3, 0.4 on the same rows) give a wider interval than identical
    parts = [
        score_table({("dpo", 100, 0.5): p}, seeds=(s,), exact=True)
        for s, p in enumerate((0.2, 0.3, 0.4))
    ]
    spread = stats.bootstrap_cells(pd.concat(parts, ignore_index=True)).cells.iloc[0]
    assert spread["mean"] == pytest.approx(same["mean"])
    assert spread["high"] - spread["low"] > 1.5 * (same["high"] - same["low"])


def test_all_zero_cell_has_a_zero_interval_and_one_seed_works():
    boot = stats.bootstrap_cells(score_table({("dpo", 100, 0.0): 0.0}, seeds=(0,)))
    c = boot.cells.iloc[0]
    assert (c["mean"], c["low"], c["high"]) == (0, 0, 0) and c["n_seeds"] == 1


def test_hundreds_of_cells_at_once():
    cells = {
        ("dpo", b, f): 0.1 + f / 3 for b in range(100, 4100, 100) for f in (0, 0.1, 0.25, 0.5, 1)
    }
    boot = stats.bootstrap_cells(score_table(cells, seeds=(0, 1, 2), n_rows=500))
    assert len(boot.cells) == 200 and boot.draws.shape == (200, 2000)
    assert (boot.cells["low"] <= boot.cells["mean"]).all()


def test_bad_tables_are_named():
    df = score_table({("dpo", 100, 0.5): 0.3})
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['ids_digest'\]"):
        stats.bootstrap_cells(df.drop(columns="ids_digest"))
    with pytest.raises(ValueError, match="not scored \\(a number\\) once"):
        stats.bootstrap_cells(df.iloc[1:])
    two = pd.concat([df, df.assign(metric="flex")], ignore_index=True)
    with pytest.raises(ValueError, match="metrics \\['accuracy', 'flex'\\]; name one"):
        stats.bootstrap_cells(two)
    assert len(stats.bootstrap_cells(two, metric="flex").cells) == 1


def test_results_table_gives_a_seed_only_bootstrap():
    res = pd.DataFrame(
        {
            "task": "math",
            "method": "dpo",
            "cost_ratio": None,
            "budget": 100.0,
            "sft_fraction": 0.5,
            "seed": [0, 1, 2],
            "n_sft": 50,
            "n_pref": 50,
            "score": [0.1, 0.2, 0.3],
        }
    )
    c = stats.bootstrap_cells(stats.scores_from_results(res)).cells.iloc[0]
    assert c["mean"] == pytest.approx(0.2) and 0.1 <= c["low"] < 0.2 < c["high"] <= 0.3
