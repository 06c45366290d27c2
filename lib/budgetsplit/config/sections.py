"""The sections of a study recipe, as frozen dataclasses, and the check of their values' ranges.

`Params` is one recipe: the model, the task's options, the budget grid, the methods, the seeds,
the SFT and PFT stages and the evaluation. `config.params.load_params` builds it from the YAML
layers (types and unknown keys: schema.py), then `check_ranges` rejects what types alone allow
(a cost of 0, an unknown method, a seed numpy refuses) with a `ConfigError` naming the file, the
dotted key and the value. Everyone imports these names from `budgetsplit.config.params`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from budgetsplit.config.schema import ConfigError, build, merge, to_dict
from budgetsplit.config.world import MODEL_LABEL
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.core.registry import TASKS  # the task names (one table for the whole package)

# Where PFT starts: the base model (n_sft = 0) or the SFT model; calibrated separately (pft.tuned).
REGIMES = ("from_base", "after_sft")
# Seeds numpy (and so every library here) accepts.
SEED_MAX = 2**32 - 1


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
def check_ranges(p: Params, src: str) -> None:
    """ConfigError (naming `src`, the dotted key and the value) for the first value of `p` out of
    its range: what types alone cannot say (a cost > 0, a known method, a seed numpy takes)."""

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
