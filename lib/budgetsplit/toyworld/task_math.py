"""The toy world's `math` task: small multi-step arithmetic word problems, GSM8K in miniature.

A problem starts one person with a number of things and changes it 2-3 times (buy, give away,
double, halve); the question asks for the final count. The demonstration answers in the paper's
GSM8K format, one line per operation and the answer after "####":

    Tom has 7 apples. Tom buys 4 more apples. Then Tom gives 3 apples to Mia. How many apples
    does Tom have now?
    -> Step 1: 7 + 4 = 11.
       Step 2: 11 - 3 = 8.
       #### 8

Preference pairs set the correct chain (chosen) against a flawed one (rejected): an arithmetic slip
carried through the later steps, a skipped step, or a wrong final answer after a correct chain, as
the paper pairs every correct with every incorrect GPT-4o solution. The pretraining corpus tells the
same kind of stories in prose, and asks such questions and answers them in prose ("First 7 + 4 = 11,
then 11 - 3 = 8, so Tom has 8 apples now."), but never uses "Step" or "####": the base model knows
the arithmetic but not the format. Scoring is lm-eval's gsm8k (budgetsplit.metrics).

    from budgetsplit.toyworld.task_math import MathTask, corpus_documents
    task = MathTask(seed=0)
    task.sft_pool()[0], task.pref_pool()[0], task.eval_split("test")[0]
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from budgetsplit.metrics import STRICT_PATTERN, answers_match, extract_flexible, extract_strict
from budgetsplit.tasks.base import Task

NAMES = (
    "Tom", "Mia", "Sam", "Ana", "Ben", "Lily", "Max", "Zoe", "Leo", "Ella",
    "Jack", "Nora", "Omar", "Ivy", "Ravi", "Kim", "Hugo", "Rosa", "Finn", "Lena",
)  # fmt: skip
ITEMS = tuple((w, w + "s") for w in (
    "apple", "pen", "book", "coin", "egg", "card", "shell", "stamp", "marble", "cookie",
    "sticker", "balloon", "candle", "cup", "flower", "toy", "pencil", "rock", "hat", "plum",
))  # fmt: skip
# Operation -> (symbol, [(present-tense clause, past-tense clause)]); {a} owns the things, {b} is
# someone else, {k} the operand with its noun ({km} with "more"), {i} the things (plural).
OPS = {
    "add": ("+", [
        ("{a} buys {km}", "{a} bought {km}"),
        ("{a} finds {km}", "{a} found {km}"),
        ("{b} gives {a} {km}", "{b} gave {a} {km}"),
        ("{a} gets {k} from {b}", "{a} got {k} from {b}"),
        ("{a} makes {km}", "{a} made {km}"),
    ]),
    "sub": ("-", [
        ("{a} gives {k} to {b}", "{a} gave {k} to {b}"),
        ("{a} loses {k}", "{a} lost {k}"),
        ("{a} sells {k}", "{a} sold {k}"),
        ("{b} takes {k} from {a}", "{b} took {k} from {a}"),
    ]),
    "mul": ("*", [
        ("{a} doubles the {i}", "{a} doubled the {i}"),
        ("{a} triples the {i}", "{a} tripled the {i}"),
    ]),
    "half": ("/", [("{a} gives half of the {i} to {b}", "{a} gave half of the {i} to {b}")]),
}  # fmt: skip
OP_WEIGHTS = {"add": 3, "sub": 3, "mul": 1, "half": 1}
STARTS = ("{a} has {k}.", "{a} starts with {k}.")
FLAWS = ("slip", "skip", "final")
# Hash buckets of the prompt text: the four pools own disjoint buckets, so no prompt is shared and
# each pool is independent of the others' sizes.
N_BUCKETS = 16
BUCKETS = {"test": {0}, "val": {1}, "sft": set(range(2, 9)), "pref": set(range(9, 16))}

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


def _bucket(prompt: str) -> int:
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest()) % N_BUCKETS


def _draw(rng: random.Random, lo: int, hi: int) -> int:
    # Uniform in [lo, hi]; rng.random() arithmetic is several times cheaper than rng.randint.
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: random.Random, seq: Sequence):
    return seq[int(rng.random() * len(seq))]


def count(n: int, things: tuple[str, str]) -> str:
    """'1 apple', '3 apples'."""
    return f"{n} {things[0] if n == 1 else things[1]}"


def make_problem(
    rng: random.Random, min_steps: int, max_steps: int, max_number: int, ops: Sequence[str]
) -> Problem:
    """A random problem whose every number lies in [0, max_number]."""
    a = _pick(rng, NAMES)
    b = _pick(rng, [n for n in NAMES if n != a])
    things = _pick(rng, ITEMS)
    v = start = _draw(rng, 1, max_number)
    steps = []
    for _ in range(_draw(rng, min_steps, max_steps)):
        feasible = {
            "add": v < max_number, "sub": v >= 1,
            "mul": 1 <= v and 2 * v <= max_number, "half": v >= 2 and v % 2 == 0,
        }  # fmt: skip
        usable = [o for o in ops if feasible[o]]
        op = _pick(rng, [o for o in usable for _ in range(OP_WEIGHTS[o])])
        sym, templates = OPS[op]
        t = _draw(rng, 0, len(templates) - 1)
        if op == "add":
            k = _draw(rng, 1, max_number - v)
        elif op == "sub":
            k = _draw(rng, 1, v)
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
    lines = [_pick(rng, STARTS).format(a=a, k=count(start, things))]
    lines += [("Then " if n else "") + s[2] + "." for n, s in enumerate(steps)]
    lines.append(f"How many {things[1]} does {a} have now?")
    return Problem(a, things, start, steps, " ".join(lines))


class MathTask(Task):
    """Toy GSM8K. Difficulty knobs: steps per problem in [min_steps, max_steps]; every number
    (start, operand, intermediate and final value) in [0, max_number]; `allow_mul_div` adds
    doubling/tripling and halving; each preference prompt gets 1..max_pairs_per_prompt pairs."""

    name = "math"
    primary_metric = "accuracy_strict"
    system_prompt = "Write steps, then #### and the answer."
    # Writing a full worked solution takes an annotator about twice as long as checking which of
    # two solutions reaches the right answer.
    default_costs = {"sft": 2.0, "pref": 1.0}

    def __init__(
        self,
        seed: int = 0,
        n_sft_pool: int = 20000,
        n_pref_pool: int = 20000,
        n_val: int = 200,
        n_test: int = 500,
        label_noise: float = 0.0,
        min_steps: int = 2,
        max_steps: int = 3,
        max_number: int = 20,
        allow_mul_div: bool = True,
        max_pairs_per_prompt: int = 3,
    ):
        checks = {
            "n_sft_pool": n_sft_pool >= 0, "n_pref_pool": n_pref_pool >= 0, "n_val": n_val >= 0,
            "n_test": n_test >= 0, "label_noise": 0.0 <= label_noise <= 1.0,
            "min_steps": 1 <= min_steps <= max_steps, "max_steps": max_steps <= 8,
            "max_number": 4 <= max_number <= 1000, "max_pairs_per_prompt": max_pairs_per_prompt >= 1,
        }  # fmt: skip
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"MathTask: {key} = {locals()[key]!r} is out of range")
        self.seed, self.label_noise = seed, label_noise
        self.sizes = {"sft": n_sft_pool, "pref": n_pref_pool, "val": n_val, "test": n_test}
        self.min_steps, self.max_steps, self.max_number = min_steps, max_steps, max_number
        self.ops = ("add", "sub", "mul", "half") if allow_mul_div else ("add", "sub")
        self.max_pairs_per_prompt = max_pairs_per_prompt
        self._cache: dict[str, list[dict]] = {}

    # ------------------------------------------------------------------------- generation
    def _fresh_problems(self, split: str) -> Iterator[Problem]:
        """Endless distinct problems whose prompts fall in `split`'s hash buckets."""
        rng = random.Random(f"{self.seed}/{self.name}/{split}")
        seen: set[str] = set()
        misses = 0
        while True:
            problem = make_problem(rng, self.min_steps, self.max_steps, self.max_number, self.ops)
            prompt = problem.prompt
            if prompt in seen or _bucket(prompt) not in BUCKETS[split]:
                misses += 1
                if misses > 100_000 + 50 * len(seen):
                    raise ValueError(
                        f"MathTask: only {len(seen)} distinct '{split}' prompts found with "
                        f"max_steps={self.max_steps}, max_number={self.max_number}; ask for fewer "
                        "rows or widen the knobs"
                    )
                continue
            seen.add(prompt)
            yield problem

    def _flawed(self, rng: random.Random, start: int, steps: list[tuple], want: int) -> list[str]:
        """Up to `want` distinct wrong solutions, each a plausible near-miss of the right one."""
        values = _chain(start, steps)
        gold, out = values[-1], []
        for flaw in rng.sample(FLAWS, len(FLAWS)) * 3:
            if len(out) == want:
                break
            wrong = None
            if flaw == "slip":
                slip = (_draw(rng, 0, len(steps) - 1), _pick(rng, (-2, -1, 1, 2)))
                if (vals := _chain(start, steps, slip)) and vals[-1] != gold:
                    wrong = _solution(start, steps, vals, vals[-1])
            elif flaw == "skip" and len(steps) > 1:
                skipped = _draw(rng, 0, len(steps) - 1)
                kept = [s for n, s in enumerate(steps) if n != skipped]
                if (vals := _chain(start, kept)) and vals[-1] != gold:
                    wrong = _solution(start, kept, vals, vals[-1])
            elif flaw == "final":
                # A slip in the last line: a neighbour of the answer or a number already seen.
                options = {start, *values[:-1], gold - 2, gold - 1, gold + 1, gold + 2} - {gold}
                final = _pick(rng, sorted(o for o in options if o >= 0))
                wrong = _solution(start, steps, values, final)
            if wrong and wrong not in out:
                out.append(wrong)
        return out

    def _generate(self, split: str) -> list[dict]:
        n, rows = self.sizes[split], []
        problems = self._fresh_problems(split)
        if split == "pref":
            rng = random.Random(f"{self.seed}/{self.name}/pref-pairs")
            noise = random.Random(f"{self.seed}/{self.name}/pref-noise")
        for j, (_, _, start, steps, prompt) in enumerate(problems):
            if len(rows) >= n:
                break
            values = _chain(start, steps)
            solution = _solution(start, steps, values, values[-1])
            pid = f"{self.name}-{split}-{j}"
            base = {"prompt_id": pid, "prompt": prompt}
            if split == "sft":
                rows.append({"id": pid, **base, "response": solution})
            elif split == "pref":
                want = min(_draw(rng, 1, self.max_pairs_per_prompt), n - len(rows))
                wrongs = self._flawed(rng, start, steps, want)
                for m, wrong in enumerate(wrongs):
                    pair = (
                        (wrong, solution)
                        if noise.random() < self.label_noise
                        else (solution, wrong)
                    )
                    rows.append(
                        {"id": f"{pid}-{m}", **base, "chosen": pair[0], "rejected": pair[1]}
                    )
            else:
                rows.append({"id": pid, **base, "reference": solution, "answer": str(values[-1])})
        return rows

    def _rows(self, split: str) -> list[dict]:
        if split not in self._cache:
            self._cache[split] = self._generate(split)
        return self._cache[split]

    # ------------------------------------------------------------------------- Task interface
    def sft_pool(self) -> list[dict]:
        return self._rows("sft")

    def pref_pool(self) -> list[dict]:
        return self._rows("pref")

    def eval_split(self, split: str) -> list[dict]:
        if split not in ("val", "test"):
            raise ValueError(f"MathTask.eval_split: split = {split!r}; expected 'val' or 'test'")
        return self._rows(split)

    def in_format(self, completion: str) -> bool:
        return "Step 1:" in completion and _IN_FORMAT_END.search(completion) is not None

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        if len(rows) != len(completions) or not rows:
            raise ValueError(
                f"MathTask.score: {len(rows)} rows and {len(completions)} completions; "
                "need one completion per row and at least one row"
            )
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


# ----------------------------------------------------------------------------- pretraining corpus
def _story(rng: random.Random, max_number: int) -> str:
    """One story with the task's kind of arithmetic in prose: a past-tense account, or a question
    worded like the task's prompts followed by a prose answer (never one from val or test)."""
    p = make_problem(rng, 1, 3, max_number, tuple(OPS))
    values = _chain(p.start, p.steps)
    sums = [
        f"{a} {sym} {k} = {v}"
        for a, (sym, k, _, _), v in zip([p.start, *values[:-1]], p.steps, values, strict=True)
    ]
    if rng.random() < 0.5:
        if _bucket(p.prompt) in BUCKETS["test"] | BUCKETS["val"]:
            return _story(rng, max_number)
        answer = _pick(
            rng,
            (f"{p.owner} has {count(values[-1], p.things)} now.", f"The answer is {values[-1]}."),
        )
        if rng.random() < 0.5:
            answer = "First " + ", then ".join(sums) + ", so " + answer
        return f"{p.prompt} {answer}"
    sentences = [f"{p.owner} had {count(p.start, p.things)}."]
    for n, ((_, _, _, past), v) in enumerate(zip(p.steps, values, strict=True)):
        told = f"{'Then ' if n else ''}{past}, so {p.owner} had {count(v, p.things)}"
        sentences.append(told + (f", because {sums[n]}." if rng.random() < 0.3 else "."))
    if rng.random() < 0.5:
        sentences.append(f"In the end {p.owner} had {count(values[-1], p.things)}.")
    return " ".join(sentences)


def corpus_documents(seed: int, n: int, max_number: int = 20) -> list[str]:
    """`n` web-text documents of 30-120 words: arithmetic stories, never "Step" nor "####"."""
    rng = random.Random(f"{seed}/math/corpus")
    docs = []
    for _ in range(n):
        doc = _story(rng, max_number)
        while len(doc.split()) < 30:
            doc += " " + _story(rng, max_number)
        while len(doc.split()) > 120:
            doc = doc[: doc.rindex(".", 0, len(doc) - 1) + 1]
        docs.append(doc)
    return docs
