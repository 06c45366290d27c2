"""Cell records on disk: where a cell's JSON record lives, whether a finished record still answers
the settings asked for now, and which recorded cell did exactly the work a new cell would do.

Records live at `<output_dir>/<profile>/<task>/cells/<cell_id>.json`, written atomically. A record's
result depends on `result_settings` of its params (budget lists, seeds and method lists only choose
which cells exist). Two cells do the same work when `work_key` says so: same settings, method, seed,
n_sft and n_pref, and the same toy world (`world_id`), whatever the profile or budget unit.

    from budgetsplit.records import find_same_work, work_key
    same = find_same_work(params, "math", work_key(params_dict, "dpo", 100, 200, 0))
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from budgetsplit.config import Params, load_world, to_dict, world_path

if TYPE_CHECKING:
    from budgetsplit.cell import Cell


def digest(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def record_path(params: Params, cell: Cell) -> Path:
    return Path(params.output_dir) / params.profile / cell.task / "cells" / f"{cell.cell_id}.json"


def write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class StaleRecordError(RuntimeError):
    """A finished record was made with other settings than the ones asked for now."""


_RESULT_KEYS = ("task", "profile", "model", "task_options", "sft", "pft", "eval")
_BUDGET_KEYS = ("unit", "costs", "disjoint_prompts")


def stored_settings(params: Params) -> dict:
    """`params` as a record stores it (JSON: tuples become lists), for comparing with records."""
    return json.loads(json.dumps(to_dict(params)))


def result_settings(params: dict) -> dict:
    """The settings (of a params dict) a cell's result depends on. Budget lists, seeds and method
    lists only choose which cells exist, so recipes that share cells share their records."""
    keep = {k: params.get(k) for k in _RESULT_KEYS}
    keep["budget"] = {k: params.get("budget", {}).get(k) for k in _BUDGET_KEYS}
    return keep


@functools.cache
def world_id(profile: str) -> str | None:
    """A digest of the toy world a profile's cells draw their tasks and base model from (profiles
    that inherit one share it); None for a profile without one (the paper's: Hub data and models,
    named in the settings themselves)."""
    return digest(to_dict(load_world(profile))) if world_path(profile).is_file() else None


def work_key(params: dict, method: str, n_sft: int, n_pref: int, seed: int) -> str:
    """What a cell's training and evaluation depend on. The budget's unit and costs only decide
    n_sft and n_pref, so they are left out: cells of different recipes with equal work share it.
    The profile counts only through its world, so profiles sharing a world share work."""
    settings = result_settings(params)
    settings["budget"] = {"disjoint_prompts": settings["budget"]["disjoint_prompts"]}
    settings["profile"] = world_id(settings["profile"])
    return digest([settings, method, n_sft, n_pref, seed])


# A record's work key, read once per process and record version: (path, mtime, size) -> key.
_work_keys: dict[tuple, str | None] = {}


def _record_work_key(path: Path) -> str | None:
    st = path.stat()
    k = (path, st.st_mtime_ns, st.st_size)
    if k not in _work_keys:
        rec = json.loads(path.read_text())
        try:
            c = rec["cell"]
            _work_keys[k] = work_key(
                rec["params"], c["method"], rec["n_sft"], rec["n_pref"], c["seed"]
            )
        except (KeyError, TypeError):  # not a cell record of this version: never the same work
            _work_keys[k] = None
    return _work_keys[k]


def find_same_work(params: Params, task: str, key: str) -> dict | None:
    """A recorded cell of `task` whose work key is `key`: this profile's first, then any other
    profile's under the same `output_dir`."""
    own = Path(params.output_dir) / params.profile / task / "cells"
    others = sorted(set(Path(params.output_dir).glob(f"*/{task}/cells")) - {own})
    for folder in (own, *others):
        for path in sorted(folder.glob("*.json")):
            if _record_work_key(path) == key:
                return json.loads(path.read_text())
    return None


def check_fresh(path: Path, record: dict, params: Params) -> None:
    old = result_settings(record["params"])
    new = result_settings(stored_settings(params))
    changed = sorted(k for k in new if new[k] != old[k])
    if changed:
        raise StaleRecordError(
            f"{path}: this finished cell was made with other settings ({', '.join(changed)} "
            "differ). Results of different settings must not mix: set `output_dir` to a new "
            f"folder, or delete {path.parent} to recompute."
        )
