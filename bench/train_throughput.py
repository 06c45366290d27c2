"""CPU training throughput on the toy base model: our SFT / DPO path vs its floor and vs TRL defaults.

    .venv/bin/python bench/train_throughput.py [--profile toy] [--task math] [--reps 3] [--threads 1]

Three ways to run the same stage (same model, data, batch size, max_length, one epoch):

- ours:  `budgetsplit.training.train.train_sft` / `train_pft(..., "dpo")`, precomputed reference log-probs;
- bare:  a plain PyTorch loop, the floor: the same tokenized examples in a seeded order, per-batch
         dynamic padding, forward, the LM head on the labelled positions only, loss, backward,
         gradient clipping, AdamW; for DPO the policy forward/backward on chosen and rejected
         plus a frozen reference's forward every step;
- trl-defaults: SFTTrainer / DPOTrainer with `SFTConfig()` / `DPOConfig()` defaults, as a user on a
         CPU gets them (`use_cpu=True`, bf16 autocast, activation checkpointing, fused AdamW,
         TRL's chunked LM head, no precomputation); only batch size, max_length, one epoch and
         no checkpoint saving are set, so that all three do the same work.

The variants alternate within each repetition; ratios are taken per repetition, then the median.
"train" times the training loop only (Trainer's train_runtime); "stage" adds dataset preparation,
trainer construction and the reference precomputation (model loading is excluded for all three).
Writes bench/results/train_throughput.json and its section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import tempfile
import time

import benchlib

benchlib.setup_env()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

# ours / bare, and on which time: SFT on the training loop; DPO on the whole stage, because our loop
# reads the reference log-probs that the set-up precomputed while the bare loop runs the reference.
TARGETS = {"sft": ("train", 0.85), "dpo": ("stage", 0.70)}


def load(params, profile):
    from budgetsplit.training.models import load_model

    return load_model(params.model, profile, "cpu")


def batches(n: int, size: int, seed: int):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    return [order[s : s + size] for s in range(0, n, size)]


def pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(map(len, rows))
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), 1
    return ids, mask


def head_logits(model, ids, mask, keep):
    """Logits of the positions whose next token is scored (`keep`, shifted by one) only."""
    hidden = model.model(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    return model.lm_head(hidden[:, :-1][keep])


def optimizer(model, stage):
    return torch.optim.AdamW(
        model.parameters(), lr=stage.learning_rate, weight_decay=stage.weight_decay
    )


# ------------------------------------------------------------------------------------------- SFT
def sft_tokens(tok, records, max_length):
    return [
        tok.apply_chat_template(r["messages"], tokenize=True, return_dict=True)["input_ids"][
            :max_length
        ]
        for r in records
    ]


def sft_bare(params, profile, records, stage):
    model, tok = load(params, profile)
    t0 = time.perf_counter()
    ids = sft_tokens(tok, records, stage.max_length)
    opt = optimizer(model, stage)
    model.train()
    t1 = time.perf_counter()
    for idx in batches(len(ids), stage.per_device_batch_size, 0):
        x, m = pad([ids[i] for i in idx], tok.pad_token_id)
        keep = m[:, 1:] == 1
        logits = head_logits(model, x, m, keep)
        loss = F.cross_entropy(logits, x[:, 1:][keep])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), stage.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
    t2 = time.perf_counter()
    return {"train_s": t2 - t1, "stage_s": t2 - t0, "final_loss": loss.item()}


def sft_ours(params, profile, records, stage):
    from budgetsplit.training.train import train_sft

    model, tok = load(params, profile)
    t0 = time.perf_counter()
    out = train_sft(model, tok, records, stage, params.model.lora, 0, "cpu")
    tokens = [h["num_tokens"] for h in out.log_history if "num_tokens" in h][-1]
    return {
        "train_s": out.throughput["train_runtime_s"],
        "stage_s": time.perf_counter() - t0,
        "logged_tokens": tokens,
    }


def trl_defaults(kind, params, profile, records, stage):
    """What a user gets from TRL's own defaults (`SFTConfig()` / `DPOConfig()`), same work."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer, SFTConfig, SFTTrainer

    config_cls, trainer_cls = (SFTConfig, SFTTrainer) if kind == "sft" else (DPOConfig, DPOTrainer)
    model, tok = load(params, profile)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        args = config_cls(
            output_dir=tmp,
            use_cpu=True,
            report_to="none",
            save_strategy="no",
            per_device_train_batch_size=stage.per_device_batch_size,
            max_length=stage.max_length,
            num_train_epochs=1,
        )
        trainer = trainer_cls(
            model=model, args=args, train_dataset=Dataset.from_list(records), processing_class=tok
        )
        out = trainer.train()
    return {"train_s": out.metrics["train_runtime"], "stage_s": time.perf_counter() - t0}


# ------------------------------------------------------------------------------------------- DPO
def dpo_tokens(tok, records, max_length):
    """(prompt + completion ids, completion start) per side, as DPOTrainer tokenizes them."""
    from trl.data_utils import common_prefix_length

    out = []
    for r in records:
        prompt = tok.apply_chat_template(
            r["prompt"], tokenize=True, return_dict=True, add_generation_prompt=True
        )["input_ids"]
        pair = []
        for side in ("chosen", "rejected"):
            full = tok.apply_chat_template(r["prompt"] + r[side], tokenize=True, return_dict=True)[
                "input_ids"
            ]
            pair.append((full[:max_length], common_prefix_length(prompt, full)))
        out.append(pair)
    return out


def sequence_logps(model, ids, mask, starts):
    pos = torch.arange(1, ids.shape[1])[None, :]
    keep = (pos >= starts[:, None]) & (mask[:, 1:] == 1)
    logp = head_logits(model, ids, mask, keep).log_softmax(-1)
    picked = logp.gather(-1, ids[:, 1:][keep][:, None]).squeeze(-1)
    return torch.zeros(keep.shape).masked_scatter(keep, picked).sum(-1)


def dpo_bare(params, profile, records, stage):
    model, tok = load(params, profile)
    t0 = time.perf_counter()
    data = dpo_tokens(tok, records, stage.max_length)
    ref = copy.deepcopy(model).eval().requires_grad_(False)
    opt = optimizer(model, stage)
    model.train()
    t1 = time.perf_counter()
    for idx in batches(len(data), stage.per_device_batch_size, 0):
        rows = [data[i][0] for i in idx] + [data[i][1] for i in idx]  # chosen..., rejected...
        ids, mask = pad([r for r, _ in rows], tok.pad_token_id)
        starts = torch.tensor([s for _, s in rows])
        with torch.no_grad():
            ref_c, ref_r = sequence_logps(ref, ids, mask, starts).chunk(2)
        pol_c, pol_r = sequence_logps(model, ids, mask, starts).chunk(2)
        loss = -F.logsigmoid(stage.beta * ((pol_c - ref_c) - (pol_r - ref_r))).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), stage.max_grad_norm)
        opt.step()
        opt.zero_grad(set_to_none=True)
    t2 = time.perf_counter()
    return {"train_s": t2 - t1, "stage_s": t2 - t0, "final_loss": loss.item()}


def dpo_ours(params, profile, records, stage):
    from budgetsplit.training.train import train_pft

    model, tok = load(params, profile)
    t0 = time.perf_counter()
    out = train_pft(model, tok, records, "dpo", stage, params.model.lora, 0, "cpu")
    return {"train_s": out.throughput["train_runtime_s"], "stage_s": time.perf_counter() - t0}


# ----------------------------------------------------------------------------------------- checks
def lm_head_check(params, profile) -> float:
    """Max |difference| between our dense LM head's and TRL's chunked head's log-probs and grads."""
    from trl.trainer.utils import add_fused_lm_head

    from budgetsplit.training.lmhead import dense_lm_head

    model, _ = load(params, profile)
    a, b = copy.deepcopy(model), copy.deepcopy(model)
    add_fused_lm_head(a, outputs=("log_probs", "entropy", "is_top1"))
    dense_lm_head(b, outputs=("log_probs", "entropy", "is_top1"))
    x = torch.randint(
        0, model.config.vocab_size, (4, 64), generator=torch.Generator().manual_seed(0)
    )
    labels = x.clone()
    labels[:, :20] = -100
    ra, rb = (m(input_ids=x, labels=labels, fused_lm_head=True) for m in (a, b))
    ra.loss.backward()
    rb.loss.backward()
    diffs = [(ra.log_probs - rb.log_probs).abs().max(), (ra.entropy - rb.entropy).abs().max()]
    diffs += [
        (p.grad - q.grad).abs().max() for p, q in zip(a.parameters(), b.parameters(), strict=True)
    ]
    if not torch.equal(ra.is_top1, rb.is_top1):
        raise AssertionError("dense LM head: is_top1 differs from TRL's")
    return max(float(d.detach()) for d in diffs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="toy", help="toy world profile (toy or smoke)")
    ap.add_argument("--task", default="math")
    ap.add_argument("--n-sft", type=int, default=256, help="SFT examples (one epoch)")
    ap.add_argument("--n-pairs", type=int, default=128, help="preference pairs (one epoch)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    ap.add_argument("--no-write", action="store_true", help="print only; no JSON, no BENCHMARKS.md")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load_before = benchlib.loadavg()

    from budgetsplit.config.params import load_params, load_world
    from budgetsplit.tasks.toyworld import get_toy_task

    params = load_params(a.profile, a.task)
    task = get_toy_task(a.task, load_world(a.profile))
    sft = dataclasses.replace(params.sft, epochs=1.0)
    pft = dataclasses.replace(params.pft, epochs=1.0)
    sft_recs = task.sft_records(task.sft_pool()[: a.n_sft])
    pref_recs = task.pref_records(task.pref_pool()[: a.n_pairs])
    _, tok = load(params, a.profile)
    n_tokens = sum(map(len, sft_tokens(tok, sft_recs, sft.max_length)))
    head_diff = lm_head_check(params, a.profile)

    runs = {
        "sft": benchlib.interleaved(
            {
                "ours": lambda: sft_ours(params, a.profile, sft_recs, sft),
                "bare": lambda: sft_bare(params, a.profile, sft_recs, sft),
                "trl-defaults": lambda: trl_defaults("sft", params, a.profile, sft_recs, sft),
            },
            a.reps,
        ),
        "dpo": benchlib.interleaved(
            {
                "ours": lambda: dpo_ours(params, a.profile, pref_recs, pft),
                "bare": lambda: dpo_bare(params, a.profile, pref_recs, pft),
                "trl-defaults": lambda: trl_defaults("dpo", params, a.profile, pref_recs, pft),
            },
            a.reps,
        ),
    }
    work = {"sft": (n_tokens, "tokens/s"), "dpo": (len(pref_recs), "pairs/s")}
    rows, summary = [], {}
    for stage_name, variants in runs.items():
        n, unit = work[stage_name]
        bare = variants["bare"]
        for name, reps in variants.items():
            s = {
                key: {
                    "rate": benchlib.median([n / r[f"{key}_s"] for r in reps]),
                    "vs_bare": benchlib.median(
                        [b[f"{key}_s"] / r[f"{key}_s"] for r, b in zip(reps, bare, strict=True)]
                    ),
                }
                for key in ("train", "stage")
            }
            summary[f"{stage_name}/{name}"] = s
            rows.append(
                [
                    stage_name.upper(),
                    name,
                    unit,
                    s["train"]["rate"],
                    f"{s['train']['vs_bare']:.0%}",
                    s["stage"]["rate"],
                    f"{s['stage']['vs_bare']:.0%}",
                ]
            )
    verdict = {
        k: {
            "target": t,
            "on": on,
            "ours_vs_bare": summary[f"{k}/ours"][on]["vs_bare"],
            "met": summary[f"{k}/ours"][on]["vs_bare"] >= t,
        }
        for k, (on, t) in TARGETS.items()
    }
    md = benchlib.table(
        ["stage", "variant", "unit", "train loop", "vs bare", "incl. setup", "vs bare"], rows
    )
    md += (
        f"\n\nToy profile `{a.profile}`, task `{a.task}`: SFT on {len(sft_recs)} examples "
        f"({n_tokens} tokens, max_length {sft.max_length}, batch {sft.per_device_batch_size}); "
        f"DPO on {len(pref_recs)} pairs (batch {pft.per_device_batch_size}); one epoch each, "
        f"{a.reps} interleaved repetitions, medians. Targets (ours / bare): "
        + "; ".join(
            f"{k.upper()} ({'train loop' if v['on'] == 'train' else 'incl. setup'}) >= "
            f"{v['target']:.0%}: {v['ours_vs_bare']:.0%}, "
            f"{'met' if v['met'] else 'NOT met'}"
            for k, v in verdict.items()
        )
        + f". Dense LM head vs TRL's chunked head: max |diff| {head_diff:.1e} "
        "(log-probs, entropy, gradients).\n"
    )
    print(md)
    if not a.no_write:
        data = {
            "args": vars(a),
            "n_tokens_sft": n_tokens,
            "n_pairs": len(pref_recs),
            "summary": summary,
            "targets": verdict,
            "lm_head_max_abs_diff": head_diff,
            "runs": runs,
        }
        print("wrote", benchlib.write_results("train_throughput", data, load_before, md))


if __name__ == "__main__":
    main()
