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
    from budgetsplit.training.probes import probe_scores
    probe_scores(load_world("toy"), get_base_model(load_world("toy")))["math"]["score"]
"""

from __future__ import annotations

from pathlib import Path

from budgetsplit.config.params import EvalConfig, WorldConfig
from budgetsplit.core.registry import TASKS
from budgetsplit.core.threads import set_cpu_threads
from budgetsplit.tasks.toyworld import get_toy_task
from budgetsplit.tasks.toyworld.tokenizer import EOT
from budgetsplit.training.evaluate import generate_ids

N_PROBES = 200
_BATCH = 32
_N_EXAMPLES = 3


def continuations(
    model, tok, prefixes: list[str], max_new_tokens: int, desc: str = "probe", show: bool = True
) -> list[str]:
    """Greedy continuations of plain-text `prefixes` (no chat template), each cut at the first
    end of document (EOT) or EOS (`evaluate.generate_ids`), in input order."""
    stop = sorted({tok.convert_tokens_to_ids(EOT), tok.eos_token_id} - {None})
    ids = [tok(p, add_special_tokens=False)["input_ids"] for p in prefixes]
    cfg = EvalConfig(max_new_tokens=max_new_tokens, batch_size=_BATCH)
    return generate_ids(model, tok, ids, cfg, desc=desc, stop=stop, show=show)[0]


def probe_scores(
    world: WorldConfig,
    folder: str | Path,
    split: str = "val",
    n: int = N_PROBES,
    progress: bool = True,
    tasks: tuple[str, ...] = TASKS,
) -> dict[str, dict]:
    """task -> {"score": mean probe score in [0, 1], "n": probes, "parts": {part: {"right",
    "n"}} where the task's probes have parts (`ToyTask.probe_parts`), "examples": a few
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
        parts: dict[str, dict[str, int]] = {}
        for p, t in zip(probes, texts, strict=True):
            for part, right in task.probe_parts(p, t).items():
                tally = parts.setdefault(part, {"right": 0, "n": 0})
                tally["right"] += right
                tally["n"] += 1
        results[name] = {
            "score": sum(scores) / len(scores),
            "n": len(scores),
            "parts": dict(sorted(parts.items())),
            "examples": [
                {"prefix": p["prefix"], "completion": t, "score": s}
                for p, t, s in list(zip(probes, texts, scores, strict=True))[:_N_EXAMPLES]
            ],
        }
    return results
