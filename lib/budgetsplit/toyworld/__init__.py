"""The toy world: a small-scale, CPU-sized analog of LLM post-training for the budget-split study.

A tiny Llama base model (about 1M parameters, a ~1.5K-token BPE vocabulary, 128-token sequences) is
pretrained from scratch on synthetic plain-prose "web text" and then SFT'd / DPO'd with the real TRL
trainers on four tasks that mirror the paper's: `math` (GSM8K), `instruct` (IFEval), `summarize`
(TL;DR) and `helpful` (HelpSteer). Each task module `task_<name>.py` holds a `Task` subclass (pools,
gold annotator, scorer) and `corpus_documents(seed, n)`, its domain's share of the pretraining text.
The corpus teaches the language and the facts of the world but never the chat template nor any
task's response format: the gap the paper blames for DPO's cold start on a base model.

- `base.py`: corpus, pretraining and the cached base model (`get_base_model(world) -> Path`).
- `tokenizer.py`: the byte-level BPE tokenizer with ChatML.
- `python -m budgetsplit.toyworld build --profile toy` builds (or finds) the base model;
  `python -m budgetsplit.toyworld sample --task math -n 3` shows rows and base-model continuations.

    from budgetsplit.config import load_world
    from budgetsplit.toyworld import get_toy_task
    task = get_toy_task("math", load_world("toy"))
"""

from __future__ import annotations

import inspect
from importlib import import_module

from budgetsplit.config import ConfigError, WorldConfig
from budgetsplit.tasks.base import Task

__all__ = ["TASK_CLASSES", "get_toy_task", "task_class"]

_CLASS_PATHS = {
    "math": ("task_math", "MathTask"),
    "instruct": ("task_instruct", "InstructTask"),
    "summarize": ("task_summarize", "SummarizeTask"),
    "helpful": ("task_helpful", "HelpfulTask"),
}
# Constructor arguments the world sets at its top level (or the recipe sets), never per task.
_WORLD_ARGS = ("seed", "n_sft_pool", "n_pref_pool", "n_val", "n_test", "label_noise")
_SOURCE = "world.yaml"


def task_class(name: str) -> type[Task]:
    """The toy task class called `name`, imported on first use."""
    if name not in _CLASS_PATHS:
        raise ConfigError(
            _SOURCE, "task", name, f"unknown toy task; known: {', '.join(_CLASS_PATHS)}"
        )
    module, cls = _CLASS_PATHS[name]
    return getattr(import_module(f"{__name__}.{module}"), cls)


def __getattr__(attr: str):
    # TASK_CLASSES imports the four task modules only when asked for (they are slow-ish to import).
    if attr == "TASK_CLASSES":
        return {name: task_class(name) for name in _CLASS_PATHS}
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")


def get_toy_task(name: str, world: WorldConfig, label_noise: float = 0.0) -> Task:
    """Task `name` with the world's seed and pool sizes and its `tasks.<name>` difficulty knobs."""
    cls = task_class(name)
    knobs = dict(world.tasks.get(name, {}))
    params = inspect.signature(cls).parameters
    allowed = [p for p in params if p not in _WORLD_ARGS]
    for key, value in knobs.items():
        if key not in allowed:
            where = "set at the top level of world.yaml" if key in _WORLD_ARGS else "unknown knob"
            raise ConfigError(
                _SOURCE, f"tasks.{name}.{key}", value, f"{where}; {cls.__name__} takes: {allowed}"
            )
    try:
        return cls(
            seed=world.seed,
            n_sft_pool=world.n_sft_pool,
            n_pref_pool=world.n_pref_pool,
            n_val=world.n_val,
            n_test=world.n_test,
            label_noise=label_noise,
            **knobs,
        )
    except ValueError as e:  # a knob out of range; the task's message names it
        raise ConfigError(_SOURCE, f"tasks.{name}", knobs, str(e)) from None
