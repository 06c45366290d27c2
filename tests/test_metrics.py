"""Tests for budgetsplit.tasks.metrics: agreement with lm-eval's gsm8k task as configured by its own YAML."""

from __future__ import annotations

from pathlib import Path

import lm_eval
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lm_eval.api.instance import Instance
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters import build_filter_ensemble

from budgetsplit.tasks import metrics
from budgetsplit.tasks.metrics import (
    answers_match,
    extract_flexible,
    extract_strict,
    normalize_answer,
    rouge_l_f1,
)

GSM8K_YAML = Path(lm_eval.__file__).parent / "tasks" / "gsm8k" / "gsm8k.yaml"

TRICKY = [
    "Step 1: 3 + 4 = 7.\nStep 2: 7 * 2 = 14.\n#### 14",
    "#### 1,234",
    "#### $18",
    "The answer is $18.00.",
    "#### 18.",
    "#### -5",
    "She has -3 left, then 12, so 9 apples.",
    "I have 3 apples and 4 pears, total 7.",
    "#### 5\n#### 6",
    "no number at all",
    "",
    "#### ",
    "####7",
    "Step 1: 2 + 2 = 4\n#### 4 apples",
    "costs $1,000.50 in total",
    "the 5.",
    "1.2.3",
    "answer: 8...",
    "x = 7, y = 10",
]


def _yaml() -> dict:
    return yaml.safe_load(GSM8K_YAML.read_text())


def _lm_eval_filtered(texts: list[str]) -> dict[str, list[str]]:
    """Run lm-eval's own filter pipelines, built from the installed YAML, over `texts`."""
    out = {}
    for spec in _yaml()["filter_list"]:
        components = [
            [f["function"], {k: v for k, v in f.items() if k != "function"}] for f in spec["filter"]
        ]
        ensemble = build_filter_ensemble(spec["name"], components)
        instances = [
            Instance("generate_until", {}, ("",), i, resps=[t]) for i, t in enumerate(texts)
        ]
        ensemble.apply(instances)
        out[spec["name"]] = [inst.filtered_resps[spec["name"]] for inst in instances]
    return out


def _lm_eval_match(pred: str, gold: str) -> bool:
    kwargs = {k: v for k, v in _yaml()["metric_list"][0].items() if k not in ("metric",)}
    kwargs = {k: v for k, v in kwargs.items() if k not in ("aggregation", "higher_is_better")}
    result = exact_match_hf_evaluate(predictions=[pred], references=[gold], **kwargs)
    return bool(result["exact_match"] == 1.0)


def test_constants_are_those_of_the_installed_yaml():
    cfg = _yaml()
    filters = {f["name"]: f["filter"] for f in cfg["filter_list"]}
    assert filters["strict-match"][0]["regex_pattern"] == metrics.STRICT_PATTERN
    assert filters["flexible-extract"][0]["regex_pattern"] == metrics.FLEXIBLE_PATTERN
    assert filters["flexible-extract"][0]["group_select"] == -1
    em = cfg["metric_list"][0]
    assert em["metric"] == "exact_match"
    for key, value in metrics.EXACT_MATCH_KWARGS.items():
        assert em[key] == value, key


def test_extraction_agrees_with_lm_eval_pipelines():
    ours_strict = [extract_strict(t) for t in TRICKY]
    ours_flex = [extract_flexible(t) for t in TRICKY]
    theirs = _lm_eval_filtered(TRICKY)
    assert [x if x is not None else "[invalid]" for x in ours_strict] == theirs["strict-match"]
    assert [x if x is not None else "[invalid]" for x in ours_flex] == theirs["flexible-extract"]


@pytest.mark.parametrize(
    "text, strict, flexible",
    [
        ("Step 1: 3 + 4 = 7.\nStep 2: 7 * 2 = 14.\n#### 14", "14", "14"),
        ("#### 1,234", "1,234", "1,234"),
        ("#### $18", None, "$18"),  # strict's class has no "$"
        ("The answer is $18.00.", None, "$18.00."),
        ("#### -5", "-5", "-5"),
        ("#### 5\n#### 6", "5", "6"),  # strict takes the first, flexible the last
        ("I have 3 apples and 4 pears, total 7.", None, "7."),
        ("x = 7, y = 10", None, "10"),
        ("no number at all", None, None),
        ("####7", None, "7"),
        ("Step 1: 2 + 2 = 4\n#### 4 apples", "4", "4"),
    ],
)
def test_extraction_known_answers(text, strict, flexible):
    assert extract_strict(text) == strict
    assert extract_flexible(text) == flexible


@pytest.mark.parametrize(
    "pred, gold, expected",
    [
        ("1,234", "1234", True),
        ("$18", "18", True),
        ("18.", "18", True),
        ("$18.00.", "18", False),  # lm-eval removes one trailing "." only
        ("-5", "-5", True),
        ("-5", "5", False),
        ("7", "Step 1: 3 + 4 = 7.\n#### 7", True),  # the gold may be the full solution
        ("07", "7", False),
        (None, "7", False),
    ],
)
def test_answers_match_known_answers(pred, gold, expected):
    assert answers_match(pred, gold) is expected
    if pred is not None:
        assert _lm_eval_match(pred, gold) is expected


_tricky_chars = st.text(alphabet="0123456789.,$-# aBx\n", max_size=12)


@settings(max_examples=300, deadline=None)
@given(pred=_tricky_chars, gold=_tricky_chars)
def test_normalize_and_match_agree_with_lm_eval(pred, gold):
    expected = _lm_eval_match(pred, gold)
    assert answers_match(pred, gold) is expected
    assert (normalize_answer(pred) == normalize_answer(gold)) is expected


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="0123456789.,$-# aStep:\n", max_size=30))
def test_extraction_agrees_with_lm_eval_on_random_text(text):
    theirs = _lm_eval_filtered([text])
    assert (extract_strict(text) or "[invalid]") == theirs["strict-match"][0]
    assert (extract_flexible(text) or "[invalid]") == theirs["flexible-extract"][0]


def test_normalize_answer_known_values():
    assert normalize_answer("$1,234.") == "1234"
    assert normalize_answer("Step 1: 2 + 2 = 4.\n#### 4") == "4"
    assert normalize_answer("ABC") == "abc"


def test_rouge_l_f1_known_values():
    assert rouge_l_f1("TL;DR: I moved to Lima.", "TL;DR: I moved to Lima.") == pytest.approx(1.0)
    assert rouge_l_f1("cats and dogs", "TL;DR: I moved to Lima.") == 0.0
    # prediction tokens tl dr moved to lima (5), reference 6; LCS 5: P 1, R 5/6, F 10/11.
    assert rouge_l_f1("TL;DR: moved to Lima.", "TL;DR: I moved to Lima.") == pytest.approx(10 / 11)
    assert rouge_l_f1("", "TL;DR: I moved to Lima.") == 0.0
