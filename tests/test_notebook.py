"""Tests of budgetsplit.report.notebook: recorded values through a real kernel and a JupyterLab-style save."""

from __future__ import annotations

import json

import nbformat
from nbclient import NotebookClient

from budgetsplit.report import notebook


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
        "from budgetsplit.report.notebook import record\n"
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
