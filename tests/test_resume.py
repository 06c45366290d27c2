"""Resumable pretraining (tasks/toyworld/resume.py): a build paused or killed part way goes on from
its saved state to the weights an unbroken build gives; a damaged state is named and the build
starts over; the finished build leaves no state behind. On the tiny world of test_toyworld.py.
"""

import json

import pytest
import torch
from safetensors.torch import load_file
from test_toyworld import SOURCES, TINY

from budgetsplit.cli import main as cli_main
from budgetsplit.tasks.toyworld import pretrain as pretrain_module
from budgetsplit.tasks.toyworld import resume, shipped
from budgetsplit.tasks.toyworld.pretrain import cache_key, cache_root, find_base_model
from budgetsplit.tasks.toyworld.resume import BuildPaused, partial_dir


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(shipped, "SHIPPED_ROOT", tmp_path / "no-shipped")
    return tmp_path / "cache"


def _final():
    return cache_root() / "base" / cache_key(TINY, SOURCES)


def _paused_at(step, monkeypatch):
    """Make the next build pause after `step` steps (as `pause_after_s` does after its time)."""
    real = pretrain_module.pretrain

    def pausing(*args, **kwargs):
        return real(*args, **kwargs, pause_at_step=step)

    monkeypatch.setattr(pretrain_module, "pretrain", pausing)


def test_a_paused_build_resumes_to_the_unbroken_builds_weights(
    cache, tmp_path, monkeypatch, capsys
):
    whole, origin = find_base_model(TINY, progress=False, sources=SOURCES)
    assert origin == "built" and not partial_dir(whole).exists()
    unbroken = load_file(whole / "model.safetensors")

    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path / "second"))
    with monkeypatch.context() as m:
        _paused_at(5, m)
        with pytest.raises(BuildPaused, match="paused at step 5 of 12"):
            find_base_model(TINY, progress=False, sources=SOURCES)
    # with no bar (a background build) each saved state is a line in the log
    assert "pretraining: step 5 of 12, loss " in capsys.readouterr().err
    final = _final()
    assert not final.exists() and (partial_dir(final) / resume.STATE).is_file()
    folder, origin = find_base_model(TINY, progress=False, sources=SOURCES)
    assert origin == "built" and folder == final and not partial_dir(final).exists()
    resumed = load_file(folder / "model.safetensors")
    assert resumed.keys() == unbroken.keys()
    assert all(torch.equal(resumed[k], unbroken[k]) for k in unbroken)
    info = json.loads((folder / "build_info.json").read_text())
    assert info["resumed_at_steps"] == [5] and len(info["threads_per_stretch"]) == 2
    first = json.loads((whole / "build_info.json").read_text())
    assert info["final_train_loss"] == first["final_train_loss"]
    assert info["train_loss_curve"] == first["train_loss_curve"]


def test_a_damaged_state_is_named_and_the_build_starts_over(cache, monkeypatch, capsys):
    with monkeypatch.context() as m:
        _paused_at(4, m)
        with pytest.raises(BuildPaused):
            find_base_model(TINY, progress=False, sources=SOURCES)
    state = partial_dir(_final()) / resume.STATE
    state.write_bytes(state.read_bytes()[:100])  # a kill mid-copy, a full disk
    folder, _ = find_base_model(TINY, progress=False, sources=SOURCES)
    assert f"pretraining state {state} is unusable" in capsys.readouterr().out
    info = json.loads((folder / "build_info.json").read_text())
    assert info["resumed_at_steps"] == []  # started over
    aside = list(folder.parent.glob(f"{folder.name}.partial.damaged-*"))
    assert len(aside) == 1  # kept for a look


def test_a_state_of_another_key_is_not_resumed(cache, tmp_path):
    model = torch.nn.Linear(2, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    folder = tmp_path / "k.partial"
    data = {"perm": torch.arange(3), "pos": 0, "losses": [1.0], "train_s": 1.0, "wall_s": 2.0}
    resume.save_state(folder, "key-a", 3, model, opt, sched, torch.Generator(), data)
    assert resume.load_state(folder, "key-a")["step"] == 3
    resume.save_state(folder, "key-a", 4, model, opt, sched, torch.Generator(), data)  # replaced
    assert resume.load_state(folder, "key-a")["step"] == 4
    assert not list(tmp_path.glob(".*.tmp"))  # no temp left beside it
    assert resume.load_state(folder, "key-b") is None and not folder.exists()


def test_cli_build_pause_after_exits_3_with_the_state_saved(cache, tmp_path, capsys):
    world = tmp_path / "world.yaml"
    small = "hidden_size: 32, num_layers: 2, num_heads: 2, intermediate_size: 64, seq_len: 64"
    world.write_text(f"seed: 0\npretrain: {{{small}, steps: 4000, corpus_docs: 400}}\n")
    code = cli_main(["toyworld", "build", "--profile", str(world), "--quiet", "--pause-after", "0"])
    err = capsys.readouterr().err
    assert code == 3 and "paused at step 1 of 4,000" in err
    assert "Run the same command again" in err
    assert len(list((cache / "base").glob("*.partial"))) == 1
