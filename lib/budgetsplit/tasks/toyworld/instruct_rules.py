"""The rules of the toy world's `instruct` task: IFEval's instruction ids it draws from, each
rule in the world's words (`phrase`), a draw of 1-3 rules for a topic (`draw_constraints`), and
`compose`, the response about a topic that keeps every rule asked (or visibly breaks some: the
rejected side of a pair). `task_instruct` builds the task's pools, probes and corpus from them.

    import random
    from budgetsplit.tasks.toyworld import instruct_rules as ir
    rng = random.Random(0)
    rules = ir.draw_constraints(rng, "the sea", ir.DEFAULT_INSTRUCTIONS, 3, 3, (8, 12, 16))
    ir.compose(rng, "the sea", rules)  # a response keeping every rule drawn
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence

from budgetsplit.tasks.toyworld.common import pick
from budgetsplit.tasks.toyworld.instruct_text import END_PHRASES, STOP_WORDS, TOPICS

TOPIC_NAMES = tuple(TOPICS)
SENTENCES = {t: re.split(r"(?<=\.) ", text) for t, text in TOPICS.items()}

LOWER, UPPER = "change_case:english_lowercase", "change_case:english_capital"
BULLETS, KEYWORDS = "detectable_format:number_bullet_lists", "keywords:existence"
FORBIDDEN, END = "keywords:forbidden_words", "startend:end_checker"
NO_COMMA, WORDS = "punctuation:no_comma", "length_constraints:number_words"
INSTRUCTIONS = (LOWER, UPPER, BULLETS, KEYWORDS, FORBIDDEN, END, NO_COMMA, WORDS)
# All capitals is opt-in: lm-eval's checker also asks langdetect for English, which calls about one in
# five correct all-caps answers of this size something else (the toy references then fail their
# own checker), and the world's BPE splits capitals into single letters.
DEFAULT_INSTRUCTIONS = tuple(i for i in INSTRUCTIONS if i != UPPER)

WORD_PATTERN = re.compile(r"\w+")  # lm-eval's count_words tokenizer
# Word frames (the task's `word_frames` knob): a sentence that works a named word into a text on
# any topic, as a writer can with any word. A topic's own sentences hold each of its words in one
# place, so without frames using an asked word is recalling which of 8 sentences holds it.
FRAMES = ("One word for {t} is {w}.", "A word that goes with {t} is {w}.")


def _keyword_candidates(topic: str) -> list[str]:
    """Content words of a topic that some but not all of its sentences use, and no end phrase
    contains (keywords:existence matches substrings)."""
    sents = [s.lower() for s in SENTENCES[topic]]
    words = sorted(
        {w for s in sents for w in WORD_PATTERN.findall(s) if len(w) > 3 and w not in STOP_WORDS}
    )
    ends = " ".join(END_PHRASES).lower()
    return [w for w in words if w not in ends and 0 < sum(w in s for s in sents) < len(sents)]


KEYWORDS_OF = {t: _keyword_candidates(t) for t in TOPICS}
# Which sentences a keyword check (substring) and a forbidden-word check (whole word) would flag.
CONTAINS = {
    t: {w: [s for s in SENTENCES[t] if w in s.lower()] for w in KEYWORDS_OF[t]} for t in TOPICS
}
WHOLE_WORD = {
    t: {w: [s for s in SENTENCES[t] if re.search(rf"\b{w}\b", s, re.I)] for w in KEYWORDS_OF[t]}
    for t in TOPICS
}
WITH_COMMA = {t: [s for s in SENTENCES[t] if "," in s] for t in TOPICS}
# Words as lm-eval's count_words counts them; case, commas and bullet marks never change the count.
N_WORDS = {
    s: len(WORD_PATTERN.findall(s))
    for s in [*END_PHRASES, *(x for v in SENTENCES.values() for x in v)]
}


def phrase(iid: str, kw: dict) -> str:
    """A constraint in the world's language."""
    if iid == LOWER:
        return "Write only in small letters."
    if iid == UPPER:
        return "Write only in capital letters."
    if iid == BULLETS:
        return f"Write exactly {kw['num_bullets']} lines starting with *."
    if iid == KEYWORDS:
        return f"Use the word{'s' * (len(kw['keywords']) > 1)} {' and '.join(kw['keywords'])}."
    if iid == FORBIDDEN:
        return f"Do not use the word {kw['forbidden_words'][0]}."
    if iid == END:
        return f'End with "{kw["end_phrase"]}"'
    if iid == NO_COMMA:
        return "Do not use commas."
    relation = "fewer than" if kw["relation"] == "less than" else "at least"
    return f"Use {relation} {kw['num_words']} words."


# In preference pairs each side also follows, at these rates, format rules the request does not
# ask for (small letters, an end phrase, no commas, a bullet list), and may use a sentence with a
# comma ("commas"): the formats then occur on both sides, and a pair is told apart by the request,
# not by a format token (tests/test_shortcuts.py). The rates differ by side where they offset the
# rules a rejected response breaks: it shows capitals and commas where the request forbids them.
FREE_STYLE = {
    "chosen": {LOWER: 0.3, END: 0.3, NO_COMMA: 0.1, BULLETS: 0.3, "commas": 0.3},
    "rejected": {LOWER: 0.5, END: 0.3, NO_COMMA: 0.4, BULLETS: 0.4, "commas": 0.0},
}


def compose(
    rng: random.Random,
    topic: str,
    cons: dict[str, dict],
    broken: frozenset = frozenset(),
    free: Mapping[str, float] | None = None,
    frames: float = 0.0,
):
    """A response about `topic` following every constraint in `cons` except those in `broken`,
    which it visibly breaks; None when this draw cannot do both. `free`: rates at which it also
    follows rules that `cons` does not hold (one side of FREE_STYLE), as a response may. `frames`:
    the rate at which a named word comes in a frame (`FRAMES`) instead of a topic sentence; a
    response breaking the rule then frames another word, so frames mark neither side of a pair."""
    style = {i for i, p in (free or {}).items() if i not in cons and rng.random() < p}
    if UPPER in cons:
        style.discard(LOWER)
    if NO_COMMA in style:
        style.discard("commas")
    sents = SENTENCES[topic]
    must: list[list[str]] = []
    banned: list[str] = []
    framed: list[str] = []  # frame sentences this response uses
    if KEYWORDS in cons:
        words = cons[KEYWORDS]["keywords"]
        # a forbidden word the response keeps out: no frame may use it
        ban = cons[FORBIDDEN]["forbidden_words"] if FORBIDDEN in cons.keys() - broken else []
        # `frames and ...`: at 0 no draw is made, so responses are what they were without frames
        if KEYWORDS in broken:
            banned += CONTAINS[topic][words[0]]
            if frames and rng.random() < frames:  # it frames a word that was not asked for
                other = pick(rng, [w for w in KEYWORDS_OF[topic] if all(a not in w for a in words)])
                if f := _frame(rng, topic, other, ban, absent=words):
                    framed.append(f)
                    must.append([f])
        else:
            for w in words:
                f = _frame(rng, topic, w, ban) if frames and rng.random() < frames else ""
                framed += [f] if f else []
                must.append([f] if f else CONTAINS[topic][w])
    if FORBIDDEN in cons:
        hits = WHOLE_WORD[topic][cons[FORBIDDEN]["forbidden_words"][0]]
        (must.append(hits) if FORBIDDEN in broken else banned.extend(hits))
    if NO_COMMA in broken or "commas" in style:
        must.append(WITH_COMMA[topic])
    allowed = [s for s in sents if s not in banned] + framed
    must = [[s for s in m if s in allowed] for m in must]
    if not all(must):
        return None
    bullets, long_words, lim = BULLETS in cons, None, 0
    if bullets:
        n = cons[BULLETS]["num_bullets"]
        k = n
        if BULLETS in broken:
            k, bullets = pick(rng, ((n + 1, True), (n - 1, True), (n, False)))
    else:
        k = 2 + int(rng.random() * 2)
    fixed, bullets = bullets, bullets or BULLETS in style  # fixed: the line count is prescribed
    if WORDS in cons:  # a word limit to meet (or break): does the answer need >= lim words?
        long_words = (cons[WORDS]["relation"] == "at least") != (WORDS in broken)
        lim = cons[WORDS]["num_words"]
    # The end phrase, and whether it goes first: a broken end rule ends with another phrase, or
    # starts with the asked one, or has none, so that a phrase at the end marks neither side.
    end, first = (cons[END]["end_phrase"], False) if END in cons else (None, False)
    if END in broken:
        end, first = pick(
            rng,
            (
                (pick(rng, [e for e in END_PHRASES if e != end]), False),
                (end, True),
                (None, False),
            ),
        )
    elif END in style:
        end = pick(rng, END_PHRASES)
    n_words = N_WORDS[end] if end else 0
    picked: list[str] = []
    for m in must:
        if not any(s in picked for s in m):
            picked.append(pick(rng, m))
            n_words += _n_words(picked[-1])
    rest = [s for s in allowed if s not in picked and s not in framed]
    while rest and (len(picked) < k or (long_words and not fixed and n_words < lim)):
        s = rest.pop(int(rng.random() * len(rest)))
        if long_words is False and not fixed and n_words + N_WORDS[s] >= lim:
            continue  # would make the answer too long
        picked.append(s)
        n_words += N_WORDS[s]
    if not picked or (fixed and len(picked) != k):
        return None
    if long_words is not None and (n_words >= lim) != long_words:
        return None
    lower = (LOWER in cons and LOWER not in broken) or LOWER in style
    # lm-eval's lowercase check also asks langdetect for English, which calls 1 in 20 one-sentence
    # lowercase answers here something else (and about 1 in 2,000 longer ones).
    if lower and len(picked) < 2:
        return None
    picked.sort(key=lambda _: rng.random())
    sep = "\n" if bullets else " "
    text = sep.join("* " + s for s in picked) if bullets else " ".join(picked)
    if end:
        text = end + sep + text if first else text + sep + end
    if (NO_COMMA in cons and NO_COMMA not in broken) or NO_COMMA in style:
        text = text.replace(",", "")
    if lower:
        text = text.lower()
    if UPPER in cons and UPPER not in broken:
        text = text.upper()
    return text


def _frame(
    rng: random.Random, topic: str, word: str, banned: Sequence[str], absent: Sequence[str] = ()
) -> str:
    """A frame sentence naming `word` about `topic`; "" when it would use a word of `banned`
    (a forbidden word kept: whole words) or of `absent` (an asked word left out: substrings)."""
    text = pick(rng, FRAMES).format(t=topic, w=word)
    text = text[0].upper() + text[1:]
    if any(re.search(rf"\b{b}\b", text, re.I) for b in banned):
        return ""
    return "" if any(a in text.lower() for a in absent) else text


def _n_words(sentence: str) -> int:
    return N_WORDS.get(sentence) or len(WORD_PATTERN.findall(sentence))


def draw_constraints(
    rng: random.Random,
    topic: str,
    instructions: Sequence[str],
    max_constraints: int,
    max_bullets: int,
    word_limits: Sequence[int],
) -> dict[str, dict]:
    """1..max_constraints constraints (IFEval id -> its kwargs) from `instructions`."""
    ids, cons = list(instructions), {}
    for _ in range(min(len(ids), 1 + int(rng.random() * max_constraints))):
        iid = ids.pop(int(rng.random() * len(ids)))
        if iid in (LOWER, UPPER) and (LOWER in cons or UPPER in cons):
            continue  # IFEval lists the two case instructions as conflicting
        if iid == BULLETS:
            cons[iid] = {"num_bullets": 2 + int(rng.random() * (max_bullets - 1))}
        elif iid == KEYWORDS:
            words = [pick(rng, KEYWORDS_OF[topic]) for _ in range(1 + (rng.random() < 0.3))]
            cons[iid] = {"keywords": sorted(set(words))}
        elif iid == FORBIDDEN:
            taken = cons.get(KEYWORDS, {}).get("keywords", ())
            word = pick(rng, KEYWORDS_OF[topic])
            while any(word in t or t in word for t in taken):
                word = pick(rng, KEYWORDS_OF[topic])
            cons[iid] = {"forbidden_words": [word]}
        elif iid == END:
            cons[iid] = {"end_phrase": pick(rng, END_PHRASES)}
        elif iid == WORDS:
            relation = pick(rng, ("less than", "at least"))
            cons[iid] = {"num_words": pick(rng, word_limits), "relation": relation}
        else:
            cons[iid] = {}
    return cons
