"""Values a notebook records for whoever reads the executed copy (tests, CI, figures.ipynb).

In a notebook: `record("best_fraction", 0.25)` displays the value under a MIME type of our own, so
it is stored in the executed .ipynb as plain JSON. Outside: `read_recorded("runs/.../grid_math.ipynb")`
returns every recorded name and value. (papermill 2 dropped its own `record`; this is the same idea.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MIME = "application/x.budgetsplit+json"


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

    display({MIME: {name: _clean(value)}, "text/plain": f"{name} = {value!r}"}, raw=True)


def read_recorded(path: str | Path) -> dict[str, Any]:
    nb = json.loads(Path(path).read_text())
    out: dict[str, Any] = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if MIME in data:
                out.update(data[MIME])
    return out
