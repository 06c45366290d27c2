"""The toy world's `summarize` task: one-line summaries of short posts, TL;DR in miniature.

A post (about 25-55 words) tells 2-3 key facts about the writer's life among filler sentences; the
reference summary lists the key facts, in order, in a fixed one-line template:

    Hi all. Last week I moved to Lima after a long day. The bus was late again. My cat got
    sick. I had soup for lunch. Any advice?
    -> TL;DR: I moved to Lima; my cat got sick.

Candidate summaries for preference pairs are complete, miss a fact, invent a fact, or run too long
(filler or whole sentences copied); a gold scorer (`gold_score`) rewards covered key facts and
penalises invented facts and excess length, and the higher-scored candidate is `chosen`, as
human raters prefer one of two sampled summaries in the paper's TL;DR data. The study metric is
ROUGE-L F1 against the reference (budgetsplit.metrics). The pretraining corpus holds posts and
third-person prose about the same people, places and events, never the TL;DR template.

    from budgetsplit.toyworld.task_summarize import SummarizeTask, corpus_documents, gold_score
    task = SummarizeTask(seed=0)
    row = task.eval_split("test")[0]; gold_score(row, row["reference"])   # 1.0
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Iterator, Sequence

from budgetsplit.metrics import rouge_l_f1
from budgetsplit.tasks.base import Task
from budgetsplit.toyworld.task_math import NAMES

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
    "cancel": ("the {event} at the {place} was cancelled", "the {event} at the {place} was cancelled"),
    "exam": ("I {result} my {subject} exam", "{who} {result} the {subject} exam"),
    "wedding": ("my {relative} got married in {month}", "{who}'s {relative} got married in {month}"),
    "learn": ("I started learning {skill}", "{who} started learning {skill}"),
    "absent": ("{friend} did not come to my {party}", "{friend} did not come to {who}'s {party}"),
    "buy": ("I bought a {vehicle}", "{who} bought a {vehicle}"),
}  # fmt: skip
FACT_KINDS = tuple(FACTS)
LEADS = ("", "Last week ", "Yesterday ", "On Monday ")
TAILS = ("", " after a long day", " out of nowhere")
FILLERS = (
    "The weather was {weather} all week.", "I had {food} for lunch.", "My room is very {adj}.",
    "I go for a walk after work.", "It is a long story.", "The bus was late again.",
    "I had too much coffee today.", "I have been busy this week.",
)  # fmt: skip
FILLER_SLOTS = {
    "weather": ("cold", "hot", "wet"),
    "food": ("soup", "rice", "cake"),
    "adj": ("cold", "hot", "small"),
}
OPENERS = ("", "Hi all. ")
CLOSERS = ("", " Any advice?")
KINDS = ("complete", "missing", "invented", "too_long")
PREFIX = "TL;DR: "
# Gold scorer weights: a wrong summary is worse than a wordy one, so one invented fact costs more
# than the largest length penalty.
INVENT_PENALTY = 0.5
LENGTH_WEIGHT = 0.4
N_BUCKETS = 16
BUCKETS = {"test": {0}, "val": {1}, "sft": set(range(2, 9)), "pref": set(range(9, 16))}

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


def _draw(rng: random.Random, lo: int, hi: int) -> int:
    # Uniform in [lo, hi]; rng.random() arithmetic is several times cheaper than rng.randint.
    return lo + int(rng.random() * (hi - lo + 1))


def _pick(rng: random.Random, seq: Sequence):
    return seq[int(rng.random() * len(seq))]


def _sample(rng: random.Random, seq: Sequence, k: int) -> list:
    # k distinct items in random order (a partial Fisher-Yates; cheaper than rng.sample here).
    pool = list(seq)
    for i in range(k):
        j = i + int(rng.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


@functools.cache
def _slots_of(template: str) -> tuple[str, ...]:
    return tuple(_SLOT.findall(template))


def _fill(rng: random.Random, template: str, slots: dict, **fixed: str) -> str:
    return template.format(**{s: fixed.get(s) or _pick(rng, slots[s]) for s in _slots_of(template)})


def _bucket(prompt: str) -> int:
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest()) % N_BUCKETS


def _words(text: str) -> int:
    return len(text.split())


def _sentence(text: str) -> str:
    return text[0].upper() + text[1:]


def summary_of(items: Sequence[str]) -> str:
    """The template: 'TL;DR: <item>; <item>.'"""
    return PREFIX + "; ".join(items) + "."


def gold_score(row: dict, summary: str) -> float:
    """In [0, 1]: the share of the row's key facts stated, less INVENT_PENALTY per invented fact,
    less LENGTH_WEIGHT times the words beyond the reference's length as a share of it (capped at 1)."""
    key = {f.lower() for f in row["facts"]}
    stated = {m.lower() for m in _ANY_FACT.findall(summary)}
    covered, invented = len(key & stated), len(stated - key)
    excess = max(0, _words(summary) - _words(row["reference"])) / _words(row["reference"])
    score = covered / len(key) - INVENT_PENALTY * invented - LENGTH_WEIGHT * min(1.0, excess)
    return min(1.0, max(0.0, score))


def make_post(rng: random.Random, n_facts: int, n_filler: int) -> tuple[str, list[str], list[str]]:
    """A post, its key-fact clauses in order, and its sentences (facts and filler) in order."""
    clauses = [_fill(rng, FACTS[k][0], SLOTS) for k in _sample(rng, FACT_KINDS, n_facts)]
    facts = [_sentence(_pick(rng, LEADS) + c + _pick(rng, TAILS)) + "." for c in clauses]
    fillers = [_fill(rng, f, FILLER_SLOTS) for f in _sample(rng, FILLERS, n_filler)]
    at = set(_sample(rng, range(n_facts + n_filler), n_facts))
    facts_left, fillers_left = iter(facts), iter(fillers)
    sentences = [next(facts_left if i in at else fillers_left) for i in range(n_facts + n_filler)]
    post = _pick(rng, OPENERS) + " ".join(sentences) + _pick(rng, CLOSERS)
    return post, clauses, sentences


def _invented(rng: random.Random, clauses: list[str]) -> str:
    """A clause of the world that the post does not state."""
    while True:
        made = _fill(rng, FACTS[_pick(rng, FACT_KINDS)][0], SLOTS)
        if made.lower() not in {c.lower() for c in clauses}:
            return made


def candidate(rng: random.Random, kind: str, clauses: list[str], sentences: list[str]) -> str:
    """A summary of one of KINDS: complete, missing a fact, with an invented fact, or too long."""
    items = list(clauses)
    if kind == "missing":
        del items[_draw(rng, 0, len(items) - 1)]
    elif kind == "invented":
        at = _draw(rng, 0, len(items) - 1)
        if rng.random() < 0.5:
            items[at] = _invented(rng, clauses)  # a wrong fact in place of a right one
        else:
            items.insert(at, _invented(rng, clauses))
    elif kind == "too_long":
        # One key fact copied with its lead-in and aside, or one filler sentence copied.
        at = _draw(rng, 0, len(items) - 1)
        whole = next(s[:-1] for s in sentences if items[at].lower() in s.lower())
        if rng.random() < 0.5 and _words(whole) > _words(items[at]):
            items[at] = whole
        else:
            fillers = [
                s[:-1] for s in sentences if not any(c.lower() in s.lower() for c in clauses)
            ]
            items.insert(_draw(rng, 0, len(items)), _pick(rng, fillers))
    return summary_of(items)


class SummarizeTask(Task):
    """Toy TL;DR. Difficulty knobs: key facts per post in [min_facts, max_facts], filler sentences
    in [min_filler, max_filler]; each preference prompt gets 1..max_pairs_per_prompt pairs."""

    name = "summarize"
    primary_metric = "rouge_l"
    system_prompt = "One line: TL;DR: and the key facts."
    # Both annotations need the post read; writing the summary on top of that costs about half
    # as much again as choosing between two short summaries.
    default_costs = {"sft": 1.5, "pref": 1.0}

    def __init__(
        self,
        seed: int = 0,
        n_sft_pool: int = 20000,
        n_pref_pool: int = 20000,
        n_val: int = 200,
        n_test: int = 500,
        label_noise: float = 0.0,
        min_facts: int = 2,
        max_facts: int = 3,
        min_filler: int = 1,
        max_filler: int = 2,
        max_pairs_per_prompt: int = 3,
    ):
        values = dict(locals())
        checks = {
            "n_sft_pool": n_sft_pool >= 0, "n_pref_pool": n_pref_pool >= 0, "n_val": n_val >= 0,
            "n_test": n_test >= 0, "label_noise": 0.0 <= label_noise <= 1.0,
            "min_facts": 2 <= min_facts <= max_facts, "max_facts": max_facts <= len(FACTS),
            "min_filler": 1 <= min_filler <= max_filler, "max_filler": max_filler <= len(FILLERS),
            "max_pairs_per_prompt": max_pairs_per_prompt >= 1,
        }  # fmt: skip
        for key, ok in checks.items():
            if not ok:
                raise ValueError(f"SummarizeTask: {key} = {values[key]!r} is out of range")
        self.seed, self.label_noise = seed, label_noise
        self.sizes = {"sft": n_sft_pool, "pref": n_pref_pool, "val": n_val, "test": n_test}
        self.facts, self.filler = (min_facts, max_facts), (min_filler, max_filler)
        self.max_pairs_per_prompt = max_pairs_per_prompt
        self._cache: dict[str, list[dict]] = {}

    # ------------------------------------------------------------------------- generation
    def _fresh_posts(self, split: str) -> Iterator[tuple[str, list[str], list[str]]]:
        """Endless distinct posts whose text falls in `split`'s hash buckets."""
        rng = random.Random(f"{self.seed}/{self.name}/{split}")
        seen: set[str] = set()
        misses = 0
        while True:
            post = make_post(rng, _draw(rng, *self.facts), _draw(rng, *self.filler))
            if post[0] in seen or _bucket(post[0]) not in BUCKETS[split]:
                misses += 1
                if misses > 100_000 + 50 * len(seen):
                    raise ValueError(
                        f"SummarizeTask: only {len(seen)} distinct '{split}' posts found; "
                        "ask for fewer rows or widen the knobs"
                    )
                continue
            seen.add(post[0])
            yield post

    def _pairs(self, rng: random.Random, clauses: list[str], sentences: list[str], want: int):
        """Up to `want` distinct (better, worse) summary pairs, ranked by the gold scorer."""
        gold = {"facts": clauses, "reference": summary_of(clauses)}
        out: list[tuple[str, str]] = []
        for _ in range(3 * want):
            if len(out) == want:
                break
            a, b = (candidate(rng, kind, clauses, sentences) for kind in _sample(rng, KINDS, 2))
            score_a, score_b = gold_score(gold, a), gold_score(gold, b)
            pair = (a, b) if score_a > score_b else (b, a)
            if score_a != score_b and pair not in out:
                out.append(pair)
        return out

    def _generate(self, split: str) -> list[dict]:
        n, rows = self.sizes[split], []
        if split == "pref":
            rng = random.Random(f"{self.seed}/{self.name}/pref-pairs")
            noise = random.Random(f"{self.seed}/{self.name}/pref-noise")
        for j, (post, clauses, sentences) in enumerate(self._fresh_posts(split)):
            if len(rows) >= n:
                break
            pid = f"{self.name}-{split}-{j}"
            base = {"prompt_id": pid, "prompt": post}
            if split == "sft":
                rows.append({"id": pid, **base, "response": summary_of(clauses)})
            elif split == "pref":
                want = min(_draw(rng, 1, self.max_pairs_per_prompt), n - len(rows))
                for m, (better, worse) in enumerate(self._pairs(rng, clauses, sentences, want)):
                    flip = noise.random() < self.label_noise
                    chosen, rejected = (worse, better) if flip else (better, worse)
                    rows.append(
                        {"id": f"{pid}-{m}", **base, "chosen": chosen, "rejected": rejected}
                    )
            else:
                ref = summary_of(clauses)
                rows.append({"id": pid, **base, "reference": ref, "facts": clauses})
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
            raise ValueError(
                f"SummarizeTask.eval_split: split = {split!r}; expected 'val' or 'test'"
            )
        return self._rows(split)

    def in_format(self, completion: str) -> bool:
        return _FORMAT.fullmatch(completion.strip()) is not None

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        if len(rows) != len(completions) or not rows:
            raise ValueError(
                f"SummarizeTask.score: {len(rows)} rows and {len(completions)} completions; "
                "need one completion per row and at least one row"
            )
        pairs = list(zip(rows, completions, strict=True))
        n = len(pairs)
        return {
            "rouge_l": sum(rouge_l_f1(c, r["reference"]) for r, c in pairs) / n,
            "gold_score": sum(gold_score(r, c) for r, c in pairs) / n,
            "format_share": sum(self.in_format(c) for c in completions) / n,
        }


# ----------------------------------------------------------------------------- pretraining corpus
def _prose(rng: random.Random) -> str:
    """Third-person prose about one person: where they live and what happened to them."""
    who, friend = _sample(rng, SLOTS["friend"], 2)
    sentences = [f"{who} lives in {_pick(rng, SLOTS['city'])}."]
    for kind in _sample(rng, FACT_KINDS, _draw(rng, 2, 4)):
        told = _fill(rng, FACTS[kind][1], SLOTS, who=who, friend=friend)
        sentences.append(_sentence(_pick(rng, LEADS) + told) + ".")
    return " ".join(sentences)


def corpus_documents(seed: int, n: int) -> list[str]:
    """`n` web-text documents of 30-120 words: posts and prose of the domain, never a TL;DR."""
    rng = random.Random(f"{seed}/summarize/corpus")
    docs = []
    for _ in range(n):
        doc = ""
        while _words(doc) < 30:
            part = make_post(rng, _draw(rng, 1, 3), _draw(rng, 1, 4))[0]
            if rng.random() < 0.5 or _bucket(part) in BUCKETS["test"] | BUCKETS["val"]:
                part = _prose(rng)  # (posts of val and test stay out of the corpus)
            doc = f"{doc} {part}".strip()
        while _words(doc) > 120:
            doc = doc[: doc.rindex(".", 0, len(doc) - 1) + 1]
        docs.append(doc)
    return docs
