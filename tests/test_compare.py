"""Two results tables compared cell by cell (study/compare.py, `budgetsplit compare`)."""

import pandas as pd
import pytest

from budgetsplit.cli import main
from budgetsplit.config.schema import ConfigError
from budgetsplit.study.compare import compare, read_table


def table(scores: dict[tuple, float]) -> pd.DataFrame:
    """A results table of math SFT-only cells: {(budget, seed): accuracy}."""
    rows = [
        {
            "profile": "toy",
            "task": "math",
            "method": "sft",
            "budget": b,
            "sft_fraction": 1.0,
            "seed": s,
            "cost_ratio": None,
            "model": None,
            "primary_metric": "accuracy_strict",
            "metric.accuracy_strict": v,
            "diag.sft.final_loss": 0.5,
            "time.total": 10.0 + s,
        }
        for (b, s), v in scores.items()
    ]
    return pd.DataFrame(rows)


REF = {(100, 0): 0.1, (100, 1): 0.2, (100, 2): 0.3, (300, 0): 0.5, (300, 1): 0.5}


def test_identical_tables_differ_in_no_cell_and_time_is_never_compared():
    other = table(REF).assign(**{"time.total": 99.0})
    c = compare(table(REF), other)
    assert len(c.cells) == 5 and c.differing.empty and c.other_columns == 0
    assert "5 score identically, 0 otherwise" in str(c)


def test_a_differing_cell_is_set_beside_its_groups_seed_spread(tmp_path, capsys):
    changed = {**REF, (100, 1): 0.4}
    b = table(changed)
    b.loc[b["seed"] == 2, "diag.sft.final_loss"] = 0.51  # a diagnostic's last digits
    c = compare(table(REF), b.iloc[:-1])  # the other table lacks one cell
    assert (c.n_a, c.n_b, len(c.cells)) == (5, 4, 4)
    (row,) = c.differing.to_dict("records")
    assert (row["budget"], row["seed"], row["score_a"], row["score_b"]) == (100, 1, 0.2, 0.4)
    assert row["group_sd"] == pytest.approx(0.1)  # the seeds 0.1, 0.2, 0.3 of the reference
    assert c.other_columns == 1
    text = str(c)
    assert (
        "max 0.2;" in text and "max 2x" in text and "math sft B=100 f=1 seed 1: 0.2 -> 0.4" in text
    )
    table(REF).to_csv(tmp_path / "a.csv", index=False)
    b.to_parquet(tmp_path / "b.parquet")
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")]) == 1
    assert main(["compare", str(tmp_path / "a.csv"), str(tmp_path / "a.csv")]) == 0
    capsys.readouterr()


def test_a_file_that_is_not_a_results_table_is_named(tmp_path, capsys):
    with pytest.raises(ConfigError, match="no such results table"):
        read_table(tmp_path / "missing.csv")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"task": ["math"]}).to_csv(bad, index=False)
    assert main(["compare", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "primary_metric" in err
