"""Evaluation of a trained model on its task, and the cold-start diagnostics of a cell.

`evaluate_model` generates one completion per eval row (batched, left-padded, KV cache; greedy
unless `EvalConfig.temperature` > 0, then seeded sampling with top_p), stops at the EOS token
(<|im_end|>), and returns the task's `score` plus three diagnostics: the share of completions in the
task's required format, the mean completion length in tokens, and the share that ended with EOS.
It also returns `row_scores`, the primary metric of each eval row (rounded to 4 decimals, in row
order, with a digest of the row ids), so paired statistics can be computed from records alone.

Cold start (paper claim 3) is read off two more diagnostics: `response_logprobs`, the mean per-token
log-probability of the preference data's chosen and rejected responses under the model PFT starts
from (low values mean the preference data lies off that model's distribution), and
`trainer_diagnostics`, the final reward margin and accuracy from the PFT trainer's logs.

    from budgetsplit.training.evaluate import evaluate_model
    result = evaluate_model(model, tok, task, params.eval, seed=0)
    result["metrics"][task.primary_metric], result["format_rate"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from trl.data_utils import common_prefix_length

from budgetsplit.config.params import EvalConfig
from budgetsplit.core.progress import progress
from budgetsplit.core.threads import refresh_cpu_threads
from budgetsplit.tasks.interface import eval_rows, row_scores

_LOGPROB_BATCH = 32


def _prompt_ids(tok, messages: list[dict]) -> list[int]:
    # Tokenized as TRL's trainers do: the chat template, tokenized in one go.
    return tok.apply_chat_template(
        messages, tokenize=True, return_dict=True, add_generation_prompt=True
    )["input_ids"]


def generate(
    model,
    tok,
    conversations: Sequence[list[dict]],
    cfg: EvalConfig,
    seed: int = 0,
    desc: str = "generate",
) -> tuple[list[str], list[int], list[bool]]:
    """Completions for chat prompts: (texts, lengths in tokens including EOS, whether EOS was reached)."""
    return generate_ids(model, tok, [_prompt_ids(tok, m) for m in conversations], cfg, seed, desc)


@torch.no_grad()
def generate_ids(
    model,
    tok,
    prompts: Sequence[list[int]],
    cfg: EvalConfig,
    seed: int = 0,
    desc: str = "generate",
    stop: Sequence[int] | None = None,
    show: bool = True,
) -> tuple[list[str], list[int], list[bool]]:
    """`generate` for token-id prompts, ending each completion at the first of `stop` (default:
    EOS); `show`: the progress bar (training.probes runs plain-text prefixes through it)."""
    device = next(model.parameters()).device
    stop = [tok.eos_token_id] if stop is None else list(stop)
    # Batches of similar length waste less compute on padding; results go back in input order.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    texts, lengths, stopped = [""] * len(prompts), [0] * len(prompts), [False] * len(prompts)
    sample = cfg.temperature > 0
    gen_kwargs = dict(
        max_new_tokens=cfg.max_new_tokens,
        do_sample=sample,
        eos_token_id=stop[0] if len(stop) == 1 else stop,
        pad_token_id=tok.pad_token_id,
        use_cache=True,
    )
    if sample:
        gen_kwargs.update(temperature=cfg.temperature, top_p=cfg.top_p)
    else:  # unset the sampling knobs a model's generation_config may carry, which would warn
        gen_kwargs.update(temperature=None, top_p=None, top_k=None)
    torch.manual_seed(seed)
    was_training = model.training
    model.eval()
    bar = progress(total=len(prompts), desc=desc, unit="ex", steps=True, disable=not show)
    for start in range(0, len(order), cfg.batch_size):
        refresh_cpu_threads()  # this process's share of the cores (threads.py)
        idx = order[start : start + cfg.batch_size]
        width = max(len(prompts[i]) for i in idx)
        # Left padding: every row's last prompt token sits at the same position, where generation starts.
        ids = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids[row, width - len(prompts[i]) :] = torch.tensor(prompts[i])
            mask[row, width - len(prompts[i]) :] = 1
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), **gen_kwargs)
        for row, i in enumerate(idx):
            new = out[row, width:].tolist()
            end = next((k for k, t in enumerate(new) if t in stop), None)
            stopped[i] = end is not None
            lengths[i] = end + 1 if end is not None else len(new)
            texts[i] = tok.decode(new[:end], skip_special_tokens=True)
        bar.update(len(idx))
    bar.close()
    model.train(was_training)
    return texts, lengths, stopped


def evaluate_model(model, tok, task, cfg: EvalConfig, seed: int = 0, n_keep: int = 5) -> dict:
    """Score `model` on `task`'s eval split (its first `cfg.n_examples` rows); keeps a few completions."""
    rows = eval_rows(task, cfg)
    prompts = [_prompt_ids(tok, task.prompt_messages(r["prompt"])) for r in rows]
    texts, lengths, stopped = generate_ids(model, tok, prompts, cfg, seed, f"eval {task.name}")
    metrics = {k: float(v) for k, v in task.score(rows, texts).items()}
    return {
        "metrics": metrics,
        "row_scores": row_scores(task, rows, texts, cfg.split),
        "n_eval": len(rows),
        "format_rate": sum(map(task.in_format, texts)) / len(texts),
        "mean_length_tokens": sum(lengths) / len(lengths),
        "eos_rate": sum(stopped) / len(stopped),
        "prompt_tokens": sum(map(len, prompts)),  # read and generated: the compute of eval
        "generated_tokens": sum(lengths),
        "examples": [
            {"prompt": r["prompt"], "completion": t}
            for r, t in zip(rows[:n_keep], texts[:n_keep], strict=True)
        ],
    }


def logprob_sample(pref_pool: Sequence[dict], n: int) -> list[dict]:
    """The `n` pairs `response_logprobs` scores (`Params.cold_start_pairs`): a fixed sample of a
    preference pool, evenly spaced so it spans the pool's order."""
    if len(pref_pool) <= n:
        return list(pref_pool)
    return [pref_pool[i * len(pref_pool) // n] for i in range(n)]


@torch.no_grad()
def _mean_token_logprobs(model, pairs: list[tuple[list[int], list[int]]]) -> list[float]:
    """Per sequence, the mean log-prob of the completion tokens given the prompt."""
    device = next(model.parameters()).device
    out = [0.0] * len(pairs)
    # Batches of similar length pad less; only completion positions go through the LM head.
    order = sorted(range(len(pairs)), key=lambda i: len(pairs[i][0]) + len(pairs[i][1]))
    for start in range(0, len(order), _LOGPROB_BATCH):
        idx = order[start : start + _LOGPROB_BATCH]
        width = max(len(pairs[i][0]) + len(pairs[i][1]) for i in idx)
        ids = torch.zeros((len(idx), width), dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        scored = torch.zeros((len(idx), width), dtype=torch.bool)  # positions predicting completion
        for row, i in enumerate(idx):
            p, c = pairs[i]
            ids[row, : len(p) + len(c)] = torch.tensor(p + c)
            mask[row, : len(p) + len(c)] = 1
            scored[row, len(p) - 1 : len(p) + len(c) - 1] = True
        ids, mask, scored = ids.to(device), mask.to(device), scored.to(device)
        hidden = model.base_model(input_ids=ids, attention_mask=mask, use_cache=False)
        logits = model.get_output_embeddings()(hidden.last_hidden_state[scored]).float()
        # Position t predicts token t + 1.
        target = ids[:, 1:][scored[:, :-1]]
        lp = logits.log_softmax(-1).gather(1, target[:, None]).squeeze(1)
        n = scored.sum(1).tolist()
        for i, chunk in zip(idx, lp.split(n), strict=True):
            out[i] = chunk.mean().item()
    return out


def response_logprobs(model, tok, task, pairs: Sequence[dict]) -> dict[str, float]:
    """Mean per-token log-prob of chosen and rejected responses (tokenized as DPOTrainer does)."""
    chosen, rejected = [], []
    for rec in task.pref_records(pairs):
        prompt = _prompt_ids(tok, rec["prompt"])
        for side, into in (("chosen", chosen), ("rejected", rejected)):
            full = tok.apply_chat_template(
                rec["prompt"] + rec[side], tokenize=True, return_dict=True
            )["input_ids"]
            # The completion starts where prompt and prompt + completion diverge, as in TRL.
            k = common_prefix_length(prompt, full)
            into.append((full[:k], full[k:]))
    was_training = model.training
    model.eval()
    lp_c, lp_r = _mean_token_logprobs(model, chosen), _mean_token_logprobs(model, rejected)
    model.train(was_training)
    return {
        "n_pairs": len(chosen),
        "chosen_logprob_per_token": sum(lp_c) / len(lp_c),
        "rejected_logprob_per_token": sum(lp_r) / len(lp_r),
    }


# Trainer log keys read for the final-reward diagnostics (DPO and KTO log the same names).
_REWARD_KEYS = (
    "rewards/margins",
    "rewards/accuracies",
    "rewards/chosen",
    "rewards/rejected",
    "kl",
    "loss",
)


def trainer_diagnostics(log_history: Sequence[dict], tail: float = 0.1) -> dict[str, float]:
    """The PFT trainer's last logged rewards, averaged over the last `tail` share of logged steps."""
    steps = [h for h in log_history if "loss" in h and "train_runtime" not in h]
    out: dict[str, float] = {"n_logged_steps": float(len(steps))}
    if not steps:
        return out
    last = steps[-max(1, math.ceil(tail * len(steps))) :]
    for key in _REWARD_KEYS:
        vals = [h[key] for h in last if key in h and h[key] is not None]
        if vals:
            out["final_" + key.replace("rewards/", "reward_")] = sum(vals) / len(vals)
    first = steps[0]
    if "rewards/margins" in first:
        out["first_reward_margins"] = first["rewards/margins"]
    return out
