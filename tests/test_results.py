"""The results table: rebuilt from the cell records (with a column per varying setting), the
per-row score table, clear errors when there is nothing to read, and the best-fraction view."""

import pandas as pd
import pytest
from test_grid import _fake_record, _fake_smoke_recipes

from budgetsplit.config.params import load_params
from budgetsplit.run import estimate
from budgetsplit.study import results
from budgetsplit.study.cells import expand


def test_results_table_is_rebuilt_from_records(tmp_path):
    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    cells = expand(params)
    for i, c in enumerate(cells):
        _fake_record(tmp_path, params, c, score=i / 10)
    assert len(estimate.plan(params).done) == len(cells)
    df = results.results_table(tmp_path, "smoke")
    assert len(df) == len(cells)
    assert (tmp_path / "smoke" / "results.parquet").is_file()
    assert (tmp_path / "smoke" / "results.csv").is_file()
    back = pd.read_parquet(tmp_path / "smoke" / "results.parquet")
    pd.testing.assert_frame_equal(back, df)
    assert sorted(df["metric.accuracy_strict"]) == [i / 10 for i in range(len(cells))]
    assert (df["diag.cold_start.chosen_logprob_per_token"] == -1.5).all()
    assert (df["base_model"] == "toy:0123").all()
    # One recipe, one setting everywhere: no setting column.
    assert not [c for c in df.columns if c.startswith("setting.")]
    # a half-written temp file from a killed run is not a record
    (tmp_path / "smoke" / "math" / "cells" / ".math-dpo-B40.json.123.x.tmp").write_text("{")
    assert len(results.results_table(tmp_path, "smoke")) == len(cells)
    assert results.read_results(tmp_path, "smoke").equals(df)


def test_settings_that_vary_across_records_get_columns(tmp_path):
    _fake_smoke_recipes(tmp_path)
    df = results.results_table(tmp_path, "smoke")
    assert "setting.budget.unit" in df and set(df["setting.budget.unit"]) == {"examples", "money"}
    assert "setting.pft.beta" not in df  # the same in every record


def test_row_scores_table_is_long_and_paired(tmp_path):
    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    cells = expand(params)
    for i, c in enumerate(cells):
        _fake_record(tmp_path, params, c, score=i / 10)
    rows = results.row_scores_table(tmp_path, "smoke")
    assert list(rows.columns) == results.ROW_SCORE_COLUMNS
    n = params.eval.n_examples
    assert len(rows) == n * (len(cells) + 1) and set(rows["row"]) == set(range(n))
    cells_rows, floor = rows[rows["method"] != "floor"], rows[rows["method"] == "floor"]
    first = cells_rows[cells_rows["row"] == 0].sort_values("score")["score"].tolist()
    assert first == [i / 10 for i in range(len(cells))]
    assert set(rows["metric"]) == {"accuracy_strict"} and rows["ids_digest"].nunique() == 1
    # the task's floor of cheap outputs, on the same rows: one "cell", named
    assert len(floor) == n and floor["output"].nunique() == 1 and cells_rows["output"].isna().all()


def test_nothing_to_read_is_a_clear_error_naming_the_absolute_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nothing")):
        results.results_table(tmp_path, "nothing")
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nothing")):
        results.read_results(tmp_path, "nothing")


def test_export_writes_the_tables_committed_beside_the_figures(tmp_path, monkeypatch):
    out = tmp_path / "runs"
    params = load_params("smoke", "math", overrides={"output_dir": str(out)})
    cells = expand(params)
    for i, c in enumerate(cells):
        _fake_record(out, params, c, score=i / 10)
    monkeypatch.setattr(
        results, "committed_results_dir", lambda profile: tmp_path / "res" / profile
    )
    written = results.export(out, "smoke")
    assert [p.name for p in written] == ["results.csv", "row_scores.parquet"]
    table = pd.read_csv(tmp_path / "res" / "smoke" / "results.csv")
    assert len(table) == len(cells) and set(table["method"]) >= {"base", "sft"}
    scores = pd.read_parquet(tmp_path / "res" / "smoke" / "row_scores.parquet")
    n = params.eval.n_examples  # eval rows per fake record, and per floor
    assert len(scores) == n * (len(cells) + 1) and (scores["method"] == "floor").sum() == n
    assert list(scores.columns) == list(results.ROW_SCORE_COLUMNS)


def test_committed_results_live_in_the_checkout():
    from budgetsplit.core.layout import committed_results_dir, project_root

    assert committed_results_dir("toy") == project_root() / "results" / "toy"
