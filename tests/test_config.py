"""Params loading: defaults -> YAML -> overrides, and one clear error per kind of bad input."""

import dataclasses
from pathlib import Path

import pytest
import yaml

from budgetsplit.config.params import (
    PARAMS_DIR,
    PARAMS_ENV,
    ConfigError,
    Params,
    load_params,
    load_world,
    profile_layout,
    to_dict,
    use_params_dir,
    world_path,
)
from budgetsplit.config.schema import build
from budgetsplit.core.layout import RunLayout, resolve_output_dir


def write(tmp_path: Path, data: dict, name: str = "recipe.yaml") -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data))
    return p


def test_defaults_then_yaml_then_overrides(tmp_path):
    path = write(tmp_path, {"task": "math", "pft": {"beta": 0.5}, "seeds": [1, 2]})
    p = load_params(path, overrides={"pft.learning_rate": 1e-4, "budget.budgets": [50]})
    # Records store params as to_dict gives them: the loaded params must come back from that exactly.
    assert build(Params, to_dict(p), "round trip") == p
    assert p.pft.beta == 0.5  # from YAML
    assert p.pft.learning_rate == 1e-4  # from overrides
    assert p.sft.learning_rate == 5e-5  # default
    assert p.seeds == (1, 2) and p.budget.budgets == (50.0,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.seeds = (3,)  # frozen


def test_every_shipped_recipe_loads():
    recipes = [f for f in PARAMS_DIR.glob("*/[!_]*.yaml") if f.name != "world.yaml"]
    assert recipes, "no params recipes shipped"
    for f in recipes:
        p = load_params(f)
        assert p.profile == f.parent.name, f
        assert f.stem == p.task or f.stem.startswith(f"{p.task}_"), f  # e.g. math_costs
    for f in PARAMS_DIR.glob("*/world.yaml"):
        load_world(f)


def test_a_profile_inherits_another_profiles_defaults_and_world(tmp_path):
    toy, large = load_params("toy", "math"), load_params("toy_large", "math")
    assert large.profile == "toy_large" and large.seeds == (0, 1, 2)
    assert (large.sft, large.pft, large.eval, large.model) == (
        toy.sft,
        toy.pft,
        toy.eval,
        toy.model,
    )
    assert len(large.budget.sft_fractions) > len(toy.budget.sft_fractions)
    assert load_params("toy_large", "helpful").budget.sft_fractions == (
        0.0,
        0.1,
        0.25,
        0.5,
        0.75,
        1.0,
    )
    assert world_path("toy_large") == world_path("toy") == PARAMS_DIR / "toy" / "world.yaml"
    assert load_world("toy_large") == load_world("toy")
    # A bad parent is named with the file and the key.
    folder = tmp_path / "mine"
    folder.mkdir()
    write(folder, {"inherit": "no_such_profile"}, "_defaults.yaml")
    with pytest.raises(ConfigError, match=r"_defaults.yaml.*inherit.*no_such_profile"):
        load_params(write(folder, {"task": "math"}, "math.yaml"))


def test_a_users_params_folder_builds_on_a_shipped_profile(tmp_path, monkeypatch):
    monkeypatch.delenv(PARAMS_ENV, raising=False)  # restored after the test
    mine = tmp_path / "mine"
    mine.mkdir()
    write(mine, {"inherit": "smoke", "profile": "mine", "seeds": [3]}, "_defaults.yaml")
    write(mine, {"task": "math"}, "math.yaml")
    with pytest.raises(ConfigError, match="no such params file"):
        load_params("mine", "math")  # not among the shipped profiles
    assert use_params_dir(tmp_path) == tmp_path.resolve()
    p, smoke = load_params("mine", "math"), load_params("smoke", "math")
    assert p.profile == "mine" and p.seeds == (3,) and (p.sft, p.pft) == (smoke.sft, smoke.pft)
    assert world_path("mine") == PARAMS_DIR / "smoke" / "world.yaml"
    with pytest.raises(ConfigError, match=r"key '--params' = '.*nope'.*no such params folder"):
        use_params_dir(tmp_path / "nope")
    # A user's "smoke" shadows the shipped one and may build on it.
    (tmp_path / "smoke").mkdir()
    write(tmp_path / "smoke", {"inherit": "smoke", "seeds": [5]}, "_defaults.yaml")
    write(tmp_path / "smoke", {"task": "math"}, "math.yaml")
    mine = load_params("smoke", "math")
    assert mine.seeds == (5,) and mine.profile == "smoke" and mine.sft == smoke.sft
    assert world_path("smoke") == PARAMS_DIR / "smoke" / "world.yaml"


def test_a_profile_is_named_by_its_folder_not_by_an_inherited_key(tmp_path, monkeypatch):
    """A user's profile made as docs/study.md says (`inherit: toy`) is its folder's profile: its
    records go to runs/<its name>/, not among toy's; a parent's `profile:` key is the parent's."""
    monkeypatch.delenv(PARAMS_ENV, raising=False)
    folders = {
        "mine": {"inherit": "toy"},
        "child": {"inherit": "base"},
        "base": {"inherit": "toy", "profile": "base", "seeds": [4]},  # names itself
    }
    for name, defaults in folders.items():
        (tmp_path / name).mkdir()
        write(tmp_path / name, defaults, "_defaults.yaml")
        write(tmp_path / name, {"task": "math"}, "math.yaml")
    use_params_dir(tmp_path)
    p, toy = load_params("mine", "math"), load_params("toy", "math")
    assert p.profile == "mine" and (p.seeds, p.sft, p.pft) == (toy.seeds, toy.sft, toy.pft)
    recipe = tmp_path / "mine" / "math.yaml"
    assert load_params(recipe).profile == "mine"  # by path, as `budgetsplit plan` loads it
    layout = RunLayout.of(p)
    assert layout == profile_layout("mine") == RunLayout("runs", "mine")
    assert layout.record_path("math", "c").parent == resolve_output_dir("runs") / "mine/math/cells"
    child = load_params("child", "math")
    assert child.profile == "child" and child.seeds == (4,)  # base's settings, not its name
    assert load_params("base", "math").profile == "base"  # its own key agrees with its folder
    # A `profile:` key of the profile's own that disagrees with its folder names file, key, value.
    own = {tmp_path / "mine" / "_defaults.yaml": {"inherit": "toy"}, recipe: {"task": "math"}}
    for path, data in own.items():
        write(path.parent, {**data, "profile": "toy"}, path.name)
        with pytest.raises(ConfigError) as e:
            load_params("mine", "math")
        assert e.value.source == str(path) and (e.value.key, e.value.value) == ("profile", "toy")
        assert "folder's name, 'mine'" in str(e.value)
        write(path.parent, {**data, "profile": "mine"}, path.name)  # agreeing: allowed
        assert load_params("mine", "math").profile == "mine"
    with pytest.raises(ConfigError, match=r"overrides.*'profile' = 'toy'"):
        load_params("mine", "math", overrides={"profile": "toy"})


def test_profile_layout_finds_a_profiles_runs_without_naming_a_recipe(tmp_path, monkeypatch):
    monkeypatch.delenv(PARAMS_ENV, raising=False)
    assert profile_layout("paper").profile_dir == resolve_output_dir("runs/paper") / "paper"
    assert profile_layout("toy_large") == RunLayout("runs", "toy_large")
    use_params_dir(tmp_path)
    own = tmp_path / "own"
    own.mkdir()
    write(own, {"inherit": "paper"}, "_defaults.yaml")
    assert profile_layout("own") == RunLayout("runs/paper", "own")  # no recipe: its _defaults'
    write(own, {"task": "helpful", "output_dir": str(tmp_path / "a")}, "helpful.yaml")
    assert profile_layout("own") == RunLayout(tmp_path / "a", "own")  # where its recipes write
    write(own, {"task": "math"}, "math.yaml")  # paper's runs/paper: the recipes disagree
    with pytest.raises(ConfigError) as e:
        profile_layout("own")
    assert e.value.source == str(own / "math.yaml") and e.value.key == "output_dir"
    assert "helpful.yaml" in str(e.value) and "set it once in _defaults.yaml" in str(e.value)
    assert profile_layout("own", tmp_path / "b") == RunLayout(tmp_path / "b", "own")
    with pytest.raises(ConfigError, match="'profile' = 'nope': no such profile; known: .*toy"):
        profile_layout("nope")


def test_recipe_by_profile_and_task():
    p = load_params("smoke", "math")
    assert p.task == "math" and p.profile == "smoke"


BAD = [
    ({"task": "math", "colour": "red"}, "colour", "unknown key"),
    ({"task": "math", "pft": {"betta": 1}}, "pft.betta", "unknown key"),
    ({"task": "math", "seeds": "zero"}, "seeds", "expected a list"),
    ({"task": "math", "pft": {"beta": "high"}}, "pft.beta", "expected a number"),
    ({"task": "math", "pft": {"learning_rate": "1e-5"}}, "pft.learning_rate", "expected a number"),
    ({"task": "math", "seeds": [True]}, "seeds", "expected an integer"),
    ({"task": "math", "seeds": [0, -1]}, "seeds", "a seed must be >= 0"),
    ({"task": "math", "budget": {"budgets": [float("nan")]}}, "budget.budgets", "finite number"),
    ({"task": "math", "budget": {"budgets": [float("inf")]}}, "budget.budgets", "finite number"),
    ({"task": "math", "sft": {"learning_rate": float("nan")}}, "sft.learning_rate", "finite"),
    ({"task": "math", "pft": {"learning_rate": float("inf")}}, "pft.learning_rate", "finite"),
    ({"task": "math", "pft": {"sft_weight": -0.5}}, "pft.sft_weight", "must be >= 0"),
    ({"task": "math", "pft": {"undesirable_weight": -1}}, "pft.undesirable_weight", ">= 0"),
    ({"task": "math", "budget": {"sft_fractions": [0.5, 1.5]}}, "budget.sft_fractions", "[0, 1]"),
    ({"task": "math", "budget": {"sft_fractions": [-0.1]}}, "budget.sft_fractions", "[0, 1]"),
    ({"task": "math", "budget": {"budgets": [100, 0]}}, "budget.budgets", "> 0"),
    ({"task": "math", "budget": {"budgets": [-5]}}, "budget.budgets", "> 0"),
    ({"task": "math", "budget": {"costs": {"sft": -1}}}, "budget.costs.sft", "> 0"),
    (
        {"task": "math", "budget": {"unit": "money", "cost_ratios": [2, -1]}},
        "budget.cost_ratios",
        "> 0",
    ),
    ({"task": "math", "budget": {"cost_ratios": [2]}}, "budget.cost_ratios", "unit: money"),
    ({"task": "math", "budget": {"unit": "dollars"}}, "budget.unit", "one of"),
    ({"task": "math", "budget": {"budgets": []}}, "budget.budgets", "empty grid"),
    ({"task": "math", "budget": {"sft_fractions": []}}, "budget.sft_fractions", "empty grid"),
    ({"task": "math", "seeds": []}, "seeds", "empty grid"),
    ({"task": "math", "methods": []}, "methods", "empty"),
    ({"task": "chess"}, "task", "unknown task"),
    ({"task": "math", "cold_start_pairs": 0}, "cold_start_pairs", "> 0"),
    ({"task": "math", "methods": ["dpo", "ppo"]}, "methods", "unknown PFT method"),
    ({"task": "math", "task_options": {"label_noise": 1.5}}, "task_options.label_noise", "[0, 1]"),
    ({"task": "math", "eval": {"top_p": 0}}, "eval.top_p", "(0, 1]"),
    ({"task": "math", "eval": {"temperature": -1}}, "eval.temperature", ">= 0"),
    (
        {"task": "math", "sft": {"batch_size": 10, "per_device_batch_size": 4}},
        "sft.batch_size",
        "multiple",
    ),
    ({"task": "math", "model": {"dtype": "int3"}}, "model.dtype", "one of"),
    ({"task": "math", "model": {"lora": {"r": "big"}}}, "model.lora.r", "expected an integer"),
    ({"pft": {"beta": 1}}, "<top>", "task"),
]


@pytest.mark.parametrize("data,key,problem", BAD)
def test_bad_input_names_file_key_and_value(tmp_path, data, key, problem):
    path = write(tmp_path, data)
    with pytest.raises(ConfigError) as err:
        load_params(path)
    msg = str(err.value)
    assert str(path) in msg, msg
    assert f"'{key}'" in msg, msg
    assert problem in msg, msg
    assert err.value.key == key


def test_bad_override_is_named(tmp_path):
    path = write(tmp_path, {"task": "math"})
    with pytest.raises(ConfigError, match=r"'pft.beta' = -1.*> 0"):
        load_params(path, overrides={"pft.beta": -1})


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="no such params file"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("task: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_params(lst)


def test_world_validation(tmp_path):
    path = write(tmp_path, {"pretrain": {"hidden_size": 100, "num_heads": 3}}, "world.yaml")
    with pytest.raises(ConfigError, match="pretrain.num_heads"):
        load_world(path)
    path = write(tmp_path, {"tasks": {"poetry": {}}}, "world.yaml")
    with pytest.raises(ConfigError, match="tasks.poetry"):
        load_world(path)
    path = write(tmp_path, {"n_test": 0}, "world.yaml")
    with pytest.raises(ConfigError, match="'n_test' = 0"):
        load_world(path)


def test_to_dict_is_json_ready(tmp_path):
    import json

    p = load_params(write(tmp_path, {"task": "math"}))
    assert json.loads(json.dumps(to_dict(p)))["pft"]["beta"] == p.pft.beta


def test_profile_defaults_sit_under_the_recipe(tmp_path):
    write(tmp_path, {"seeds": [7], "pft": {"beta": 0.3, "learning_rate": 1e-4}}, "_defaults.yaml")
    path = write(tmp_path, {"task": "math", "pft": {"beta": 0.9}}, "math.yaml")
    p = load_params(path)
    assert p.seeds == (7,) and p.pft.beta == 0.9 and p.pft.learning_rate == 1e-4
