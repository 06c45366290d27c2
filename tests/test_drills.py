"""Copy drills (tasks/toyworld/drills.py) and their share of the toy corpus."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import budgetsplit
from budgetsplit.config.params import ConfigError, load_world
from budgetsplit.tasks.toyworld.drills import copy_drills, lexicon
from budgetsplit.tasks.toyworld.pretrain import build_corpus, cache_key, default_sources
from budgetsplit.tasks.toyworld.tokenizer import SPECIAL_TOKENS

SHIPPED = Path(budgetsplit.__file__).parent / "tasks" / "toyworld" / "base_models"
WORDS = lexicon(["The fox ran to the river.", "Mia had cake in Oslo, then 7 plums.", "a b"])
_LISTS = re.compile(r"(?:[:] |words |were )((?:[A-Za-z]+, )+[A-Za-z]+)\.")


def test_lexicon_is_the_sorted_words_of_two_letters_or_more():
    assert WORDS == sorted(
        {"The", "fox", "ran", "to", "the", "river", "Mia", "had", "cake"}
        | {"in", "Oslo", "then", "plums"}
    )


def test_every_drill_says_a_list_twice_in_the_same_words():
    docs = copy_drills(0, 50, WORDS)
    assert docs == copy_drills(0, 50, WORDS) and docs != copy_drills(1, 50, WORDS)
    orders = []
    for doc in docs:
        assert 30 <= len(doc.split()) <= 120 and not any(s in doc for s in SPECIAL_TOKENS)
        lists = _LISTS.findall(doc)
        assert len(lists) >= 2 and len(lists) % 2 == 0, doc
        for first, again in zip(lists[::2], lists[1::2], strict=True):
            a, b = first.split(", "), again.split(", ")
            assert sorted(a) == sorted(b) and 3 <= len(a) <= 8 and set(a) <= set(WORDS)
            orders.append(a == b)
    assert 0.5 < sum(orders) / len(orders) < 0.85  # two thirds keep the order
    with pytest.raises(ValueError, match="at least 8 words"):
        copy_drills(0, 1, WORDS[:5])


def test_copy_share_of_the_corpus_and_its_key():
    off = load_world("smoke", overrides={"pretrain.corpus_docs": 400})
    on = load_world("smoke", overrides={"pretrain.corpus_docs": 400, "pretrain.copy_share": 0.25})
    src = default_sources()
    plain, drilled = build_corpus(off, src), build_corpus(on, src)
    is_drill = [
        d
        for d in drilled
        if "said them again:" in d
        or "read them out:" in d
        or "copied the list:" in d
        or "said them back:" in d
    ]
    assert len(plain) == len(drilled) == 400 and abs(len(is_drill) - 100) <= 3
    assert not any("read them out:" in d for d in plain)
    # at 0 the key is what it was before the knob existed (the shipped smoke model's)
    assert cache_key(off, src) != cache_key(on, src)
    shipped = json.loads((SHIPPED / "smoke" / "build_info.json").read_text())["key"]
    assert cache_key(load_world("smoke"), src) == shipped
    for bad in (1.0, -0.1):
        with pytest.raises(ConfigError, match="copy_share"):
            load_world("smoke", overrides={"pretrain.copy_share": bad})
