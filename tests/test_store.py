"""Tests of budgetsplit.core.store: the digest, atomic files and folders (nothing half-written survives a
failure, modes follow the umask), damaged JSON and safetensors named, moving aside, temp files of
killed processes, the writability check."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from budgetsplit.core import store


def test_digest_is_order_free_and_stable():
    assert store.digest({"a": 1, "b": [1, 2]}) == store.digest({"b": [1, 2], "a": 1})
    assert store.digest({"a": 1}) != store.digest({"a": 2})
    # Cache keys on disk were made with this exact function: a change would orphan them.
    assert store.digest({"a": 1}) == "f9d86028c6e0d64e"
    ids = [{"id": "q1"}, {"id": "q2"}]
    assert store.ids_digest(ids) == "548668e92cb97abb" != store.ids_digest(ids[::-1])


def test_write_json_replaces_whole_and_leaves_no_temp(tmp_path):
    path = tmp_path / "sub" / "a.json"
    store.write_json(path, {"x": 1})
    store.write_json(path, {"x": 2})
    assert json.loads(path.read_text()) == {"x": 2} and os.listdir(path.parent) == ["a.json"]
    with pytest.raises(TypeError):  # not JSON: the old file stays, no temp file is left
        store.write_json(path, {"x": object()})
    assert json.loads(path.read_text()) == {"x": 2} and os.listdir(path.parent) == ["a.json"]


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    final = tmp_path / "stage"
    with pytest.raises(RuntimeError):
        with store.atomic_folder(final) as tmp:
            (tmp / "w.bin").write_bytes(b"123")
            raise RuntimeError("killed midway")
    assert not final.exists() and os.listdir(tmp_path) == []
    with store.atomic_folder(final) as tmp:
        (tmp / "w.bin").write_bytes(b"123")
        assert not final.exists()
    assert (final / "w.bin").read_bytes() == b"123" and os.listdir(tmp_path) == ["stage"]


@pytest.mark.parametrize(
    "text, problem", [("", "is empty"), ('{"a": 1', "not valid JSON"), ("[1]", "holds a list")]
)
def test_read_json_names_the_damaged_file(tmp_path, text, problem):
    path = tmp_path / "r.json"
    path.write_text(text)
    with pytest.raises(store.DamagedFileError, match=problem) as e:
        store.read_json(path, "cell record")
    assert e.value.path == path and str(path) in str(e.value) and "cell record" in str(e.value)
    moved = store.move_aside(path)
    assert (
        not path.exists() and moved.read_text() == text and moved.name.startswith("r.json.damaged-")
    )


def test_temps_of_killed_processes_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    stale_dir = tmp_path / f".n20-s0-abc.{dead}.k2j3.tmp"
    stale_dir.mkdir()
    (stale_dir / "w.bin").write_bytes(b"1")
    stale_file = tmp_path / f".x.json.{dead}.ab_c.tmp"
    stale_file.write_text("{")
    live = tmp_path / f".y.json.{os.getpid()}.zz.tmp"
    live.write_text("{")
    keep = tmp_path / "a.json"
    keep.write_text("{}")
    assert sorted(store.remove_stale_temps(tmp_path)) == sorted([stale_dir, stale_file])
    assert sorted(os.listdir(tmp_path)) == sorted([live.name, keep.name])


def test_unwritable_output_folder_is_found_before_training(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(PermissionError, match=str(tmp_path / "file")):
        store.check_writable(tmp_path / "file" / "cells")  # a file where a folder should be
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions
            pytest.skip("running as root: every folder is writable")
        with pytest.raises(PermissionError, match="cannot write results here"):
            store.check_writable(folder / "cells")
    finally:
        folder.chmod(0o700)


@pytest.mark.parametrize(
    "umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700)]
)
def test_files_and_folders_are_made_with_the_umasks_mode(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        store.write_json(tmp_path / "r.json", {"a": 1})
        with store.atomic_folder(tmp_path / "stage") as tmp:
            (tmp / "meta.json").write_text("{}")
            # as a library writes through a private temp file (model.safetensors came out 0600)
            (tmp / "model.safetensors").write_bytes(b"x")
            os.chmod(tmp / "model.safetensors", 0o600)
    finally:
        os.umask(old)
    assert (tmp_path / "r.json").stat().st_mode & 0o777 == file_mode
    assert (tmp_path / "stage").stat().st_mode & 0o777 == dir_mode
    for name in ("meta.json", "model.safetensors"):
        assert (tmp_path / "stage" / name).stat().st_mode & 0o777 == file_mode, name


def _weights(path):
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.arange(64, dtype=np.float32), "b": np.ones(3, dtype=np.float32)}, path)
    return path.read_bytes()


CUTS = {
    "empty": (lambda b: b"", "cut short"),
    "5 bytes": (lambda b: b[:5], "cut short"),
    "half": (lambda b: b[: len(b) // 2], "cut short|promises"),
    "one byte short": (lambda b: b[:-1], "promises"),
    "one byte long": (lambda b: b + b"x", "promises"),
    "header overwritten": (lambda b: b[:8] + b"{not json" + b[17:], "not safetensors"),
}


@pytest.mark.parametrize("cut, problem", CUTS.values(), ids=CUTS)
def test_a_damaged_safetensors_file_is_named(tmp_path, cut, problem):
    path = tmp_path / "model.safetensors"
    whole = _weights(path)
    store.check_safetensors(path)  # a whole file passes
    store.check_model_folder(tmp_path, "SFT stage")
    path.write_bytes(cut(whole))
    with pytest.raises(store.DamagedFileError, match=problem) as e:
        store.check_model_folder(tmp_path, "SFT stage")
    assert e.value.path == path


def test_a_model_folder_needs_weights_and_readable_json(tmp_path):
    with pytest.raises(store.DamagedFileError, match="has no weights"):
        store.check_model_folder(tmp_path, "base model")
    _weights(tmp_path / "model.safetensors")
    (tmp_path / "tokenizer.json").write_text('{"model": {"vocab"')
    (tmp_path / "notes.json").write_text("[1, 2]")  # not one of a model's files: not read
    with pytest.raises(store.DamagedFileError, match="base model's tokenizer.json") as e:
        store.check_model_folder(tmp_path, "base model")
    assert e.value.path == tmp_path / "tokenizer.json"
