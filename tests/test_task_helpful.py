"""Tests for the toy helpful task: the world, pools, the gold reward, preference pairs, label
noise, corpus, in_format and the scorer."""

from __future__ import annotations

import pytest

from budgetsplit.tasks.toyworld import task_helpful as th
from budgetsplit.tasks.toyworld.task_helpful import (
    HelpfulTask,
    corpus_documents,
    gold_reward,
    make_world,
)

# A hand-made row: "What does Pobi the owl eat?" (the world's other values do not matter here).
ROW = {
    "reference": "Pobi the owl eats berries.",
    "value": "berries",
    "choices": list(th.SCHEMA["animal"]["food"]),
    "distractors": [v for a in ("colour", "size", "home") for v in th.SCHEMA["animal"][a]],
}


@pytest.fixture(scope="module")
def toy_task():
    return HelpfulTask(seed=0)


@pytest.mark.parametrize(
    "response, reward",
    [
        ("Pobi the owl eats berries.", 1.0),
        ("pobi the owl eats berries.", 1.0),
        ("Berries.", 1.0),  # shorter than the reference: no penalty
        ("Pobi the owl eats nuts.", 0.0),  # wrong value: relevant and concise earn nothing
        ("Nuts.", 0.0),
        ("Pobi the owl eats berries or nuts.", 0.0),  # a hedge is not correct
        (" ".join(th.SCHEMA["animal"]["food"]) + ".", 0.0),  # every value
        ("Pobi the owl is brown.", 0.0),  # answers another attribute
        ("I do not know.", 0.0),
        ("", 0.0),
        # right, but one other fact: relevance halves, 3 extra words of 5
        ("Pobi the owl eats berries. It is brown.", 0.6 + 0.1 + 0.2 * (1 - 3 / 5)),
        # right, buried in rambling: two other facts, twice the reference's length
        ("Pobi the owl eats berries. It is small and lives in the forest.", 0.6),
    ],
)
def test_gold_reward_known_answers(response, reward):
    assert gold_reward(ROW, response) == pytest.approx(reward)


def test_world_is_deterministic_and_well_formed():
    w = make_world(0)
    assert w == make_world(0) and w != make_world(1)
    assert [e.kind for e in w] == ["animal"] * 16 + ["town"] * 16 + ["person"] * 16
    names = [e.name for e in w]
    assert len(set(names)) == len(names)
    values = {v.lower() for attrs in th.SCHEMA.values() for vals in attrs.values() for v in vals}
    assert not {n.lower() for n in names} & values
    towns = {e.name for e in w if e.kind == "town"}
    for e in w:
        assert set(e.attrs) == set(th.SCHEMA[e.kind])
        for a, v in e.attrs.items():
            assert v in (towns if (e.kind, a) == ("person", "home") else th.SCHEMA[e.kind][a])
        assert bool(e.species) == (e.kind == "animal")
    assert len(make_world(0, n_per_kind=5)) == 15


def test_full_pools_sizes_time_disjoint_prompts_and_held_out_facts(full, check_pools):
    _, pools, seconds = full
    check_pools(pools, seconds)
    facts = {k: {(r["entity"], r["attribute"]) for r in v} for k, v in pools.items()}
    assert not (facts["sft"] | facts["pref"]) & (facts["val"] | facts["test"])
    assert len(facts["sft"]) == 144  # 3 kinds x 16 entities x 4 attributes, 25% held out


def test_rows_agree_with_the_world(full):
    task, pools, _ = full
    by_called = {e.called: e for e in task.world}
    for r in pools["sft"][:2000] + pools["test"]:
        e = by_called[r["entity"]]
        assert r["value"] == e.attrs[r["attribute"]] and r["value"] in r["choices"]
        assert e.called in r["prompt"]
        assert r["reference"] == th.answer(e, r["attribute"])
        assert gold_reward(r, r["reference"]) == 1.0
    assert all(r["response"] == r["reference"] for r in pools["sft"])


def test_pairs_rank_by_gold_reward_and_all_rejection_kinds_occur(full):
    _, pools, _ = full
    kinds, shapes = set(), set()
    for r in pools["pref"]:
        good, bad = gold_reward(r, r["chosen"]), gold_reward(r, r["rejected"])
        assert good > bad, r
        kinds.add(round(bad, 1))
        for side in ("chosen", "rejected"):
            text = r[side]
            shapes.add((side, "bare" if len(text.split()) == 1 else text.count(". ") + 1))
    assert kinds == {0.0, 0.6}  # wrong, bare, wordy, other: 0; the right answer in rambling: 0.6
    # Both sides take every shape: one word, one, two or three sentences.
    assert shapes == {(side, n) for side in ("chosen", "rejected") for n in ("bare", 1, 2, 3)}
    assert len({r["prompt_id"] for r in pools["pref"]}) < len(pools["pref"])


def test_cheap_outputs_score_at_the_floor(full):
    """The floor is 0 (no right value stated): an empty answer, a copy of the question, a non-answer,
    every value of the asked attribute, every value of every attribute. One fixed guess scores its
    chance of being right."""
    task, pools, _ = full
    rows = pools["test"]
    for cheap in (
        [""] * len(rows),
        [r["prompt"] for r in rows],
        ["I do not know."] * len(rows),
        [" ".join(r["choices"]) + "." for r in rows],
        [" ".join(r["choices"] + r["distractors"]) + "." for r in rows],
    ):
        got = task.score(rows, cheap)
        assert got["gold_reward"] == 0.0 and got["win_rate"] == 0.0, (cheap[0], got)
    guess = task.score(rows, [r["choices"][0].capitalize() + "." for r in rows])["gold_reward"]
    chance = sum(1 / len(r["choices"]) for r in rows) / len(rows)
    assert 0 < guess <= 2 * chance


def test_deterministic_and_independent_of_other_pool_sizes():
    a = HelpfulTask(seed=5, n_sft_pool=300, n_pref_pool=300, n_val=20, n_test=30)
    b = HelpfulTask(seed=5, n_sft_pool=300, n_pref_pool=300, n_val=20, n_test=30)
    assert b.pref_pool() == a.pref_pool() and a.sft_pool() == b.sft_pool()
    assert a.eval_split("val") == b.eval_split("val")
    assert HelpfulTask(seed=6, n_sft_pool=300).sft_pool() != a.sft_pool()
    other = HelpfulTask(seed=5, n_sft_pool=100, n_pref_pool=10, n_val=20, n_test=30)
    assert other.sft_pool() == a.sft_pool()[:100]
    assert other.eval_split("test") == a.eval_split("test")


@pytest.mark.parametrize("noise, lo, hi", [(0.0, 0.0, 0.0), (0.25, 0.22, 0.28), (1.0, 1.0, 1.0)])
def test_label_noise_flip_rate(noise, lo, hi):
    kw = dict(seed=0, n_sft_pool=0, n_pref_pool=4000, n_val=0, n_test=0)
    clean, noisy = HelpfulTask(**kw).pref_pool(), HelpfulTask(label_noise=noise, **kw).pref_pool()
    flips = 0
    for c, n in zip(clean, noisy, strict=True):
        assert {c["chosen"], c["rejected"]} == {n["chosen"], n["rejected"]}
        flips += gold_reward(n, n["chosen"]) < gold_reward(n, n["rejected"])
    assert lo <= flips / len(clean) <= hi


def test_knobs_and_bad_values_are_named():
    small = HelpfulTask(seed=0, n_per_kind=4, n_sft_pool=100, n_pref_pool=100, n_val=10, n_test=10)
    assert len({r["entity"] for r in small.sft_pool()}) <= 12
    for kwargs, key in [
        ({"n_per_kind": 1}, "n_per_kind"),
        ({"eval_fact_share": 0.0}, "eval_fact_share"),
        ({"max_pairs_per_prompt": 0}, "max_pairs_per_prompt"),
        ({"label_noise": -0.1}, "label_noise"),
    ]:
        with pytest.raises(ValueError, match=key):
            HelpfulTask(**kwargs)
    with pytest.raises(ValueError, match="sft pool of 20000 rows"):
        HelpfulTask(n_per_kind=2).sft_pool()
    with pytest.raises(ValueError, match="'train'"):
        HelpfulTask().eval_split("train")


def test_corpus_states_every_fact_as_prose(full):
    task, pools, _ = full
    docs = corpus_documents(0, 3000)
    assert len(docs) == 3000 and docs == corpus_documents(0, 3000)
    assert docs != corpus_documents(1, 3000)
    for d in docs:
        assert 30 <= len(d.split()) <= 120, d
        assert "\n" not in d and "<|" not in d  # questions: tests/test_probes.py
    text = " ".join(docs)
    for e in task.world:  # the world of the task, every fact stated somewhere
        for a in th.SCHEMA[e.kind]:
            assert any(th._sentence(t, e, a) in text for t in th.TEXTS[e.kind, a][2]), (e, a)
    # Never the answer format: no reference answer of any fact appears verbatim.
    assert not any(th.answer(e, a) in text for e in task.world for a in th.SCHEMA[e.kind])
    # A calibrated world size reaches the corpus too.
    small = {e.name for e in make_world(0, n_per_kind=4)}
    assert {w.strip(".,") for d in corpus_documents(0, 50, n_per_kind=4) for w in d.split()} & small


@pytest.mark.parametrize(
    "completion, fmt",
    [
        ("Pobi the owl eats berries.", True),
        ("  Berries!  ", True),
        ("Pobi the owl eats berries. It is brown.", False),  # two sentences
        ("Pobi the owl eats berries", False),  # cut off
        ("", False),
        ("Pobi eats\nberries.", False),
        ("Pobi eats berries.<|im_end|>", False),
        ("word " * 20 + "end.", False),
    ],
)
def test_in_format(completion, fmt):
    assert HelpfulTask().in_format(completion) is fmt


def test_score_known_answers():
    task = HelpfulTask()
    rows = [ROW, ROW, ROW, ROW]
    completions = [
        ROW["reference"],
        "Pobi the owl eats nuts.",
        "Pobi the owl is brown.",
        "Berries.",
    ]
    out = task.score(rows, completions)
    assert out == pytest.approx(
        {
            "gold_reward": (1.0 + 0.0 + 0.0 + 1.0) / 4,
            "win_rate": (0.5 + 0 + 0 + 0.5) / 4,
            "format_share": 1.0,
        }
    )
    assert task.primary_metric in out
    with pytest.raises(ValueError, match="one completion per row"):
        task.score(rows, completions[:2])
    with pytest.raises(ValueError, match="lacks"):
        task.score([{"id": "x", "reference": "r"}], ["r"])
