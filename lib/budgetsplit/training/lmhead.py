"""A dense LM head for TRL's trainers off CUDA: a drop-in for `trl.trainer.utils.add_fused_lm_head`.

TRL 1.x SFT, DPO and KTO trainers call `add_fused_lm_head(model, ...)` on their model, so that
`model(..., labels=..., fused_lm_head=True)` returns per-token log-probs (a `FusedCausalLMOutput`)
instead of logits. TRL's head tiles the LM head projection and recomputes it in backward, which
saves memory on big vocabularies; but without its Triton kernel (CPU, MPS) that tiled fallback
costs a small model more time than the rest of the training step (BENCHMARKS.md, "Speed changes").
`dense_lm_head` gives the same outputs (within float rounding) from plain logits of the labelled
positions only.

It is used by `budgetsplit.training.train`: while a trainer is built inside `use_dense_lm_head(device,
logits_bytes(...))`, TRL's trainer modules get `dense_lm_head` in place of their
`add_fused_lm_head`, when the device is not CUDA and a micro-batch's float32 logits fit in
`DENSE_LOGITS_MAX_BYTES`; otherwise TRL's own head is kept. Models whose logits TRL scales or caps
(softcapping, logit scale, ...) and fp32-cast heads always get TRL's head.

    with use_dense_lm_head("cpu", logits_bytes(model, params.sft, rows_per_example=1)):
        trainer = SFTTrainer(model=model, ...)
"""

from __future__ import annotations

import contextlib
import functools
import types

import torch

from budgetsplit.config.params import StageConfig

# Largest float32 logits of one micro-batch for which the dense LM head replaces TRL's chunked one.
DENSE_LOGITS_MAX_BYTES = 256 << 20
# Config fields with which TRL transforms the logits; `dense_lm_head` leaves such models to TRL.
_SCALED = (
    "final_logit_softcapping",
    "logit_scale",
    "output_multiplier",
    "lm_head_multiplier",
    "logits_scaling",
    "output_router_logits",
)


def dense_lm_head(model, temperature=1.0, cast_lm_head_to_fp32=False, outputs=("log_probs",)):
    """`trl.trainer.utils.add_fused_lm_head` on plain logits of the labelled positions.

    Same signature and outputs as TRL's; the metric-only fields (entropy, log_sum_sq_probs,
    mean_logits, is_top1) are computed without gradient, as TRL's trainers only read them detached.
    """
    from trl.trainer.utils import FusedCausalLMOutput, add_fused_lm_head

    cfg = model.config.get_text_config()
    if cast_lm_head_to_fp32 or any(getattr(cfg, a, None) for a in _SCALED):
        return add_fused_lm_head(model, temperature, cast_lm_head_to_fp32, outputs)
    original_forward = model.forward

    def forward(
        self,
        *args,
        fused_lm_head=False,
        labels=None,
        shift_labels=None,
        num_items_in_batch=None,
        **kwargs,
    ):
        if not fused_lm_head:
            extra = dict(
                labels=labels, shift_labels=shift_labels, num_items_in_batch=num_items_in_batch
            )
            return original_forward(
                *args, **kwargs, **{k: v for k, v in extra.items() if v is not None}
            )
        kwargs["use_cache"] = False
        hidden = self.base_model(*args, **kwargs).last_hidden_state
        if shift_labels is None:
            hidden, labels = hidden[:, :-1], labels[:, 1:]
        else:
            labels = shift_labels
        mask = labels != -100
        # Only the labelled positions (the completion, in DPO and KTO) go through the LM head.
        logits = self.get_output_embeddings()(hidden[mask]).float()
        if temperature != 1.0:
            logits = logits / temperature
        logp = logits.log_softmax(-1)
        target = labels[mask].unsqueeze(-1)
        picked = logp.gather(-1, target)

        def full(x):  # per labelled position -> (batch, seq) with zeros elsewhere
            return x.new_zeros(mask.shape).masked_scatter(mask, x)

        out = dict(log_probs=full(picked.squeeze(-1)), label_mask=mask)
        with torch.no_grad():
            if "entropy" in outputs:
                out["entropy"] = full(-(logp.exp() * logp).sum(-1))
            if "log_sum_sq_probs" in outputs:
                out["log_sum_sq_probs"] = full((2 * logp).logsumexp(-1))
            if "mean_logits" in outputs:
                out["mean_logits"] = full(logits.mean(-1))
            if "is_top1" in outputs:
                # The label is top-1 if it is the first maximum, as in TRL (argmax is slow on CPU).
                top = logits.amax(-1, keepdim=True)
                is_top1 = logits.gather(-1, target) >= top
                ties = ((logits == top).sum(-1, keepdim=True) > 1) & is_top1
                if ties.any():
                    is_top1 &= ~ties | (logits.argmax(-1, keepdim=True) == target)
                out["is_top1"] = full(is_top1.squeeze(-1))
        denom = mask.sum().clamp(min=1) if num_items_in_batch is None else num_items_in_batch
        return FusedCausalLMOutput(loss=-out["log_probs"].sum() / denom, **out)

    model.forward = types.MethodType(functools.wraps(type(model).forward)(forward), model)


def logits_bytes(model, stage: StageConfig, rows_per_example: int) -> int:
    """Size of one micro-batch's float32 logits at full length (DPO: 2 rows per example)."""
    vocab = model.get_output_embeddings().weight.shape[0]
    return 4 * vocab * stage.max_length * stage.per_device_batch_size * rows_per_example


@contextlib.contextmanager
def use_dense_lm_head(device: str, n_logits_bytes: int):
    """While TRL trainers are built inside, they put `dense_lm_head` on their models where it pays:
    off CUDA (no Triton kernel) and when a micro-batch's logits fit in `DENSE_LOGITS_MAX_BYTES`."""
    import trl.trainer.dpo_trainer as dpo
    import trl.trainer.grpo_trainer as grpo
    import trl.trainer.kto_trainer as kto
    import trl.trainer.sft_trainer as sft

    modules = (sft, dpo, kto, grpo)
    if device == "cuda" or n_logits_bytes > DENSE_LOGITS_MAX_BYTES:
        yield
        return
    saved = [m.add_fused_lm_head for m in modules]
    for m in modules:
        m.add_fused_lm_head = dense_lm_head
    try:
        yield
    finally:
        for m, f in zip(modules, saved, strict=True):
            m.add_fused_lm_head = f
