"""The toy world's base models shipped with the package, so a fresh clone or install uses the very
weights the committed results came from instead of pretraining its own (CPU kernels differ across
machines, so two machines build different weights from the same recipe).

`SHIPPED_ROOT` (`base_models/` beside this module, package data) holds one folder per world name
(a profile with a `world.yaml`: `toy`, `smoke`; a size of its `sizes`: `toy@m3`), each exactly what a cache folder of
`pretrain.get_base_model` holds: the weights, config, tokenizer and `build_info.json`, whose "key"
is the cache key of the world it was built for. `find_shipped(key)` names the shipped folder of a
key; `get_base_model` copies it into the cache (`install`) before it would pretrain. `ship` puts
a built model into `SHIPPED_ROOT` (`budgetsplit toyworld build --profile toy --ship`), and
`compare` reports how a rebuild differs from it (`--rebuild`). Reading a shipped model never
needs torch, except `compare`'s weight difference.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from budgetsplit.core.store import (
    DamagedFileError,
    atomic_folder,
    read_json,
    read_saved_model,
)

SHIPPED_ROOT = Path(__file__).resolve().parent / "base_models"
SIZE_SEP = "@"  # a size of a world's `sizes` ships as "<world>@<size>" (`folder_name`)
BUILD_INFO = "build_info.json"
WHAT = "shipped base model"


def folder_name(world: str, size: str | None = None) -> str:
    """The shipped folder of a world's base model ("toy"), or of one of its sizes ("toy@m3")."""
    return world if size is None else f"{world}{SIZE_SEP}{size}"


def world_and_size(name: str) -> tuple[str, str | None]:
    """`folder_name` read back: "toy@m3" -> ("toy", "m3"), "smoke" -> ("smoke", None)."""
    world, sep, size = name.partition(SIZE_SEP)
    return world, (size if sep else None)


def shipped_folders() -> list[Path]:
    """The folders of `SHIPPED_ROOT` that hold a model (a `build_info.json`), by name; hidden ones
    (a copy being written or replaced by `ship`) are not shipped."""
    root = SHIPPED_ROOT
    if not root.is_dir():
        return []
    return sorted(
        p
        for p in root.iterdir()
        if p.is_dir() and not p.name.startswith(".") and (p / BUILD_INFO).is_file()
    )


def find_shipped(key: str) -> Path | None:
    """The shipped folder built for cache key `key`, checked whole; None when none is. A damaged
    shipped file raises DamagedFileError naming it: the package is broken, and rebuilding in
    silence would hide that its results no longer come from the shipped weights."""
    for folder in shipped_folders():
        try:
            if read_json(folder / BUILD_INFO, f"{WHAT}'s {BUILD_INFO}").get("key") != key:
                continue
            read_saved_model(folder, BUILD_INFO, WHAT)
        except DamagedFileError as e:
            ship = f"budgetsplit toyworld build --profile {folder.name} --ship"
            fix = f"restore it (git checkout) or run `{ship}`"
            raise DamagedFileError(e.path, f"{e.problem}; {fix}") from None
        return folder
    return None


def _copy_files(src: Path, dst: Path) -> None:
    # Content only (no mode, no mtime): atomic_folder gives the umask's mode, and a byte-identical
    # copy keeps the model's id (training.models.folder_fingerprint hashes names and bytes).
    for f in sorted(src.rglob("*")):
        if f.is_file():
            (dst / f.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst / f.relative_to(src))


def install(shipped: Path, final: Path) -> None:
    """Copy the shipped folder to `final` (which must not exist) atomically, then check the copy is
    whole. The caller holds the cache's build lock."""
    with atomic_folder(final) as tmp:
        _copy_files(shipped, tmp)
        read_saved_model(tmp, BUILD_INFO, "base model")


def ship(folder: Path, name: str) -> Path:
    """Copy the built model in `folder` to `SHIPPED_ROOT/name`, replacing what is there (the old
    copy is kept until the new one is whole); returns the shipped folder."""
    read_saved_model(folder, BUILD_INFO, "base model")
    if not name or Path(name).name != name or name.startswith("."):
        raise ValueError(f"{name!r} is not a folder name")
    dest = SHIPPED_ROOT / name
    old = None
    if dest.exists():  # hidden while it waits, so no lookup finds two copies
        old = dest.with_name(f".{name}.{os.getpid()}.old")
        dest.rename(old)
    try:
        with atomic_folder(dest) as tmp:
            _copy_files(folder, tmp)
            read_saved_model(tmp, BUILD_INFO, WHAT)
    except BaseException:
        if old is not None:
            old.rename(dest)
        raise
    if old is not None:
        shutil.rmtree(old)
    return dest


def compare(a: Path, b: Path) -> dict:
    """How two built models differ: held-out loss of each (from its build info), whether the
    weights and the tokenizer are byte-identical, and the largest absolute weight difference (None
    when the tensors' names or shapes differ, as they do when the vocabularies do)."""
    from safetensors.torch import load_file

    info = [read_json(Path(f) / BUILD_INFO, f"base model's {BUILD_INFO}") for f in (a, b)]
    same = {
        name: (Path(a) / name).read_bytes() == (Path(b) / name).read_bytes()
        for name in ("model.safetensors", "tokenizer.json")
    }
    wa, wb = load_file(Path(a) / "model.safetensors"), load_file(Path(b) / "model.safetensors")
    comparable = wa.keys() == wb.keys() and all(wa[k].shape == wb[k].shape for k in wa)
    diff = (
        max(((wa[k] - wb[k]).abs().max().item() for k in wa), default=0.0) if comparable else None
    )
    return {
        "heldout_loss": [i.get("heldout_loss") for i in info],
        "weights_identical": same["model.safetensors"],
        "tokenizer_identical": same["tokenizer.json"],
        "max_abs_weight_diff": diff,
    }
