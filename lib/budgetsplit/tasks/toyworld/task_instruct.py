"""The toy world's `instruct` task: short requests with 1-3 verifiable constraints, IFEval in miniature.

A request asks for a few lines about one of the world's topics (its words: `instruct_text`) and
adds constraints drawn from IFEval's own instruction ids (its rules, and the responses that keep
them: `instruct_rules`), so lm-eval's checkers score them for real (`budgetsplit.tasks.ifeval`):

    Describe the river. Write exactly 3 lines starting with *. Do not use commas.
    -> * The river runs down to the sea.
       * After heavy rain the river rises.
       * Ducks swim near the bank.

Only instructions whose checkers work offline are used (none needs NLTK data); all capitals is
opt-in (see DEFAULT_INSTRUCTIONS). Demonstrations
satisfy every constraint; a preference pair sets such a response (chosen) against a plausible one
that breaks one or two of them (rejected): sentence case where lowercase was asked, one bullet too
many, the forbidden word used, another end phrase. Both sides also follow unasked format rules at
random (FREE_STYLE), so no format token marks the chosen side (tests/test_shortcuts.py). Eval rows
carry IFEval's `instruction_id_list` and `kwargs`; the primary metric `answered_strict` is IFEval's
prompt-level strict accuracy counted only for responses that answer the request (`answers`), whose
floor is what prose ignoring the rules passes by chance (8%). The pretraining corpus states the
same topic sentences as plain prose, and notes that state rules prose can keep (`PROSE_RULES`: a
word used or avoided, no commas, a word count, an end phrase) and keep them; never lists, never
all lowercase or all capitals, never a request of the task.

    from budgetsplit.tasks.toyworld.task_instruct import InstructTask, corpus_documents
    task = InstructTask(seed=0)
    task.sft_pool()[0], task.pref_pool()[0], task.eval_split("test")[0]
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence

from budgetsplit.tasks import ifeval
from budgetsplit.tasks.toyworld.common import ToyTask, document, pick
from budgetsplit.tasks.toyworld.instruct_rules import (
    CONTAINS,
    DEFAULT_INSTRUCTIONS,
    END,
    FORBIDDEN,
    FREE_STYLE,
    INSTRUCTIONS,
    KEYWORDS,
    KEYWORDS_OF,
    NO_COMMA,
    SENTENCES,
    TOPIC_NAMES,
    WHOLE_WORD,
    WORD_PATTERN,
    WORDS,
    compose,
    draw_constraints,
    phrase,
)
from budgetsplit.tasks.toyworld.instruct_text import REQUESTS, WRITING

_SENTENCE_END = re.compile(r"[.!?][\"']?$")
_REQUEST_SENTENCE = re.compile(r"(?<=[.?\"])\s+")


class InstructTask(ToyTask):
    """Toy IFEval. Knobs: 1..max_constraints constraints per prompt from `instructions` (IFEval ids,
    a subset of INSTRUCTIONS); bullet counts in 2..max_bullets; word limits from `word_limits`;
    each preference prompt gets 1..max_pairs_per_prompt pairs; `word_frames`: the share of named
    words a response (and the corpus's notes) works in with a frame sentence (`FRAMES`)."""

    name = "instruct"
    # IFEval's prompt-level strict accuracy, counted only for responses that answer the request
    # (`answers`): its floor is then what a response ignoring the rules passes by chance (8%).
    primary_metric = "answered_strict"
    # None, as in IFEval: the rules are in each request, and every token counts in a 128-token world.
    system_prompt = None
    probe_tokens = 64

    def __init__(
        self,
        max_constraints: int = 3,
        instructions: Sequence[str] = DEFAULT_INSTRUCTIONS,
        max_bullets: int = 3,
        word_limits: Sequence[int] = (8, 12, 16),
        max_pairs_per_prompt: int = 2,
        word_lines: float = 0.0,
        word_frames: float = 0.0,
        **world,
    ):
        # word_lines shapes the corpus only (corpus_documents); the pools do not read it
        super().__init__(
            {
                "max_constraints": (max_constraints, 1 <= max_constraints <= 3),
                "word_lines": (word_lines, 0.0 <= word_lines < 1.0),
                "word_frames": (word_frames, 0.0 <= word_frames <= 1.0),
                "max_bullets": (max_bullets, 2 <= max_bullets <= 6),
                "instructions": (
                    instructions,
                    bool(instructions) and set(instructions) <= set(INSTRUCTIONS),
                ),
                "word_limits": (
                    word_limits,
                    bool(word_limits) and all(5 <= w <= 40 for w in word_limits),
                ),
                "max_pairs_per_prompt": (max_pairs_per_prompt, max_pairs_per_prompt >= 1),
            },
            **world,
        )
        self.max_constraints, self.instructions = max_constraints, tuple(instructions)
        self.max_bullets, self.word_limits = max_bullets, tuple(word_limits)
        self.frames = word_frames

    # ------------------------------------------------------------------------- generation
    def _constraints(self, rng: random.Random, topic: str) -> dict[str, dict]:
        return draw_constraints(
            rng, topic, self.instructions, self.max_constraints, self.max_bullets, self.word_limits
        )

    def _items(self, split: str, rng: random.Random) -> Iterator[tuple[str, tuple]]:
        """Distinct prompts as (prompt, (constraints, topic, a response that follows them))."""
        return self._fresh(split, rng, self._make, self._answered)

    def _make(self, rng: random.Random) -> tuple[str, tuple]:
        topic = pick(rng, TOPIC_NAMES)
        cons = self._constraints(rng, topic)
        # The end rule comes first, so that a copy of the request does not end with its phrase.
        rules = sorted(cons.items(), key=lambda rule: rule[0] != END)
        parts = [pick(rng, REQUESTS).format(t=topic)] + [phrase(i, k) for i, k in rules]
        return parts[0][0].upper() + parts[0][1:] + " " + " ".join(parts[1:]), (cons, topic)

    def _answered(self, rng: random.Random, item: tuple) -> tuple | None:
        """The item with a response that follows every constraint, or None if 8 tries fail."""
        cons, topic = item
        make = (compose(rng, topic, cons, frames=self.frames) for _ in range(8))
        chosen = next((c for c in make if c), None)
        return None if chosen is None else (cons, topic, chosen)

    def _fields(self, item: tuple) -> dict:
        return {"instruction_id_list": list(item[0]), "kwargs": list(item[0].values())}

    def _demo(self, item: tuple) -> str:
        return item[2]

    def _eval_fields(self, item: tuple) -> dict:
        return {"reference": item[2]}

    def _pairs(self, rng: random.Random, item: tuple, want: int) -> Iterator[tuple[int, str, str]]:
        cons, topic, chosen = item
        for m in range(want):
            good = compose(rng, topic, cons, free=FREE_STYLE["chosen"], frames=self.frames) or (
                chosen if m == 0 else None
            )
            bad = self._rejected(rng, topic, cons)
            if good is not None and bad is not None:
                yield m, good, bad

    def _rejected(self, rng: random.Random, topic: str, cons: dict[str, dict]) -> str | None:
        ids = list(cons)
        for _ in range(8):
            n_broken = 2 if len(ids) > 1 and rng.random() < 0.3 else 1
            broken = frozenset(rng.sample(ids, n_broken))
            if text := compose(rng, topic, cons, broken, FREE_STYLE["rejected"], self.frames):
                return text
        return None

    # ------------------------------------------------------------------------- Task interface
    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        # what the corpus teaches without the rules: the request's topic in its own sentences
        def prose(prompt: str) -> str:
            return " ".join(SENTENCES[topic_of(prompt)][:4])

        return super().cheap_outputs(rows) | {
            "bare bullet list": ["* .\n* .\n* ."] * len(rows),
            "the topic's prose, ignoring the rules": [prose(r["prompt"]) for r in rows],
        }

    def in_format(self, completion: str) -> bool:
        """The shape every answer here has, whatever its constraints: 1-60 words, each line a
        bullet ("* " or "- ") or prose ending a sentence, and no chat markup left in."""
        lines = [ln.strip() for ln in completion.strip().splitlines() if ln.strip()]
        if not lines or "<|" in completion or not 1 <= len(WORD_PATTERN.findall(completion)) <= 60:
            return False
        return all(ln[:2] in ("* ", "- ") or _SENTENCE_END.search(ln) for ln in lines)

    def answers(self, prompt: str, completion: str) -> bool:
        """Whether `completion` answers the request at all: in format, at least two words a line,
        and no sentence of the request repeated. lm-eval's checkers pass a copy of the request
        (15% of test prompts: its keywords, word count, no commas) and a bare "* " list (15%)."""
        if not self.in_format(completion):
            return False
        lines = [ln for ln in completion.splitlines() if ln.strip()]
        text = completion.lower()
        return all(len(WORD_PATTERN.findall(ln)) >= 2 for ln in lines) and not any(
            s.lower() in text for s in _REQUEST_SENTENCE.split(prompt.strip()) if s
        )

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        """lm-eval's four IFEval accuracies, `format_share`, and the primary `answered_strict`:
        the share of prompts answered (`answers`) with every instruction followed (strict)."""
        self._check_scored(rows, completions)
        results, answered = [], 0
        for r, c in zip(rows, completions, strict=True):
            if "instruction_id_list" not in r or "kwargs" not in r:
                raise ValueError(f"InstructTask.score: row {r.get('id')!r} has no IFEval fields")
            results.append(ifeval.check(c, r["instruction_id_list"], r["kwargs"], r["prompt"]))
            answered += all(results[-1][0]) and self.answers(r["prompt"], c)
        out = ifeval.aggregate(results)
        out["answered_strict"] = answered / len(completions)
        out["format_share"] = sum(map(self.in_format, completions)) / len(completions)
        return out

    def probes(self, split: str, n: int) -> list[dict]:
        # a held-out request's rules that prose can keep, stated as the corpus states them
        out = []
        for r in self.eval_split(split):
            rules = {
                i: kw
                for i, kw in zip(r["instruction_id_list"], r["kwargs"], strict=True)
                if i in PROSE_RULES
            }
            if rules and len(out) < n:
                out.append({"prefix": note_header(topic_of(r["prompt"]), rules), "rules": rules})
        return out

    def probe_score(self, probe: dict, completion: str) -> float:
        # 1 when every rule is kept (strict, as the task's metric)
        return float(all(self.probe_parts(probe, completion).values()))

    def probe_parts(self, probe: dict, completion: str) -> dict[str, bool]:
        rules = list(probe["rules"])
        # fewer than 3 words keep "no commas" and a forbidden word by saying nothing: none kept
        if len(WORD_PATTERN.findall(completion)) < 3:
            return dict.fromkeys(rules, False)
        kept = ifeval.check(completion.strip(), rules, list(probe["rules"].values()))[0]
        return {rule: bool(k) for rule, k in zip(rules, kept, strict=True)}


# ----------------------------------------------------------------------------- pretraining corpus
# The rules prose can keep without the task's response formats (lists, all small letters): the
# corpus's notes state them and keep them, as written text follows its brief.
PROSE_RULES = (KEYWORDS, FORBIDDEN, NO_COMMA, WORDS, END)


def topic_of(prompt: str) -> str:
    """The topic a request names: the longest topic name in its first sentence (the rules after
    it may name a topic's word: "Describe tea. Use the word winter.")."""
    first = _REQUEST_SENTENCE.split(prompt.strip())[0].lower()
    found = [t for t in TOPIC_NAMES if t in first]
    return max(found, key=len) if found else TOPIC_NAMES[0]


def _rule_in_prose(iid: str, kw: dict) -> str:
    # `phrase`'s rules in a note's words, not a request's ("has no commas", not "Do not use
    # commas."): the corpus then holds no request of the task, and SFT maps one onto the other
    if iid == KEYWORDS:
        return f"uses the word{'s' * (len(kw['keywords']) > 1)} {' and '.join(kw['keywords'])}"
    if iid == FORBIDDEN:
        return f"does not use the word {kw['forbidden_words'][0]}"
    if iid == NO_COMMA:
        return "has no commas"
    if iid == END:
        return f'ends with "{kw["end_phrase"]}"'
    return f"has {'fewer than' if kw['relation'] == 'less than' else 'at least'} {kw['num_words']} words"


def note_header(topic: str, rules: Mapping[str, dict]) -> str:
    """'Here is a note about the sea that has no commas and uses the word boats:'"""
    said = [_rule_in_prose(i, kw) for i, kw in rules.items()]
    joined = ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]
    return f"Here is a note about {topic} that {joined}:"


def _note(rng: random.Random, word_limits: Sequence[int], frames: float = 0.0) -> str | None:
    """A corpus document that states a few rules and keeps them; None when this draw cannot."""
    topic = pick(rng, TOPIC_NAMES)
    rules = draw_constraints(rng, topic, PROSE_RULES, 3, 2, word_limits)
    text = compose(rng, topic, rules, frames=frames)
    return None if text is None else f"{note_header(topic, rules)} {text}"


# Word lines (the `word_lines` knob): which sentence of a topic says a word, and which says
# something else, in prose; {t} topic, {w} word, {s} the sentence.
WITH_WORD = (
    "In a note about {t}, the word {w} comes in this sentence: {s}",
    "A line about {t} that uses the word {w} is this one: {s}",
    "To use the word {w} when writing about {t}, say: {s}",
)
WITHOUT_WORD = (
    "A line about {t} without the word {w} is this one: {s}",
    "To write about {t} and not use the word {w}, say: {s}",
)


def _word_line(rng: random.Random) -> str:
    """One sentence of a topic introduced by a word it uses (two in three) or avoids."""
    topic = pick(rng, TOPIC_NAMES)
    word = pick(rng, KEYWORDS_OF[topic])
    if rng.random() < 2 / 3:
        return pick(rng, WITH_WORD).format(t=topic, w=word, s=pick(rng, CONTAINS[topic][word]))
    others = [x for x in SENTENCES[topic] if x not in WHOLE_WORD[topic][word]]
    return pick(rng, WITHOUT_WORD).format(t=topic, w=word, s=pick(rng, others))


def corpus_documents(
    seed: int,
    n: int,
    word_limits: Sequence[int] = (8, 12, 16),
    word_lines: float = 0.0,
    word_frames: float = 0.0,
) -> list[str]:
    """`n` web-text documents: topic sentences as plain prose (30-120 words), one or two topics a
    document, half of them with a remark about writing (so the words requests use are known); and
    notes that state rules (`note_header`) and keep them (`PROSE_RULES`); with `word_lines`, that
    share of the documents runs of word lines (`_word_line`: which sentence of a topic uses or
    avoids a word); with `word_frames`, the notes name that share of their words in frames. Never
    a list, an all-lowercase or all-capitals text, nor a request of the task."""
    rng = random.Random(f"{seed}/instruct/corpus")
    lines = random.Random(f"{seed}/instruct/corpus/word-lines")  # 0: the draws above unchanged

    def part() -> str:
        return " ".join(rng.sample(SENTENCES[pick(rng, TOPIC_NAMES)], 3 + int(rng.random() * 4)))

    docs = []
    while len(docs) < n:
        if word_lines and lines.random() < word_lines:
            docs.append(document(lambda: _word_line(lines)))
            continue
        if rng.random() < 0.5:
            if note := _note(rng, word_limits, word_frames):
                docs.append(note)
            continue
        doc = document(part)
        if rng.random() < 0.5:
            first = rng.random() < 0.5
            remark = " ".join(rng.sample(WRITING, 2))
            doc = f"{remark} {doc}" if first else f"{doc} {remark}"
        docs.append(doc)
    return docs
