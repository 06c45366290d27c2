"""The task a recipe names, from the toy world or from the paper's datasets, and the one rule that
tells the two apart.

A profile is **the toy world** when a `world.yaml` is found in its inherit chain
(`config.world_path`): `params/toy`, `params/smoke` and `params/toy_large` (which inherits toy's)
are; `params/paper` is not. `is_toy(profile)` is that rule, defined here once; everything that
behaves differently in the toy world asks it (task construction here, the base model for
`model.name: toy` in models.py, cells shared across profiles of one world in records.py, the CPU
time defaults in grid.py, the toy base-model build in run_all.sh through the command below).
In the toy world the tasks are the world's synthetic ones (`task_options.data` must stay empty);
elsewhere they read the paper's datasets, `task_options.data` or each task's defaults.

    from budgetsplit.config.params import load_params
    from budgetsplit.tasks import get_task, is_toy
    task = get_task(load_params("toy", "math"))

    budgetsplit is-toy PROFILE     # exit 0: toy world, 1: not (for shell scripts)
"""

from __future__ import annotations

import functools

from budgetsplit.config.params import ConfigError, Params, load_world, recipe_path, world_path
from budgetsplit.tasks.interface import Task

__all__ = ["Task", "get_task", "is_toy"]


def is_toy(profile: str) -> bool:
    """Whether `profile` is the toy world: a world.yaml in its inherit chain (see the docstring)."""
    return world_path(profile).is_file()


def get_task(params: Params) -> Task:
    """The task of a recipe: the toy world's synthetic task when its profile is the toy world,
    else the paper's task on the datasets `task_options.data` names (defaults: the paper's)."""
    if not is_toy(params.profile):
        # Every task module imports this package (tasks.interface), so the task families are
        # imported when asked for, not at the top: that would be a cycle (and lm-eval's import).
        from budgetsplit.tasks.paper import get_paper_task

        return get_paper_task(params.task, params.task_options)
    if params.task_options.data:
        raise ConfigError(
            str(recipe_path(params.profile, params.task)),
            "task_options.data",
            params.task_options.data,
            f"profile {params.profile!r} is a toy world ({world_path(params.profile)}): its tasks "
            "are synthetic; name datasets only in a profile without a world.yaml",
        )
    return _toy_task(params.profile, params.task, params.task_options.label_noise)


@functools.lru_cache(maxsize=16)
def _toy_task(profile: str, name: str, label_noise: float) -> Task:
    # Cached: a grid asks for the same task once per cell, and its pools are pure functions of the seed.
    from budgetsplit.tasks.toyworld import get_toy_task  # see get_task: not at the top

    world = world_path(profile)
    return get_toy_task(name, load_world(world), label_noise=label_noise, source=str(world))
