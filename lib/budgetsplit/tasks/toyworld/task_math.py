"""The toy world's `math` task: small multi-step arithmetic word problems, GSM8K in miniature.

A problem starts one person with a number of things and changes it 2-3 times (buy, give away,
double, halve); the question asks for the final count. The demonstration answers in the paper's
GSM8K format, one line per operation and the answer after "####":

    Tom has 7 apples. Tom buys 4 more apples. Then Tom gives 3 apples to Mia. How many apples
    does Tom have now?
    -> Step 1: 7 + 4 = 11.
       Step 2: 11 - 3 = 8.
       #### 8

No answer is a number the problem states, nor 0 or max_number, so copying a number or one
constant guess scores at most 7% (tests: test_cheap_outputs_score_at_the_floor).

Preference pairs set the correct chain (chosen) against a flawed one (rejected): an arithmetic slip
carried through the later steps, a skipped step, a step done twice, or a wrong final answer after
a correct chain, as the paper pairs every correct with every incorrect GPT-4o solution. Skipped
and duplicated steps come about equally often, so neither length nor where `####` stands tells the
right solution (tests/test_shortcuts.py). The pretraining corpus tells the
same kind of stories in prose, and asks such questions and answers them in prose, most often step
by step ("First 7 + 4 = 11, then 11 - 3 = 8, so Tom has 8 apples now."; the skill the probe
checks), but never uses "Step" or "####": the base model knows the arithmetic, not the format. Scoring is lm-eval's gsm8k (budgetsplit.tasks.metrics).

    from budgetsplit.tasks.toyworld.task_math import MathTask, corpus_documents
    task = MathTask(seed=0)
    task.sft_pool()[0], task.pref_pool()[0], task.eval_split("test")[0]
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from budgetsplit.tasks.metrics import (
    STRICT_PATTERN,
    answers_match,
    extract_flexible,
    extract_strict,
    most_common_answer,
)
from budgetsplit.tasks.toyworld.common import ToyTask, document, draw, held_out, pick

NAMES = (
    "Tom",
    "Mia",
    "Sam",
    "Ana",
    "Ben",
    "Lily",
    "Max",
    "Zoe",
    "Leo",
    "Ella",
    "Jack",
    "Nora",
    "Omar",
    "Ivy",
    "Ravi",
    "Kim",
    "Hugo",
    "Rosa",
    "Finn",
    "Lena",
)
ITEMS = tuple(
    (w, w + "s")
    for w in (
        "apple",
        "pen",
        "book",
        "coin",
        "egg",
        "card",
        "shell",
        "stamp",
        "marble",
        "cookie",
        "sticker",
        "balloon",
        "candle",
        "cup",
        "flower",
        "toy",
        "pencil",
        "rock",
        "hat",
        "plum",
    )
)
# Operation -> (symbol, [(present-tense clause, past-tense clause)]); {a} owns the things, {b} is
# someone else, {k} the operand with its noun ({km} with "more"), {i} the things (plural).
OPS = {
    "add": (
        "+",
        [
            ("{a} buys {km}", "{a} bought {km}"),
            ("{a} finds {km}", "{a} found {km}"),
            ("{b} gives {a} {km}", "{b} gave {a} {km}"),
            ("{a} gets {k} from {b}", "{a} got {k} from {b}"),
            ("{a} makes {km}", "{a} made {km}"),
        ],
    ),
    "sub": (
        "-",
        [
            ("{a} gives {k} to {b}", "{a} gave {k} to {b}"),
            ("{a} loses {k}", "{a} lost {k}"),
            ("{a} sells {k}", "{a} sold {k}"),
            ("{b} takes {k} from {a}", "{b} took {k} from {a}"),
        ],
    ),
    "mul": (
        "*",
        [
            ("{a} doubles the {i}", "{a} doubled the {i}"),
            ("{a} triples the {i}", "{a} tripled the {i}"),
        ],
    ),
    "half": ("/", [("{a} gives half of the {i} to {b}", "{a} gave half of the {i} to {b}")]),
}
OP_WEIGHTS = {"add": 3, "sub": 3, "mul": 1, "half": 1}
STARTS = ("{a} has {k}.", "{a} starts with {k}.")
# A slip and a wrong final line keep the length, a skipped step shortens and a duplicated step
# lengthens the solution, so length does not tell the right one (tests/test_shortcuts.py).
FLAWS = ("slip", "skip", "dup", "final")

_IN_FORMAT_END = re.compile(STRICT_PATTERN + r"\s*$")


class Problem(NamedTuple):
    owner: str
    things: tuple[str, str]  # singular, plural
    start: int
    # (symbol, operand, present-tense clause, past-tense clause) per step
    steps: list[tuple[str, int, str, str]]
    prompt: str


def _apply(sym: str, v: int, k: int) -> int | None:
    """The result of one step, or None where the world forbids it (negative or odd halving)."""
    if sym == "+":
        return v + k
    if sym == "-":
        return v - k if v >= k else None
    if sym == "*":
        return v * k
    return v // k if v % k == 0 else None


def _chain(start: int, steps: Sequence[tuple], slip: tuple[int, int] | None = None):
    """Values after each step; `slip` = (step, delta) puts an error there and carries it on."""
    values, v = [], start
    for n, (sym, k, _, _) in enumerate(steps):
        v = _apply(sym, v, k)
        if v is None:
            return None
        if slip and slip[0] == n:
            v += slip[1]
            if v < 0:
                return None
        values.append(v)
    return values


def _solution(start: int, steps: Sequence[tuple], values: Sequence[int], final: int) -> str:
    lines, prev = [], start
    # Bare equations keep a 3-step chat example within the toy model's 128 tokens.
    for n, ((sym, k, _, _), v) in enumerate(zip(steps, values, strict=True)):
        lines.append(f"Step {n + 1}: {prev} {sym} {k} = {v}.")
        prev = v
    return "\n".join(lines + [f"#### {final}"])


def _no_giveaway(rng: random.Random, item: tuple, max_number: int) -> tuple | None:
    """The (start, steps) item, or None if a guess would often find its answer: a number the
    problem states (copying the prompt's last number answered 1 problem in 6, more than SFT on
    1,000 demonstrations did), or 0 or `max_number`, where chains pile up (10% each)."""
    start, steps = item
    stated = {start, 0, max_number} | {k for sym, k, _, _ in steps if sym in "+-"}
    return None if _chain(start, steps)[-1] in stated else item


def count(n: int, things: tuple[str, str]) -> str:
    """'1 apple', '3 apples'."""
    return f"{n} {things[0] if n == 1 else things[1]}"


def make_problem(
    rng: random.Random, min_steps: int, max_steps: int, max_number: int, ops: Sequence[str]
) -> Problem:
    """A random problem whose every number lies in [0, max_number]."""
    a = pick(rng, NAMES)
    b = pick(rng, [n for n in NAMES if n != a])
    things = pick(rng, ITEMS)
    v = start = draw(rng, 1, max_number)
    steps = []
    for _ in range(draw(rng, min_steps, max_steps)):
        feasible = {
            "add": v < max_number,
            "sub": v >= 1,
            "mul": 1 <= v and 2 * v <= max_number,
            "half": v >= 2 and v % 2 == 0,
        }
        usable = [o for o in ops if feasible[o]]
        op = pick(rng, [o for o in usable for _ in range(OP_WEIGHTS[o])])
        sym, templates = OPS[op]
        t = draw(rng, 0, len(templates) - 1)
        if op == "add":
            k = draw(rng, 1, max_number - v)
        elif op == "sub":
            k = draw(rng, 1, v)
        elif op == "mul":
            t = t if v * (2 + t) <= max_number else 0  # triple only while it stays small
            k = 2 + t
        else:
            k = 2
        k_things = count(k, things)
        fill = {
            "a": a,
            "b": b,
            "k": k_things,
            "km": k_things.replace(" ", " more "),
            "i": things[1],
        }
        steps.append((sym, k, templates[t][0].format(**fill), templates[t][1].format(**fill)))
        v = _apply(sym, v, k)
    lines = [pick(rng, STARTS).format(a=a, k=count(start, things))]
    lines += [("Then " if n else "") + s[2] + "." for n, s in enumerate(steps)]
    lines.append(f"How many {things[1]} does {a} have now?")
    return Problem(a, things, start, steps, " ".join(lines))


class MathTask(ToyTask):
    """Toy GSM8K. Difficulty knobs: steps per problem in [min_steps, max_steps]; every number
    (start, operand, intermediate and final value) in [0, max_number]; `allow_mul_div` adds
    doubling/tripling and halving; each preference prompt gets 1..max_pairs_per_prompt pairs."""

    name = "math"
    primary_metric = "accuracy_strict"
    system_prompt = "Write steps, then #### and the answer."
    pair_stream = "pref-pairs"

    def __init__(
        self,
        min_steps: int = 2,
        max_steps: int = 3,
        max_number: int = 20,
        allow_mul_div: bool = True,
        max_pairs_per_prompt: int = 3,
        **world,
    ):
        super().__init__(
            {
                "min_steps": (min_steps, 1 <= min_steps <= max_steps),
                "max_steps": (max_steps, max_steps <= 8),
                "max_number": (max_number, 4 <= max_number <= 1000),
                "max_pairs_per_prompt": (max_pairs_per_prompt, max_pairs_per_prompt >= 1),
            },
            **world,
        )
        self.min_steps, self.max_steps, self.max_number = min_steps, max_steps, max_number
        self.ops = ("add", "sub", "mul", "half") if allow_mul_div else ("add", "sub")
        # "First a + b = c, then ..., so Tom has N apples now.": about 8 tokens a step
        self.probe_tokens = 16 + 8 * max_steps

    # ------------------------------------------------------------------------- generation
    def _items(self, split: str, rng: random.Random) -> Iterator[tuple[str, tuple]]:
        """Distinct problems as (prompt, (start, steps, values, solution))."""
        hint = f" with max_steps={self.max_steps}, max_number={self.max_number}"
        for prompt, (start, steps) in self._fresh(split, rng, self._make, self._fair, hint):
            values = _chain(start, steps)
            yield prompt, (start, steps, values, _solution(start, steps, values, values[-1]))

    def _fair(self, rng: random.Random, item: tuple) -> tuple | None:
        return _no_giveaway(rng, item, self.max_number)

    def _make(self, rng: random.Random) -> tuple[str, tuple]:
        p = make_problem(rng, self.min_steps, self.max_steps, self.max_number, self.ops)
        return p.prompt, (p.start, p.steps)

    def _demo(self, item: tuple) -> str:
        return item[3]

    def _eval_fields(self, item: tuple) -> dict:
        return {"reference": item[3], "answer": str(item[2][-1])}

    def _pairs(self, rng: random.Random, item: tuple, want: int) -> Iterator[tuple[int, str, str]]:
        start, steps, _, solution = item
        for m, wrong in enumerate(self._flawed(rng, start, steps, want)):
            yield m, solution, wrong

    def _flawed(self, rng: random.Random, start: int, steps: list[tuple], want: int) -> list[str]:
        """Up to `want` distinct wrong solutions, each a plausible near-miss of the right one."""
        values = _chain(start, steps)
        gold, out = values[-1], []
        for flaw in rng.sample(FLAWS, len(FLAWS)) * 3:
            if len(out) == want:
                break
            wrong = None
            if flaw == "slip":
                slip = (draw(rng, 0, len(steps) - 1), pick(rng, (-2, -1, 1, 2)))
                if (vals := _chain(start, steps, slip)) and vals[-1] != gold:
                    wrong = _solution(start, steps, vals, vals[-1])
            elif flaw == "skip" and len(steps) > 1:
                skipped = draw(rng, 0, len(steps) - 1)
                kept = [s for n, s in enumerate(steps) if n != skipped]
                if (vals := _chain(start, kept)) and vals[-1] != gold:
                    wrong = _solution(start, kept, vals, vals[-1])
            elif flaw == "dup":
                # One step done twice: "#### N" lands where the right solution writes no line.
                # (tried at each step in random order: some cannot be done twice, e.g. a halving)
                for twice in rng.sample(range(len(steps)), len(steps)):
                    doubled = [*steps[: twice + 1], *steps[twice:]]
                    if (vals := _chain(start, doubled)) and vals[-1] != gold:
                        wrong = _solution(start, doubled, vals, vals[-1])
                        break
            elif flaw == "final":
                # A slip in the last line: a neighbour of the answer or a number already seen.
                options = {start, *values[:-1], gold - 2, gold - 1, gold + 1, gold + 2} - {gold}
                final = pick(rng, sorted(o for o in options if o >= 0))
                wrong = _solution(start, steps, values, final)
            if wrong and wrong not in out:
                out.append(wrong)
        return out

    # ------------------------------------------------------------------------- Task interface
    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        # a majority baseline: the demonstrations' most common answer, given to every problem
        guess = most_common_answer(r["response"] for r in self.sft_pool())
        return super().cheap_outputs(rows) | {
            "bare template": ["Step 1:\n#### "] * len(rows),
            f"constant guess #### {guess}": [f"Step 1: {guess}.\n#### {guess}"] * len(rows),
        }

    def in_format(self, completion: str) -> bool:
        return "Step 1:" in completion and _IN_FORMAT_END.search(completion) is not None

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        self._check_scored(rows, completions)
        n = len(rows)
        strict = sum(
            answers_match(extract_strict(c), r["answer"])
            for r, c in zip(rows, completions, strict=True)
        )
        flex = sum(
            answers_match(extract_flexible(c), r["answer"])
            for r, c in zip(rows, completions, strict=True)
        )
        fmt = sum(self.in_format(c) for c in completions)
        return {
            "accuracy_strict": strict / n,
            "accuracy_flexible": flex / n,
            "format_share": fmt / n,
        }

    def probes(self, split: str, n: int) -> list[dict]:
        # a held-out question, then the corpus's worked answer begun: the base model must finish it
        return [
            {"prefix": f"{r['prompt']} {WORKED}", "answer": r["answer"]}
            for r in self.eval_split(split)[:n]
        ]

    def probe_score(self, probe: dict, completion: str) -> float:
        return float(worked_answer(completion) == probe["answer"])


# ----------------------------------------------------------------------------- pretraining corpus
# The corpus's own way of solving a question: "First a + b = c, then c - d = e, so Tom has e
# apples now." `probes` start a held-out question this way and read the number after "so".
WORKED = "First"
_WORKED_ANSWER = re.compile(r"so \w+ has (\d+)|[Tt]he answer is (\d+)")


def _story(rng: random.Random, max_number: int, max_steps: int) -> str:
    """One story with the task's kind of arithmetic in prose: a question worded like the task's
    prompts, most often answered step by step (`WORKED`), never one from val or test; or a
    past-tense account."""
    p = make_problem(rng, 1, max_steps, max_number, tuple(OPS))
    values = _chain(p.start, p.steps)
    sums = [
        f"{a} {sym} {k} = {v}"
        for a, (sym, k, _, _), v in zip([p.start, *values[:-1]], p.steps, values, strict=True)
    ]
    if rng.random() < 0.6:
        if held_out(p.prompt):
            return _story(rng, max_number, max_steps)
        answer = pick(
            rng,
            (f"{p.owner} has {count(values[-1], p.things)} now.", f"The answer is {values[-1]}."),
        )
        if rng.random() < 0.75:
            answer = f"{WORKED} " + ", then ".join(sums) + ", so " + answer
        return f"{p.prompt} {answer}"
    sentences = [f"{p.owner} had {count(p.start, p.things)}."]
    for n, ((_, _, _, past), v) in enumerate(zip(p.steps, values, strict=True)):
        told = f"{'Then ' if n else ''}{past}, so {p.owner} had {count(v, p.things)}"
        sentences.append(told + (f", because {sums[n]}." if rng.random() < 0.3 else "."))
    if rng.random() < 0.5:
        sentences.append(f"In the end {p.owner} had {count(values[-1], p.things)}.")
    return " ".join(sentences)


def corpus_documents(seed: int, n: int, max_number: int = 20, max_steps: int = 3) -> list[str]:
    """`n` web-text documents of 30-120 words: arithmetic stories, never "Step" nor "####", with
    the task's numbers and 1 to its `max_steps` steps."""
    rng = random.Random(f"{seed}/math/corpus")
    return [document(lambda: _story(rng, max_number, max_steps)) for _ in range(n)]


def worked_answer(completion: str) -> str | None:
    """The number a prose solution ends on ("..., so Tom has 8 apples now." -> "8"), read in its
    first sentence; None when it states none."""
    m = _WORKED_ANSWER.search(completion.split(". ")[0])
    return None if m is None else m.group(1) or m.group(2)
