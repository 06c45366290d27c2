"""The toy world's `helpful` task: questions about the world's made-up animals, towns and people.

The world holds `n_per_kind` animals, towns and people (names and attributes drawn from the seed,
the same in every pool). A prompt asks for one attribute of one entity; the reference answers in one
short correct sentence:

    Hi. What does Pobi the owl eat? Thanks.   ->   Pobi the owl eats berries.

A gold reward stands in for the paper's reward model (`gold_reward`): 0 unless the response
states the right value of the asked attribute (and no rival value); then 0.6, plus 0.2 for
relevance (no values of the entity's other attributes) and 0.2 for concision (no longer than the
reference). Its floor is 0: an empty answer, a copy of the question, a list of every value, a
hedge all score 0; guessing one value scores its chance of being right. Chosen responses are right
and take the rejected ones' shapes (the value alone, the reference, the reference with one or two
other facts); rejected ones are near-misses: a wrong value (alone, in the reference's words, or
with another fact), another attribute, or the right answer buried in rambling, so length does
not tell them apart (tests/test_shortcuts.py). The pretraining corpus states every fact in
encyclopedia-like prose, and asks the task's questions about the training facts, answered in its
own words (never the reference's); no held-out fact is asked about there. Eval questions ask about facts (entity, attribute) that no SFT or preference
prompt asks about (`eval_fact_share` of them), so scores measure answering from pretrained
knowledge, not recall of training answers.

    from budgetsplit.tasks.toyworld.task_helpful import HelpfulTask, corpus_documents, gold_reward
    task = HelpfulTask(seed=0)
    row = task.eval_split("test")[0]; gold_reward(row, row["reference"])   # 1.0
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from budgetsplit.tasks.toyworld.common import ToyTask, document
from budgetsplit.tasks.toyworld.helpful_text import (
    _AVOID,
    CLOSERS,
    INTROS,
    KINDS,
    OPENERS,
    PLACES,
    SCHEMA,
    SPECIES,
    TEXTS,
)

# Rejected kinds: shorter than the reference (a bare wrong value), about as long (a wrong value,
# another attribute) and longer (a wrong value with another fact, the right one
# buried in rambling); the chosen answers take the same shapes (CHOSEN_SHAPES, shares of pairs),
# so neither length nor sentence count tells them apart (tests/test_shortcuts.py).
REJECTS = ("wrong", "other", "bare", "wordy", "ramble")
CHOSEN_SHAPES = {"bare": 0.2, "reference": 0.4, "two_facts": 0.5}  # the rest: 1-2 other facts
W_CORRECT, W_RELEVANT, W_CONCISE = 0.6, 0.2, 0.2
_WORDS = re.compile(r"[a-z]+")
_ONE_SENTENCE = re.compile(r"[^.!?\n]+[.!?]")


class Entity(NamedTuple):
    name: str
    kind: str
    species: str  # animals only, else ""
    attrs: dict[str, str]

    @property
    def called(self) -> str:
        """How questions and answers name it."""
        return f"{self.name} the {self.species}" if self.species else self.name


def values_of(kind: str, attr: str, towns: Sequence[str]) -> tuple[str, ...]:
    return tuple(towns) if (kind, attr) == ("person", "home") else SCHEMA[kind][attr]


def make_world(seed: int, n_per_kind: int = 16) -> list[Entity]:
    """The world's entities: `n_per_kind` animals, towns and people with made-up two-syllable
    names, deterministic for `seed`."""
    rng = random.Random(f"{seed}/helpful/world")
    taken = {w for attrs in SCHEMA.values() for vals in attrs.values() for w in vals} | set(SPECIES)
    names = [
        a + b + c + d
        for a in "bdfgklmnprstvz"
        for b in "aeiou"
        for c in "bdgklmnprstvz"
        for d in "aiou"
    ]
    names = [n for n in names if n[:2] != n[2:] and not any(a in n for a in _AVOID)]
    names = [
        n.capitalize() for n in rng.sample(names, 3 * n_per_kind + len(taken)) if n not in taken
    ]
    towns = names[n_per_kind : 2 * n_per_kind]
    world = []
    for i, name in enumerate(names[: 3 * n_per_kind]):
        kind = KINDS[i // n_per_kind]
        attrs = {a: rng.choice(values_of(kind, a, towns)) for a in SCHEMA[kind]}
        world.append(Entity(name, kind, rng.choice(SPECIES) if kind == "animal" else "", attrs))
    return world


def fact_split(seed: int, world: Sequence[Entity], eval_fact_share: float) -> tuple[list, list]:
    """The world's (entity index, attribute) facts as (held out: asked only in val and test,
    the rest: asked in the SFT and preference pools and in the corpus's questions)."""
    facts = [(i, a) for i, e in enumerate(world) for a in SCHEMA[e.kind]]
    random.Random(f"{seed}/helpful/facts").shuffle(facts)
    n_eval = max(1, round(eval_fact_share * len(facts)))
    return facts[:n_eval], facts[n_eval:]


def _sentence(template: str, e: Entity, attr: str, value: str | None = None) -> str:
    v = e.attrs[attr] if value is None else value
    text = template.format(e=e.called, n=e.name, s=e.species, v=v, p=PLACES.get(v, ""))
    return text[0].upper() + text[1:]


def _bare(value: str) -> str:
    """A value alone as a one-word answer: 'Berries.'"""
    return value[0].upper() + value[1:] + "."


def _with_facts(rng: random.Random, e: Entity, attr: str, text: str, k: int) -> str:
    """`text` followed by `k` sentences stating other attributes of `e`, in corpus wording."""
    others = rng.sample([a for a in SCHEMA[e.kind] if a != attr], k)
    return " ".join([text] + [_sentence(rng.choice(TEXTS[e.kind, a][2]), e, a) for a in others])


def answer(e: Entity, attr: str, value: str | None = None) -> str:
    """The reference-style one-sentence answer (with `value` in place of the true one if given)."""
    return _sentence(TEXTS[e.kind, attr][1], e, attr, value)


def gold_reward(row: dict, response: str) -> float:
    """0 unless correct (the gold value and no rival value of the asked attribute); a correct
    response gets 0.6, plus relevance 0.2 (minus half per value of another attribute stated) and
    concision 0.2 (minus the share of words beyond the reference's length). Only a right answer
    earns anything: a wrong guess, a hedge or a list of every value scores 0, not 0.4."""
    words = set(_WORDS.findall(response.lower()))
    said = {c for c in row["choices"] if c.lower() in words}
    if said != {row["value"]}:
        return 0.0
    relevant = max(0.0, 1.0 - 0.5 * sum(d.lower() in words for d in row["distractors"]))
    n, ref = len(response.split()), len(row["reference"].split())
    concise = 1.0 if n <= ref else max(0.0, 1.0 - (n - ref) / ref)
    return W_CORRECT + W_RELEVANT * relevant + W_CONCISE * concise


class HelpfulTask(ToyTask):
    """Toy HelpSteer. Knobs: `n_per_kind` entities of each kind (3 kinds x 4 attributes each);
    `eval_fact_share` of the (entity, attribute) facts asked only in val/test; each preference
    prompt gets 1..max_pairs_per_prompt pairs."""

    name = "helpful"
    primary_metric = "gold_reward"
    system_prompt = "Answer in one short sentence."
    probe_tokens = 8

    def __init__(
        self,
        n_per_kind: int = 16,
        eval_fact_share: float = 0.25,
        max_pairs_per_prompt: int = 2,
        answer_form: float = 0.0,
        **world,
    ):
        # answer_form shapes the corpus only (corpus_documents); the pools do not read it
        super().__init__(
            {
                "n_per_kind": (n_per_kind, 2 <= n_per_kind <= 200),
                "answer_form": (answer_form, 0.0 <= answer_form <= 1.0),
                "eval_fact_share": (eval_fact_share, 0.0 < eval_fact_share < 1.0),
                "max_pairs_per_prompt": (
                    max_pairs_per_prompt,
                    1 <= max_pairs_per_prompt <= len(REJECTS),
                ),
            },
            **world,
        )
        self.n_per_kind, self.eval_fact_share = n_per_kind, eval_fact_share
        self.world = make_world(self.seed, n_per_kind)
        self.towns = tuple(e.name for e in self.world if e.kind == "town")
        self._prompts: dict[str, list[tuple]] | None = None

    # ------------------------------------------------------------------------- generation
    def _split_prompts(self) -> dict[str, list[tuple]]:
        """(fact, question, opener, closer) index tuples per split. Held-out facts go to val/test,
        the rest to sft/pref; within a group, a seeded shuffle deals prompts alternately, so the
        pools are disjoint and each is independent of the others' sizes."""
        held, asked = fact_split(self.seed, self.world, self.eval_fact_share)
        out: dict[str, list[tuple]] = {}
        for group, fs, pair in (("eval", held, ("test", "val")), ("train", asked, ("sft", "pref"))):
            space = [
                (f, q, o, c)
                for f in fs
                for q in range(4)
                for o in range(len(OPENERS))
                for c in range(len(CLOSERS))
            ]
            self._rng(f"{group}-prompts").shuffle(space)
            out[pair[0]], out[pair[1]] = space[0::2], space[1::2]
        for split, n in self.sizes.items():
            if n > len(out[split]):
                raise ValueError(
                    f"HelpfulTask: {split} pool of {n} rows asked, but only {len(out[split])} "
                    f"distinct prompts exist with n_per_kind={self.n_per_kind}, "
                    f"eval_fact_share={self.eval_fact_share}; ask for fewer or widen the knobs"
                )
        return out

    def _chosen(self, rng: random.Random, e: Entity, attr: str) -> str:
        """A correct answer in one of CHOSEN_SHAPES: the value alone, the reference, or the
        reference with one or two other facts (no longer rambling than a rejected one)."""
        u, shapes = rng.random(), CHOSEN_SHAPES
        if u < shapes["bare"]:
            return _bare(e.attrs[attr])
        if u < shapes["bare"] + shapes["reference"]:
            return answer(e, attr)
        return _with_facts(rng, e, attr, answer(e, attr), 1 + (rng.random() < shapes["two_facts"]))

    def _rejected(self, rng: random.Random, e: Entity, attr: str, how: str) -> str:
        others = [a for a in SCHEMA[e.kind] if a != attr]
        wrong = rng.choice([v for v in values_of(e.kind, attr, self.towns) if v != e.attrs[attr]])
        if how == "wrong":
            return answer(e, attr, wrong)
        if how == "other":
            return answer(e, rng.choice(others))
        if how == "bare":
            return _bare(wrong)
        if how == "wordy":
            return _with_facts(rng, e, attr, answer(e, attr, wrong), 1)
        return _with_facts(rng, e, attr, answer(e, attr), 2)  # ramble

    def _items(self, split: str, rng: random.Random) -> Iterator[tuple[str, tuple]]:
        """The split's prompts as (prompt, (entity, attribute)), in their dealt order."""
        if self._prompts is None:
            self._prompts = self._split_prompts()
        return (self._prompt(*p) for p in self._prompts[split])

    def _prompt(self, fact: tuple[int, str], q: int, o: int, c: int) -> tuple[str, tuple]:
        e, attr = self.world[fact[0]], fact[1]
        question = TEXTS[e.kind, attr][0][q].format(e=e.called)
        return " ".join(p for p in (OPENERS[o], question, CLOSERS[c]) if p), (e, attr)

    def _fields(self, item: tuple) -> dict:
        return self._gold(*item)

    def _demo(self, item: tuple) -> str:
        return answer(*item)

    def _pairs(self, rng: random.Random, item: tuple, want: int) -> Iterator[tuple[int, str, str]]:
        """Up to `want` pairs, one per rejected kind; a draw where the chosen shape does not beat
        the rejected one on the gold reward (two rambles) is drawn again."""
        e, attr = item
        gold = self._gold(e, attr)
        for m, how in enumerate(rng.sample(REJECTS, want)):
            for _ in range(8):
                good, bad = self._chosen(rng, e, attr), self._rejected(rng, e, attr, how)
                if gold_reward(gold, good) > gold_reward(gold, bad):
                    yield m, good, bad
                    break

    def _gold(self, e: Entity, attr: str) -> dict:
        """What `gold_reward` needs; every row carries it, so pairs can be re-scored."""
        return {
            "reference": answer(e, attr),
            "entity": e.called,
            "attribute": attr,
            "value": e.attrs[attr],
            "choices": list(values_of(e.kind, attr, self.towns)),
            "distractors": [
                v for a in SCHEMA[e.kind] if a != attr for v in values_of(e.kind, a, self.towns)
            ],
        }

    # ------------------------------------------------------------------------- Task interface
    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        # a majority baseline: for each attribute (its list of values), the value the
        # demonstrations give most often, as a one-word answer to every question about it
        seen: dict[tuple, Counter] = {}
        for r in self.sft_pool():
            seen.setdefault((r["attribute"], tuple(r["choices"])), Counter())[r["value"]] += 1

        def guess(r: dict) -> str:
            votes = seen.get((r["attribute"], tuple(r["choices"])))
            return (votes.most_common(1)[0][0] if votes else r["choices"][0]).capitalize() + "."

        return super().cheap_outputs(rows) | {
            "not an answer": ["I do not know."] * len(rows),
            "every value of the attribute": [" ".join(r["choices"]) + "." for r in rows],
            "most common value of the attribute": [guess(r) for r in rows],
        }

    def in_format(self, completion: str) -> bool:
        """One short sentence: one line, 1-20 words, one sentence end, at the end."""
        text = completion.strip()
        return (
            _ONE_SENTENCE.fullmatch(text) is not None
            and "<|" not in text
            and 1 <= len(text.split()) <= 20
        )

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        self._check_scored(rows, completions)
        rewards, wins = [], 0.0
        for r, c in zip(rows, completions, strict=True):
            missing = {"reference", "value", "choices", "distractors"} - set(r)
            if missing:
                raise ValueError(f"HelpfulTask.score: row {r.get('id')!r} lacks {sorted(missing)}")
            got, ref = gold_reward(r, c), gold_reward(r, r["reference"])
            rewards.append(got)
            wins += 1.0 if got > ref else 0.5 if got == ref else 0.0
        n = len(rows)
        return {
            "gold_reward": sum(rewards) / n,
            "win_rate": wins / n,
            "format_share": sum(map(self.in_format, completions)) / n,
        }

    def probes(self, split: str, n: int) -> list[dict]:
        # each held-out fact once: its corpus sentence up to the value, which the model must recall
        by_name, out, seen = {e.called: e for e in self.world}, [], set()
        for r in self.eval_split(split):
            if (r["entity"], r["attribute"]) in seen or len(out) == n:
                continue
            seen.add((r["entity"], r["attribute"]))
            prefix = recall_prefix(by_name[r["entity"]], r["attribute"])
            out.append({"prefix": prefix, "value": r["value"], "choices": r["choices"]})
        return out

    def probe_score(self, probe: dict, completion: str) -> float:
        words = set(_WORDS.findall(completion.split(".")[0].lower()))
        return float({c for c in probe["choices"] if c.lower() in words} == {probe["value"]})


# ----------------------------------------------------------------------------- pretraining corpus
ASKED = ("People ask:", "A child asked:", "Someone wrote:")


def recall_prefix(e: Entity, attr: str) -> str:
    """A corpus sentence of the fact cut before its value: "Pobi likes to eat" (the first of the
    attribute's sentences that names the entity before the value)."""
    template = next(t for t in TEXTS[e.kind, attr][2] if t.index("{n}") < t.index("{v}"))
    return _sentence(template[: template.index("{v}")].rstrip(), e, attr)


def _paragraph(rng: random.Random, e: Entity, answer_form: float = 0.0, forms=None) -> str:
    """An entity's intro and 2-4 of its facts in corpus wording; with `answer_form`, that share of
    the facts in the reference's wording instead (drawn from `forms`, a stream of its own, so that
    at 0 the corpus is what it was)."""
    attrs = rng.sample(list(SCHEMA[e.kind]), 2 + int(rng.random() * 3))
    sents = [_sentence(rng.choice(INTROS[e.kind]), e, attrs[0])]
    for a in attrs:
        template = rng.choice(TEXTS[e.kind, a][2])
        if answer_form and forms.random() < answer_form:
            template = TEXTS[e.kind, a][1]
        sents.append(_sentence(template, e, a))
    return " ".join(sents)


def _asked(rng: random.Random, e: Entity, attr: str) -> str:
    """A question of the task about a fact, answered by a corpus sentence (not the reference)."""
    question = rng.choice(TEXTS[e.kind, attr][0]).format(e=e.called)
    return (
        f"{rng.choice(ASKED)} {question} {_sentence(rng.choice(TEXTS[e.kind, attr][2]), e, attr)}"
    )


def corpus_documents(
    seed: int, n: int, n_per_kind: int = 16, eval_fact_share: float = 0.25, answer_form: float = 0.0
) -> list[str]:
    """`n` encyclopedia-like documents of 30-120 words about the world's entities (the same world
    as `HelpfulTask(seed=seed, n_per_kind=...)`), stating their attributes, and questions about
    the facts the task's training pools ask about answered in the corpus's words; no held-out
    fact is asked about, and no answer is in the reference's words. With `answer_form`, that
    share of the stated facts is worded as the reference words an answer ("Rizo has grey roofs."):
    a model that knows a fact in one wording only does not carry it to another."""
    world = make_world(seed, n_per_kind)
    asked = fact_split(seed, world, eval_fact_share)[1]
    rng = random.Random(f"{seed}/helpful/corpus")
    forms = random.Random(f"{seed}/helpful/corpus/answer-form")

    def part() -> str:
        if rng.random() < 0.3:
            i, attr = rng.choice(asked)
            return _asked(rng, world[i], attr)
        return _paragraph(rng, rng.choice(world), answer_form, forms)

    return [document(part) for _ in range(n)]
