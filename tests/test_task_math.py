"""Tests for the toy math task: pools, gold solutions, preference pairs, corpus and scorer."""

from __future__ import annotations

import re

import pytest

from budgetsplit.tasks.metrics import extract_strict
from budgetsplit.tasks.toyworld.task_math import MathTask, corpus_documents


def solve(prompt: str) -> int:
    """An independent reading of a prompt: each sentence's verb says what happens to the count."""
    count = None
    for sentence in re.split(r"(?<=[.?])\s+", prompt):
        words = sentence.rstrip(".?").split()
        nums = [int(w) for w in words if w.isdigit()]
        if "has" in words or "starts" in words:
            count = nums[0]
        elif "half" in words:
            count //= 2
        elif "doubles" in words:
            count *= 2
        elif "triples" in words:
            count *= 3
        elif {"buys", "finds", "makes", "gets"} & set(words) or "more" in words:
            count += nums[0]
        elif {"gives", "loses", "sells", "takes"} & set(words):
            count -= nums[0]
        else:
            assert sentence.startswith("How many"), sentence
    return count


def check_chain(solution: str) -> bool:
    """Whether every step line's arithmetic holds and the answer is the last step's result."""
    last = None
    for a, op, b, c in re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)\.", solution):
        a, b, c = int(a), int(b), int(c)
        if {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op] != c or (last not in (None, a)):
            return False
        last = c
    return last is not None and extract_strict(solution) == str(last)


@pytest.fixture(scope="module")
def toy_task():
    return MathTask(seed=0)


def test_full_pools_sizes_time_and_disjoint_prompts(full, check_pools):
    _, pools, seconds = full
    check_pools(pools, seconds)


def test_gold_solutions_are_right(full):
    task, pools, _ = full
    for r in pools["test"] + pools["val"]:
        gold = solve(r["prompt"])
        assert r["answer"] == str(gold)
        assert check_chain(r["reference"]) and task.in_format(r["reference"])
        assert 0 <= gold <= 20
        assert all(int(n) <= 20 for n in re.findall(r"\d+", r["prompt"] + r["reference"]))
    for r in pools["sft"][:2000]:
        assert extract_strict(r["response"]) == str(solve(r["prompt"]))
        assert check_chain(r["response"]) and task.in_format(r["response"])
        assert 2 <= r["response"].count("Step ") <= 3
        assert len(r["prompt"].split()) + len(r["response"].split()) <= 90


def test_pairs_are_right_against_near_miss(full):
    task, pools, _ = full
    for r in pools["pref"][:3000]:
        gold = str(solve(r["prompt"]))
        assert extract_strict(r["chosen"]) == gold and check_chain(r["chosen"])
        assert extract_strict(r["rejected"]) != gold
        assert task.in_format(r["rejected"]) and r["rejected"] != r["chosen"]


def test_rejected_kinds_all_occur(full):
    _, pools, _ = full
    kinds = set()
    for r in pools["pref"][:500]:
        c, j = r["chosen"], r["rejected"]
        if j.count("Step ") < c.count("Step "):
            kinds.add("skip")
        elif j.count("Step ") > c.count("Step "):
            kinds.add("dup")
        elif not check_chain(j):
            kinds.add("slip" if j.splitlines()[:-1] != c.splitlines()[:-1] else "final")
    assert kinds == {"skip", "dup", "slip", "final"}


def test_cheap_outputs_score_at_the_floor(full):
    """The strict floor is 0 for the bare template, an empty answer, a copy of the problem and any
    list of its numbers (no answer is a number the problem states), and a constant guess scores
    the share of its answer, at most 8% (no answer is 0 or max_number, where chains pile up)."""
    task, pools, _ = full
    rows = pools["test"]
    nums = [re.findall(r"\d+", r["prompt"]) for r in rows]
    for cheap in (
        ["Step 1:\n#### "] * len(rows),
        [""] * len(rows),
        [r["prompt"] for r in rows],
        ["#### " + " ".join(n) for n in nums],
        ["\n".join(f"#### {x}" for x in n) for n in nums],
        [f"Step 1: {' '.join(n)}.\n#### {n[-1]}" for n in nums],  # in format, the last number
        [f"Step 1: {' '.join(n)}.\n#### {n[0]}" for n in nums],
    ):
        assert task.score(rows, cheap)["accuracy_strict"] == 0.0, cheap[0]
    assert not any(r["answer"] in n for r, n in zip(rows, nums, strict=True))
    best = max(task.score(rows, [f"#### {g}"] * len(rows))["accuracy_strict"] for g in range(21))
    assert 0 < best <= 0.08


def test_deterministic_and_seeded():
    a, b, c = (
        MathTask(seed=s, n_sft_pool=50, n_pref_pool=50, n_val=5, n_test=5) for s in (1, 1, 2)
    )
    assert a.sft_pool() == b.sft_pool() and a.pref_pool() == b.pref_pool()
    assert a.eval_split("test") == b.eval_split("test")
    assert a.sft_pool() != c.sft_pool()
    # A pool does not depend on the other pools' sizes.
    assert (
        MathTask(n_sft_pool=30, n_test=3).sft_pool()
        == MathTask(n_sft_pool=60, n_test=40).sft_pool()[:30]
    )


@pytest.mark.parametrize("noise, lo, hi", [(0.0, 0.0, 0.0), (0.25, 0.22, 0.28), (1.0, 1.0, 1.0)])
def test_label_noise_flip_rate(noise, lo, hi):
    rows = MathTask(seed=3, n_pref_pool=2000, label_noise=noise).pref_pool()
    flipped = sum(extract_strict(r["chosen"]) != str(solve(r["prompt"])) for r in rows)
    assert lo <= flipped / len(rows) <= hi


def test_knobs_change_difficulty_and_bad_values_are_named():
    rows = MathTask(
        n_sft_pool=200, min_steps=4, max_steps=4, max_number=9, allow_mul_div=False
    ).sft_pool()
    assert all(r["response"].count("Step ") == 4 for r in rows)
    assert all(
        int(n) <= 9 for r in rows for n in re.findall(r"\d+", r["response"].replace("Step ", ""))
    )
    assert not any(s in r["response"] for r in rows for s in (" * ", " / "))
    with pytest.raises(ValueError, match="label_noise = 1.5"):
        MathTask(label_noise=1.5)
    with pytest.raises(ValueError, match="min_steps"):
        MathTask(min_steps=4, max_steps=3)
    with pytest.raises(ValueError, match="'train'"):
        MathTask().eval_split("train")


def test_corpus_documents_are_prose_without_the_format(full):
    _, pools, _ = full
    docs = corpus_documents(seed=0, n=2000)
    assert docs == corpus_documents(seed=0, n=2000) and docs != corpus_documents(seed=1, n=2000)
    assert len(docs) == 2000
    for d in docs:
        assert 30 <= len(d.split()) <= 120
        assert "Step" not in d and "####" not in d and "<|im_start|>" not in d
    sums = [m for d in docs for m in re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", d)]
    assert len(sums) > 1000 and {m[1] for m in sums} == {"+", "-", "*", "/"}
    for a, op, b, c in sums:
        a, b = int(a), int(b)
        assert {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op] == int(c)
    # Questions worded like the prompts appear, answered in prose, but never val or test ones.
    assert sum("How many" in d for d in docs) > 500
    text = "\n".join(docs)
    assert not any(r["prompt"] in text for r in pools["test"] + pools["val"])


SOLUTION = "Step 1: Tom buys 4 more apples. 7 + 4 = 11.\nStep 2: Tom gives 3 apples to Mia. 11 - 3 = 8.\n#### 8"


@pytest.mark.parametrize(
    "completion, fmt",
    [
        (SOLUTION, True),
        (SOLUTION + "\n", True),
        (SOLUTION + ".", True),
        ("Step 1: 7 + 4 = 11.\n#### 11 apples", False),  # must end with the answer
        ("7 + 4 = 11, 11 - 3 = 8.\n#### 8", False),  # no steps
        ("Step 1: 7 + 4 = 11. Step 2: 11 - 3 = 8. The answer is 8.", False),
        ("", False),
    ],
)
def test_in_format(completion, fmt):
    assert MathTask(n_test=0).in_format(completion) is fmt


def test_score_known_answers():
    task = MathTask()
    rows = [{"answer": "8"}, {"answer": "8"}, {"answer": "12"}, {"answer": "0"}]
    completions = [
        SOLUTION,  # right, in format
        "Tom has 11 apples, then 8 apples.",  # right only under flexible extraction
        "Step 1: 5 + 7 = 12.\n#### 13",  # wrong, in format
        "Step 1: 5 - 5 = 0.\n#### $0.",  # strict regex stops at "$": no strict answer
    ]
    assert task.score(rows, completions) == {
        "accuracy_strict": 0.25,
        "accuracy_flexible": 0.75,
        "format_share": 0.5,
    }
    with pytest.raises(ValueError, match="2 rows and 1 completions"):
        task.score(rows[:2], completions[:1])
