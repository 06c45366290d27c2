"""Values a notebook records: `record` in an executed notebook, `read_recorded` to read them back.

Recorded values. In a notebook, `record("best_fraction", 0.25)` displays the value under a MIME
type of our own, stored in the executed .ipynb; outside, `read_recorded("runs/.../grid_math.ipynb")`
returns every recorded name and value. (papermill 2 dropped its own `record`; this is the same
idea.) Each value is stored as JSON *text*: JupyterLab parses a notebook with JavaScript, where
1.0 and 1 are one number, so a copy opened and saved there would read a recorded 1.0 back as 1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MIME = "application/x.budgetsplit.v2+json"


def _clean(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None, containers recursively."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def record(name: str, value: Any) -> None:
    from IPython.display import display

    text = json.dumps(_clean(value))
    display({MIME: {name: text}, "text/plain": f"{name} = {value!r}"}, raw=True)


def read_recorded(path: str | Path) -> dict[str, Any]:
    nb = json.loads(Path(path).read_text())
    out: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            for name, text in o.get("data", {}).get(MIME, {}).items():
                out[name] = json.loads(text)
    return out
