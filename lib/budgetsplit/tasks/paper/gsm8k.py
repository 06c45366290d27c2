"""The paper's math task: GPT-4o solutions of GSM8K train for SFT and preferences, GSM8K test to score.

Sources (official code, github mohit-raghavendra/balance-budget, tuning/data/):
- SFT `mohit-raghavendra/gsm8k-gpt4ogenerations`, split train, columns `prompt` (the bare GSM8K
  question), `correct` (list of correct GPT-4o solutions) and `reference_answer` (gsm8k_sft.py and
  a fork's RLVR loader read exactly these). Every correct solution is one demonstration, as
  gsm8k_sft.py's `_get_rows` does.
- preferences `mohit-raghavendra/gsm8k-gpt4opreferences`, split train. NOT CONFIRMED: the official
  `_get_rows` pairs every `correct` with every `incorrect` (columns prompt, correct, incorrect,
  reference_answer, system_message), yet its DPO path reads `prompt`/`chosen`/`rejected` from the
  Hub rows directly and the Hub lists 16.8k rows for 7.47k questions, so the uploaded rows may
  already be pairs. Both layouts are accepted; anything else fails naming the missing columns.
- test `openai/gsm8k`, config main, split test (question, answer ending "#### N").
- or, for the SFT and preference roles, `gsm8k-steps:<source>`: GSM8K's own train solutions in
  the paper's format, with pairs whose rejected side has an arithmetic slip (gsm8k_local.py), for
  a real model with no GPT-4o data at hand.

Prompting as the official code and its lm-eval call: system prompt SYSTEM_MESSAGE_GSM8K, user turn
"Question: {question}\\nAnswer:" (also lm-eval gsm8k's doc_to_text), 0-shot, chat template.
Scoring: lm-eval gsm8k's strict-match and flexible-extract exact match (budgetsplit.tasks.metrics).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

from budgetsplit.tasks.metrics import (
    answers_match,
    extract_flexible,
    extract_strict,
    most_common_answer,
)
from budgetsplit.tasks.paper.data import (
    PaperDataError,
    PaperTask,
    check_lengths,
    dedupe_by_prompt,
    last_message,
    prompt_id,
    require_columns,
)
from budgetsplit.tasks.paper.gsm8k_local import steps_dataset

# tuning/data/config.py of the official code, verbatim: the format the preference data show.
SYSTEM_PROMPT = (
    "You are a helpful assistant who is an expert at solving math problems. Solve the following "
    "math problem and return the solution in the following format:\n\n"
    "Step 1: <step 1>\nStep 2: <step 2>\n.\n.\nStep n: <step n>\n\n#### <Final numerical answer>"
)
USER_TEMPLATE = "Question: {question}\nAnswer:"
# A data id of the SFT or preference role: GSM8K's own worked solutions from the source after it
# (openai/gsm8k or a local copy), rewritten to the paper's format (gsm8k_local.py).
STEPS = "gsm8k-steps:"


def user_turn(question: str) -> str:
    """The user turn of a GSM8K question; a question already in that form is kept as it is."""
    q = question.strip()
    if q.startswith("Question:") and q.endswith("Answer:"):
        return q
    return USER_TEMPLATE.format(question=q)


def gold_answer(reference: object) -> str:
    """The final answer of a reference: what follows the last "####", else the whole of it."""
    text = str(reference)
    return text.rsplit("####", 1)[-1].strip()


class GSM8KTask(PaperTask):
    name = "math"
    primary_metric = "accuracy_strict"
    system_prompt = SYSTEM_PROMPT
    default_data = {
        "sft": "mohit-raghavendra/gsm8k-gpt4ogenerations",
        "pref": "mohit-raghavendra/gsm8k-gpt4opreferences",
        "test": "openai/gsm8k",
    }
    data_configs = {"test": "main"}

    def load(self, role: str, split: str):
        # "gsm8k-steps:<source>": GSM8K's own solutions in the paper's format (gsm8k_local.py)
        data_id = self.data[role]
        if data_id.startswith(STEPS) and role in ("sft", "pref"):
            return steps_dataset(data_id[len(STEPS) :], role)
        return super().load(role, split)

    @classmethod
    def source(cls, role: str, data_id: str) -> tuple[str, str | None]:
        if data_id.startswith(STEPS) and role in ("sft", "pref"):
            return data_id[len(STEPS) :], "main"  # GSM8K train, config main
        return super().source(role, data_id)

    gold_candidates = True  # every training question has its answer: grpo's reward

    def build_train(self) -> tuple[list[dict], list[dict], list[dict]]:
        sft_ds = self.load("sft", "train")
        require_columns(sft_ds, ["prompt", "correct", "reference_answer"], self.data["sft"], "sft")
        sft, candidates = [], []
        for q, corrects, ref in zip(
            sft_ds["prompt"], sft_ds["correct"], sft_ds["reference_answer"], strict=True
        ):
            prompt = user_turn(q)
            pid = prompt_id(prompt)
            ref = str(ref)
            candidates.append(
                {"prompt_id": pid, "prompt": prompt, "reference": ref, "answer": gold_answer(ref)}
            )
            sft += [{"prompt_id": pid, "prompt": prompt, "response": c} for c in corrects]
        return sft, self._pref_rows(), dedupe_by_prompt(candidates)

    def _pref_rows(self) -> list[dict]:
        data_id = self.data["pref"]
        ds = self.load("pref", "train")
        require_columns(ds, ["prompt"], data_id, "pref")
        cols = set(ds.column_names)
        rows = []
        if {"correct", "incorrect"} <= cols:  # one row per question: pair every correct x incorrect
            for q, good, bad in zip(ds["prompt"], ds["correct"], ds["incorrect"], strict=True):
                prompt = user_turn(q)
                rows += [
                    {"prompt_id": prompt_id(prompt), "prompt": prompt, "chosen": c, "rejected": r}
                    for c, r in product(good, bad)
                ]
        elif {"chosen", "rejected"} <= cols:  # one row per pair already
            for q, c, r in zip(ds["prompt"], ds["chosen"], ds["rejected"], strict=True):
                prompt = user_turn(q)
                c = c if isinstance(c, str) else last_message(c, data_id, "pref", "chosen")
                r = r if isinstance(r, str) else last_message(r, data_id, "pref", "rejected")
                rows.append(
                    {"prompt_id": prompt_id(prompt), "prompt": prompt, "chosen": c, "rejected": r}
                )
        else:
            raise PaperDataError(
                f"task_options.data.pref = {data_id!r}: missing columns: need 'correct' and "
                f"'incorrect' (lists; every pair is used) or 'chosen' and 'rejected'; it has "
                f"{ds.column_names}. (The Hub schema of this dataset could not be confirmed.)"
            )
        return rows

    def build_test(self) -> list[dict]:
        ds = self.load("test", "test")
        require_columns(ds, ["question", "answer"], self.data["test"], "test")
        return [
            {
                "prompt_id": prompt_id(user_turn(q)),
                "prompt": user_turn(q),
                "reference": a,
                "answer": gold_answer(a),
            }
            for q, a in zip(ds["question"], ds["answer"], strict=True)
        ]

    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        # a majority baseline: the demonstrations' most common answer, given to every problem
        guess = most_common_answer(r["response"] for r in self.sft_pool())
        return super().cheap_outputs(rows) | {
            f"constant guess #### {guess}": [f"#### {guess}"] * len(rows)
        }

    def in_format(self, completion: str) -> bool:
        return extract_strict(completion) is not None

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        check_lengths(rows, completions)
        strict_preds = [extract_strict(c) for c in completions]
        flexible_preds = [extract_flexible(c) for c in completions]
        n = len(rows)
        return {
            "accuracy_strict": sum(
                answers_match(p, r["answer"]) for p, r in zip(strict_preds, rows, strict=True)
            )
            / n,
            "accuracy_flexible": sum(
                answers_match(p, r["answer"]) for p, r in zip(flexible_preds, rows, strict=True)
            )
            / n,
            "format_rate": sum(p is not None for p in strict_preds) / n,
        }
