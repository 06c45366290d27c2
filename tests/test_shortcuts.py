"""Tests for budgetsplit.tasks.toyworld.shortcuts and, through it, the four toy tasks' preference pairs:
surface features alone do not tell chosen from rejected, while the task's gold judge does."""

from __future__ import annotations

import random

import pytest
from test_task_math import solve
from test_task_summarize import facts_of

from budgetsplit.tasks import ifeval
from budgetsplit.tasks.metrics import extract_strict
from budgetsplit.tasks.toyworld.shortcuts import shortcut_report, surface_features
from budgetsplit.tasks.toyworld.task_helpful import HelpfulTask, gold_reward
from budgetsplit.tasks.toyworld.task_instruct import InstructTask
from budgetsplit.tasks.toyworld.task_math import MathTask
from budgetsplit.tasks.toyworld.task_summarize import SummarizeTask, fact_score


def _follows(r: dict, text: str) -> int:
    strict, _ = ifeval.check(text, r["instruction_id_list"], r["kwargs"], r["prompt"])
    return sum(strict)


# Each task's gold judge: whether it prefers the chosen side (from the prompt, not the surface).
JUDGES = {
    MathTask: lambda r: (
        extract_strict(r["chosen"]) == str(solve(r["prompt"])) != extract_strict(r["rejected"])
    ),
    InstructTask: lambda r: (
        _follows(r, r["chosen"]) == len(r["kwargs"]) > _follows(r, r["rejected"])
    ),
    SummarizeTask: lambda r: (
        fact_score(facts_of(r["prompt"]), r["chosen"])
        > fact_score(facts_of(r["prompt"]), r["rejected"])
    ),
    HelpfulTask: lambda r: gold_reward(r, r["chosen"]) > gold_reward(r, r["rejected"]),
}


@pytest.fixture(scope="module", params=list(JUDGES), ids=lambda c: c.name)
def pairs(request):
    return request.param, request.param(seed=0, n_sft_pool=0, n_pref_pool=4000).pref_pool()


def test_surface_features_do_not_tell_chosen_from_rejected(pairs):
    _, rows = pairs
    report = shortcut_report(rows)
    assert report["surface_accuracy"] <= 0.6, report
    assert 0.4 <= report["chosen_longer_share"] <= 0.6, report


def test_the_gold_judge_prefers_every_chosen(pairs):
    cls, rows = pairs
    sample = random.Random(0).sample(rows, 300)  # the IFEval checkers take ~5 ms a pair
    assert all(JUDGES[cls](r) for r in sample)


def _pool(rng: random.Random, chosen_longer: float) -> list[dict]:
    """Pairs of random words where the chosen side is the longer one at rate `chosen_longer`."""
    rows = []
    for i in range(1500):
        short, long = (" ".join("ab"[:1] * rng.randint(1, 3) for _ in range(n)) for n in (3, 6))
        longer = rng.random() < chosen_longer
        rows.append(
            {
                "prompt_id": f"p{i}",
                "chosen": long if longer else short,
                "rejected": short if longer else long,
            }
        )
    return rows


def test_report_finds_a_length_shortcut_and_no_shortcut_where_there_is_none():
    rng = random.Random(0)
    biased = shortcut_report(_pool(rng, 0.9))
    assert biased["chosen_longer_share"] == pytest.approx(0.9, abs=0.03)
    assert biased["surface_accuracy"] >= 0.85 and biased["longer_rule_accuracy"] >= 0.85
    fair = shortcut_report(_pool(rng, 0.5))
    assert fair["surface_accuracy"] <= 0.56 and 0.45 <= fair["chosen_longer_share"] <= 0.55


def test_surface_features_see_markers_and_where_they_are():
    a, b = surface_features("Step 1: 2 + 2 = 4.\n#### 4"), surface_features("Step 1: 2 + 2 = 4.")
    assert a[:4] == [25, 9, 2, 1] and b[2] == 1
    assert a != b and len(a) == len(b)
    # "####" (the first marker) counted once, at offset 19 on line 1; absent from b.
    assert a[4:7] == [1, 19, 1] and b[4:7] == [0, -1, -1]
