"""Files on disk, written so a crash never leaves half of one: the project's one digest, atomic JSON
writes and atomic folders (both fsynced), JSON reads that name a damaged file, and moving a damaged
file aside so it can be redone, and checks of saved models (`check_model_folder`: whole safetensors
and readable JSON) run before any loader sees them. Files are made with the umask's mode, so a
shared results folder stays readable. The bottom of the import graph: no budgetsplit imports.

    from budgetsplit.core.store import atomic_folder, digest, read_json, write_json
    write_json(path, {"a": 1})                 # a reader sees the old file or the new one, never half
    data = read_json(path, "cell record")      # DamagedFileError naming the file if it is not JSON
    with atomic_folder(final) as tmp:          # fill tmp; it is renamed to `final` on success
        (tmp / "meta.json").write_text("{}")

Temporary files and folders are named `.<name>.<pid>.tmp`, so `remove_stale_temps` can tell those of
a killed process (its pid is gone) from those of a live one writing beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path


class DamagedFileError(RuntimeError):
    """A file that should hold a result or a cache entry cannot be read back; `path` names it."""

    def __init__(self, path: Path, problem: str):
        self.path, self.problem = Path(path), problem
        super().__init__(f"{path}: {problem}")


def digest(data) -> str:
    """16 hex digits of the sha256 of `data` as sorted JSON: the key of every JSON-shaped cache."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def stream_digest(chunks: Iterable[bytes], n: int = 16) -> str:
    """`n` hex digits of the sha256 of `chunks` in order: the digest of what is not one JSON value
    (a pool of rows, a model's files, a corpus sample), read piece by piece."""
    h = hashlib.sha256()
    for chunk in chunks:
        h.update(chunk)
    return h.hexdigest()[:n]


def ids_digest(rows: Sequence[dict]) -> str:
    """16 hex digits naming a list of rows by their ids, in order (SFT draws, eval rows)."""
    return hashlib.sha256("\n".join(str(r["id"]) for r in rows).encode()).hexdigest()[:16]


def _fsync_dir(folder: Path) -> None:
    # The rename lives in the folder's entry table: without this it can be lost on a power cut.
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp_name(path: Path) -> str:
    return f".{path.name}.{os.getpid()}."


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def _umask_mode(path: Path, full: int) -> None:
    """Give a temp file or folder the mode a plain `open` or `mkdir` would (mkstemp and mkdtemp
    make them private), so another user of a shared results folder can read what we write."""
    os.chmod(path, full & ~_umask())


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """A temp path beside `path` to write; on success it is fsynced and renamed to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_name(path), suffix=".tmp", dir=path.parent)
    os.close(fd)
    _umask_mode(Path(tmp), 0o666)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def write_json(path: Path, data) -> None:
    write_text(path, json.dumps(data, indent=1))


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` atomically (a reader sees the old file or the new one)."""
    with atomic_file(path) as tmp:
        tmp.write_text(text)


@contextlib.contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """A temp folder beside `path` to fill; on success its files are fsynced, given the umask's
    mode (libraries write some through private temp files: transformers' model.safetensors came
    out 0600) and it is renamed to `path` (which must not exist); on failure it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_name(path), suffix=".tmp", dir=path.parent))
    _umask_mode(tmp, 0o777)
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                with open(f, "rb+") as fh:
                    os.fsync(fh.fileno())
                _umask_mode(f, 0o666)
        os.rename(tmp, path)  # atomic: readers see a whole folder or none
        _fsync_dir(path.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_json(path: Path, what: str) -> dict:
    """The JSON object in `path`; DamagedFileError naming the file and `what` it should hold when it
    is empty, truncated or not an object. A missing file raises FileNotFoundError as usual."""
    path = Path(path)
    text = path.read_text()
    if not text.strip():
        raise DamagedFileError(path, f"this {what} is empty")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DamagedFileError(path, f"this {what} is not valid JSON (truncated?): {e}") from None
    if not isinstance(data, dict):
        raise DamagedFileError(path, f"this {what} holds a {type(data).__name__}, not an object")
    return data


def check_safetensors(path: Path) -> None:
    """DamagedFileError naming `path` unless it is a whole safetensors file: an 8-byte header
    length, a JSON header, and exactly the tensor bytes the header promises (an empty, truncated or
    overwritten file fails here, before the loader's raw error)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else None
        if n is None or n > size - 8:
            raise DamagedFileError(
                path, f"this weights file is cut short ({size} bytes, no header)"
            )
        try:
            tensors = [t for k, t in json.loads(f.read(n)).items() if k != "__metadata__"]
            end = max((t["data_offsets"][1] for t in tensors), default=0)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise DamagedFileError(path, "this weights file's header is not safetensors") from None
    if 8 + n + end != size:
        raise DamagedFileError(
            path, f"this weights file is {size} bytes where its header promises {8 + n + end}"
        )


# The JSON objects of a saved model and tokenizer (transformers, PEFT) and of our own metadata.
_MODEL_JSON = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "adapter_config.json",
    "meta.json",
    "build_info.json",
    "model.safetensors.index.json",
}


def check_model_folder(folder: Path, what: str) -> None:
    """DamagedFileError naming the first damaged file of a saved model (`what`: "SFT stage", "base
    model"): no weights, weights that are not whole safetensors, or a JSON file (config, tokenizer,
    meta) that does not parse."""
    folder = Path(folder)
    weights = sorted(folder.glob("*.safetensors"))
    if not weights:
        raise DamagedFileError(folder, f"this {what} has no weights (*.safetensors)")
    for path in weights:
        check_safetensors(path)
    for path in sorted(folder.glob("*.json")):
        if path.name in _MODEL_JSON:
            read_json(path, f"{what}'s {path.name}")


def read_saved_model(folder: Path, meta: str, what: str) -> dict:
    """The JSON object in `folder/meta` of a saved model folder that `check_model_folder` finds
    whole; DamagedFileError naming the damaged file, FileNotFoundError when `meta` is missing."""
    data = read_json(Path(folder) / meta, f"{what}'s {meta}")
    check_model_folder(folder, what)
    return data


def move_aside(path: Path, label: str = "damaged") -> Path:
    """Rename a file or folder to `<name>.<label>-<UTC stamp>` beside it (kept for a look, never read
    as a result again); returns the new path."""
    path = Path(path)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    target = path.with_name(f"{path.name}.{label}-{stamp}")
    os.rename(path, target)
    return target


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove the temp files and folders in `folder` (not below) left by killed processes of this
    machine; those of live processes stay. Returns what was removed."""
    removed = []
    for p in Path(folder).glob(".*.tmp") if Path(folder).is_dir() else ():
        pid = p.name[: -len(".tmp")].rsplit(".", 2)
        if len(pid) < 3 or not pid[1].isdigit() or _pid_alive(int(pid[1])):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def check_writable(folder: Path) -> None:
    """Fail now, naming `folder`, if files cannot be created in it (before hours of training)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-check."):
            pass
    except OSError as e:
        raise PermissionError(
            f"{folder.resolve()}: cannot write results here ({e.strerror}); "
            "set `output_dir` to a folder you can write"
        ) from None
