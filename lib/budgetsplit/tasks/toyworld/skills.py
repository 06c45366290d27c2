"""Skill probes: what the toy base model can already do, in the corpus's own form, before any
post-training.

The paper post-trains base models that already solve its tasks in their own words; post-training
then teaches the response format and which answers are preferred. A toy base model is fit for
the study when it has each task's skill latent in the same sense. Each task writes its probes
(`ToyTask.probes`, from held-out val or test rows, never seen in the corpus) as the corpus writes
that skill, and scores the model's greedy continuation (`ToyTask.probe_score`):

- math: a held-out question, then "First" -> the worked answer's final number is right;
- summarize: a held-out post, then "In short," -> the key facts retold (`facts_told`);
- helpful: a held-out fact's corpus sentence cut before its value -> the value recalled;
- instruct: "Here is a note about <topic> that <rules>:" -> every rule kept (lm-eval's checkers).

No chat template is used here: with it, the base model writes no task's response format (the
cold start the study measures; tests/test_toyworld.py checks it on the smoke model).

    budgetsplit toyworld probe --profile toy
    from budgetsplit.tasks.toyworld.skills import probe_scores
    probe_scores(load_world("toy"), get_base_model(load_world("toy")))["math"]["score"]
"""

from __future__ import annotations

from pathlib import Path

import torch

from budgetsplit.config.params import WorldConfig
from budgetsplit.core.progress import progress as progress_bar
from budgetsplit.core.registry import TASKS
from budgetsplit.core.threads import refresh_cpu_threads, set_cpu_threads
from budgetsplit.tasks.toyworld import get_toy_task
from budgetsplit.tasks.toyworld.tokenizer import EOT

N_PROBES = 200
_BATCH = 32
_N_EXAMPLES = 3


@torch.no_grad()
def continuations(
    model, tok, prefixes: list[str], max_new_tokens: int, desc: str = "probe", show: bool = True
) -> list[str]:
    """Greedy continuations of plain-text `prefixes` (no chat template), each cut at the first
    end of document (EOT) or EOS; batched with left padding, returned in input order."""
    stop = sorted({tok.convert_tokens_to_ids(EOT), tok.eos_token_id} - {None})
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prefixes]
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    out = [""] * len(ids)
    model.eval()
    bar = progress_bar(total=len(ids), desc=desc, unit="ex", steps=True, disable=not show)
    for start in range(0, len(order), _BATCH):
        refresh_cpu_threads()
        idx = order[start : start + _BATCH]
        width = max(len(ids[i]) for i in idx)
        batch = torch.full((len(idx), width), tok.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(batch)
        for row, i in enumerate(idx):
            batch[row, width - len(ids[i]) :] = torch.tensor(ids[i])
            mask[row, width - len(ids[i]) :] = 1
        gen = model.generate(
            input_ids=batch,
            attention_mask=mask,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            eos_token_id=stop,
            pad_token_id=tok.pad_token_id,
        )
        for row, i in enumerate(idx):
            new = gen[row, width:].tolist()
            end = next((k for k, t in enumerate(new) if t in stop), len(new))
            out[i] = tok.decode(new[:end], skip_special_tokens=True)
        bar.update(len(idx))
    bar.close()
    return out


def probe_scores(
    world: WorldConfig,
    folder: str | Path,
    split: str = "val",
    n: int = N_PROBES,
    progress: bool = True,
    tasks: tuple[str, ...] = TASKS,
) -> dict[str, dict]:
    """task -> {"score": mean probe score in [0, 1], "n": probes, "examples": a few
    {"prefix", "completion", "score"}} for the base model in `folder` (safetensors only)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # slow: on first probe only

    set_cpu_threads()
    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, use_safetensors=True)
    results = {}
    for name in tasks:
        task = get_toy_task(name, world)
        probes = task.probes(split, n)
        prefixes = [p["prefix"] for p in probes]
        texts = continuations(model, tok, prefixes, task.probe_tokens, f"probe {name}", progress)
        scores = [task.probe_score(p, t) for p, t in zip(probes, texts, strict=True)]
        results[name] = {
            "score": sum(scores) / len(scores),
            "n": len(scores),
            "examples": [
                {"prefix": p["prefix"], "completion": t, "score": s}
                for p, t, s in list(zip(probes, texts, scores, strict=True))[:_N_EXAMPLES]
            ],
        }
    return results
