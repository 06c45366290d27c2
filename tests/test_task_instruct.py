"""Tests for the toy instruct task: pools, constraint following judged by lm-eval's own checkers,
preference pairs, label noise, corpus, in_format and the scorer."""

from __future__ import annotations

import random
import re

import pytest

from budgetsplit.tasks import ifeval
from budgetsplit.tasks.toyworld import instruct_rules as ir
from budgetsplit.tasks.toyworld import instruct_text as it
from budgetsplit.tasks.toyworld.task_instruct import InstructTask, corpus_documents


@pytest.fixture(scope="module")
def toy_task():
    return InstructTask(seed=0)


def followed(row: dict, text: str) -> list[bool]:
    return ifeval.check(text, row["instruction_id_list"], row["kwargs"])[0]


def follows_all(row: dict, text: str, langdetect_misses: list) -> bool:
    """All constraints followed by lm-eval's verdict, except that a lowercase text langdetect does
    not call English (about 1 in 2,000 of the task's lowercase texts) is recorded, not failed."""
    verdicts = followed(row, text)
    for iid, ok in zip(row["instruction_id_list"], verdicts, strict=True):
        if not ok and iid == ir.LOWER and text.islower():
            langdetect_misses.append(text)
        elif not ok:
            return False
    return True


def test_full_pools_sizes_time_and_disjoint_prompts(full, check_pools):
    _, pools, seconds = full
    check_pools(pools, seconds)


def test_eval_rows_carry_ifeval_schema_and_references_pass_lm_eval(full):
    _, pools, _ = full
    seen, misses = set(), []
    for r in pools["val"] + pools["test"]:
        assert 1 <= len(r["instruction_id_list"]) <= 3
        assert len(r["kwargs"]) == len(r["instruction_id_list"])
        assert set(r["instruction_id_list"]) <= set(ir.DEFAULT_INSTRUCTIONS)
        assert follows_all(r, r["reference"], misses), r
        seen.update(r["instruction_id_list"])
    assert seen == set(ir.DEFAULT_INSTRUCTIONS)  # every default instruction is tested
    assert len(misses) <= 2


def test_demonstrations_follow_every_constraint(full):
    _, pools, _ = full
    misses = []
    for r in random.Random(0).sample(pools["sft"], 400):
        assert follows_all(r, r["response"], misses), r
    assert len(misses) <= 2


def test_chosen_follows_all_and_more_than_rejected(full):
    _, pools, _ = full
    broken, misses = {iid: 0 for iid in ir.DEFAULT_INSTRUCTIONS}, []
    for r in random.Random(1).sample(pools["pref"], 400):
        assert follows_all(r, r["chosen"], misses), r
        bad = followed(r, r["rejected"])
        assert sum(bad) < len(bad), r
        for iid, ok in zip(r["instruction_id_list"], bad, strict=True):
            broken[iid] += not ok
    assert all(broken.values()), broken  # every kind of violation occurs
    assert len(misses) <= 2


def test_prompts_and_responses_are_short(full):
    _, pools, _ = full
    for r in pools["sft"]:
        assert len(r["prompt"].split()) <= 35 and len(r["response"].split()) <= 45
        assert len(r["prompt"].split()) + len(r["response"].split()) <= 75


def test_deterministic_and_seeded():
    a = InstructTask(seed=3, n_sft_pool=200, n_pref_pool=200, n_val=20, n_test=30)
    b = InstructTask(seed=3, n_sft_pool=200, n_pref_pool=200, n_val=20, n_test=30)
    c = InstructTask(seed=4, n_sft_pool=200, n_pref_pool=200, n_val=20, n_test=30)
    assert b.pref_pool() == a.pref_pool()  # pref first: generation order must not matter
    assert a.sft_pool() == b.sft_pool() and a.eval_split("test") == b.eval_split("test")
    assert a.sft_pool() != c.sft_pool()
    # A pool does not depend on the others' sizes.
    big = InstructTask(seed=3, n_sft_pool=50, n_pref_pool=400, n_val=20, n_test=30)
    assert big.eval_split("test") == a.eval_split("test")
    assert big.sft_pool() == a.sft_pool()[:50]


@pytest.mark.parametrize("noise, lo, hi", [(0.0, 0.0, 0.0), (0.25, 0.22, 0.28), (1.0, 1.0, 1.0)])
def test_label_noise_flip_rate(noise, lo, hi):
    clean = InstructTask(seed=0, n_sft_pool=0, n_pref_pool=4000, n_val=0, n_test=0).pref_pool()
    noisy = InstructTask(
        seed=0, n_sft_pool=0, n_pref_pool=4000, n_val=0, n_test=0, label_noise=noise
    ).pref_pool()
    flips = 0
    for c, n in zip(clean, noisy, strict=True):
        assert {c["chosen"], c["rejected"]} == {n["chosen"], n["rejected"]}
        flips += n["chosen"] == c["rejected"]
    assert lo <= flips / len(clean) <= hi


def test_knobs_and_bad_values_are_named():
    small = dict(n_sft_pool=300, n_pref_pool=0, n_val=0, n_test=0)
    one = InstructTask(seed=0, max_constraints=1, **small).sft_pool()
    assert all(len(r["instruction_id_list"]) == 1 for r in one)
    only = InstructTask(seed=0, instructions=[ir.NO_COMMA, ir.END], **small).sft_pool()
    assert {i for r in only for i in r["instruction_id_list"]} == {ir.NO_COMMA, ir.END}
    caps = InstructTask(seed=0, instructions=ir.INSTRUCTIONS, **small).sft_pool()
    upper = [r for r in caps if ir.UPPER in r["instruction_id_list"]]
    assert upper and all(r["response"].isupper() for r in upper)
    assert not any(ir.LOWER in r["instruction_id_list"] for r in upper)  # conflicting pair
    for kwargs, key in [
        ({"max_constraints": 4}, "max_constraints"),
        ({"instructions": ["keywords:frequency"]}, "instructions"),
        ({"word_limits": ()}, "word_limits"),
        ({"label_noise": 1.5}, "label_noise"),
    ]:
        with pytest.raises(ValueError, match=key):
            InstructTask(**kwargs)
    with pytest.raises(ValueError, match="'train'"):
        InstructTask(n_val=1).eval_split("train")


def _framed(text: str) -> list[str]:
    """The frame sentences of a response: the words they name."""
    pattern = "|".join(
        re.escape(f).replace(r"\{t\}", ".+?").replace(r"\{w\}", "(\\w+)") for f in ir.FRAMES
    )
    return [next(g for g in m if g) for m in re.findall(pattern, text, re.I)]


def test_word_frames_name_the_asked_word_and_the_rejected_side_another():
    task = InstructTask(seed=0, n_sft_pool=600, n_pref_pool=600, n_val=0, n_test=0, word_frames=1.0)
    asked = [r for r in task.sft_pool() if ir.KEYWORDS in r["instruction_id_list"]]
    assert asked
    for (
        r
    ) in asked:  # every named word in a frame (bar a frame with a forbidden word), all rules kept
        words = r["kwargs"][r["instruction_id_list"].index(ir.KEYWORDS)]["keywords"]
        assert set(_framed(r["response"])) <= set(words)
        assert all(ifeval.check(r["response"], r["instruction_id_list"], r["kwargs"])[0])
    assert sum(len(_framed(r["response"])) for r in asked) >= 0.9 * sum(
        len(r["kwargs"][r["instruction_id_list"].index(ir.KEYWORDS)]["keywords"]) for r in asked
    )
    # a rejected response that leaves the asked word out frames another one: frames mark no side
    broken = [r for r in task.pref_pool() if ir.KEYWORDS in r["instruction_id_list"]]
    framed_bad = [r for r in broken if _framed(r["rejected"])]
    assert framed_bad
    for r in framed_bad:
        words = r["kwargs"][r["instruction_id_list"].index(ir.KEYWORDS)]["keywords"]
        if not any(w in r["rejected"].lower() for w in words):
            assert not set(_framed(r["rejected"])) & set(words)
    # at 0 (the default), no frame anywhere
    plain = InstructTask(seed=0, n_sft_pool=300, n_pref_pool=0, n_val=0, n_test=0).sft_pool()
    assert not any(_framed(r["response"]) for r in plain)
    with pytest.raises(ValueError, match="word_frames"):
        InstructTask(word_frames=1.5)


def test_corpus_documents_are_prose_without_the_formats():
    docs = corpus_documents(0, 2000)
    assert len(docs) == 2000 and docs == corpus_documents(0, 2000)
    assert docs != corpus_documents(1, 2000)
    enders = tuple(e.lower() for e in it.END_PHRASES)
    for d in docs:
        assert "\n" not in d and "*" not in d and "<|" not in d
        assert not d.islower() and not d.isupper()
        if not d.startswith("Here is a note"):  # notes keep the rules they state (test_probes.py)
            assert 30 <= len(d.split()) <= 120, d
            assert not d.lower().endswith(enders), d
    # The base model meets every topic sentence and the words requests use.
    text = " ".join(docs)
    assert all(s in text for sents in ir.SENTENCES.values() for s in sents)
    assert all(w in text for w in ("small letters", "commas", "lines", "word", "fewer"))


@pytest.mark.parametrize(
    "completion, fmt",
    [
        ("The sea is wide. Boats sail out at dawn.", True),
        ("* the sea is wide.\n* boats sail.\nThat is all.", True),
        ("- one\n- two", True),
        ("What is the sea?", True),
        ("", False),
        ("   \n ", False),
        ("The sea is wide and the boats", False),  # cut off mid-sentence
        ("Sure, here it is:\n* the sea.", False),
        ("The sea is wide.<|im_end|>", False),
        ("word " * 61 + "end.", False),
    ],
)
def test_in_format(completion, fmt):
    assert InstructTask().in_format(completion) is fmt


def test_score_known_answers():
    task = InstructTask()
    rows = [
        {
            "id": "a",
            "prompt": "p",
            "instruction_id_list": [ir.NO_COMMA, ir.END],
            "kwargs": [{}, {"end_phrase": "That is all."}],
        },
        {
            "id": "b",
            "prompt": "p",
            "instruction_id_list": [ir.LOWER, ir.BULLETS],
            "kwargs": [{}, {"num_bullets": 2}],
        },
    ]
    completions = ["Cows eat grass. That is all.", "Sure:\n* cows eat grass.\n* hens lay eggs."]
    out = task.score(rows, completions)
    assert out == {
        "prompt_level_strict": 0.5,
        "inst_level_strict": 0.75,
        "prompt_level_loose": 1.0,
        "inst_level_loose": 1.0,
        "answered_strict": 0.5,
        "format_share": 0.5,
    }
    assert task.primary_metric in out
    with pytest.raises(ValueError, match="one completion per row"):
        task.score(rows, completions[:1])
    with pytest.raises(ValueError, match="no IFEval fields"):
        task.score([{"id": "x", "prompt": "p"}], ["text."])


def test_score_of_references_is_perfect(full):
    task, pools, _ = full
    rows = pools["val"]
    out = task.score(rows, [r["reference"] for r in rows])
    assert out["prompt_level_strict"] == 1.0 and out["format_share"] == 1.0
    assert out["answered_strict"] == 1.0
    worse = task.score(rows, [r["reference"].upper() + "," for r in rows])
    assert worse["prompt_level_strict"] < 1.0


def test_cheap_outputs_score_at_the_floor(full):
    """The floor is what a response that ignores the rules passes by chance: the topic's prose (what
    the base model writes; it scored 0.09 before any training) follows 5-12% of test requests.
    An empty answer, a copy of the request, its numbers, a bare bullet list score 0 on
    answered_strict (lm-eval's own strict accuracy gives the copy and the bullets about 15%)."""
    task, pools, _ = full
    rows = pools["test"]
    for cheap in (
        [""] * len(rows),
        [r["prompt"] for r in rows],
        [" ".join(re.findall(r"\d+", r["prompt"])) for r in rows],
        ["* \n* \n* "] * len(rows),
        ["* .\n* .\n* ."] * len(rows),
    ):
        assert task.score(rows, cheap)["answered_strict"] == 0.0, cheap[0]
    topic = [next(t for t in ir.TOPIC_NAMES if t in r["prompt"].lower()) for r in rows]
    prose = task.score(rows, [" ".join(ir.SENTENCES[t][:4]) for t in topic])
    assert 0.05 <= prose["answered_strict"] == prose["prompt_level_strict"] <= 0.12
