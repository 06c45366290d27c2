"""Every notebook, executed for real through papermill in the smoke profile, records numbers."""

import math

import papermill as pm
import pytest

from budgetsplit import grid
from budgetsplit.config import ROOT, load_params
from budgetsplit.notebook import read_recorded

NB = ROOT / "notebooks"
FAST = {"eval.n_examples": 16, "cpu_threads": 1}


def _numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, dict):
        return [x for v in value.values() for x in _numbers(v)]
    if isinstance(value, list):
        return [x for v in value for x in _numbers(v)]
    return []


def run(name: str, out_dir, **params) -> dict:
    out = out_dir / "executed" / name
    out.parent.mkdir(exist_ok=True)
    pm.execute_notebook(
        str(NB / name), str(out), parameters=params, cwd=str(out_dir), progress_bar=False
    )
    return read_recorded(out)


@pytest.mark.slow
def test_every_notebook_runs_in_the_smoke_profile(tmp_path):
    tasks = ("math", "instruct", "summarize", "helpful")
    for task in tasks:
        rec = run("grid.ipynb", tmp_path, profile="smoke", task=task, overrides=FAST)
        assert rec["cells"] == len(grid.expand(load_params("smoke", task))), task
        assert rec["best_fraction"] and all(
            math.isfinite(x) for x in _numbers(rec["best_fraction"])
        )
    rec = run("cold_start.ipynb", tmp_path, profile="smoke", overrides=FAST)
    assert set(rec["score_by_fraction"]) == {"dpo 0", "dpo_sft 0"}
    assert all(x < 0 for x in rec["ref_logprob_by_fraction"].values())
    rec = run("costs.ipynb", tmp_path, profile="smoke", overrides=FAST)
    ratios = {row["cost_ratio"] for row in rec["best_fraction"]}
    assert ratios == {1.0, 5.0}
    rec = run("figures.ipynb", tmp_path, profile="smoke", figures_dir="figs")
    assert len(rec["figures"]) == 5
    for files in rec["figures"].values():
        for f in files:
            assert (tmp_path / f).stat().st_size > 1000, f
    assert set(rec["mean_score_by_task"]) == set(tasks)
    rec = run("quickstart.ipynb", tmp_path, profile="smoke", budget=40)
    assert len(rec["scores"]) == 3 and all(0 <= x <= 1 for x in _numbers(rec["scores"]))


def test_notebooks_are_committed_clean_and_parameterised():
    import nbformat

    for path in sorted(NB.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert not any(c.get("outputs") or c.get("execution_count") for c in code), path.name
        tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{path.name}: one cell tagged 'parameters'"
        assert "budgetsplit" in "".join(c.source for c in code), path.name


def test_papermill_reads_every_parameter_run_all_passes(caplog):
    import papermill as pm

    passed = {"profile", "executor", "address", "workers"}  # run_all.sh's pm() gives all of them
    for name in ("grid", "cold_start", "costs", "figures"):
        params = pm.inspect_notebook(str(NB / f"{name}.ipynb"))
        assert passed <= set(params), name
        assert all(p["inferred_type_name"] != "None" for p in params.values()), name  # typed
    assert "Unable to parse" not in caplog.text
