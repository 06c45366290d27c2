"""budgetsplit.tasks: the one "is this the toy world?" rule, and the task a recipe gets from it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from budgetsplit.cli import main
from budgetsplit.config.params import ConfigError, ModelConfig, load_params
from budgetsplit.core.registry import toy_class
from budgetsplit.tasks import get_task, is_toy
from budgetsplit.training.models import model_source


def test_the_toy_world_is_a_profile_with_a_world_yaml():
    assert is_toy("toy") and is_toy("smoke")
    assert is_toy("toy_large")  # no world.yaml of its own: it inherits toy's
    assert not is_toy("paper") and not is_toy("no_such_profile")
    assert [main(["is-toy", p]) for p in ("toy", "toy_large", "paper", "no_such")] == [0, 0, 1, 2]
    shell = [sys.executable, "-m", "budgetsplit", "is-toy"]
    assert subprocess.run([*shell, "smoke"]).returncode == 0
    assert subprocess.run([*shell, "paper"]).returncode == 1


def test_get_task_follows_the_rule():
    p = load_params("smoke", "math", overrides={"task_options.label_noise": 0.25})
    task = get_task(p)
    assert type(task) is toy_class("math") and task.label_noise == 0.25 and task.seed == 0
    assert task.sizes == {"sft": 2000, "pref": 2000, "val": 64, "test": 64}  # smoke's world.yaml
    # A toy world's tasks are synthetic: datasets named there are an error, not silently unused.
    named = load_params("toy", "math", overrides={"task_options.data": {"sft": "/data/gsm8k"}})
    with pytest.raises(ConfigError, match=r"params/toy/math.yaml: key 'task_options.data'"):
        get_task(named)
    # model.name "toy" is the toy world's base model: only a toy world has one.
    with pytest.raises(ConfigError, match=r"world.yaml: key 'model.name' = 'toy': .*'paper'"):
        model_source(ModelConfig(name="toy"), "paper")
