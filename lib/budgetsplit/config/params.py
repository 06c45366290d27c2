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
Loading rejects unknown keys, wrong types and out-of-range values with one `ConfigError` naming the
file, the dotted key and the value (non-finite floats included: schema.py).

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

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
from budgetsplit.config.world import MODEL_LABEL, TOY
from budgetsplit.config.world import PretrainConfig as PretrainConfig  # re-exported: the world's
from budgetsplit.config.world import WorldConfig as WorldConfig  # settings are config's API too
from budgetsplit.config.world import load_world as load_world
from budgetsplit.config.world import sized_world as sized_world
from budgetsplit.core.layout import RunLayout, project_root
from budgetsplit.core.methods import METHODS as METHODS  # re-exported: the PFT method names
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.core.registry import TASKS  # the task names (one table for the whole package)

# The source checkout this package runs from (tests and benchmarks find scripts through it);
# None in an installed copy (layout.project_root owns the rule).
ROOT: Path | None = project_root()
# Where PFT starts: the base model (n_sft = 0) or the SFT model; calibrated separately (pft.tuned).
REGIMES = ("from_base", "after_sft")
# Seeds numpy (and so every library here) accepts.
SEED_MAX = 2**32 - 1
# model.name of a real model shipped as a GGUF file in a PyPI wheel (training/gguf.py's table).
GGUF = "gguf:"


# --------------------------------------------------------------------------------- the sections
@dataclass(frozen=True)
class LoraConfig:
    enabled: bool = False
    r: int = 32
    alpha: int = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = (
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    )


@dataclass(frozen=True)
class ModelConfig:
    # "toy": the toy world's base model built from world.yaml; else a Hub id or a local folder.
    name: str = "toy"
    revision: str | None = None
    trust_remote_code: bool = False
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    lora: LoraConfig = field(default_factory=LoraConfig)


@dataclass(frozen=True)
class CostConfig:
    sft: float = 1.0  # cost of one SFT demonstration
    pref: float = 1.0  # cost of one preference pair
    # cost of one RL prompt with its answer key or checker (grpo; docs/study.md argues the default)
    rl: float = 1.0


@dataclass(frozen=True)
class BudgetConfig:
    # "examples": budgets count annotated examples (both costs 1); "money": budgets are spent at costs.
    unit: Literal["examples", "money"] = "examples"
    budgets: tuple[float, ...] = (100, 300, 1000)
    sft_fractions: tuple[float, ...] = (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0)
    costs: CostConfig = field(default_factory=CostConfig)
    # Money budgets only: each ratio r gives a grid with c_sft = r * costs.pref (costs.rl for grpo).
    cost_ratios: tuple[float, ...] = ()
    # SFT and preference subsets never share a prompt.
    disjoint_prompts: bool = True


@dataclass(frozen=True)
class StageConfig:
    """One training stage (SFT). PFT extends it with the preference-loss settings."""

    learning_rate: float = 5e-5
    epochs: float = 2.0
    batch_size: int = 16  # effective batch (per-device x accumulation)
    per_device_batch_size: int = 16
    max_length: int = 1024
    lr_scheduler: str = "cosine"
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0
    optim: str = "adamw_torch"
    completion_only_loss: bool = False  # the paper trains SFT on the full text
    # At least this many optimizer steps, repeating the data when it is too small for `epochs` to
    # give them (0: epochs alone decide): a stage of 5 examples would otherwise take 1-2 steps.
    min_steps: int = 0


@dataclass(frozen=True)
class PFTConfig(StageConfig):
    learning_rate: float = 5e-6
    beta: float = 0.1
    # Weight of the SFT term in the loss of the methods that add one (dpo_sft: core/methods.py).
    sft_weight: float = 1.0
    # KTO's weights on desirable and undesirable examples.
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0
    precompute_ref_log_probs: bool = True
    # Online RL (grpo, core/methods.py): completions sampled per prompt, their length, and the KL
    # coefficient towards the starting model (GRPO's beta, a different quantity from DPO's).
    num_generations: int = 4
    max_completion_length: int = 256
    kl_beta: float = 0.04
    # Calibrated settings over the ones above, by method and regime (REGIMES), e.g.
    # {"dpo": {"from_base": {"learning_rate": 2e-3}}}; written by `budgetsplit calibrate`.
    tuned: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalConfig:
    split: Literal["val", "test"] = "test"
    n_examples: int | None = None  # None: the whole split
    max_new_tokens: int = 256
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    batch_size: int = 64


@dataclass(frozen=True)
class TaskConfig:
    label_noise: float = 0.0  # probability that the annotator flips a preference pair
    n_val: int = 200  # training examples held out for validation (paper profile)
    # Paper profile: dataset ids or local folders, by role (sft, pref, test, ...).
    data: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Params:
    task: str
    profile: str = "toy"
    model: ModelConfig = field(default_factory=ModelConfig)
    task_options: TaskConfig = field(default_factory=TaskConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    methods: tuple[str, ...] = ("dpo",)
    seeds: tuple[int, ...] = (0,)
    sft: StageConfig = field(default_factory=StageConfig)
    pft: PFTConfig = field(default_factory=PFTConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    cpu_threads: int | None = None  # None: all cores
    # Preference pairs the cold-start diagnostic scores under each starting model (an evenly
    # spaced sample of the pool). A diagnostic, not a result setting: no cell trains or scores
    # differently for it, so records keep their keys when it changes.
    cold_start_pairs: int = 200
    output_dir: str = "runs"
    # The model axis: label -> `model` settings over the section above (e.g. {"qwen1_5b": {"name":
    # "Qwen/Qwen2.5-1.5B"}}); empty: one model, `model`. Each label runs the whole grid
    # (`model_params`); its cells carry the label (Cell.model). Not a result setting itself: the
    # model it gives is.
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_label: str | None = None  # which of `models` these params are for (`for_model`)


# ------------------------------------------------------------------------------------ validation
def _check_ranges(p: Params, src: str) -> None:
    def bad(key: str, value: Any, problem: str) -> None:
        raise ConfigError(src, key, value, problem)

    if p.task not in TASKS:
        bad("task", p.task, f"unknown task; known: {', '.join(TASKS)}")
    if not p.methods:
        bad("methods", p.methods, "empty: at least one PFT method")
    known_methods = ", ".join(METHOD_TABLE)  # the rows of the method table (core/methods.py)
    for m in p.methods:
        if m not in METHOD_TABLE:
            bad("methods", m, f"unknown PFT method; known: {known_methods}")
    b = p.budget
    if not b.budgets:
        bad("budget.budgets", b.budgets, "empty grid: give at least one budget")
    if not b.sft_fractions:
        bad("budget.sft_fractions", b.sft_fractions, "empty grid: give at least one fraction")
    if not p.seeds:
        bad("seeds", p.seeds, "empty grid: give at least one seed")
    for s in p.seeds:
        # numpy takes seeds in [0, 2**32 - 1] and fails deep inside a cell otherwise.
        if not 0 <= s <= SEED_MAX:
            bad("seeds", s, f"a seed must be >= 0 and <= {SEED_MAX} (numpy's range)")
    for x in b.budgets:
        if x <= 0:
            bad("budget.budgets", x, "a budget must be > 0")
    for f in b.sft_fractions:
        if not 0.0 <= f <= 1.0:
            bad("budget.sft_fractions", f, "a fraction must lie in [0, 1]")
    for k in ("sft", "pref", "rl"):
        c = getattr(b.costs, k)
        if c <= 0:
            bad(f"budget.costs.{k}", c, "a cost must be > 0")
    for r in b.cost_ratios:
        if r <= 0:
            bad("budget.cost_ratios", r, "a cost ratio must be > 0")
    if b.cost_ratios and b.unit != "money":
        bad("budget.cost_ratios", b.cost_ratios, "cost ratios need budget.unit: money")
    if not 0.0 <= p.task_options.label_noise <= 1.0:
        bad("task_options.label_noise", p.task_options.label_noise, "must lie in [0, 1]")
    for name in ("sft", "pft"):
        st = getattr(p, name)
        for key in ("learning_rate", "epochs", "batch_size", "per_device_batch_size", "max_length"):
            if getattr(st, key) <= 0:
                bad(f"{name}.{key}", getattr(st, key), "must be > 0")
        if st.batch_size % st.per_device_batch_size:
            bad(f"{name}.batch_size", st.batch_size, "must be a multiple of per_device_batch_size")
        if not 0.0 <= st.warmup_ratio < 1.0:
            bad(f"{name}.warmup_ratio", st.warmup_ratio, "must lie in [0, 1)")
        if st.min_steps < 0:
            bad(f"{name}.min_steps", st.min_steps, "must be >= 0")
    if p.pft.beta <= 0:
        bad("pft.beta", p.pft.beta, "must be > 0")
    if p.pft.num_generations < 2:  # one sample per prompt has no group to compare it with
        bad("pft.num_generations", p.pft.num_generations, "must be >= 2")
    if p.pft.max_completion_length <= 0:
        bad("pft.max_completion_length", p.pft.max_completion_length, "must be > 0")
    if p.pft.kl_beta < 0:
        bad("pft.kl_beta", p.pft.kl_beta, "must be >= 0 (0: no KL term)")
    for m, by_regime in p.pft.tuned.items():
        if m not in METHOD_TABLE:
            bad(f"pft.tuned.{m}", by_regime, f"unknown PFT method; known: {known_methods}")
        for regime, changes in by_regime.items():
            key = f"pft.tuned.{m}.{regime}"
            if regime not in REGIMES:
                bad(key, changes, f"unknown regime; known: {', '.join(REGIMES)}")
            if "tuned" in changes:
                bad(f"{key}.tuned", changes["tuned"], "cannot be nested")
            pft = build(PFTConfig, {**to_dict(p.pft), **changes}, src, f"{key}.")
            for k in ("learning_rate", "beta", "sft_weight"):
                if getattr(pft, k) <= 0:
                    bad(f"{key}.{k}", getattr(pft, k), "must be > 0")
    for key in ("sft_weight", "desirable_weight", "undesirable_weight"):
        if getattr(p.pft, key) < 0:  # a negative weight turns a loss term into one to maximise
            bad(f"pft.{key}", getattr(p.pft, key), "must be >= 0")
    e = p.eval
    if e.temperature < 0:
        bad("eval.temperature", e.temperature, "must be >= 0 (0 means greedy)")
    if not 0.0 < e.top_p <= 1.0:
        bad("eval.top_p", e.top_p, "must lie in (0, 1]")
    for key in ("max_new_tokens", "batch_size"):
        if getattr(e, key) <= 0:
            bad(f"eval.{key}", getattr(e, key), "must be > 0")
    if e.n_examples is not None and e.n_examples <= 0:
        bad("eval.n_examples", e.n_examples, "must be > 0 or null")
    if p.cpu_threads is not None and p.cpu_threads <= 0:
        bad("cpu_threads", p.cpu_threads, "must be > 0 or null")
    if p.cold_start_pairs <= 0:
        bad("cold_start_pairs", p.cold_start_pairs, "must be > 0")
    for label, over in p.models.items():
        if not MODEL_LABEL.fullmatch(str(label)):
            bad(f"models.{label}", over, "a label is letters, digits and _ (it is in cell ids)")
        if not isinstance(over, dict):
            bad(f"models.{label}", over, "must be a mapping of model settings, e.g. {name: ...}")
        build(ModelConfig, merge(to_dict(p.model), over), src, f"models.{label}.")
    if p.model_label is not None and p.model_label not in p.models:
        known = ", ".join(p.models) or "none: `models` is empty"
        bad("model_label", p.model_label, f"not a label of `models`; known: {known}")


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
    _check_ranges(params, src)
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
            _check_ranges(build(Params, {**layer, "task": task}, str(path)), str(path))
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
