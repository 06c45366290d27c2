"""The SFT stage cache: one trained SFT model per distinct stage, shared by every cell that needs it.

A stage lives in `RunLayout.sft_stage_dir(task, key)` (safetensors and the tokenizer, written to a
temp folder and renamed into place, with meta.json: sizes, timing, the trainer's log).
`sft_stage_key` folds in everything that determines the stage's weights, so cells with equal keys
load identical weights; parallel cells needing one stage train it once (a file lock). A stage folder
that is not whole (no readable meta.json, weights missing, empty or truncated, a damaged JSON file)
is named, moved aside and trained again.

    stage_dir, meta = run_sft_stage(params, task, sft_rows, seed=0, base_id=..., device="cpu")
    model, tok = load_model(params.model, params.profile, "cpu", path=stage_dir)
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from filelock import FileLock

from budgetsplit.config.params import Params, to_dict
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import (
    DamagedFileError,
    atomic_folder,
    digest,
    ids_digest,
    move_aside,
    read_saved_model,
    stream_digest,
)
from budgetsplit.training.models import align_special_tokens, base_model_id, load_model
from budgetsplit.training.train import train_sft


def task_data_id(task) -> str:
    """A hash of what an SFT draw can depend on: the SFT pool's rows and every prompt id (the
    disjoint-prompt draw orders prompts of both pools)."""
    rows = (
        json.dumps([r["id"], r["prompt_id"], r["prompt"], r["response"]]).encode()
        for r in task.sft_pool()
    )
    prompts = (str(r["prompt_id"]).encode() + b"\0" for r in task.pref_pool())
    return stream_digest(itertools.chain(rows, prompts))


def sft_stage_key(params: Params, n_sft: int, seed: int, base_id: str, data_id: str) -> str:
    """The cache key of an SFT stage: n, seed, and a hash of everything else that shapes its weights.

    `base_id` is `budgetsplit.training.models.base_model_id(params.model, params.profile)` and `data_id` is
    `task_data_id(task)`. Label noise is left out on purpose: it flips preference pairs only, so
    cells differing in it share SFT stages.
    """
    parts = {
        "task": params.task,
        "profile": params.profile,
        "base": base_id,
        "data": data_id,
        "dtype": params.model.dtype,
        "lora": to_dict(params.model.lora),
        "sft": to_dict(params.sft),
        "disjoint_prompts": params.budget.disjoint_prompts,
    }
    return f"n{n_sft}-s{seed}-{digest(parts)[:12]}"


def sft_stage_dir(params: Params, key: str) -> Path:
    return RunLayout.of(params).sft_stage_dir(params.task, key)


def _train_and_save(
    params: Params, task, rows: list[dict], seed: int, device: str, folder: Path
) -> dict:
    model, tok = load_model(params.model, params.profile, device)
    outcome = train_sft(
        model, tok, task.sft_records(rows), params.sft, params.model.lora, seed, device
    )
    align_special_tokens(outcome.model, tok)
    meta = {
        "key": folder.name,
        "n_sft": len(rows),
        "seed": seed,
        "ids_digest": ids_digest(rows),
        "wall_s": outcome.wall_s,
        "throughput": outcome.throughput,
        "log_history": outcome.log_history,
        "steps": outcome.steps,
        "weight_change": outcome.weight_change,
    }
    with atomic_folder(folder) as tmp:  # readers see a whole stage or none
        outcome.model.save_pretrained(tmp)  # safetensors
        tok.save_pretrained(tmp)
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def cached_stages(params: Params, task, stages: set[tuple[int, int]]) -> set[tuple[int, int]]:
    """The (n_sft, seed) of `stages` whose SFT stage is cached whole for `params` (for `plan`'s
    count); reads only, builds and moves nothing. `task`: a callable giving the task, called only
    when a stage folder of a matching size and seed exists (it draws the pools)."""
    folder = RunLayout.of(params).sft_dir(params.task)
    maybe = {(n, s) for n, s in stages if any(folder.glob(f"n{n}-s{s}-*/meta.json"))}
    base_id = base_model_id(params.model, params.profile, build=False) if maybe else None
    if base_id is None:
        return set()
    data_id = task_data_id(task())
    keys = {(n, s): sft_stage_key(params, n, s, base_id, data_id) for n, s in maybe}
    return {ns for ns, key in keys.items() if _read_stage(sft_stage_dir(params, key), move=False)}


def _read_stage(folder: Path, move: bool = True) -> dict | None:
    """The meta of a whole stage in `folder`; None if there is none. A folder that is not a whole
    stage (a copy cut short, files deleted by hand, weights emptied or truncated, a damaged
    tokenizer file) is, with `move`, named and moved aside, so it is trained again."""
    if not folder.exists():
        return None
    try:
        return read_saved_model(folder, "meta.json", "SFT stage")
    except (DamagedFileError, FileNotFoundError) as e:
        if move:
            where = move_aside(folder)
            print(f"SFT stage {folder} is damaged ({e}); moved aside to {where.name}, retraining")
        return None


def run_sft_stage(
    params: Params, task, rows: list[dict], seed: int, base_id: str, device: str
) -> tuple[Path, dict]:
    """Train the SFT stage of `rows`, or find it cached; returns (its folder, its meta with "reused")."""
    folder = sft_stage_dir(
        params, sft_stage_key(params, len(rows), seed, base_id, task_data_id(task))
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Cells running in parallel that need one stage train it once: the others wait, then reuse it.
    with FileLock(str(folder) + ".lock"):
        meta = _read_stage(folder)
        if meta is None:
            return folder, {
                **_train_and_save(params, task, rows, seed, device, folder),
                "reused": False,
            }
    if meta.get("ids_digest") != ids_digest(rows):
        raise RuntimeError(
            f"SFT stage {folder} was trained on other examples than this cell draws "
            f"({meta.get('ids_digest')} != {ids_digest(rows)}); the task's pools changed: delete it"
        )
    return folder, {**meta, "reused": True}
