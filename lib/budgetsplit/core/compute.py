"""Compute per cell, beside its annotation cost: the tokens each stage trained on, read and
generated, and the FLOPs they took by the usual rule, so the same cells can be set on an
annotation-cost axis and on a compute axis.

With N the model's parameters (all of them: LoRA trains few, but every token still passes through
all N weights), a trained token costs 6N FLOPs (forward 2N, backward 4N) and a token only read
forward 2N (Kaplan et al. 2020, "Scaling laws for neural language models"; the accounting the
paper's code's forks use for SFT):

    sft   6 N T_sft                  T_sft: the tokens of every SFT batch, every epoch
    pft   6 N T_pft + 2 N (T_ref + T_sampled)
                                     T_ref: the reference model's forward tokens; T_sampled: the
                                     tokens online RL (grpo) generated to score (0 for pairs)
    eval  2 N (T_prompt + T_gen)     the test prompts read and the tokens generated

T_sft and T_pft are what the TRL trainer counted (`num_tokens`: the non-padding tokens of its
batches, chosen and rejected both for DPO). T_ref is one pass over the pairs when reference
log-probs are precomputed (T_pft / the passes the trainer made), else one per step (T_pft); for
grpo T_pft is the prompts and sampled completions trained on, T_ref the same tokens when its KL
term is on (kl_beta > 0), and T_sampled the completions generated, each token one forward pass
(generation re-reads no prefix with a KV cache; the prompt's pass is not counted). N is
every parameter, the input embedding too (a lookup, not a product): a convention, the same for
every cell of a model; FLOPs are floats (a 14B model's cell passes int64's range). Not counted, for every
method alike: padding, attention's quadratic term, LoRA's skipped weight gradients, KTO's extra
forward on its KL batch, the diagnostics (cold-start log-probs, the start score). A cell that reuses
a cached SFT stage or reference log-probs is charged the work as if done, as its budget is.

    from budgetsplit.core.compute import cell_compute
    cell_compute(n_params=1_048_832, sft_tokens=107_000)["train_flops"]
"""

from __future__ import annotations

TRAIN_FLOPS_PER_TOKEN = 6  # x N: forward and backward
FORWARD_FLOPS_PER_TOKEN = 2  # x N: forward only


def ref_tokens(pft_tokens: int, passes: float, precomputed: bool) -> int:
    """The reference model's forward tokens in a PFT stage that trained `pft_tokens` tokens in
    `passes` passes over its pairs (its epochs, or more where `min_steps` repeats the data)."""
    if not pft_tokens:
        return 0
    return round(pft_tokens / passes) if precomputed else pft_tokens


def cell_compute(
    n_params: int,
    sft_tokens: int = 0,
    pft_tokens: int = 0,
    pft_ref_tokens: int = 0,
    pft_sampled_tokens: int = 0,
    prompt_tokens: int = 0,
    generated_tokens: int = 0,
) -> dict:
    """The record's `compute` block: tokens and FLOPs per stage, and the training total."""
    counts = (
        n_params,
        sft_tokens,
        pft_tokens,
        pft_ref_tokens,
        pft_sampled_tokens,
        prompt_tokens,
        generated_tokens,
    )
    if any(not isinstance(c, int) or c < 0 for c in counts) or n_params == 0:
        raise ValueError(f"token and parameter counts are whole numbers >= 0 (N > 0): {counts}")
    train, fwd = float(TRAIN_FLOPS_PER_TOKEN * n_params), float(FORWARD_FLOPS_PER_TOKEN * n_params)
    sft = {"tokens": sft_tokens, "flops": train * sft_tokens}
    pft = {
        "tokens": pft_tokens,
        "ref_tokens": pft_ref_tokens,
        "sampled_tokens": pft_sampled_tokens,
        "flops": train * pft_tokens + fwd * (pft_ref_tokens + pft_sampled_tokens),
    }
    ev = {
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated_tokens,
        "flops": fwd * (prompt_tokens + generated_tokens),
    }
    return {
        "n_params": n_params,
        "sft": sft,
        "pft": pft,
        "eval": ev,
        "train_flops": sft["flops"] + pft["flops"],
    }


def trained_tokens(throughput: dict) -> int:
    """A stage's trained tokens from its throughput record: the trainer's count, or (stages cached
    before it was kept) its rate times its runtime; 0 for a stage that did not run."""
    if "tokens" in throughput:
        return int(throughput["tokens"])
    rate, runtime = throughput.get("tokens_per_s"), throughput.get("train_runtime_s")
    return round(rate * runtime) if rate and runtime else 0
