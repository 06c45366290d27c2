"""Tests of budgetsplit.notebook: recorded values through a real kernel and a JupyterLab-style save,
and the progress-bar policy, with the frontend decided by a real kernel's execute requests."""

from __future__ import annotations

import io
import json

import nbformat
from nbclient import NotebookClient

from budgetsplit import notebook


def _execute(source: str, tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    path = tmp_path / "executed.ipynb"
    nbformat.write(nb, path)
    return nb, path


def _js_round_trip(path) -> None:
    """Open and save as JupyterLab does: JavaScript numbers, where 1.0 and 1 are the same value."""
    as_js = json.loads(
        path.read_text(), parse_float=lambda s: int(float(s)) if float(s).is_integer() else float(s)
    )
    path.write_text(json.dumps(as_js, indent=1))


def test_recorded_values_keep_their_types_through_a_jupyterlab_save(tmp_path):
    _, path = _execute(
        "import numpy as np\n"
        "from budgetsplit.notebook import record\n"
        "record('ratio', 1.0)\n"
        "record('rows', [{'cost_ratio': 5.0, 'budget': 40, 'score': np.float64(0.25)}])\n"
        "record('missing', float('nan'))\n"
        "record('metric', 'accuracy_strict')",
        tmp_path,
    )
    _js_round_trip(path)
    rec = notebook.read_recorded(path)
    assert rec == {
        "ratio": 1.0,
        "rows": [{"cost_ratio": 5.0, "budget": 40, "score": 0.25}],
        "missing": None,
        "metric": "accuracy_strict",
    }
    assert type(rec["ratio"]) is float and type(rec["rows"][0]["cost_ratio"]) is float
    assert type(rec["rows"][0]["budget"]) is int


def test_frontend_follows_whether_the_kernel_may_ask_for_input():
    from jupyter_client.manager import start_new_kernel

    km, kc = start_new_kernel(kernel_name="python3")
    try:
        seen = {}
        for allow_stdin in (True, False):
            out = []
            kc.execute_interactive(
                "from budgetsplit.notebook import frontend; print(frontend())",
                allow_stdin=allow_stdin,
                output_hook=lambda m, out=out: out.append(m["content"].get("text", "")),
                timeout=60,
            )
            seen[allow_stdin] = "".join(out).strip()
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    # JupyterLab sends allow_stdin=True; papermill's nbclient sends False.
    assert seen == {True: "lab", False: "batch"}


def test_progress_bars_in_batch_runs(monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert notebook.frontend() == "batch"  # pytest captures stderr: not a terminal
    shown = io.StringIO()
    cells = notebook.progress(total=3, desc="math cells", file=shown)
    assert not cells.disable and cells.mininterval == notebook.BATCH_INTERVAL_S
    cells.set_postfix_str("math-dpo-B40-f0-s0")
    cells.update()
    assert shown.getvalue() == ""  # no redraw at the start, nor per cell started or finished
    cells.close()
    assert shown.getvalue().count("\r") == 1 and "1/3" in shown.getvalue()  # the final state, once
    steps = notebook.progress(total=50, desc="SFT", steps=True)
    assert steps.disable and not steps.leave  # per-step bars stay out of saved outputs
    empty = notebook.progress(total=0, desc="math cells")
    assert empty.disable  # nothing to run: no "math cells: 0cell" bar
    assert notebook.progress(range(0)).disable
