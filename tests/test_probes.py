"""Skill probes and the skills in the corpus: each task's probes come from held-out rows, score
the corpus's own answer 1 and no answer 0; each task's corpus share exercises its skill without
the response format; `probe_scores` runs the probes on the smoke base model."""

import random
import re

import pytest

from budgetsplit.config.params import load_world
from budgetsplit.core.registry import TASKS, corpus_source
from budgetsplit.tasks import ifeval
from budgetsplit.tasks.toyworld import get_toy_task
from budgetsplit.tasks.toyworld import instruct_rules as ir
from budgetsplit.tasks.toyworld import task_helpful as th
from budgetsplit.tasks.toyworld import task_instruct as ti
from budgetsplit.tasks.toyworld import task_math as tm
from budgetsplit.tasks.toyworld import task_summarize as ts

WORLD = load_world("smoke")


def _topic(prefix: str) -> str:
    return re.match(r"Here is a note about (.*?) that", prefix).group(1)


def _gold(name: str, probe: dict) -> str:
    """The corpus's own continuation of a probe."""
    if name == "math":
        return f" 1 + 1 = 2, then 2 + 3 = 5, so Tom has {probe['answer']} apples now."
    if name == "summarize":
        return ts.retelling(probe["facts"])[len(ts.RETELL) :]
    if name == "helpful":
        return f" {probe['value']}. Pobi is a fox."
    return " " + ir.compose(random.Random(0), _topic(probe["prefix"]), probe["rules"])


@pytest.mark.parametrize("name", TASKS)
def test_probes_score_the_corpus_answer_and_not_an_empty_one(name):
    task = get_toy_task(name, WORLD)
    probes = task.probes("val", 40)
    assert 0 < len(probes) <= 40 and all(p["prefix"].strip() for p in probes)
    assert [task.probe_score(p, _gold(name, p)) for p in probes] == [1.0] * len(probes)
    assert all(task.probe_score(p, "") == 0.0 for p in probes)
    assert probes == task.probes("val", 40)  # deterministic


def test_probes_are_made_from_held_out_rows():
    math, summ = get_toy_task("math", WORLD), get_toy_task("summarize", WORLD)
    for task in (math, summ):
        prompts = [r["prompt"] for r in task.eval_split("val")]
        assert all(
            p["prefix"].startswith(q)
            for p, q in zip(task.probes("val", 10), prompts[:10], strict=True)
        )
    helpful = get_toy_task("helpful", WORLD)
    asked = {(r["entity"], r["attribute"]) for r in helpful.sft_pool() + helpful.pref_pool()}
    by_prefix = {
        th.recall_prefix(e, a): (e.called, a) for e in helpful.world for a in th.SCHEMA[e.kind]
    }
    assert not any(by_prefix[p["prefix"]] in asked for p in helpful.probes("val", 200))


def test_wrong_answers_score_below_one():
    math = get_toy_task("math", WORLD)
    p = math.probes("val", 1)[0]
    assert math.probe_score(p, f" 2 + 2 = 4, so Tom has {int(p['answer']) + 1} apples now.") == 0
    assert tm.worked_answer(" 3 + 4 = 7, so The answer is 7. Then 9.") == "7"
    summ = get_toy_task("summarize", WORLD)
    p = summ.probes("val", 1)[0]
    assert summ.probe_score(p, " " + p["facts"][0] + ".") < 1.0  # a fact left out
    helpful = get_toy_task("helpful", WORLD)
    p = helpful.probes("val", 1)[0]
    other = next(c for c in p["choices"] if c != p["value"])
    assert helpful.probe_score(p, f" {other}.") == 0.0
    assert helpful.probe_score(p, f" {other} or {p['value']}.") == 0.0  # a rival value as well


def test_the_corpus_holds_each_skill_without_the_response_formats():
    math = corpus_source("math")(0, 2000)
    assert sum(f"? {tm.WORKED} " in d for d in math) > 600  # worked answers in prose
    summ = corpus_source("summarize")(0, 2000)
    told = [d for d in summ if ts.RETELL in d]
    assert len(told) > 1000 and not any("TL;DR" in d or ";" in d for d in summ)
    helpful = get_toy_task("helpful", load_world("toy"))
    docs = corpus_source("helpful")(0, 2000)
    held = {
        q.format(e=helpful.world[i].called)
        for i, a in th.fact_split(0, helpful.world, helpful.eval_fact_share)[0]
        for q in th.TEXTS[helpful.world[i].kind, a][0]
    }
    text = " ".join(docs)
    assert sum(d.count("?") for d in docs) > 500
    assert not any(q in text for q in held)  # no held-out fact is asked about
    notes = [d for d in corpus_source("instruct")(0, 2000) if d.startswith("Here is a note")]
    assert len(notes) > 800
    for d in notes:  # each note keeps the rules it states, and is never a list or small letters
        head, text = d.split(": ", 1)
        assert "\n" not in d and "*" not in d and not text.islower()
        assert not any(w in head for w in ("small letters", "capital", "lines starting"))


def test_notes_keep_their_rules():
    rng = random.Random(5)
    for _ in range(200):
        topic = ir.TOPIC_NAMES[int(rng.random() * len(ir.TOPIC_NAMES))]
        rules = ir.draw_constraints(rng, topic, ti.PROSE_RULES, 3, 2, (8, 12, 16))
        text = ir.compose(rng, topic, rules)
        if text is not None:
            assert all(ifeval.check(text, list(rules), list(rules.values()))[0])
            assert ti.note_header(topic, rules).endswith(":")


def test_probe_scores_on_the_smoke_base_model():
    from budgetsplit.tasks.toyworld.pretrain import get_base_model
    from budgetsplit.training.probes import probe_scores

    folder = get_base_model(WORLD, progress=False)
    got = probe_scores(WORLD, folder, n=8, progress=False)
    assert set(got) == set(TASKS)
    for name, r in got.items():
        assert 0.0 <= r["score"] <= 1.0 and 0 < r["n"] <= 8, name
        assert r["examples"] and all("<|" not in e["completion"] for e in r["examples"])
        # instruct's probes have parts, its rules; each is tallied once per probe that states it
        if name == "instruct":
            assert r["parts"] and set(r["parts"]) <= set(ti.PROSE_RULES)
            assert sum(t["n"] for t in r["parts"].values()) >= r["n"]
            assert all(0 <= t["right"] <= t["n"] for t in r["parts"].values())
        else:
            assert r["parts"] == {}, name


def test_instruct_probe_parts_name_the_rules_kept():
    task = get_toy_task("instruct", WORLD)
    probe = next(p for p in task.probes("val", 40) if ir.NO_COMMA in p["rules"])
    text = _gold("instruct", probe)
    assert task.probe_parts(probe, text) == dict.fromkeys(probe["rules"], True)
    parts = task.probe_parts(probe, text.replace(" ", ", ", 1))  # a comma breaks one rule
    assert parts[ir.NO_COMMA] is False and task.probe_score(probe, text.replace(" ", ", ", 1)) == 0
    # saying (almost) nothing keeps no rule, though it has no comma
    assert task.probe_parts(probe, " Yes.") == dict.fromkeys(probe["rules"], False)
