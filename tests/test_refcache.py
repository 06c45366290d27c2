"""Tests of budgetsplit.training.refcache's file handling (the trainer path runs in test_train.py)."""

from __future__ import annotations

import torch
from safetensors.torch import save_file

from budgetsplit.training.refcache import read_ref_cache

COLS = ("ref_chosen_logps", "ref_rejected_logps")


def test_a_good_cache_is_read_and_a_missing_one_is_none(tmp_path):
    path = tmp_path / "ref_logps-k.safetensors"
    assert read_ref_cache(path, COLS, 3) is None
    save_file({c: torch.arange(3, dtype=torch.float32) for c in COLS}, str(path))
    got = read_ref_cache(path, COLS, 3)
    assert set(got) == set(COLS) and got["ref_chosen_logps"].tolist() == [0.0, 1.0, 2.0]


def test_a_damaged_cache_is_named_and_moved_aside(tmp_path, capsys):
    torn = tmp_path / "ref_logps-a.safetensors"
    torn.write_bytes(b"not safetensors")
    short = tmp_path / "ref_logps-b.safetensors"  # the right format, the wrong number of pairs
    save_file({c: torch.zeros(2) for c in COLS}, str(short))
    for path in (torn, short):
        assert read_ref_cache(path, COLS, 3) is None
        assert not path.exists() and len(list(tmp_path.glob(path.name + ".damaged-*"))) == 1
        assert f"reference log-prob cache {path} is damaged" in capsys.readouterr().out
