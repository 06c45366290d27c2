"""GSM8K's own files made into the paper's math data, for a real model with no Hub: demonstrations
from GSM8K's worked solutions in the paper's format, preference pairs whose rejected side is a
real wrong solution, and GSM8K test as it is.

GSM8K (the Hub's openai/gsm8k, config main; `question`, `answer` with `<<calc>>` annotations and a
last line `#### N`) has one worked solution per question. The paper's data (GPT-4o solutions,
gsm8k.py) answer in the format of its system prompt, "Step 1: ...\\nStep 2: ...\\n\\n#### N". So:

- a **demonstration** is the GSM8K solution with each line a step ("Step k: <line>"), the
  `<<...>>` calculator annotations dropped, and the final answer after a blank line
  (`paper_steps`);
- a **rejected response** is the same demonstration with an arithmetic slip in its last step that
  states a number (`slipped`): that number and the final answer become the same wrong value (the
  right one plus or minus 1 to 3, or doubled, drawn per question from the seed), so chosen and
  rejected share their form and differ in being right, and the GSM8K scorer marks the rejected
  one wrong. A question whose solution states no number in a step is left out of the pairs.

The paper's math task reads these in place of the Hub's GPT-4o data when a data id is
`gsm8k-steps:<source>` (`task_options.data.sft` and `.pref`; `<source>` is openai/gsm8k or a
local copy of it): `steps_dataset` makes them in memory, in the columns of
mohit-raghavendra/gsm8k-gpt4ogenerations (prompt, correct, reference_answer) and
gsm8k-gpt4opreferences (prompt, correct, incorrect). `write_paper_data(gsm8k_dir, out_dir)`
writes the same rows as files (`sft/train.jsonl`, `pref/train.jsonl`) for other tools.

    task_options: {data: {sft: "gsm8k-steps:openai/gsm8k", pref: "gsm8k-steps:openai/gsm8k"}}
    write_paper_data("../shared/data/gsm8k", "data/gsm8k_paper")   # or as files
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

from budgetsplit.core.store import write_text
from budgetsplit.tasks.paper.data import load_split

_CALC = re.compile(r"<<[^<>]*>>")
# A number as GSM8K writes it: 1,200 or 0.5 or 72 (a sign is written apart, "-$5" is rare)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


def _lines(answer: str) -> tuple[list[str], str]:
    """(the solution's steps without annotations, the final answer after ####)."""
    body, sep, final = answer.rpartition("####")
    if not sep:
        raise ValueError(f"not a GSM8K solution (no '####'): {answer[:60]!r}")
    steps = [_CALC.sub("", line).strip() for line in body.strip().splitlines()]
    return [s for s in steps if s], final.strip()


def _format(steps: list[str], final: str) -> str:
    numbered = "\n".join(f"Step {k}: {s}" for k, s in enumerate(steps, 1))
    return f"{numbered}\n\n#### {final}"


def paper_steps(answer: str) -> str:
    """A GSM8K worked solution in the paper's response format ("Step k: ...", "#### N")."""
    return _format(*_lines(answer))


def _value(text: str) -> float:
    return float(text.replace(",", ""))


def _number_text(x: float) -> str:
    return f"{int(x)}" if float(x).is_integer() else f"{x:g}"


def slipped(answer: str, rng: random.Random) -> str | None:
    """The solution in the paper's format with an arithmetic slip in its last step that states a
    number: that number and the final answer both become the same wrong value (module
    docstring); None when no step states a number or the final answer is not a number."""
    steps, final = _lines(answer)
    try:
        right = _value(final)
    except ValueError:
        return None
    for k in range(len(steps) - 1, -1, -1):
        found = list(_NUMBER.finditer(steps[k]))
        if not found:
            continue
        last = found[-1]
        wrong = rng.choice([right + d for d in (-3, -2, -1, 1, 2, 3)] + [2 * right])
        if wrong == right or wrong < 0:
            wrong = right + 1
        text = _number_text(wrong)
        step = steps[k][: last.start()] + text + steps[k][last.end() :]
        steps = [*steps[:k], step, *steps[k + 1 :]]
        return _format(steps, text)
    return None


def paper_rows(
    questions: list[str], answers: list[str], seed: int = 0, where: str = "GSM8K"
) -> tuple[list[dict], list[dict]]:
    """(SFT rows in gsm8k-gpt4ogenerations' columns, preference rows in gsm8k-gpt4opreferences')
    of GSM8K questions and worked solutions (module docstring); ValueError naming `where` and
    the row of a solution without its "####"."""
    rng = random.Random(f"{seed}/gsm8k-slips")
    sft, pref = [], []
    for i, (question, answer) in enumerate(zip(questions, answers, strict=True)):
        try:
            good = paper_steps(answer)
        except ValueError as e:
            raise ValueError(f"{where}: row {i}: {e}") from None
        sft.append({"prompt": question, "correct": [good], "reference_answer": answer})
        bad = slipped(answer, rng)
        if bad is not None:
            pref.append({"prompt": question, "correct": [good], "incorrect": [bad]})
    return sft, pref


def steps_dataset(source: str, role: str, seed: int = 0):
    """The paper-format `role` ("sft" or "pref") data made from GSM8K train at `source` (a Hub id,
    openai/gsm8k config main, or a local copy), as a `datasets.Dataset`: what the paper's math task
    reads for a data id `gsm8k-steps:<source>` (gsm8k.py)."""
    from datasets import Dataset  # datasets is slow to import: only where rows become one

    ds = load_split(source, "train", "main", role)
    sft, pref = paper_rows(ds["question"], ds["answer"], seed, f"{source} (train)")
    return Dataset.from_list(sft if role == "sft" else pref)


def _read_jsonl(path: Path) -> list[dict]:
    with path.open() as f:
        return [json.loads(line) for line in f if line.strip()]


def write_paper_data(gsm8k_dir: str | Path, out_dir: str | Path, seed: int = 0) -> dict[str, str]:
    """Write the paper-format SFT and preference files made from `gsm8k_dir`/train.jsonl into
    `out_dir` (module docstring); returns the `task_options.data` of the paper's math task:
    {"sft": out_dir/sft, "pref": out_dir/pref, "test": gsm8k_dir}."""
    src, out = Path(gsm8k_dir), Path(out_dir)
    train = src / "train.jsonl"
    if not train.is_file() or not (src / "test.jsonl").is_file():
        raise FileNotFoundError(f"{src}: needs GSM8K's train.jsonl and test.jsonl")
    rows = _read_jsonl(train)
    questions, answers = [r["question"] for r in rows], [r["answer"] for r in rows]
    sft, pref = paper_rows(questions, answers, seed, str(train))
    for role, part in (("sft", sft), ("pref", pref)):
        text = "".join(json.dumps(r) + "\n" for r in part)
        (out / role).mkdir(parents=True, exist_ok=True)
        write_text(out / role / "train.jsonl", text)
    return {"sft": str(out / "sft"), "pref": str(out / "pref"), "test": str(src)}
