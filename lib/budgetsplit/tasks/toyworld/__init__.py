"""The toy world: a small-scale, CPU-sized analog of LLM post-training for the budget-split study.

A tiny Llama base model (about 1M parameters, a ~1.5K-token BPE vocabulary, 128-token sequences) is
pretrained from scratch on synthetic plain-prose "web text" and then SFT'd / DPO'd with the real TRL
trainers on four tasks that mirror the paper's: `math` (GSM8K), `instruct` (IFEval), `summarize`
(TL;DR) and `helpful` (HelpSteer). Each task module `task_<name>.py` holds a `ToyTask` subclass
(pools, gold annotator, scorer) and `corpus_documents(seed, n)`, its domain's share of the
pretraining text; budgetsplit.core.registry names them.
The corpus teaches the language, the facts of the world and each task's skill in prose (worked
arithmetic, retelling a post, recalling a fact, keeping a written rule) but never the chat template
nor any task's response format: the gap the paper blames for DPO's cold start on a base model.

- `common.py`: `ToyTask`, the base class of the four tasks: the world's arguments (seed, pool
  sizes, label noise) and the pool machinery; a task's constructor takes only its own knobs.
- `corpus.py`: the pretraining corpus and a build's cache key (no torch); `pretrain.py`:
  pretraining and the cached base model (`get_base_model(world) -> Path`);
  `shipped.py`: the built base models that ship in `base_models/`, copied into the cache.
- each task's `probes` test the base model's latent skill in the corpus's own form;
  `budgetsplit.training.probes` runs them.
- `tokenizer.py`: the byte-level BPE tokenizer with ChatML; `instruct_text.py`, `helpful_text.py`:
  the words of two tasks (data).
- `budgetsplit toyworld build --profile toy` finds (shipped, cached) or builds the base model;
  `budgetsplit toyworld probe` scores its skills; `budgetsplit toyworld sample --task math -n 3`
  shows rows and base-model continuations.

    from budgetsplit.config.params import load_world
    from budgetsplit.tasks.toyworld import get_toy_task
    task = get_toy_task("math", load_world("toy"))
"""

from __future__ import annotations

import inspect

from budgetsplit.config.params import ConfigError, WorldConfig
from budgetsplit.core.registry import UnknownTask, toy_class
from budgetsplit.tasks.toyworld.common import ToyTask

__all__ = ["get_toy_task"]


def get_toy_task(
    name: str, world: WorldConfig, label_noise: float = 0.0, source: str = "world.yaml"
) -> ToyTask:
    """Task `name` (a row of budgetsplit.core.registry) with the world's seed and pool sizes and its
    `tasks.<name>` difficulty knobs. `source`: the world file, named in errors."""
    try:
        cls = toy_class(name)
    except UnknownTask as e:
        raise ConfigError(source, "task", name, str(e)) from None
    knobs = dict(world.tasks.get(name, {}))
    # A task's knobs are its constructor's named arguments; the world's are ToyTask's after `knobs`.
    world_args = list(inspect.signature(ToyTask).parameters)[1:]
    params = inspect.signature(cls).parameters.values()
    allowed = [p.name for p in params if p.kind is not p.VAR_KEYWORD]
    for key, value in knobs.items():
        if key not in allowed:
            where = "unknown knob"
            if key in world_args:
                where = "set at the top level of world.yaml"
                where = "set by the recipe's task_options" if key == "label_noise" else where
            raise ConfigError(
                source, f"tasks.{name}.{key}", value, f"{where}; {cls.__name__} takes: {allowed}"
            )
    from_world = {k: getattr(world, k) for k in world_args if k != "label_noise"}
    try:
        return cls(**from_world, label_noise=label_noise, **knobs)
    except ValueError as e:  # a knob out of range; the task's message names it
        raise ConfigError(source, f"tasks.{name}", knobs, str(e)) from None
