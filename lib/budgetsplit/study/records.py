"""Cell records: the `Record` of one finished cell, written and read only here; whether existing
records still answer the settings asked for now; which recorded cell did the work a new cell would do.

A record lives at `RunLayout.record_path(task, cell_id)` as JSON, written atomically. Its result
depends on `result_settings` of its params (budget lists, seeds and method lists only choose which
cells exist). Before any training, `review_records` reads every existing record of the cells asked
for: a damaged one, or one made with other settings or on another base model of the toy world
(its cache key, the first part of `base_model`), stops the run with one error naming the files
(and for stale ones the differing keys, old -> new) and the ways out; with `replace=True` those
records are moved aside and their cells rerun. Records of older versions (without `base_model`,
`row_scores`) still load. Two cells do the same work when `work_key` says so: same settings, method,
seed, n_sft and n_pref, and the same toy world (`world_id`), whatever the profile or budget unit.

    from budgetsplit.study.records import find_same_work, load_record, work_key
    rec = load_record(path); rec.metrics[rec.primary_metric], rec.row_scores["values"][:5]
    same = find_same_work(params, "math", work_key(params_dict, "dpo", 100, 200, 0))
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from budgetsplit.config.params import Params, for_model, load_world, to_dict, toy_size
from budgetsplit.config.world import identity, sized_world
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import DamagedFileError, digest, move_aside, read_json, write_json
from budgetsplit.study.cells import Cell
from budgetsplit.tasks import is_toy
from budgetsplit.tasks.toyworld.corpus import cache_key, default_sources


@dataclass
class Record:
    """One finished cell: what it bought, how it scored, and how the run went."""

    cell: Cell
    params: dict  # the recipe's settings as stored (`stored_settings`)
    n_sft: int
    n_pref: int
    costs: dict[str, float]
    spent: float
    metrics: dict[str, float]
    primary_metric: str | None = None
    n_eval: int | None = None
    diagnostics: dict = field(default_factory=dict)
    examples: list[dict] = field(default_factory=list)
    sft_stage: str | None = None
    sft_reused: bool = False
    cold_start_cached: bool = False
    throughput: dict = field(default_factory=dict)
    # Tokens and FLOPs per stage and in all (core/compute.py); {} in records older than it.
    compute: dict = field(default_factory=dict)
    wall_s: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    device: str = ""
    same_work_as: str | None = None  # "<cell_id>" or "<profile>/<cell_id>" whose result was copied
    base_model: str | None = None  # `models.base_model_id` of the model the cell started from
    # The primary metric per eval row: {"metric", "split", "ids_digest", "values"} (eval-row order).
    row_scores: dict | None = None

    @property
    def cell_id(self) -> str:
        return self.cell.cell_id

    def __getitem__(self, key: str) -> Any:
        """Read access as to the JSON (`rec["metrics"]`), for notebooks and scripts written so."""
        return self.to_json()[key]

    def __contains__(self, key: str) -> bool:
        """Whether the record has a value for `key` (`"same_work_as" in rec`: a copied cell)."""
        return getattr(self, key, None) is not None

    def to_json(self) -> dict:
        out = {"cell_id": self.cell_id}
        out.update(dataclasses.asdict(self))
        return out

    @classmethod
    def from_json(cls, data: dict, path: Path | str = "record") -> Record:
        missing = [k for k in _REQUIRED if k not in data]
        if missing:
            raise DamagedFileError(Path(path), f"not a cell record: no {', '.join(missing)}")
        known = {f.name for f in dataclasses.fields(cls)}
        try:
            kw = {k: v for k, v in data.items() if k in known}
            return cls(**{**kw, "cell": Cell(**kw["cell"])})
        except TypeError as e:
            raise DamagedFileError(Path(path), f"not a cell record: {e}") from None


_REQUIRED = ("cell", "params", "n_sft", "n_pref", "costs", "spent", "metrics")


class DamagedRecordError(DamagedFileError):
    """A finished record that cannot be read: its cell must be redone (the user chooses)."""

    def __init__(self, path: Path, problem: str):
        super().__init__(path, problem)
        self.args = (
            f"{path}: this finished cell record is damaged ({problem}). Redo its cell: rerun with "
            "--replace (replace=True in Python), which moves it aside and trains the cell again, "
            "or delete the file.",
        )


class StaleRecordError(RuntimeError):
    """Finished records were made with other settings than the ones asked for now."""


def load_record(path: Path) -> Record:
    """The record in `path`; DamagedRecordError (naming it, offering to redo it) if unreadable."""
    try:
        return Record.from_json(read_json(path, "cell record"), path)
    except DamagedFileError as e:
        raise DamagedRecordError(e.path, e.problem) from None


def write_record(params: Params, record: Record) -> Record:
    """Write `record` atomically where its cell's record lives; returns it as a reader will see it."""
    data = json.loads(json.dumps(record.to_json()))  # tuples -> lists, as a later run reads it
    write_json(RunLayout.of(params).record_path(record.cell.task, record.cell_id), data)
    return Record.from_json(data)


# ------------------------------------------------------------------------------ settings
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


def flat_settings(settings: dict, prefix: str = "") -> dict[str, Any]:
    """Nested settings as {"pft.beta": 0.1, ...} (lists stay values)."""
    out: dict[str, Any] = {}
    for k, v in settings.items():
        if isinstance(v, dict) and v:
            out.update(flat_settings(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


# Settings added after records were made, that only a method added with them reads (grpo, the
# RL prompts' cost): a record without the key was made before it existed, by another method, and
# its result does not depend on it, so the key's absence there is no difference.
ADDED_LATER = ("pft.num_generations", "pft.max_completion_length", "pft.kl_beta", "budget.costs.rl")


def settings_diff(old: dict, new: dict, method: str | None = None) -> dict[str, tuple[Any, Any]]:
    """The result settings that differ between two params dicts: {dotted key: (old, new)}. With a
    cell's `method`, the calibrated settings of other methods (`pft.tuned.<other>`) are no
    difference: the cell never reads them, so calibrating another method leaves its record valid."""
    a, b = (flat_settings(own_tuned(result_settings(d), method)) for d in (old, new))
    keys = (a.keys() | b.keys()) - {k for k in ADDED_LATER if k not in a}
    return {k: (a.get(k), b.get(k)) for k in sorted(keys) if a.get(k) != b.get(k)}


def own_tuned(settings: dict, method: str | None) -> dict:
    """Result settings with only `method`'s calibrated PFT settings (`pft.tuned`): a cell never
    reads another method's, so calibrating that method changes neither its review nor its work
    key. None: every method's."""
    pft = settings.get("pft")
    if method is None or not isinstance(pft, dict):
        return settings
    # none of its own is no table at all (an empty one would read as a value of its own)
    tuned = {m: v for m, v in (pft.get("tuned") or {}).items() if m == method}
    rest = {k: v for k, v in pft.items() if k != "tuned"}
    return {**settings, "pft": {**rest, "tuned": tuned} if tuned else rest}


def toy_base_key(params: Params) -> str | None:
    """The cache key of the toy base model `params` train from (None: no toy model). A record's
    `base_model` starts with it, the name of the folder the model was loaded from, so a record made
    on another world's base model is told apart though its settings are the same."""
    toy, size = toy_size(params.model.name)
    if not toy or not is_toy(params.profile):
        return None
    world = sized_world(load_world(params.profile), size)
    known = digest(identity(world))  # the key is a function of the world: computed once each
    if known not in _KEYS:
        _KEYS[known] = cache_key(world, default_sources())
    return _KEYS[known]


_KEYS: dict[str, str] = {}


def _built_on(rec: Record) -> str | None:
    # the folder part of `base_model`; only a toy cache key (16 hex digits) is compared
    head = (rec.base_model or "").split(":")[0]
    return head if len(head) == 16 and all(c in "0123456789abcdef" for c in head) else None


def review_records(
    params: Params, cells: list[Cell], replace: bool = False, dry_run: bool = False
) -> dict[str, Record]:
    """The finished records of `cells` that answer `params`, by cell id. Damaged or stale records
    stop here with one error listing them all; with `replace` they are moved aside (unless
    `dry_run`: then only left out) so their cells run again. Each cell is checked against the
    settings of its own model (`Cell.model`, for a recipe with several)."""
    layout, settings, keys = RunLayout.of(params), {}, {}
    fresh, damaged, stale = {}, [], []
    for cell in cells:
        if cell.model not in settings:
            settings[cell.model] = stored_settings(for_model(params, cell.model))
            keys[cell.model] = toy_base_key(for_model(params, cell.model))
        path = layout.record_path(cell.task, cell.cell_id)
        if not path.is_file():
            continue
        try:
            rec = load_record(path)
        except DamagedRecordError as e:
            damaged.append(e)
            continue
        diff = settings_diff(rec.params, settings[cell.model], cell.method)
        built_on, key = _built_on(rec), keys[cell.model]
        if key and built_on and built_on != key:  # the world's base model changed since
            diff["base_model"] = (built_on, key)
        if diff:
            stale.append((path, diff))
        else:
            fresh[cell.cell_id] = rec
    if replace and not dry_run:
        for path in [e.path for e in damaged] + [p for p, _ in stale]:
            print(f"moved aside: {path} -> {move_aside(path, 'replaced').name}", flush=True)
    elif not replace:
        if len(damaged) > 1:  # one message for all of them, named by their full paths
            others = "; ".join(f"{e.path}: {e.problem}" for e in damaged[1:])
            raise DamagedRecordError(
                damaged[0].path, f"{damaged[0].problem}; also damaged: {others}"
            )
        if damaged:
            raise damaged[0]
        if stale:
            raise stale_error(stale)
    return fresh


def stale_error(stale: list[tuple[Path, dict[str, tuple]]]) -> StaleRecordError:
    lines = [
        f"  {path}: " + ", ".join(f"{k}: {old!r} -> {new!r}" for k, (old, new) in diff.items())
        for path, diff in stale
    ]
    return StaleRecordError(
        f"{len(stale)} finished cell record(s) were made with other settings than the ones asked "
        "for now (old -> new), and results of different settings must not mix:\n"
        + "\n".join(lines)
        + "\nEither set `output_dir` to a new folder, or rerun with --replace (replace=True in "
        "Python), which moves these records aside and reruns their cells."
    )


# -------------------------------------------------------------------------------- same work
@functools.cache
def world_id(profile: str) -> str | None:
    """A digest of the toy world a profile's cells draw their tasks and base model from (profiles
    that inherit one share it); None for a profile without one (the paper's: Hub data and models,
    named in the settings themselves)."""
    return digest(identity(load_world(profile))) if is_toy(profile) else None


def work_key(params: dict, method: str, n_sft: int, n_pref: int, seed: int) -> str:
    """What a cell's training and evaluation depend on. The budget's unit and costs only decide
    n_sft and n_pref, so they are left out: cells of different recipes with equal work share it.
    The profile counts only through its world, so profiles sharing a world share work."""
    settings = own_tuned(result_settings(params), method)
    settings["budget"] = {"disjoint_prompts": settings["budget"]["disjoint_prompts"]}
    settings["profile"] = world_id(settings["profile"])
    return digest([settings, method, n_sft, n_pref, seed])


# A record's work key, read once per process and record version: (path, mtime, size) -> key.
_work_keys: dict[tuple, str | None] = {}


def _record_work_key(path: Path) -> str | None:
    st = path.stat()
    k = (path, st.st_mtime_ns, st.st_size)
    if k not in _work_keys:
        try:
            rec = load_record(path)
            _work_keys[k] = work_key(
                rec.params, rec.cell.method, rec.n_sft, rec.n_pref, rec.cell.seed
            )
        except (DamagedFileError, KeyError, TypeError):  # not a record of this version: no match
            _work_keys[k] = None
    return _work_keys[k]


def find_same_work(params: Params, task: str, key: str) -> Record | None:
    """A recorded cell of `task` whose work key is `key`: this profile's first, then any other
    profile's under the same `output_dir`."""
    layout = RunLayout.of(params)
    for folder in (layout.cells_dir(task), *layout.other_profiles_cells_dirs(task)):
        for path in sorted(folder.glob("*.json")):
            if _record_work_key(path) == key:
                return load_record(path)
    return None
