"""The paper's instruction-following task: Tulu 3 persona IF data for training, IFEval to score.

Sources (dataset cards; official code tuning/data/tuluif_sft.py, tuluif_pref.py, test_dataset.py):
- SFT `allenai/tulu-3-sft-personas-instruction-following`, split train: id, prompt,
  messages (list of {content, role}), constraints (list of str). Demonstration = `prompt` as the
  user turn and the last (assistant) message as the response, as tuluif_sft.py does.
- preferences `allenai/tulu-3-pref-personas-instruction-following`, split train: id, prompt,
  constraints, chosen and rejected (message lists; the last message is the response),
  chonsen_model (sic), rejected_model. Pairs whose system prompt + prompt + response reach 1,024
  words (split on single spaces) for chosen or rejected are dropped, as tuluif_pref.py does.
- test `google/IFEval`, split train (lm-eval's ifeval reads that split): key, prompt,
  instruction_id_list, kwargs (one dict per instruction, every argument present, unused ones null).

Scoring is lm-eval's ifeval (budgetsplit.tasks.ifeval): prompt and instruction level, strict and loose.
The validation split (held-out Tulu SFT prompts) has free-text constraints, not IFEval instruction
ids, so nothing can be checked there: its IFEval metrics are NaN; select on the test split's or
use another signal.
"""

from __future__ import annotations

from collections.abc import Sequence

from budgetsplit.tasks import ifeval
from budgetsplit.tasks.paper.data import (
    PaperTask,
    check_lengths,
    dedupe_by_prompt,
    last_message,
    prompt_id,
    require_columns,
)

# tuning/data/config.py of the official code, verbatim.
SYSTEM_PROMPT = (
    "You are a helpful assistant who is an expert at responding to prompts by carefully "
    "following the given instructions"
)
# tuluif_pref.py keeps a pair when system + prompt + response has fewer words than this.
MAX_WORDS = 1024
METRICS = ("prompt_level_strict", "inst_level_strict", "prompt_level_loose", "inst_level_loose")


def n_words(*texts: str) -> int:
    """Words as tuluif_pref.py counts them: pieces of each text split on single spaces."""
    return sum(len(t.split(" ")) for t in texts)


class IFEvalTask(PaperTask):
    name = "instruct"
    primary_metric = "prompt_level_strict"
    system_prompt = SYSTEM_PROMPT
    default_data = {
        "sft": "allenai/tulu-3-sft-personas-instruction-following",
        "pref": "allenai/tulu-3-pref-personas-instruction-following",
        "test": "google/IFEval",
    }

    def build_train(self) -> tuple[list[dict], list[dict], list[dict]]:
        sft_id, pref_id = self.data["sft"], self.data["pref"]
        ds = self.load("sft", "train")
        require_columns(ds, ["prompt", "messages"], sft_id, "sft")
        sft = []
        for p, msgs in zip(ds["prompt"], ds["messages"], strict=True):
            response = last_message(msgs, sft_id, "sft", "messages")
            sft.append({"prompt_id": prompt_id(p), "prompt": p, "response": response})
        candidates = [
            {"prompt_id": r["prompt_id"], "prompt": r["prompt"], "reference": r["response"]}
            for r in sft
        ]

        ds = self.load("pref", "train")
        require_columns(ds, ["prompt", "chosen", "rejected"], pref_id, "pref")
        pref = []
        for p, ch, rj in zip(ds["prompt"], ds["chosen"], ds["rejected"], strict=True):
            chosen = last_message(ch, pref_id, "pref", "chosen")
            rejected = last_message(rj, pref_id, "pref", "rejected")
            if (
                max(n_words(SYSTEM_PROMPT, p, chosen), n_words(SYSTEM_PROMPT, p, rejected))
                >= MAX_WORDS
            ):
                continue
            pref.append(
                {"prompt_id": prompt_id(p), "prompt": p, "chosen": chosen, "rejected": rejected}
            )
        return sft, pref, dedupe_by_prompt(candidates)

    def build_test(self) -> list[dict]:
        ds = self.load("test", "train")
        require_columns(
            ds, ["key", "prompt", "instruction_id_list", "kwargs"], self.data["test"], "test"
        )
        return [
            {
                "id": f"ifeval-{key}",
                "prompt_id": prompt_id(p),
                "prompt": p,
                "reference": "",
                "instruction_id_list": list(ids),
                "kwargs": [dict(kw) for kw in kwargs],
            }
            for key, p, ids, kwargs in zip(
                ds["key"], ds["prompt"], ds["instruction_id_list"], ds["kwargs"], strict=True
            )
        ]

    def in_format(self, completion: str) -> bool:
        # IFEval's instructions are the format; lm-eval fails every instruction on an empty response.
        return bool(completion.strip())

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        check_lengths(rows, completions)
        results = [
            ifeval.check(c, r["instruction_id_list"], r["kwargs"], prompt=r["prompt"])
            for r, c in zip(rows, completions, strict=True)
            if r.get("instruction_id_list")
        ]
        out = ifeval.aggregate(results) if results else dict.fromkeys(METRICS, float("nan"))
        out["nonempty_rate"] = sum(self.in_format(c) for c in completions) / len(completions)
        return out
