"""Tests for the toy summarize task: pools, gold scorer, preference pairs, corpus and metrics."""

from __future__ import annotations

import random
import re

import pytest

from budgetsplit.tasks.toyworld import task_summarize as ts
from budgetsplit.tasks.toyworld.task_summarize import (
    SummarizeTask,
    corpus_documents,
    fact_score,
    summary_of,
)

ROW = {
    "facts": ["I moved to Lima", "my cat got sick"],
    "reference": "TL;DR: I moved to Lima; my cat got sick.",  # 9 words
}
# Key-fact clauses as a post states them (first person); fillers never match.
FACT_IN_POST = re.compile(
    r"I moved to \w+|my \w+ got a job at the \w+|my \w+ (?:ran away|got sick|got lost)"
    r"|I lost my \w+ in \w+|the \w+ at the (?:town hall|\w+) was cancelled|I (?:passed|failed) my \w+ exam"
    r"|my \w+ got married in \w+|I started learning \w+|\w+ did not come to my (?:birthday party|game night|\w+)"
    r"|I bought a \w+",
    re.IGNORECASE,
)


def facts_of(post: str) -> dict:
    """An independent reading of a post's key facts, as a gold row."""
    # A sentence-initial "My"/"The" is the post's capital, not the fact's.
    facts = [
        f[0].lower() + f[1:] if f.split()[0] in ("My", "The") else f
        for f in FACT_IN_POST.findall(post)
    ]
    return {"facts": facts, "reference": summary_of(facts)}


@pytest.mark.parametrize(
    "summary, expected",
    [
        (ROW["reference"], 1.0),
        ("tl;dr: i MOVED to lima; My cat got sick.", 1.0),  # case does not matter
        ("I moved to Lima; my cat got sick.", 1.0),  # the template is format_share's business
        ("TL;DR: I moved to Lima.", 0.5),  # one of two facts
        ("TL;DR: I moved to Oslo; my cat got sick.", 0.0),  # 1/2 covered, 1 invented: 0.5 - 0.5
        # all covered, one invented, 13 words of 9: (1 - 0.5) * (13.5 - 13) / 4.5
        ("TL;DR: I moved to Lima; my cat got sick; I bought a car.", 0.5 / 9),
        # lead-in and aside copied, 15 words of 9: brevity 0
        ("TL;DR: Last week I moved to Lima after a long day; my cat got sick.", 0.0),
        # one word over: (13.5 - 10) / 4.5
        ("TL;DR: Sadly I moved to Lima; my cat got sick.", 3.5 / 4.5),
        ("TL;DR: I bought a car; I moved to Oslo.", 0.0),  # clipped at 0
        ("TL;DR: .", 0.0),
        ("", 0.0),
    ],
)
def test_fact_score_known_answers(summary, expected):
    assert fact_score(ROW, summary) == pytest.approx(expected)


@pytest.mark.parametrize(
    "completion, fmt",
    [
        ("TL;DR: I moved to Lima.", True),
        ("TL;DR: I moved to Lima; my cat got sick.", True),
        ("  TL;DR: I moved to Lima; my cat got sick.\n", True),
        ("TL;DR: I moved to Lima", False),  # no final period
        ("I moved to Lima; my cat got sick.", False),  # no TL;DR
        ("TL;DR: I moved to Lima.\nTL;DR: my cat got sick.", False),  # two lines
        ("TL;DR: I moved to Lima;; my cat got sick.", False),
        ("", False),
    ],
)
def test_in_format(completion, fmt):
    assert SummarizeTask(n_test=0).in_format(completion) is fmt


def test_score_known_answers():
    rows = [ROW, ROW]
    result = SummarizeTask().score(rows, [ROW["reference"], "The bus was late again."])
    assert result == pytest.approx({"fact_score": 0.5, "rouge_l": 0.5, "format_share": 0.5})
    # ROUGE-L after the template: "i moved to lima" (4 tokens) vs "i moved to lima my cat got sick"
    # (8): LCS 4, P 1, R 0.5, F 2/3.
    one = SummarizeTask().score([ROW], ["TL;DR: I moved to Lima."])
    assert one == pytest.approx({"fact_score": 0.5, "rouge_l": 2 / 3, "format_share": 1.0})
    with pytest.raises(ValueError, match="2 rows and 1 completions"):
        SummarizeTask().score(rows, ["x"])


def test_cheap_outputs_score_at_the_floor(full):
    """The floor is 0: the bare template, an empty answer, every fact of the world, and the post
    itself (with or without the template) score 0 on fact_score; the template alone earns no
    ROUGE-L (function words do: "TL;DR: I. My. The." gets 0.24 of it, and 0 fact score)."""
    task, pools, _ = full
    rows = pools["test"]
    every_fact = (
        "TL;DR: "
        + "; ".join(
            ts._fill(random.Random(i), first, ts.SLOTS)
            for i in range(40)
            for first, _ in ts.FACTS.values()
        )
        + "."
    )
    for cheap in ("TL;DR: .", "", every_fact, "TL;DR: I. My. The.", "1 2 3 4 5 6 7 8 9 10"):
        got = task.score(rows, [cheap] * len(rows))
        assert got["fact_score"] == 0.0, (cheap, got)
        assert got["rouge_l"] == 0.0 or cheap not in ("TL;DR: .", ""), (cheap, got)
    copies = task.score(rows, [r["prompt"] for r in rows])
    assert copies["fact_score"] <= 0.005
    assert task.score(rows, ["TL;DR: " + r["prompt"] for r in rows])["fact_score"] <= 0.005
    # Every fact right but every detail wrong scores 0 (ROUGE-L still gave it 0.6 on the raw text).
    wrong = [ts.summary_of([ts._altered(random.Random(0), f) for f in r["facts"]]) for r in rows]
    assert task.score(rows, wrong)["fact_score"] == 0.0


@pytest.fixture(scope="module")
def toy_task():
    return SummarizeTask(seed=0)


def test_full_pools_sizes_time_and_disjoint_prompts(full, check_pools):
    _, pools, seconds = full
    check_pools(pools, seconds)


def test_references_state_the_posts_key_facts(full):
    task, pools, _ = full
    for r in pools["test"] + pools["val"]:
        gold = facts_of(r["prompt"])
        assert 2 <= len(r["facts"]) <= 3 and gold["facts"] == r["facts"]
        assert r["reference"] == gold["reference"] and task.in_format(r["reference"])
        assert fact_score(r, r["reference"]) == 1.0
    for r in pools["sft"][:3000]:
        assert r["response"] == facts_of(r["prompt"])["reference"]
        assert 15 <= len(r["prompt"].split()) <= 70
        assert len(r["prompt"].split()) + len(r["response"].split()) <= 95


def test_pairs_rank_by_fact_score_and_show_every_flaw(full):
    task, pools, _ = full
    flaws = set()
    for r in pools["pref"][:3000]:
        gold = facts_of(r["prompt"])
        assert fact_score(gold, r["chosen"]) > fact_score(gold, r["rejected"])
        assert task.in_format(r["chosen"]) and task.in_format(r["rejected"])
        key = {f.lower() for f in gold["facts"]}
        for summary in (r["chosen"], r["rejected"]):
            stated = {f.lower() for f in FACT_IN_POST.findall(summary)}
            if summary.count(";") == 1 and not stated & key:
                flaws.add("terse")  # one item ("TL;DR:" has the other ";"), a wrong one
            elif stated - key:
                flaws.add("invented")
            elif stated != key:
                flaws.add("missing")
            else:
                flaws.add(
                    "too_long"
                    if len(summary.split()) > len(gold["reference"].split())
                    else "complete"
                )
    assert flaws == {"complete", "too_long", "invented", "missing", "terse"}


def test_deterministic_and_seeded():
    a, b, c = (
        SummarizeTask(seed=s, n_sft_pool=50, n_pref_pool=50, n_val=5, n_test=5) for s in (1, 1, 2)
    )
    assert a.sft_pool() == b.sft_pool() and a.pref_pool() == b.pref_pool()
    assert a.eval_split("val") == b.eval_split("val")
    assert a.sft_pool() != c.sft_pool()
    small, big = SummarizeTask(n_sft_pool=30, n_test=3), SummarizeTask(n_sft_pool=60, n_test=40)
    assert small.sft_pool() == big.sft_pool()[:30]


@pytest.mark.parametrize("noise, lo, hi", [(0.0, 0.0, 0.0), (0.25, 0.22, 0.28), (1.0, 1.0, 1.0)])
def test_label_noise_flip_rate(noise, lo, hi):
    rows = SummarizeTask(seed=3, n_pref_pool=2000, label_noise=noise).pref_pool()
    flipped = 0
    for r in rows:
        gold = facts_of(r["prompt"])
        flipped += fact_score(gold, r["chosen"]) < fact_score(gold, r["rejected"])
    assert lo <= flipped / len(rows) <= hi


def test_knobs_and_bad_values():
    rows = SummarizeTask(n_val=50, min_facts=3, max_facts=3, min_filler=4, max_filler=4).eval_split(
        "val"
    )
    assert all(len(r["facts"]) == 3 for r in rows)
    with pytest.raises(ValueError, match="label_noise = -0.1"):
        SummarizeTask(label_noise=-0.1)
    with pytest.raises(ValueError, match="min_facts = 1"):
        SummarizeTask(min_facts=1)
    with pytest.raises(ValueError, match="'dev'"):
        SummarizeTask().eval_split("dev")


def test_facts_about_a_friend_are_in_the_post_and_left_out_of_the_summary():
    rng = random.Random(0)
    for _ in range(300):
        post, clauses, sentences = ts.make_post(rng, 3, 0, 2)
        others = [x for x in sentences if not any(c.lower() in x.lower() for c in clauses)]
        assert len(clauses) == 3 and len(others) == 2 and all(x in post for x in others)
        # a friend's fact states no fact of the writer's: copying it in only makes a summary long
        assert not any(ts._ANY_FACT.findall(x) for x in others), others
    task = SummarizeTask(seed=0, n_val=100, min_facts=3, max_facts=4, max_others=3)
    assert all(fact_score(r, r["reference"]) == 1.0 for r in task.eval_split("val"))
    with pytest.raises(ValueError, match="max_others"):
        SummarizeTask(max_facts=4, max_others=6)  # 9 kinds can be a friend's: 4 + 6 do not fit
    docs = corpus_documents(0, 300, max_facts=4, max_others=3)
    assert docs != corpus_documents(0, 300, max_facts=4) and all("TL;DR" not in d for d in docs)


def test_corpus_documents_are_prose_without_the_template(full):
    _, pools, _ = full
    docs = corpus_documents(seed=0, n=3000)
    assert docs == corpus_documents(seed=0, n=3000) and docs != corpus_documents(seed=1, n=3000)
    for d in docs:
        assert 30 <= len(d.split()) <= 120
        assert "TL;DR" not in d and ";" not in d and "<|im_start|>" not in d
    assert sum("'s " in d for d in docs) > 500  # third-person prose about the same events
    text = "\n".join(docs)
    assert not any(r["prompt"] in text for r in pools["test"] + pools["val"])
