"""Task registry: the task a params recipe names, from the toy world or from the paper's datasets.

from budgetsplit.config import load_params
from budgetsplit.tasks import get_task
task = get_task(load_params("toy", "math"))
"""

from __future__ import annotations

import functools

from budgetsplit.config import Params, load_world
from budgetsplit.tasks.base import Task

__all__ = ["Task", "get_task"]


def get_task(params: Params) -> Task:
    """The task of a recipe. Toy-world profiles (any with a world.yaml) build the synthetic task;
    the paper profile loads real datasets (ids or local folders in `task_options.data`)."""
    if params.task_options.data:
        from budgetsplit.paper import get_paper_task

        return get_paper_task(params.task, params.task_options)
    return _toy_task(params.profile, params.task, params.task_options.label_noise)


@functools.lru_cache(maxsize=16)
def _toy_task(profile: str, name: str, label_noise: float) -> Task:
    # Cached: a grid asks for the same task once per cell, and its pools are pure functions of the seed.
    from budgetsplit.toyworld import get_toy_task

    return get_toy_task(name, load_world(profile), label_noise=label_noise)
