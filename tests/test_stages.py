"""Tests of budgetsplit.training.stages: stage keys and the on-disk SFT stage cache (tiny in-process model)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from tiny import FAST, AddTask

from budgetsplit.config.params import ModelConfig, Params, PFTConfig, StageConfig
from budgetsplit.training.models import base_model_id
from budgetsplit.training.stages import cached_stages, run_sft_stage, sft_stage_key, task_data_id

pytestmark = pytest.mark.usefixtures("one_thread")


def _params(tmp_path, base_folder, **kw) -> Params:
    return Params(
        task="math",
        profile="test",
        model=ModelConfig(name=base_folder),
        sft=StageConfig(**FAST),
        output_dir=str(tmp_path),
        **kw,
    )


def test_sft_stage_key_tracks_what_shapes_the_weights(tmp_path, base_folder, task):
    from budgetsplit.config.params import TaskConfig

    p = _params(tmp_path, base_folder)
    d = task_data_id(task)
    key = sft_stage_key(p, 100, 0, "base:1", d)
    assert key == sft_stage_key(p, 100, 0, "base:1", d) and key.startswith("n100-s0-")
    others = [
        sft_stage_key(p, 101, 0, "base:1", d),
        sft_stage_key(p, 100, 1, "base:1", d),
        sft_stage_key(p, 100, 0, "base:2", d),
        sft_stage_key(p, 100, 0, "base:1", task_data_id(AddTask(seed=1))),
        sft_stage_key(_params(tmp_path, base_folder, pft=PFTConfig(beta=9.0)), 100, 0, "base:1", d)
        == key,
    ]
    assert len(set(others[:4]) | {key}) == 5 and others[4]
    # Keys of stages on disk stay valid: this one was made by the code before store.digest (with
    # the settings of today; a new StageConfig field changes every key, on purpose).
    fixed = Params(
        task="math",
        profile="test",
        model=ModelConfig(name="/x/base"),
        sft=StageConfig(**FAST),
        output_dir="/o",
    )
    assert sft_stage_key(fixed, 100, 0, "base:1", "data1") == "n100-s0-d812fad92dd2"
    noisy = _params(tmp_path, base_folder, task_options=TaskConfig(label_noise=0.3))
    assert sft_stage_key(noisy, 100, 0, "base:1", d) == key  # noise touches preference pairs only


def test_sft_stage_is_cached_and_reused(tmp_path, base_folder, task):
    p = _params(tmp_path, base_folder)
    rows = task.sft_pool()[:16]
    folder, meta = run_sft_stage(p, task, rows, 0, "base:1", "cpu")
    assert not meta["reused"] and (folder / "model.safetensors").is_file()
    assert not list(folder.glob("*.bin")) and not list(folder.parent.glob(".*"))
    assert json.loads((folder / "meta.json").read_text())["n_sft"] == 16
    again, meta2 = run_sft_stage(p, task, rows, 0, "base:1", "cpu")
    assert again == folder and meta2["reused"]
    with pytest.raises(RuntimeError, match="other examples"):
        run_sft_stage(p, task, task.sft_pool()[16:32], 0, "base:1", "cpu")


DAMAGES = [
    "no meta.json",
    "meta.json truncated",
    "no weights",
    "weights empty",
    "weights truncated",
    "tokenizer.json truncated",
]


@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_stage_is_moved_aside_and_retrained(tmp_path, base_folder, task, capsys, damage):
    p = _params(tmp_path, base_folder)
    rows = task.sft_pool()[:8]
    folder, _ = run_sft_stage(p, task, rows, 0, "base:1", "cpu")
    weights = (folder / "model.safetensors").read_bytes()
    if damage == "no meta.json":
        (folder / "meta.json").unlink()
    elif damage == "meta.json truncated":
        (folder / "meta.json").write_text('{"key": "n8')
    elif damage == "no weights":
        (folder / "model.safetensors").unlink()
    elif damage == "weights empty":
        (folder / "model.safetensors").write_bytes(b"")
    elif damage == "weights truncated":
        (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    else:
        (folder / "tokenizer.json").write_text('{"version": "1.0", "trunc')
    again, meta = run_sft_stage(p, task, rows, 0, "base:1", "cpu")
    assert again == folder and not meta["reused"]
    assert (folder / "model.safetensors").read_bytes() == weights  # deterministic: same stage
    assert str(folder) in capsys.readouterr().out
    assert len(list(folder.parent.glob(folder.name + ".damaged-*"))) == 1
    assert run_sft_stage(p, task, rows, 0, "base:1", "cpu")[1]["reused"]


def test_cached_stages_are_found_for_the_plan_and_damaged_ones_are_not(tmp_path, base_folder, task):
    p = _params(tmp_path, base_folder)
    asked = []
    lookup = lambda: asked.append(1) or task  # noqa: E731
    assert cached_stages(p, lookup, {(8, 0), (16, 0)}) == set() and not asked  # no folder yet
    run_sft_stage(p, task, task.sft_pool()[:8], 0, base_model_id(p.model, p.profile), "cpu")
    assert cached_stages(p, lookup, {(8, 0), (8, 1), (16, 0)}) == {(8, 0)}
    other = dataclasses.replace(p, sft=StageConfig(**{**FAST, "learning_rate": 1e-3}))
    assert cached_stages(other, lookup, {(8, 0)}) == set()  # same size and seed, other settings
    (weights,) = (tmp_path / "test" / "math" / "sft").glob("n8-s0-*/model.safetensors")
    weights.write_bytes(b"")
    assert cached_stages(p, lookup, {(8, 0)}) == set()  # damaged: to train again
    assert weights.stat().st_size == 0  # the plan only reads: nothing moved
