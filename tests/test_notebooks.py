"""Every notebook, executed for real through papermill in the smoke profile, records numbers and
stays quiet; the committed notebooks are clean and carry the metadata JupyterLab writes."""

import json
import math
import re

import papermill as pm
import pytest

from budgetsplit.config.params import ROOT, load_params
from budgetsplit.report.notebook import read_recorded
from budgetsplit.study.cells import expand

NB = ROOT / "notebooks"
FAST = {"eval.n_examples": 16, "cpu_threads": 1}
KERNELSPEC = {"display_name": "budgetsplit (Python 3)", "language": "python", "name": "budgetsplit"}
STDERR_LINES = 3  # per executed smoke notebook: the final line of a grid's bar over its cells


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


def stderr_lines(path) -> list[str]:
    """The stderr lines a reader of the executed notebook's static HTML sees: each saved output
    on its own (nbconvert 7 does not merge them), text a carriage return overwrote dropped."""
    lines = []
    for cell in json.loads(path.read_text())["cells"]:
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream" and o["name"] == "stderr":
                text = re.sub(r"[^\n]*\r(?=[^\n])", "", "".join(o["text"]))
                lines += [line for line in text.splitlines() if line.strip()]
    return lines


def run(name: str, out_dir, **params) -> dict:
    out = out_dir / "executed" / name
    out.parent.mkdir(exist_ok=True)
    # python3: this interpreter's kernel (the notebooks name "budgetsplit", which bootstrap registers).
    pm.execute_notebook(
        str(NB / name),
        str(out),
        parameters=params,
        cwd=str(out_dir),
        progress_bar=False,
        kernel_name="python3",
    )
    noise = stderr_lines(out)
    assert len(noise) <= STDERR_LINES and not any("Warning" in x for x in noise), (name, noise)
    return read_recorded(out)


@pytest.mark.slow
def test_every_notebook_runs_in_the_smoke_profile(tmp_path):
    tasks = ("math", "instruct", "summarize", "helpful")
    fast = {**FAST, "output_dir": str(tmp_path / "runs")}
    for task in tasks:
        rec = run("grid.ipynb", tmp_path, profile="smoke", task=task, overrides=fast)
        params = load_params("smoke", task)
        assert rec["cells"] == len(expand(params)), task
        sets = rec["best_sets"]  # one row per (method, budget): the rule's verdict
        assert {r["budget"] for r in sets} == set(params.budget.budgets), task
        for r in sets:
            assert set(r["best_set"]) <= set(params.budget.sft_fractions), (task, r)
            assert r["no_best"] == (r["best_set"] == []), (task, r)
        assert all(math.isfinite(x) for x in _numbers(sets)), task
    rec = run("cold_start.ipynb", tmp_path, profile="smoke", overrides=fast)
    assert set(rec["score_by_fraction"]) == {"dpo 0", "dpo_sft 0"}
    assert all(x < 0 for x in rec["ref_logprob_by_fraction"].values())
    # costs.ipynb through a user's folder of profiles: its own "smoke", building on the shipped
    # one with another cost ratio, is the one read (not the shipped params/). Ratio 3, like 5,
    # gives advisor.ipynb (below) the 10 distinct (n_sft, n_pref) its fit needs; 2 repeats one.
    mine = tmp_path / "params" / "smoke"
    mine.mkdir(parents=True)
    (mine / "_defaults.yaml").write_text("inherit: smoke\n")
    shipped = (ROOT / "params" / "smoke" / "math_costs.yaml").read_text()
    assert "cost_ratios: [1, 5]" in shipped
    (mine / "math_costs.yaml").write_text(
        shipped.replace("cost_ratios: [1, 5]", "cost_ratios: [1, 3]")
    )
    rec = run(
        "costs.ipynb", tmp_path, profile="smoke", params_folder=str(mine.parent), overrides=fast
    )
    ratios = {row["cost_ratio"] for row in rec["best_sets"]}
    assert ratios == {1.0, 3.0}
    rec = run("figures.ipynb", tmp_path, profile="smoke", figures_dir="figs", overrides=fast)
    assert len(rec["figures"]) == 5
    for files in rec["figures"].values():
        for f in files:
            assert (tmp_path / f).stat().st_size > 1000, f
    assert set(rec["mean_score_by_task"]) == set(tasks)
    rec = run("advisor.ipynb", tmp_path, profile="smoke", figures_dir="figs", overrides=fast)
    # math has two money budgets besides its example budget: enough cells to fit; the other
    # tasks have one budget each, too few (skipped with a message)
    assert rec["advice"] and {a["task"] for a in rec["advice"]} == {"math"}
    assert all(0 <= a["fraction"] <= 1 and a["n_seeds"] == 1 for a in rec["advice"])
    # the leave-one-budget-out table for the README, beside the run's claims
    check = (tmp_path / "runs" / "smoke" / "advisor_check.md").read_text()
    assert check.startswith("| task | method | held-out budget |")
    assert len(check.strip().splitlines()) == 2 + max(len(rec["lobo"]), 1)
    assert (tmp_path / "figs" / "fig6_advice.png").stat().st_size > 1000
    rec = run("quickstart.ipynb", tmp_path, profile="smoke", budget=40, overrides=fast)
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


def test_notebooks_carry_the_metadata_jupyterlab_writes():
    """Opening a notebook in JupyterLab with the project's kernel and saving it changes nothing: the
    kernelspec and language_info are the ones the kernel reports, and the file is laid out as the
    Jupyter server writes it. (The language_info version is the Python that last saved it: 3.11,
    as environment.yml pins.)"""
    import nbformat
    from ipykernel.ipkernel import IPythonKernel

    reported = {k: v for k, v in IPythonKernel.language_info.items() if k != "version"}
    for path in sorted(NB.glob("*.ipynb")):
        text = path.read_text()
        nb = nbformat.reads(text, as_version=4)
        assert dict(nb.metadata).keys() == {"kernelspec", "language_info"}, path.name
        assert nb.metadata.kernelspec == KERNELSPEC, path.name
        info = dict(nb.metadata.language_info)
        assert info.pop("version").startswith("3.11."), path.name
        assert info == reported, path.name
        assert text == nbformat.writes(nb) + "\n", (
            f"{path.name}: not as the Jupyter server saves it"
        )


def test_papermill_reads_every_parameter_run_all_passes(caplog):
    import papermill as pm

    # run_all.sh's pm() gives all of them (params_folder: its --params DIR)
    passed = {"profile", "params_folder", "executor", "address", "workers"}
    for name in ("grid", "cold_start", "costs", "figures", "advisor"):
        params = pm.inspect_notebook(str(NB / f"{name}.ipynb"))
        assert passed <= set(params), name
        assert all(p["inferred_type_name"] != "None" for p in params.values()), name  # typed
    for path in sorted(NB.glob("*.ipynb")):  # every notebook reads a user's folder of profiles
        assert {"profile", "params_folder"} <= set(pm.inspect_notebook(str(path))), path.name
    assert "Unable to parse" not in caplog.text


def test_run_all_lab_registers_the_kernel_and_starts_jupyterlab(tmp_path):
    """`./run_all.sh --lab` sets up as run_all does, registers the kernel the notebooks name (for
    this interpreter, once), and hands over to this environment's JupyterLab (`-- --version`
    makes it print its version and exit)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "BUDGETSPLIT_PYTHON": sys.executable, "JUPYTER_DATA_DIR": str(tmp_path)}
    cmd = [str(ROOT / "run_all.sh"), "--lab", "--", "--version"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert re.fullmatch(r"4\.\d+\.\d+", first.stdout.splitlines()[-1]), first.stdout
    spec = json.loads((tmp_path / "kernels" / "budgetsplit" / "kernel.json").read_text())
    assert spec["argv"][0] == sys.executable
    assert {k: spec[k] for k in ("display_name", "language")} == {
        k: KERNELSPEC[k] for k in ("display_name", "language")
    }
    assert "registered the Jupyter kernel" in first.stdout
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0 and "registered" not in again.stdout  # idempotent
