"""The two training stages of a cell: SFT with TRL's SFTTrainer, then preference finetuning.

PFT methods are the rows of `budgetsplit.core.methods` (names: `config.params.METHODS`); each row
names its TRL 1.x trainer family, and each family has its glue here (`_TRAINERS`):

- dpo (dpo, ipo, dpo_sft): DPOTrainer with the row's loss types (["sigmoid"]; ["ipo"], where beta
  is IPO's tau; ["sigmoid", "sft"]) and, with the SFT term, loss_weights [1, pft.sft_weight]
- grpo (grpo): not here; online RL trains on prompts, not pairs (training/grpo.py)
- kto (kto): KTOTrainer on the pairs unpaired as TRL does (chosen -> desirable, rejected ->
  undesirable), at twice the batch size (the row's `rows_per_pair`): unpairing doubles the rows, so
  KTO takes DPO's optimizer steps per annotated pair (each batch holds as many pairs' worth of rows)

A stage too small for its epochs to give `min_steps` optimizer steps trains `min_steps` steps,
repeating its data (Trainer's max_steps); warmup is a ratio of the steps actually taken, and is
shifted one step (`_warmup_from_step_one`) so that no step trains at lr 0.

PFT starts from the SFT model (the base model when n_sft = 0), and that starting model, frozen, is
the reference: precomputed reference log-probs from it before the first step, a frozen copy, or
(with LoRA) the same weights with the adapter disabled. With LoRA the SFT adapter is merged into the
weights before PFT puts a fresh adapter on, as in the paper. Off CUDA, the trainers score tokens
with `budgetsplit.training.lmhead`'s dense LM head rather than TRL's chunked one (faster there).

Cells train their SFT stage through `budgetsplit.training.stages`, which caches it on disk.

    model, tok = load_model(params.model, params.profile, "cpu")
    sft = train_sft(model, tok, task.sft_records(sft_rows), params.sft, params.model.lora, 0, "cpu")
    outcome = train_pft(sft.model, tok, task.pref_records(pref_rows), "dpo", params.pft, params.model.lora, 0, "cpu")
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import PrinterCallback, ProgressCallback, TrainerCallback, set_seed
from transformers.utils.notebook import NotebookProgressCallback

from budgetsplit.config.params import ConfigError, LoraConfig, PFTConfig, StageConfig
from budgetsplit.core.compute import ref_tokens
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.core.methods import Method
from budgetsplit.core.progress import library_bars, progress
from budgetsplit.core.threads import cpu_share_callback
from budgetsplit.training.lmhead import logits_bytes, use_dense_lm_head
from budgetsplit.training.models import bf16_supported, n_parameters
from budgetsplit.training.refcache import dpo_trainer_class

# Below this size activations are cheap and recomputing them (gradient checkpointing) only costs time.
_CHECKPOINTING_MIN_PARAMS = 500_000_000


@dataclass
class StageOutcome:
    """A trained model with what its trainer logged, its optimizer steps, and how far it moved the
    weights (`weight_change`: ||W_after - W_before|| / ||W_before|| over every weight; None for
    models too large to keep a copy of)."""

    model: Any
    log_history: list[dict] = field(default_factory=list)
    wall_s: float = 0.0
    throughput: dict[str, float] = field(default_factory=dict)
    steps: int = 0
    weight_change: float | None = None


# Models up to this size keep a CPU copy of their weights during a stage to measure how far it moved
# them (a few MB for the toy model); larger ones (the paper's, LoRA-trained) record None.
_WEIGHT_CHANGE_MAX_PARAMS = 200_000_000


def weights_copy(model) -> dict[str, torch.Tensor] | None:
    if n_parameters(model) > _WEIGHT_CHANGE_MAX_PARAMS:
        return None
    return {k: v.detach().float().cpu().clone() for k, v in model.state_dict().items()}


def _weight_change(before: dict[str, torch.Tensor] | None, model) -> float | None:
    """Relative L2 change of the weights `before` had, in `model` (merged: the same names)."""
    if before is None:
        return None
    after = model.state_dict()
    diff = sum(float((after[k].detach().float().cpu() - v).pow(2).sum()) for k, v in before.items())
    norm = sum(float(v.pow(2).sum()) for v in before.values())
    return (diff / norm) ** 0.5 if norm else None


def peft_config(lora: LoraConfig):
    if not lora.enabled:
        return None
    from peft import LoraConfig as PeftLoraConfig

    return PeftLoraConfig(
        r=lora.r,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=list(lora.target_modules),
        task_type="CAUSAL_LM",
    )


def min_steps_override(stage: StageConfig, n_rows: int) -> int:
    """Trainer's `max_steps` for a stage of `n_rows` rows: `stage.min_steps` when its epochs would
    give fewer optimizer steps (counted as Trainer counts them), else -1 (epochs decide)."""
    accum = stage.batch_size // stage.per_device_batch_size
    per_epoch = max(1, math.ceil(n_rows / stage.per_device_batch_size) // accum)
    return stage.min_steps if math.ceil(stage.epochs * per_epoch) < stage.min_steps else -1


def trainer_args(
    stage: StageConfig, seed: int, device: str, model, output_dir: str, n_rows: int
) -> dict:
    """Keyword arguments shared by SFTConfig, DPOConfig and KTOConfig."""
    on_cpu = device == "cpu"
    return dict(
        max_steps=min_steps_override(stage, n_rows),
        output_dir=output_dir,
        per_device_train_batch_size=stage.per_device_batch_size,
        gradient_accumulation_steps=stage.batch_size // stage.per_device_batch_size,
        learning_rate=stage.learning_rate,
        num_train_epochs=stage.epochs,
        lr_scheduler_type=stage.lr_scheduler,
        warmup_steps=stage.warmup_ratio,  # a float in [0, 1) is a ratio of the total steps
        weight_decay=stage.weight_decay,
        max_grad_norm=stage.max_grad_norm,
        optim=stage.optim,
        max_length=stage.max_length,
        seed=seed,
        data_seed=seed,
        # TRL defaults to bf16 and activation checkpointing; on CPU both only slow training down.
        bf16=bf16_supported(device),
        fp16=False,
        activation_checkpointing=not on_cpu and n_parameters(model) >= _CHECKPOINTING_MIN_PARAMS,
        use_cpu=on_cpu,
        dataloader_num_workers=0 if on_cpu else 2,
        dataloader_pin_memory=device == "cuda",
        logging_steps=1,
        report_to="none",
        save_strategy="no",
    )


@contextlib.contextmanager
def quiet_upstream():
    """TRL 1.x and PEFT call transformers 5's deprecated `is_gradient_checkpointing` (a
    FutureWarning per process, 20 in the executed grid notebooks): not ours to fix, so it is
    filtered at our calls only."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning
        )
        yield


@contextlib.contextmanager
def no_ref_logps_bar():
    """TQDM_DISABLE=1 while a PFT trainer is built, where the libraries' bars are off
    (core.progress): TRL's bar over the reference log-probs it precomputes then reads only that
    variable. Ours read it when tqdm is imported, so none of them changes."""
    if library_bars() or os.environ.get("TQDM_DISABLE"):
        yield
        return
    os.environ["TQDM_DISABLE"] = "1"
    try:
        yield
    finally:
        del os.environ["TQDM_DISABLE"]


class _StepBar(TrainerCallback):
    """One progress bar per stage: Trainer's default callbacks print every log, i.e. every step."""

    def __init__(self, desc: str):
        self.desc, self.bar = desc, None

    def on_train_begin(self, args, state, control, **kwargs):
        self.bar = progress(total=state.max_steps, desc=self.desc, unit="step", steps=True)

    def on_step_end(self, args, state, control, **kwargs):
        self.bar.update(1)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

    def on_train_end(self, args, state, control, **kwargs):
        self.bar.close()


def _warmup_from_step_one(trainer) -> None:
    """Make the trainer's warmup start at lr/w rather than 0. Transformers' linear warmup gives the
    first optimizer step lr 0: harmless in a long stage, one step of three in a tiny one. The
    schedule is read one step ahead during warmup, which then ends a step sooner."""
    make = trainer.create_scheduler

    def create_scheduler(num_training_steps: int, optimizer=None):
        sched = make(num_training_steps, optimizer)
        w = trainer.args.get_warmup_steps(num_training_steps)
        if w and getattr(sched, "lr_lambdas", None) and sched.last_epoch == 0:
            sched.lr_lambdas = [
                lambda s, f=f: f(s + 1) if s < w else f(s) for f in sched.lr_lambdas
            ]
            for group, base, f in zip(
                sched.optimizer.param_groups, sched.base_lrs, sched.lr_lambdas, strict=True
            ):
                group["lr"] = base * f(0)  # LambdaLR set the first step's lr when it was built
            sched._last_lr = [g["lr"] for g in sched.optimizer.param_groups]
        return sched

    trainer.create_scheduler = create_scheduler


def run_trainer(trainer, lora: LoraConfig, t0: float, desc: str, before) -> StageOutcome:
    for cb in (ProgressCallback, PrinterCallback, NotebookProgressCallback):
        trainer.remove_callback(cb)
    trainer.add_callback(_StepBar(desc))
    _warmup_from_step_one(trainer)
    trainer.add_callback(cpu_share_callback())  # re-reads this process's share of the cores
    # Trainer.train() opens with a full gc.collect() (accelerate's free_memory), ~0.2 s per stage
    # walking every object the process holds; frozen, they are skipped, and released after.
    # On a CPU, values that decay below float32's normal range (likely optimizer state of rows that
    # stop getting gradient) become subnormal, which x86 cores process many times slower: one toy
    # DPO+SFT stage ran 3x slower (161 s vs 52 s, same metrics). They are flushed to zero here.
    flush = trainer.args.use_cpu and torch.set_flush_denormal(True)
    gc.freeze()
    try:
        with quiet_upstream():
            out = trainer.train()
    finally:
        gc.unfreeze()
        if flush:
            torch.set_flush_denormal(False)
    model = trainer.model
    if lora.enabled:
        model = model.merge_and_unload()
    model.eval()
    runtime = out.metrics["train_runtime"]
    logs = list(trainer.state.log_history)
    thr = {"train_runtime_s": runtime, "samples_per_s": out.metrics["train_samples_per_second"]}
    tokens = [h["num_tokens"] for h in logs if "num_tokens" in h]
    if tokens:  # the trainer's count of non-padding tokens trained, every epoch (core/compute.py)
        thr["tokens"] = int(tokens[-1])
        thr["passes"] = float(trainer.state.epoch)  # over the data: more than epochs at min_steps
        if runtime > 0:
            thr["tokens_per_s"] = tokens[-1] / runtime
    steps, change = trainer.state.global_step, _weight_change(before, model)
    return StageOutcome(model, logs, time.perf_counter() - t0, thr, steps, change)


def train_sft(
    model, tok, records: list[dict], stage: StageConfig, lora: LoraConfig, seed: int, device: str
) -> StageOutcome:
    """SFT on conversational {"messages"} records; returns the (merged) model."""
    from trl import SFTConfig, SFTTrainer

    if not records:
        raise ValueError("train_sft needs at least one record")
    t0 = time.perf_counter()
    set_seed(seed)
    before = weights_copy(model)
    with tempfile.TemporaryDirectory(prefix="budgetsplit-sft-") as tmp:
        args = SFTConfig(
            **trainer_args(stage, seed, device, model, tmp, len(records)),
            # Loss on assistant turns only when asked; the paper trains on the full text.
            assistant_only_loss=stage.completion_only_loss,
            packing=False,
        )
        with use_dense_lm_head(device, logits_bytes(model, stage, 1)), quiet_upstream():
            trainer = SFTTrainer(
                model=model,
                args=args,
                train_dataset=Dataset.from_list(records),
                processing_class=tok,
                peft_config=peft_config(lora),
            )
        return run_trainer(trainer, lora, t0, f"SFT on {len(records)}", before)


def _dpo_trainer(
    row: Method, pft: PFTConfig, pairs: Dataset, common: dict, seed: int, ref_cache: Path | None
):
    """DPOTrainer on the pairs, with the row's loss types and, for an SFT term, their weights."""
    from trl import DPOConfig

    weights = row.loss_weights(pft.sft_weight)
    args = DPOConfig(loss_type=list(row.loss_types), loss_weights=weights, **common)
    return dpo_trainer_class(ref_cache if pft.precompute_ref_log_probs else None), args, pairs


def _kto_trainer(
    row: Method, pft: PFTConfig, pairs: Dataset, common: dict, seed: int, ref_cache: Path | None
):
    """KTOTrainer on the pairs unpaired (chosen -> desirable, rejected -> undesirable)."""
    from trl import KTOConfig, KTOTrainer
    from trl.data_utils import unpair_preference_dataset

    # TRL unpairs batch-wise into [all chosen..., all rejected...] and KTO reads its data in
    # order, so shuffle (seeded) lest every batch hold one label only.
    rows = unpair_preference_dataset(pairs).shuffle(seed=seed).flatten_indices()
    args = KTOConfig(
        loss_type=row.loss_types[0],
        desirable_weight=pft.desirable_weight,
        undesirable_weight=pft.undesirable_weight,
        **common,
    )
    return KTOTrainer, args, rows


# Each pair-trained family's glue (core.methods.FAMILIES): (row, pft, the pairs, the config
# arguments every family shares, seed, ref_cache) -> (trainer class, its config, the rows it trains
# on). The RL family (grpo) trains on prompts and has its own stage, training/grpo.py.
_TRAINERS = {"dpo": _dpo_trainer, "kto": _kto_trainer}


def train_pft(
    model,
    tok,
    records: list[dict],
    method: str,
    pft: PFTConfig,
    lora: LoraConfig,
    seed: int,
    device: str,
    ref_cache: Path | None = None,
) -> StageOutcome:
    """Preference finetuning of `model` on TRL preference records; the frozen start is the reference.

    With `ref_cache` (a folder), DPO-family methods keep their precomputed reference log-probs there
    for the next cell with the same pairs and start (`budgetsplit.training.refcache`).
    """
    if not records:
        raise ValueError("train_pft needs at least one preference record")
    if method not in METHOD_TABLE:
        raise ConfigError("params", "methods", method, "unknown PFT method")
    row = METHOD_TABLE[method]
    if row.buys != "pref":
        raise ValueError(f"{method!r} trains on RL prompts, not pairs: training.grpo.train_grpo")
    t0 = time.perf_counter()
    set_seed(seed)
    before = weights_copy(model)
    # A reference copy is needed only for full finetuning without precomputed reference log-probs:
    # LoRA's reference is the adapter-disabled model, and precomputation reads the model before step 1.
    ref = None
    if not lora.enabled and not pft.precompute_ref_log_probs:
        ref = copy.deepcopy(model).eval().requires_grad_(False)
    # k rows per pair (KTO: 2, unpaired), k times the batch: DPO's optimizer steps per pair (and
    # for KTO at least 2 rows per device batch, which its KL term is estimated within)
    k = row.rows_per_pair
    pft = dataclasses.replace(
        pft, batch_size=k * pft.batch_size, per_device_batch_size=k * pft.per_device_batch_size
    )
    with tempfile.TemporaryDirectory(prefix=f"budgetsplit-{method}-") as tmp:
        common = dict(
            beta=pft.beta,
            precompute_ref_log_probs=pft.precompute_ref_log_probs,
            **trainer_args(pft, seed, device, model, tmp, k * len(records)),
        )
        trainer_cls, args, dataset = _TRAINERS[row.family](
            row, pft, Dataset.from_list(records), common, seed, ref_cache
        )
        # DPO puts chosen and rejected in one batch; KTO adds a shifted batch for its KL term.
        with (
            use_dense_lm_head(device, logits_bytes(model, pft, 2)),
            quiet_upstream(),
            no_ref_logps_bar(),
        ):
            trainer = trainer_cls(
                model=model,
                ref_model=ref,
                args=args,
                train_dataset=dataset,
                processing_class=tok,
                peft_config=peft_config(lora),
            )
        outcome = run_trainer(trainer, lora, t0, f"{method} on {len(records)}", before)
    thr = outcome.throughput
    thr["pairs_per_s"] = len(records) * pft.epochs / max(thr["train_runtime_s"], 1e-9)
    if "tokens" in thr:  # the reference's forward tokens (core/compute.py)
        thr["ref_tokens"] = ref_tokens(thr["tokens"], thr["passes"], pft.precompute_ref_log_probs)
    return outcome
