"""The toy world's `summarize` task: one-line summaries of short posts, TL;DR in miniature.

A post (about 25-55 words) tells 2-3 key facts about the writer's life among filler sentences (and,
with `max_others`, facts about a friend, "Ana moved to Oslo.", which a summary leaves out); the
reference summary lists the key facts, in order, in a fixed one-line template:

    Hi all. Last week I moved to Lima after a long day. The bus was late again. My cat got
    sick. I had soup for lunch. Any advice?
    -> TL;DR: I moved to Lima; my cat got sick.

The study metric is the gold fact score (`fact_score`), which also ranks preference pairs:

    facts   = max(0, covered / len(key facts) - INVENT_PENALTY * invented)
    brevity = 1 up to the reference's length in words, falling linearly to 0 at BREVITY_ZERO (1.5)
              times it
    fact_score = facts * brevity

where a summary "states" every fact clause of the world it contains (any slot values, any case,
anywhere in the text): `covered` counts the row's key facts among them, `invented` the others (a
wrong detail, "I moved to Oslo" for Lima, is one missing and one invented). The template is not
scored here (`format_share` is): the bare template, an empty answer and a list of every fact of
the world score 0, and a copy of the post, at least 1.44 times the reference's length, scores 0
on all but about 1 post in 200. ROUGE-L F1 of the text after "TL;DR:" (stripped from both sides)
against the reference is the secondary metric `rouge_l`.

Candidate summaries for preference pairs are complete, miss a fact, invent a fact, change a detail
of one, or run too long (filler or whole sentences copied); the higher-scored candidate is
`chosen`, as human raters prefer one of two sampled summaries in the paper's TL;DR data. The
pretraining corpus holds posts, third-person prose about the same people, places and events, and
posts followed by a one-sentence retelling of their key facts (`retelling`: "In short, I moved to
Lima and my cat got sick."; the skill the probe checks), never the TL;DR template.

    from budgetsplit.tasks.toyworld.task_summarize import SummarizeTask, corpus_documents, fact_score
    task = SummarizeTask(seed=0)
    row = task.eval_split("test")[0]; fact_score(row, row["reference"])   # 1.0
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Iterator, Sequence

from budgetsplit.tasks.metrics import rouge_l_f1
from budgetsplit.tasks.toyworld.common import ToyTask, document, draw, held_out, pick, sample
from budgetsplit.tasks.toyworld.task_math import NAMES

# A small lexicon on purpose: the world's ~1K-token vocabulary is shared by four tasks, and rare
# words would cost several tokens each in a 128-token window. People are the math task's people.
SLOTS = {
    "city": ("Lima", "Oslo", "Cairo", "Dublin", "Perth", "Riga"),
    "relative": ("sister", "brother", "mother", "father", "aunt", "uncle"),
    "work": ("bank", "school", "library", "hotel", "cafe"),
    "pet": ("dog", "cat", "bird", "horse"),
    "pet_news": ("ran away", "got sick", "got lost"),
    "object": ("phone", "bag", "key", "hat"),
    "event": ("game", "show", "market"),
    "place": ("park", "school", "beach"),
    "result": ("passed", "failed"),
    "subject": ("math", "music", "art", "French"),
    "month": ("May", "June", "July", "March"),
    "skill": ("chess", "piano", "French", "cooking"),
    "friend": NAMES[:8],
    "party": ("birthday party", "wedding"),
    "vehicle": ("car", "bike", "boat"),
}
# Fact kind -> (first-person clause, third-person clause about {who}). A post has each kind at most once.
FACTS = {
    "move": ("I moved to {city}", "{who} moved to {city}"),
    "job": ("my {relative} got a job at the {work}", "{who}'s {relative} got a job at the {work}"),
    "pet": ("my {pet} {pet_news}", "{who}'s {pet} {pet_news}"),
    "lost": ("I lost my {object} in {city}", "{who} lost a {object} in {city}"),
    "cancel": (
        "the {event} at the {place} was cancelled",
        "the {event} at the {place} was cancelled",
    ),
    "exam": ("I {result} my {subject} exam", "{who} {result} the {subject} exam"),
    "wedding": (
        "my {relative} got married in {month}",
        "{who}'s {relative} got married in {month}",
    ),
    "learn": ("I started learning {skill}", "{who} started learning {skill}"),
    "absent": ("{friend} did not come to my {party}", "{friend} did not come to {who}'s {party}"),
    "buy": ("I bought a {vehicle}", "{who} bought a {vehicle}"),
}
FACT_KINDS = tuple(FACTS)
# The kinds a post may also tell of a friend (`max_others`): those whose third-person clause is no
# fact of the writer's ("the game at the park was cancelled" is the same clause in both persons).
OTHER_KINDS = tuple(k for k, (mine, theirs) in FACTS.items() if mine != theirs)
LEADS = ("", "Last week ", "Yesterday ", "On Monday ")
TAILS = ("", " after a long day", " out of nowhere")
FILLERS = (
    "The weather was {weather} all week.",
    "I had {food} for lunch.",
    "My room is very {adj}.",
    "I go for a walk after work.",
    "It is a long story.",
    "The bus was late again.",
    "I had too much coffee today.",
    "I have been busy this week.",
)
FILLER_SLOTS = {
    "weather": ("cold", "hot", "wet"),
    "food": ("soup", "rice", "cake"),
    "adj": ("cold", "hot", "small"),
}
OPENERS = ("", "Hi all. ")
CLOSERS = ("", " Any advice?")
# Candidate summaries: complete, a fact missing (shorter), an invented fact (in place of a right
# one, or added: longer), a right fact with a wrong detail (the same length), too long (longer),
# terse (one fact, with a wrong detail: the shortest and among the worst). KIND_WEIGHTS: how often
# each is drawn, so that the shorter summary is the better one in about half the pairs.
KINDS = ("complete", "missing", "invented", "wrong_detail", "too_long", "terse")
KIND_WEIGHTS = (2, 2, 2, 2, 2, 1)
_KIND_DRAW = tuple(k for k, w in zip(KINDS, KIND_WEIGHTS, strict=True) for _ in range(w))
PREFIX = "TL;DR: "
# Fact score: an invented fact cancels half the facts of a two-fact post; a summary half as long
# again as the reference says no more than the post (the shortest posts are 1.44 times as long).
INVENT_PENALTY = 0.5
BREVITY_ZERO = 1.5
WORDY_MISSING = 0.5  # the share of summaries missing a fact that are also too long

_FORMAT = re.compile(r"TL;DR: [^;\n]+(?:; [^;\n]+)*\.")
_SLOT = re.compile(r"\{(\w+)\}")


def _clause_regex(template: str) -> str:
    parts = _SLOT.split(template)  # literal, slot, literal, slot, ...
    return "".join(
        "(?:" + "|".join(map(re.escape, SLOTS[p])) + ")" if i % 2 else re.escape(p)
        for i, p in enumerate(parts)
    )


# Any first-person fact clause of the world, whatever its slots: what a summary can assert.
_ANY_FACT = re.compile(
    r"\b(?:" + "|".join(_clause_regex(first) for first, _ in FACTS.values()) + r")\b",
    re.IGNORECASE,
)


_KIND_RES = {k: re.compile(_clause_regex(first), re.IGNORECASE) for k, (first, _) in FACTS.items()}


@functools.cache
def _slots_of(template: str) -> tuple[str, ...]:
    return tuple(_SLOT.findall(template))


def _fill(rng: random.Random, template: str, slots: dict, **fixed: str) -> str:
    return template.format(**{s: fixed.get(s) or pick(rng, slots[s]) for s in _slots_of(template)})


def _words(text: str) -> int:
    return len(text.split())


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def summary_of(items: Sequence[str]) -> str:
    """The template: 'TL;DR: <item>; <item>.'"""
    return PREFIX + "; ".join(items) + "."


def fact_score(row: dict, summary: str) -> float:
    """The gold fact score in [0, 1] of `summary` for a row with its key `facts` and `reference`
    (defined in the module docstring)."""
    facts = facts_told(row["facts"], summary)
    ref = _words(row["reference"])
    brevity = (BREVITY_ZERO * ref - _words(summary)) / ((BREVITY_ZERO - 1) * ref)
    return facts * min(1.0, max(0.0, brevity))


def facts_told(facts: Sequence[str], text: str) -> float:
    """The share of the key `facts` that `text` states, less INVENT_PENALTY per other fact it
    states, at least 0: `fact_score` before brevity."""
    key = {f.lower() for f in facts}
    stated = {m.lower() for m in _ANY_FACT.findall(text)}
    return max(0.0, len(key & stated) / len(key) - INVENT_PENALTY * len(stated - key))


def after_template(text: str) -> str:
    """The text after the first "TL;DR:" (all of it if there is none): what ROUGE-L compares."""
    at = text.find(PREFIX.strip())
    return text if at < 0 else text[at + len(PREFIX.strip()) :]


def make_post(
    rng: random.Random, n_facts: int, n_filler: int, n_others: int = 0
) -> tuple[str, list[str], list[str]]:
    """A post, its key-fact clauses in order, and its sentences (facts, filler and `n_others`
    facts about a friend, which a summary leaves out: "Ana moved to Oslo.") in order."""
    kinds = sample(rng, FACT_KINDS, n_facts)
    clauses = [_fill(rng, FACTS[k][0], SLOTS) for k in kinds]
    facts = [_sentence(pick(rng, LEADS) + c + pick(rng, TAILS)) + "." for c in clauses]
    fillers = [_fill(rng, f, FILLER_SLOTS) for f in sample(rng, FILLERS, n_filler)]
    at = set(sample(rng, range(n_facts + n_filler), n_facts))
    facts_left, fillers_left = iter(facts), iter(fillers)
    sentences = [next(facts_left if i in at else fillers_left) for i in range(n_facts + n_filler)]
    if n_others:  # 0: no draw, so that posts without them are what they were
        who, friend = sample(rng, SLOTS["friend"], 2)
        for kind in sample(rng, [k for k in OTHER_KINDS if k not in kinds], n_others):
            told = _fill(rng, FACTS[kind][1], SLOTS, who=who, friend=friend)
            sentences.insert(draw(rng, 0, len(sentences)), _sentence(told) + ".")
    post = pick(rng, OPENERS) + " ".join(sentences) + pick(rng, CLOSERS)
    return post, clauses, sentences


def _lower_first(text: str) -> str:
    """A copied sentence as a summary item: its capital dropped unless it is "I" or a name."""
    return text if text.startswith("I ") or text.split()[0] in NAMES else text[0].lower() + text[1:]


def _altered(rng: random.Random, clause: str) -> str:
    """`clause` with its slots drawn again until it states something else ("I moved to Oslo")."""
    kind = next(k for k, regex in _KIND_RES.items() if regex.fullmatch(clause))
    while (made := _fill(rng, FACTS[kind][0], SLOTS)).lower() == clause.lower():
        pass
    return made


def _invented(rng: random.Random, clauses: list[str]) -> str:
    """A clause of the world that the post does not state."""
    while True:
        made = _fill(rng, FACTS[pick(rng, FACT_KINDS)][0], SLOTS)
        if made.lower() not in {c.lower() for c in clauses}:
            return made


def _wordy(rng: random.Random, items: list[str], clauses: list[str], sentences: list[str]) -> None:
    """Make `items` too long: one key fact copied with its lead-in and aside (where the post has
    one), or else one filler sentence copied."""
    at = draw(rng, 0, len(items) - 1)
    if items[at] in clauses:
        whole = next(s[:-1] for s in sentences if items[at].lower() in s.lower())
        if rng.random() < 0.5 and _words(whole) > _words(items[at]):
            items[at] = _lower_first(whole)
            return
    fillers = [s[:-1] for s in sentences if not any(c.lower() in s.lower() for c in clauses)]
    items.insert(draw(rng, 0, len(items)), _lower_first(pick(rng, fillers)))


def candidate(rng: random.Random, kind: str, clauses: list[str], sentences: list[str]) -> str:
    """A summary of one of KINDS: complete, missing a fact (and at WORDY_MISSING also too long, so
    that the shorter summary is not mostly the better one), with an invented fact or a wrong
    detail, too long, or terse."""
    items = list(clauses)
    if kind == "missing":
        del items[draw(rng, 0, len(items) - 1)]
        if rng.random() < WORDY_MISSING:
            _wordy(rng, items, clauses, sentences)
    elif kind == "invented":
        at = draw(rng, 0, len(items) - 1)
        if rng.random() < 0.5:
            items[at] = _invented(rng, clauses)  # a wrong fact in place of a right one
        else:
            items.insert(at, _invented(rng, clauses))
    elif kind == "wrong_detail":
        at = draw(rng, 0, len(items) - 1)
        items[at] = _altered(rng, items[at])
    elif kind == "too_long":
        _wordy(rng, items, clauses, sentences)
    elif kind == "terse":
        items = [_altered(rng, pick(rng, items))]
    return summary_of(items)


class SummarizeTask(ToyTask):
    """Toy TL;DR. Difficulty knobs: key facts per post in [min_facts, max_facts], filler sentences
    in [min_filler, max_filler], facts about a friend (which the summary leaves out) in
    [0, max_others]; each preference prompt gets 1..max_pairs_per_prompt pairs."""

    name = "summarize"
    primary_metric = "fact_score"
    system_prompt = "One line: TL;DR: and the key facts."
    pair_stream = "pref-pairs"
    probe_tokens = 40

    def __init__(
        self,
        min_facts: int = 2,
        max_facts: int = 3,
        min_filler: int = 1,
        max_filler: int = 2,
        max_pairs_per_prompt: int = 3,
        max_others: int = 0,
        **world,
    ):
        super().__init__(
            {
                "max_others": (max_others, 0 <= max_others <= len(OTHER_KINDS) - max_facts),
                "min_facts": (min_facts, 2 <= min_facts <= max_facts),
                "max_facts": (max_facts, max_facts <= len(FACTS)),
                "min_filler": (min_filler, 1 <= min_filler <= max_filler),
                "max_filler": (max_filler, max_filler <= len(FILLERS)),
                "max_pairs_per_prompt": (max_pairs_per_prompt, max_pairs_per_prompt >= 1),
            },
            **world,
        )
        self.facts, self.filler = (min_facts, max_facts), (min_filler, max_filler)
        self.max_others = max_others

    # ------------------------------------------------------------------------- generation
    def _items(self, split: str, rng: random.Random) -> Iterator[tuple[str, tuple]]:
        """Distinct posts as (post, (key-fact clauses, sentences))."""
        return self._fresh(split, rng, self._make)

    def _make(self, rng: random.Random) -> tuple[str, tuple]:
        n_facts, n_filler = draw(rng, *self.facts), draw(rng, *self.filler)
        others = draw(rng, 0, self.max_others) if self.max_others else 0
        post, clauses, sentences = make_post(rng, n_facts, n_filler, others)
        return post, (clauses, sentences)

    def _demo(self, item: tuple) -> str:
        return summary_of(item[0])

    def _eval_fields(self, item: tuple) -> dict:
        return {"reference": summary_of(item[0]), "facts": item[0]}

    def _pairs(self, rng: random.Random, item: tuple, want: int) -> Iterator[tuple[int, str, str]]:
        """Up to `want` distinct (better, worse) summary pairs, ranked by `fact_score`."""
        clauses, sentences = item
        gold = {"facts": clauses, "reference": summary_of(clauses)}
        out: list[tuple[str, str]] = []
        for _ in range(3 * want):
            if len(out) == want:
                break
            kinds = [pick(rng, _KIND_DRAW)]
            while (kind := pick(rng, _KIND_DRAW)) == kinds[0]:
                pass
            a, b = (candidate(rng, k, clauses, sentences) for k in (*kinds, kind))
            score_a, score_b = fact_score(gold, a), fact_score(gold, b)
            pair = (a, b) if score_a > score_b else (b, a)
            if score_a != score_b and pair not in out:
                out.append(pair)
        return ((m, better, worse) for m, (better, worse) in enumerate(out))

    # ------------------------------------------------------------------------- Task interface
    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        return super().cheap_outputs(rows) | {
            "bare template": ["TL;DR: ."] * len(rows),
            "the post after the template": ["TL;DR: " + r["prompt"] for r in rows],
        }

    def in_format(self, completion: str) -> bool:
        return _FORMAT.fullmatch(completion.strip()) is not None

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        self._check_scored(rows, completions)
        pairs = list(zip(rows, completions, strict=True))
        n = len(pairs)
        return {
            "fact_score": sum(fact_score(r, c) for r, c in pairs) / n,
            "rouge_l": sum(
                rouge_l_f1(after_template(c), after_template(r["reference"])) for r, c in pairs
            )
            / n,
            "format_share": sum(self.in_format(c) for c in completions) / n,
        }

    def probes(self, split: str, n: int) -> list[dict]:
        # a held-out post, then the corpus's retelling begun: the base model must say its facts
        rows = self.eval_split(split)[:n]
        return [{"prefix": f"{r['prompt']} {RETELL}", "facts": r["facts"]} for r in rows]

    def probe_score(self, probe: dict, completion: str) -> float:
        return facts_told(probe["facts"], completion.split(". ")[0])


# ----------------------------------------------------------------------------- pretraining corpus
# How the corpus retells a post in a sentence: its key facts, in order, in the writer's words and
# not the filler ("In short, I moved to Lima and my cat got sick."); never the TL;DR template.
RETELL = "In short,"


def retelling(clauses: Sequence[str]) -> str:
    """'In short, I moved to Lima, my cat got sick and I lost my key in Oslo.'"""
    told = ", ".join(clauses[:-1]) + " and " + clauses[-1] if len(clauses) > 1 else clauses[0]
    return f"{RETELL} {told}."


def _prose(rng: random.Random) -> str:
    """Third-person prose about one person: where they live and what happened to them."""
    who, friend = sample(rng, SLOTS["friend"], 2)
    sentences = [f"{who} lives in {pick(rng, SLOTS['city'])}."]
    for kind in sample(rng, FACT_KINDS, draw(rng, 2, 4)):
        told = _fill(rng, FACTS[kind][1], SLOTS, who=who, friend=friend)
        sentences.append(_sentence(pick(rng, LEADS) + told) + ".")
    return " ".join(sentences)


def corpus_documents(
    seed: int, n: int, min_facts: int = 2, max_facts: int = 3, max_others: int = 0
) -> list[str]:
    """`n` web-text documents of 30-120 words: third-person prose of the domain, posts, and posts
    followed by their `retelling` (as many facts, and facts about a friend, as the task's posts),
    never a TL;DR; posts of val and test stay out."""
    rng = random.Random(f"{seed}/summarize/corpus")

    def part() -> str:
        u = rng.random()
        if u < 0.3:
            return _prose(rng)
        if u < 0.5:
            post = make_post(rng, draw(rng, 1, 3), draw(rng, 1, 4))[0]
            return _prose(rng) if held_out(post) else post
        n_facts, n_filler = draw(rng, min_facts, max_facts), draw(rng, 1, 2)
        others = draw(rng, 0, max_others) if max_others else 0
        post, clauses, _ = make_post(rng, n_facts, n_filler, others)
        return _prose(rng) if held_out(post) else f"{post} {retelling(clauses)}"

    return [document(part) for _ in range(n)]
