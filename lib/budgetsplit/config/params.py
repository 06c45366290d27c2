"""Typed, frozen configuration: defaults -> params YAML -> keyword overrides.

A study recipe lives in `params/<profile>/<task>.yaml` and loads into `Params`, on top of the
profile's shared `params/<profile>/_defaults.yaml` when there is one (which may start from another
profile's with `inherit: <profile>`); the toy world's base model and task generators are described
once per profile in `params/<profile>/world.yaml` (or the inherited profile's) and load into
`WorldConfig` (world.py; re-exported here). A recipe's profile (`Params.profile`, which names its folder under `output_dir`)
is the name of the folder it is loaded from; a `profile:` key may only repeat it. Between the
defaults and the recipe sits the calibration written by `budgetsplit calibrate`,
`params/<profile>/calibration/<task>.yaml` (the nearest profile's in the inheritance chain):
defaults -> calibration -> recipe -> overrides. PFT settings calibrated per method and starting
regime live in `pft.tuned`; a cell reads its own through `pft_settings`.
The model axis: `models:` (label -> `model` settings over the `model` section) makes the grid run
once per model (`model_params`, `for_model`; cells carry the label); a layer's `models: {}` clears
it.
The sections (`Params` and its parts) and the check of their ranges live in sections.py,
re-exported here. Loading rejects unknown keys, wrong types and out-of-range values with one
`ConfigError` naming the file, the dotted key and the value (non-finite floats included: schema.py).

The valid `methods:` are the rows of the PFT method table, `budgetsplit.core.methods` (`METHODS`:
their names); the valid tasks, those of the task table, `budgetsplit.core.registry` (`TASKS`).
Where profiles live (the shipped params/, a user's `--params DIR`, inheritance): `profiles.py`.
Where a profile's runs are, with no recipe at hand (claims, the advisor, the figures):
`profile_layout`.

    from budgetsplit.config.params import load_params, profile_layout
    p = load_params("toy", "math", overrides={"pft.beta": 0.5, "seeds": [0, 1]})
    profile_layout("paper").profile_dir       # <root>/runs/paper/paper
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from budgetsplit.config.profiles import (  # re-exported: where profiles live is config's public API too
    PARAMS_DIR as PARAMS_DIR,
)
from budgetsplit.config.profiles import PARAMS_ENV as PARAMS_ENV
from budgetsplit.config.profiles import calibration_path as calibration_path
from budgetsplit.config.profiles import existing_profile_dir as existing_profile_dir
from budgetsplit.config.profiles import params_dir as params_dir
from budgetsplit.config.profiles import profile_chain as _profile_chain
from budgetsplit.config.profiles import profile_dir as profile_dir
from budgetsplit.config.profiles import profiles as profiles
from budgetsplit.config.profiles import recipe_path as recipe_path
from budgetsplit.config.profiles import recipe_paths as recipe_paths
from budgetsplit.config.profiles import use_params_dir as use_params_dir
from budgetsplit.config.profiles import world_path as world_path
from budgetsplit.config.schema import ConfigError, build, merge, nest, read_yaml
from budgetsplit.config.schema import replace as replace  # re-exported: config's public API
from budgetsplit.config.schema import to_dict as to_dict
from budgetsplit.config.sections import REGIMES as REGIMES  # re-exported: the sections of a
from budgetsplit.config.sections import SEED_MAX as SEED_MAX  # recipe are config's public API
from budgetsplit.config.sections import BudgetConfig as BudgetConfig
from budgetsplit.config.sections import CostConfig as CostConfig
from budgetsplit.config.sections import EvalConfig as EvalConfig
from budgetsplit.config.sections import LoraConfig as LoraConfig
from budgetsplit.config.sections import ModelConfig as ModelConfig
from budgetsplit.config.sections import Params as Params
from budgetsplit.config.sections import PFTConfig as PFTConfig
from budgetsplit.config.sections import StageConfig as StageConfig
from budgetsplit.config.sections import TaskConfig as TaskConfig
from budgetsplit.config.sections import check_ranges
from budgetsplit.config.world import TOY
from budgetsplit.config.world import PretrainConfig as PretrainConfig  # re-exported: the world's
from budgetsplit.config.world import WorldConfig as WorldConfig  # settings are config's API too
from budgetsplit.config.world import load_world as load_world
from budgetsplit.config.world import sized_world as sized_world
from budgetsplit.core.layout import RunLayout, project_root
from budgetsplit.core.methods import METHODS as METHODS  # re-exported: the PFT method names

# The source checkout this package runs from (tests and benchmarks find scripts through it);
# None in an installed copy (layout.project_root owns the rule).
ROOT: Path | None = project_root()
# model.name of a real model shipped as a GGUF file in a PyPI wheel (training/gguf.py's table).
GGUF = "gguf:"


def load_params(
    profile_or_path: str | Path,
    task: str | None = None,
    overrides: dict[str, Any] | None = None,
    calibrated: bool = True,
) -> Params:
    """Load `params/<profile>/<task>.yaml` (or a YAML path), then apply dotted-key overrides. The
    profile is the name of the recipe's folder (a `profile:` key in the folder's own files or the
    overrides must repeat it; one inherited from another profile is ignored).
    `calibrated=False` leaves out the calibration layer (calibration itself starts from the priors)."""
    path = Path(profile_or_path) if task is None else recipe_path(str(profile_or_path), task)
    if not path.is_file():
        raise ConfigError(str(path), "<file>", None, "no such params file")
    folder = Path(os.path.abspath(path.parent))  # so that "." and ".." give their folder's name
    src = str(path) if not overrides else f"{path} (with overrides {sorted(overrides)})"
    # A profile's shared settings (params/<profile>/_defaults.yaml) sit under each of its recipes.
    data = _profile_defaults(folder) if path.name != "_defaults.yaml" else {}
    recipe = _drop_profile(read_yaml(path), str(path), folder.name)
    if calibrated and path.name != "_defaults.yaml":
        data = _layer(data, _calibration(folder, recipe.get("task", data.get("task"))))
    over = _drop_profile(nest(overrides or {}), src, folder.name)
    data = _layer(_layer(data, recipe), over) | {"profile": folder.name}
    params = build(Params, data, src)
    check_ranges(params, src)
    return params


def _layer(data: dict, layer: dict) -> dict:
    """`layer` merged over `data`; a layer's `models: {}` clears the model axis below it (merging
    could only add models), so `--set models={}` runs a recipe's one `model`."""
    if layer.get("models") == {}:
        data = {k: v for k, v in data.items() if k != "models"}
    return merge(data, layer)


def _drop_profile(layer: dict, src: str, name: str, own: bool = True) -> dict:
    """`layer` (read from `src`) without its `profile:` key. The folder names the profile, `name`:
    in the profile's `own` files (and the overrides) a key that disagrees is a mistake to report;
    in a parent profile's files it names the parent and is ignored."""
    value = layer.get("profile", name)
    if own and value != name:
        raise ConfigError(
            src,
            "profile",
            value,
            f"a profile's name is its folder's name, {name!r}: remove the key (or rename the "
            "folder; for runs of their own, set another output_dir)",
        )
    return {k: v for k, v in layer.items() if k != "profile"}


def _calibration(folder: Path, task: str | None) -> dict:
    """The calibration layer of `task`'s recipes in `folder` (checked on its own, so an error names
    its file), from the nearest profile of the inheritance chain that has one; {} if none."""
    for f in _profile_chain(folder):
        path = calibration_path(f, task)
        if path.is_file():
            layer = _drop_profile(read_yaml(path), str(path), folder.name, own=f == folder)
            check_ranges(build(Params, {**layer, "task": task}, str(path)), str(path))
            return layer
    return {}


def pft_settings(params: Params, method: str, n_sft: int) -> PFTConfig:
    """The PFT settings a cell trains with: `params.pft` with the calibrated ones of its method and
    starting regime (from the base model when n_sft = 0, else after SFT) over them."""
    regime = REGIMES[0] if n_sft == 0 else REGIMES[1]
    return replace(params.pft, tuned={}, **params.pft.tuned.get(method, {}).get(regime, {}))


def model_params(params: Params) -> list[Params]:
    """The params of each model of the model axis, in `models` order (`for_model`); `[params]`
    for a recipe of one model (empty `models`, or params already for one label)."""
    if not params.models or params.model_label is not None:
        return [params]
    return [for_model(params, label) for label in params.models]


def for_model(params: Params, label: str | None) -> Params:
    """`params` for the model `label` of `params.models` (its settings over `model`); for None,
    `params` themselves, which must then be of one model. ConfigError for an unknown label."""
    if label is None:
        if params.models and params.model_label is None:
            raise ConfigError(
                "params",
                "models",
                list(params.models),
                "these params are of several models: name one (a cell's Cell.model, a "
                "notebook's `model`, --model)",
            )
        return params
    if label == params.model_label:
        return params
    if label not in params.models:
        known = ", ".join(params.models) or "none: `models` is empty"
        raise ConfigError("params", "models", label, f"unknown model label; known: {known}")
    model = build(ModelConfig, merge(to_dict(params.model), params.models[label]), "params")
    return replace(params, model=model, model_label=label)


def profile_recipes(profile: str) -> list[Params]:
    """The params of every recipe in a profile's folder (recipe_paths' order)."""
    return [load_params(path) for path in recipe_paths(existing_profile_dir(profile))]


def profile_models(profile: str) -> list[str]:
    """The labels of a profile's model axis, over its recipes in order; [] for one model."""
    return list(dict.fromkeys(label for p in profile_recipes(profile) for label in p.models))


def model_names(recipes: list[Params]) -> list[str]:
    """The `model.name` of every model of `recipes` (over their model axes), in order, once each."""
    return list(dict.fromkeys(mp.model.name for p in recipes for mp in model_params(p)))


def _profile_defaults(folder: Path) -> dict:
    """The _defaults.yaml of `folder` merged over those of the profiles it inherits from, without
    `inherit:` and `profile:` (a parent's name is not the child's: `load_params`)."""
    data: dict = {}
    for f in reversed(_profile_chain(folder)):
        path = f / "_defaults.yaml"
        if path.is_file():
            layer = _drop_profile(read_yaml(path), str(path), folder.name, own=f == folder)
            layer.pop("inherit", None)
            data = merge(data, layer)
    return data


def profile_layout(profile: str, output_dir: str | Path | None = None) -> RunLayout:
    """Where a profile's runs are, found without naming a recipe: `RunLayout(output_dir, profile)`
    with the output_dir its recipes load with (they must agree; a profile without recipes: its
    _defaults.yaml chain's), or `output_dir` when given. ConfigError for an unknown profile, or
    naming a recipe whose output_dir differs from another's.

        profile_layout("paper").record_paths("math")     # paper's records, under runs/paper/paper/
    """
    if output_dir is not None:
        return RunLayout(output_dir, profile)
    folder = existing_profile_dir(profile)
    default = _profile_defaults(folder).get("output_dir", Params.output_dir)
    where: dict[str, Path] = {}  # output_dir -> the first recipe loading with it
    for path in recipe_paths(folder):
        out = load_params(path).output_dir
        if where and out not in where:
            seen, seen_in = next(iter(where.items()))
            raise ConfigError(
                str(path),
                "output_dir",
                out,
                f"the recipes of profile {profile!r} write to several output_dirs ({seen!r} in "
                f"{seen_in.name}): set it once in _defaults.yaml, or pass the output_dir to use",
            )
        where.setdefault(out, path)
    return RunLayout(next(iter(where), default), profile)


def toy_size(name: str) -> tuple[bool, str | None]:
    """Whether a model.name names a toy base model, and which size: "toy" -> (True, None),
    "toy:m3" -> (True, "m3"), a Hub id or folder -> (False, None). The one reading of the name."""
    if name == TOY:
        return True, None
    if name.startswith(f"{TOY}:"):
        return True, name[len(TOY) + 1 :]
    return False, None


def made_here(name: str) -> bool:
    """Whether a model.name is made on this machine (a toy base model, built or shipped; a GGUF
    model, converted), not fetched from the Hub or read from a folder."""
    return toy_size(name)[0] or name.startswith(GGUF)
