"""The toy world's settings: its base model's pretraining (`PretrainConfig`), its pools and task
generators, and the other sizes of its base model (`WorldConfig`), loaded from
`params/<profile>/world.yaml` (or the inherited profile's: `world_path`) with the same rules as a
recipe (unknown keys, wrong types and out-of-range values are one `ConfigError`).

    from budgetsplit.config.world import load_world, sized_world
    w = load_world("toy", overrides={"pretrain.steps": 4000})   # params/toy/world.yaml, changed
    sized_world(w, None) is w      # a size of `w.sizes` (model.name `toy:<size>`), or w itself
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from budgetsplit.config.profiles import world_path
from budgetsplit.config.schema import ConfigError, build, merge, nest, read_yaml, replace, to_dict
from budgetsplit.core.registry import TASKS

# A label of the model axis (`Params.models`) or a toy size: it goes into cell ids and file names.
MODEL_LABEL = re.compile(r"[A-Za-z0-9_]+")
# model.name of the toy world's base model ("toy:<size>" for a size of `WorldConfig.sizes`).
TOY = "toy"


@dataclass(frozen=True)
class PretrainConfig:
    vocab_size: int = 1024
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    intermediate_size: int = 384
    seq_len: int = 128
    batch_size: int = 32
    steps: int = 2000
    learning_rate: float = 3e-3
    warmup_steps: int = 100
    corpus_docs: int = 40000
    # The share of the corpus that is copy drills (tasks/toyworld/drills.py); 0: none.
    copy_share: float = 0.0


@dataclass(frozen=True)
class WorldConfig:
    seed: int = 0
    n_sft_pool: int = 20000
    n_pref_pool: int = 20000
    n_val: int = 200
    n_test: int = 500
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    # Per-task generator settings (difficulty), passed to each task's constructor.
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Other sizes of the base model: label -> `pretrain` settings over the section above (same
    # corpus and tasks), each named `toy:<label>` in a recipe's model.name (`sized_world`).
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)


# `pretrain` fields added after base models were built and shipped, with the default at which a
# world is the world it was before them: `identity` leaves them out there, so keys stay the same.
ADDED_LATER = {"copy_share": 0.0}


def identity(world: WorldConfig) -> dict:
    """The world as its keys hash it (the base model's cache key, the records' world id): its
    settings, less the `pretrain` fields of ADDED_LATER at their defaults."""
    d = to_dict(world)
    for key, default in ADDED_LATER.items():
        if d["pretrain"][key] == default:
            del d["pretrain"][key]
    return d


def _check_world(w: WorldConfig, src: str) -> None:
    for key in ("n_sft_pool", "n_pref_pool", "n_val", "n_test"):
        if getattr(w, key) <= 0:
            raise ConfigError(src, key, getattr(w, key), "must be > 0")
    _check_pretrain(w.pretrain, src, "pretrain.")
    for t in w.tasks:
        if t not in TASKS:
            raise ConfigError(
                src, f"tasks.{t}", w.tasks[t], f"unknown task; known: {', '.join(TASKS)}"
            )
    for label, over in w.sizes.items():
        if not MODEL_LABEL.fullmatch(str(label)):
            raise ConfigError(src, f"sizes.{label}", over, "a size is letters, digits and _")
        if not isinstance(over, dict):
            raise ConfigError(src, f"sizes.{label}", over, "must be a mapping of pretrain settings")
        sized = build(PretrainConfig, merge(to_dict(w.pretrain), over), src, f"sizes.{label}.")
        _check_pretrain(sized, src, f"sizes.{label}.")


def _check_pretrain(p: PretrainConfig, src: str, prefix: str) -> None:
    for f in fields(p):
        if getattr(p, f.name) <= 0 and f.name not in ("warmup_steps", "copy_share"):
            raise ConfigError(src, f"{prefix}{f.name}", getattr(p, f.name), "must be > 0")
    if not 0 <= p.copy_share < 1:
        raise ConfigError(src, f"{prefix}copy_share", p.copy_share, "must be in [0, 1)")
    if p.hidden_size % p.num_heads:
        raise ConfigError(src, f"{prefix}num_heads", p.num_heads, "must divide hidden_size")


def sized_world(world: WorldConfig, size: str | None, src: str = "world.yaml") -> WorldConfig:
    """The world whose base model is size `size` of `world.sizes` (its `pretrain` settings over
    the world's; None: `world` itself); ConfigError naming `src` for an unknown size."""
    if size is None:
        return world
    if size not in world.sizes:
        known = ", ".join(world.sizes) or "none: the world has no `sizes`"
        raise ConfigError(src, "model.name", f"{TOY}:{size}", f"unknown size; known: {known}")
    pretrain = build(PretrainConfig, merge(to_dict(world.pretrain), world.sizes[size]), src)
    return replace(world, pretrain=pretrain, sizes={})


def load_world(profile: str | Path = "toy", overrides: dict[str, Any] | None = None) -> WorldConfig:
    """Load the toy world's settings, `params/<profile>/world.yaml` (or a YAML path; see `world_path`)."""
    path = Path(profile)
    if path.suffix not in (".yaml", ".yml"):
        path = world_path(str(profile))
    if not path.is_file():
        raise ConfigError(str(path), "<file>", None, "no such world file")
    data = merge(read_yaml(path), nest(overrides or {}))
    world = build(WorldConfig, data, str(path))
    _check_world(world, str(path))
    return world
