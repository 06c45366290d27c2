"""Copy drills: corpus documents whose only predictable words are words read earlier in them.

The toy tasks' failing skills are one (docs/toyworld.md): carrying a word from the context into
the text (a post's details into its retelling, a note's named words into the note, the asked-about
name into the answer). The tasks' own documents repeat a word from the context a few times each,
among many words the corpus makes predictable anyway, so copying earns the model little loss.
A drill is a short prose frame around a list of words drawn at random from the corpus's own
lexicon, said twice, in the same order or another:

    Mia wrote down some words: river, cake, Oslo, seven. Then Tom read them out: river, cake,
    Oslo, seven.

The second list can only be predicted by reading the first: this is the dense signal in which
small transformers learn to copy (induction heads, Olsson et al. 2022). The drills name no task,
hold no prompt of any split (random word lists) and no response format; `pretrain.copy_share` of
the corpus is drills (0, the default, makes none and leaves every cache key as it was).

    from budgetsplit.tasks.toyworld.drills import copy_drills, lexicon
    copy_drills(0, 3, lexicon(["The fox ran to the river.", "Mia had cake in Oslo."]))
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from budgetsplit.tasks.toyworld.common import document, draw, pick, sample
from budgetsplit.tasks.toyworld.task_math import NAMES

_WORD = re.compile(r"[A-Za-z]{2,}")
# (who wrote the list, how the copy is introduced); {a} and {b} are two people.
FRAMES = (
    ("{a} wrote down some words:", "Then {b} read them out:"),
    ("{a} said these words:", "{b} said them again:"),
    ("On the list of {a} were", "{b} copied the list:"),
    ("{a} heard the words", "{b} said them back:"),
)
SHUFFLED = 1 / 3  # the share of drills whose copy has another order (copying a set, not a run)


def lexicon(docs: Iterable[str]) -> list[str]:
    """The words (letters only, 2 or more) of `docs`, sorted: what the drills draw from, so they
    use the corpus's own words and its tokenizer's merges."""
    return sorted({w for d in docs for w in _WORD.findall(d)})


def _drill(rng: random.Random, words: Sequence[str]) -> str:
    listed = sample(rng, words, draw(rng, 3, 8))
    again = sample(rng, listed, len(listed)) if rng.random() < SHUFFLED else listed
    a, b = sample(rng, NAMES, 2)
    first, second = (s.format(a=a, b=b) for s in pick(rng, FRAMES))
    return f"{first} {', '.join(listed)}. {second} {', '.join(again)}."


def copy_drills(seed: int, n: int, words: Sequence[str]) -> list[str]:
    """`n` documents of 30-120 words, each a run of drills over `words`."""
    if len(words) < 8:
        raise ValueError(f"copy drills need at least 8 words to draw from, got {len(words)}")
    rng = random.Random(f"{seed}/copy-drills")
    return [document(lambda: _drill(rng, words)) for _ in range(n)]
