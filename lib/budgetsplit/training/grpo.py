"""Online RL on verifiable rewards: the `grpo` method's stage, TRL's GRPOTrainer after SFT.

The budget left after SFT buys RL prompts (`Task.rl_pool`: prompts with their gold fields, priced
`budget.costs.rl`); for each, GRPOTrainer samples `pft.num_generations` completions from the
policy, scores every one with the task's own gold scorer (`gold_reward`: the primary metric of
`Task.score` on that row alone: math's answer, instruct's checkers, summarize's fact score,
helpful's gold reward), and moves the policy towards the completions that beat their group's mean,
with a KL term of weight `pft.kl_beta` towards the starting model. Nothing in the reward is set
per cell.

The batch counts prompts, as DPO's counts pairs: `pft.batch_size` prompts per optimizer step, so
the trainer's batch is that times `num_generations` completions, and every method takes the same
optimizer steps per annotated example; `min_steps` and the epochs (passes over the prompts, each
with fresh samples) work as for the other stages. Generation samples at temperature 1 (TRL's
default) on CPU with transformers' `generate`, and with vLLM on CUDA when it is installed
(colocated in this process; not yet run on a GPU here).

What the record keeps (`grpo_diagnostics`): the reward's mean and spread per step, the share of
prompts whose samples all scored the same (they give no gradient), the mean completion length, the
KL; with the weight change and the tokens generated (core/compute.py charges them 2N each).

    from budgetsplit.training.grpo import train_grpo
    outcome = train_grpo(model, tok, task, rl_rows, params.pft, params.model.lora, seed=0, device="cpu")
"""

from __future__ import annotations

import dataclasses
import importlib.util
import statistics
import tempfile
import time
from collections.abc import Sequence

from datasets import Dataset
from transformers import set_seed

from budgetsplit.config.params import LoraConfig, PFTConfig
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.training.lmhead import logits_bytes, use_dense_lm_head
from budgetsplit.training.train import (
    StageOutcome,
    no_ref_logps_bar,
    peft_config,
    quiet_upstream,
    run_trainer,
    trainer_args,
    weights_copy,
)

# Per-step keys of GRPOTrainer's log that the record keeps, by the name it keeps them under.
_STEP_KEYS = {
    "reward": "reward",
    "reward_std": "reward_std",
    "frac_reward_zero_std": "frac_reward_zero_std",
    "completions/mean_length": "completion_length",
    "kl": "kl",
}


def gold_reward(task, rows: Sequence[dict]):
    """GRPOTrainer's reward function: each completion scored by `task.score` on its own row (read
    through the dataset's `rl_index` column), the task's primary metric."""
    metric = task.primary_metric

    def reward(prompts, completions, rl_index, **_) -> list[float]:
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [
            float(task.score([rows[i]], [t])[metric]) for i, t in zip(rl_index, texts, strict=True)
        ]

    reward.__name__ = f"gold_{metric}"  # the trainer logs rewards/<name>/mean
    return reward


def grpo_diagnostics(log_history: Sequence[dict]) -> dict:
    """The stage's per-step reward statistics and their summary: {"per_step": {key: [...]},
    "first_reward", "final_reward" (the mean of the last tenth of steps), "mean_frac_zero_std"}."""
    steps = [h for h in log_history if "reward" in h and "train_runtime" not in h]
    per_step = {
        name: [float(h[key]) for h in steps if h.get(key) is not None]
        for key, name in _STEP_KEYS.items()
    }
    per_step = {k: v for k, v in per_step.items() if v}
    out: dict = {"n_logged_steps": float(len(steps)), "per_step": per_step}
    if steps:
        rewards = per_step["reward"]
        tail = rewards[-max(1, len(rewards) // 10) :]
        out["first_reward"] = rewards[0]
        out["final_reward"] = statistics.fmean(tail)
        if "frac_reward_zero_std" in per_step:
            out["mean_frac_zero_std"] = statistics.fmean(per_step["frac_reward_zero_std"])
    return out


def _at_length(stage: PFTConfig) -> PFTConfig:
    """`stage` with `max_length` the longest row GRPO scores: a prompt of up to `max_length`
    tokens and its completion."""
    return dataclasses.replace(stage, max_length=stage.max_length + stage.max_completion_length)


def _use_vllm(device: str) -> bool:
    return device == "cuda" and importlib.util.find_spec("vllm") is not None


def train_grpo(
    model,
    tok,
    task,
    rows: list[dict],
    pft: PFTConfig,
    lora: LoraConfig,
    seed: int,
    device: str,
) -> StageOutcome:
    """GRPO of `model` on the RL prompts `rows` (the task's RL pool rows); returns the (merged)
    model with the trainer's log, and in `throughput` the tokens it trained on and generated."""
    from trl import GRPOConfig, GRPOTrainer

    if not rows:
        raise ValueError("train_grpo needs at least one RL prompt")
    row = METHOD_TABLE["grpo"]
    t0 = time.perf_counter()
    set_seed(seed)
    before = weights_copy(model)
    g, records = pft.num_generations, task.rl_records(rows)
    if len(rows) < pft.batch_size:  # fewer prompts than a batch: one step of them all, in
        # micro-batches of at most the device's size (the prompts padded to fill the last)
        per = min(pft.per_device_batch_size, len(rows))
        batch = -(-len(rows) // per) * per
        pft = dataclasses.replace(pft, batch_size=batch, per_device_batch_size=per)
    # GRPOTrainer's sampler drops an epoch's last incomplete batch of prompts: cycle the prompts
    # to fill it, so every prompt bought is trained on in every epoch
    records += records[: -len(records) % pft.batch_size]
    # The trainer's batch is completions: num_generations per prompt, the prompts per step of pft.
    stage = dataclasses.replace(
        pft, batch_size=g * pft.batch_size, per_device_batch_size=g * pft.per_device_batch_size
    )
    with tempfile.TemporaryDirectory(prefix="budgetsplit-grpo-") as tmp:
        common = trainer_args(stage, seed, device, model, tmp, g * len(records))
        del common["max_length"]  # GRPO bounds the completion instead
        # With kl_beta > 0 the trainer loads the reference from the start model's folder, which
        # holds safetensors only (written by this package: the toy base, the SFT stage).
        args = GRPOConfig(
            loss_type=row.loss_types[0],
            beta=pft.kl_beta,
            num_generations=g,
            max_completion_length=pft.max_completion_length,
            use_vllm=_use_vllm(device),
            # vLLM in this process (TRL's default, "server", needs a `trl vllm-serve` beside it)
            vllm_mode="colocate",
            log_completions=False,
            **common,
        )
        with (
            # the logits of a micro-batch: its completions at prompt + completion length
            use_dense_lm_head(device, logits_bytes(model, _at_length(stage), 1)),
            quiet_upstream(),
            no_ref_logps_bar(),
        ):
            trainer = GRPOTrainer(
                model=model,
                reward_funcs=gold_reward(task, rows),
                args=args,
                train_dataset=Dataset.from_list(records),
                processing_class=tok,
                peft_config=peft_config(lora),
            )
        outcome = run_trainer(trainer, lora, t0, f"grpo on {len(rows)}", before)
    thr = outcome.throughput
    thr["prompts_per_s"] = len(rows) * pft.epochs / max(thr["train_runtime_s"], 1e-9)
    lengths = [h["completions/mean_length"] for h in outcome.log_history if "reward" in h]
    # every step samples batch_size x num_generations completions of the logged mean length
    thr["generated_tokens"] = round(sum(lengths) * pft.batch_size * g)
    if "tokens" in thr:  # the KL term's reference forward reads every trained token once
        thr["ref_tokens"] = thr["tokens"] if pft.kl_beta > 0 else 0
    return outcome
