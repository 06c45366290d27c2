"""The figure of online RL against preference pairs (report/plots_rl.py), on results tables built
here and judged by the verdicts, as the study's notebook does."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from test_plots import results_rows  # noqa: E402

from budgetsplit.analysis import verdicts  # noqa: E402
from budgetsplit.report import plots_rl  # noqa: E402
from budgetsplit.report.plotstyle import WIDTH  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def raw(scores: dict[tuple[str, float, float], float], flops: bool = True) -> pd.DataFrame:
    """A results table: {(method, budget, fraction): score}, 3 seeds, with training FLOPs."""
    df = results_rows(((*key, score) for key, score in scores.items()), seeds=(0, 1, 2))
    if flops:  # RL samples: more compute per annotated example
        df["compute.train_flops"] = df["budget"] * df["method"].map(
            lambda m: 5e9 if m == "grpo" else 1e9
        )
    return df


SCORES = {
    ("sft", 100, 1.0): 0.30,
    ("sft", 300, 1.0): 0.50,
    ("grpo", 100, 0.0): 0.10,
    ("grpo", 100, 0.5): 0.40,
    ("grpo", 300, 0.5): 0.70,
    ("dpo", 100, 0.0): 0.20,
    ("dpo", 100, 0.5): 0.35,
    ("dpo", 300, 0.0): 0.60,
    ("dpo", 300, 0.5): 0.55,
}


def test_each_method_is_drawn_at_its_leader_below_sft_only():
    df, best, _ = verdicts.verdicts(raw(SCORES))
    lead = plots_rl.leaders(df, best).set_index(["method", "budget"])
    assert lead.loc[("grpo", 100), "sft_fraction"] == 0.5
    assert lead.loc[("dpo", 300), "sft_fraction"] == 0.0  # 0.60 > 0.55
    assert lead.loc[("grpo", 300), "flops"] == 300 * 5e9
    assert lead.loc[("dpo", 300), "mean"] == pytest.approx(0.61)
    assert ("sft", 100) not in lead.index  # SFT only is the grey line, no method's split
    fig = plots_rl.rl_vs_pairs(df, best)
    assert fig.get_size_inches()[0] == WIDTH
    left, right = fig.axes[:2]
    assert left.get_xscale() == right.get_xscale() == "log"
    assert "annotation budget" in left.get_xlabel() and "FLOPs" in right.get_xlabel()
    assert "accuracy (%)" in left.get_ylabel()


def test_without_grpo_cells_or_compute_the_figure_says_what_is_missing(tmp_path):
    no_rl = {k: v for k, v in SCORES.items() if k[0] != "grpo"}
    df, best, _ = verdicts.verdicts(raw(no_rl))
    fig = plots_rl.rl_vs_pairs(df, best)
    assert "no grpo cells" in fig.axes[0].texts[0].get_text()
    df, best, _ = verdicts.verdicts(raw(SCORES, flops=False))
    assert plots_rl.leaders(df, best)["flops"].isna().all()
    plots_rl.rl_vs_pairs(df, best).savefig(tmp_path / "f.png")  # no compute: one empty panel
