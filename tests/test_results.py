"""The results table: rebuilt from the cell records, and the best-fraction view the figures read."""

import pandas as pd
from test_grid import _fake_record

from budgetsplit import grid, results
from budgetsplit.config import load_params


def test_results_table_is_rebuilt_from_records(tmp_path):
    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    cells = grid.expand(params)
    for i, c in enumerate(cells):
        _fake_record(tmp_path, params, c, score=i / 10)
    assert len(grid.plan(params).done) == len(cells)
    df = results.results_table(tmp_path, "smoke")
    assert len(df) == len(cells)
    assert (tmp_path / "smoke" / "results.parquet").is_file()
    assert (tmp_path / "smoke" / "results.csv").is_file()
    back = pd.read_parquet(tmp_path / "smoke" / "results.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert "metric.accuracy_strict" in df and "diag.cold_start.chosen_logprob" in df
    # a half-written temp file from a killed run is not a record
    (grid.cells_dir(params) / ".math-dpo-B40.tmp").write_text("{")
    assert len(results.results_table(tmp_path, "smoke")) == len(cells)


def test_best_fraction_puts_sft_only_on_every_curve():
    df = pd.DataFrame(
        {
            "task": "math",
            "method": ["dpo", "dpo", "sft", "kto"],
            "cost_ratio": [None] * 4,
            "budget": [100.0] * 4,
            "sft_fraction": [0.0, 0.5, 1.0, 0.5],
            "score": [0.1, 0.3, 0.5, 0.6],
        }
    )
    best = results.best_fraction(df, "score").set_index("method")
    assert best.loc["dpo", "sft_fraction"] == 1.0  # SFT only wins for dpo
    assert best.loc["kto", "sft_fraction"] == 0.5
