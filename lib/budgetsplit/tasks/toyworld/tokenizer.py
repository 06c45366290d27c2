"""The toy world's tokenizer: byte-level BPE trained locally on the pretraining corpus.

`train_tokenizer(docs, vocab_size)` returns a `transformers.PreTrainedTokenizerFast` with ChatML put
on it by `budgetsplit.core.chat.ensure_chat_template`. The special tokens are in the vocabulary from the
first id on, so the embedding size never changes after pretraining; none of them ever occurs in the
corpus, just as a real base model never saw the chat template it is later finetuned with.

Numbers: every integer 0..MAX_WHOLE_NUMBER is exactly one token, with or without the space before
it ("Ġ47" and "47"), and a digit run never merges with letters. Tiny models copy multi-token numbers
badly and would otherwise learn arithmetic over arbitrary BPE fragments ("4" + "7" here, "47"
there); with one token per small number, copying a number is copying one token (what induction
heads do well) and "5 + 3 = 8" is one fact about three embeddings. The space rides along because
nearly every number follows one, and a separate space token would cost a token per number in
number-heavy math solutions. Larger numbers split into pieces by the same fixed merges. The BPE
trainer never sees digits: the number merges depend on MAX_WHOLE_NUMBER alone and are appended
after the learned word merges, as are the few merges that make the ChatML role names ("system",
"user", "assistant") single tokens, as they are in real tokenizers.

    from budgetsplit.tasks.toyworld.tokenizer import train_tokenizer
    tok = train_tokenizer(["Ann has 5 apples.", ...], vocab_size=1536)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Sequence

from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from budgetsplit.core.chat import IM_END, IM_START, ensure_chat_template

EOT, PAD = "<|endoftext|>", "<|pad|>"
# EOT separates pretraining documents; PAD pads batches; the ChatML pair marks chat turns.
SPECIAL_TOKENS = (EOT, PAD, IM_START, IM_END)
ROLE_NAMES = ("system", "user", "assistant")
MAX_WHOLE_NUMBER = 99
# GPT-2's split, except that a digit run stands alone (with its space) and never joins letters.
SPLIT_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?[0-9]+| ?[^\s\p{L}0-9]+|\s+(?!\S)|\s+"
_NUMBERS = re.compile(r" ?[0-9]+")
_SPACE = "\u0120"  # how byte-level BPE spells the space byte ("Ġ")

Pair = tuple[str, str]


def _bpe(word: str, ranks: dict[Pair, int]) -> list[str]:
    """Apply ranked merges to one pre-token as the BPE model does: lowest rank first, leftmost."""
    parts = list(word)
    while len(parts) > 1:
        rank, i = min(
            (ranks.get(p, math.inf), i) for i, p in enumerate(zip(parts, parts[1:], strict=False))
        )
        if rank == math.inf:
            break
        parts[i : i + 2] = [parts[i] + parts[i + 1]]
    return parts


def forced_merges(words: Iterable[str], ranks: dict[Pair, int] | None = None) -> list[Pair]:
    """Merges to append after `ranks` (rank order) that make each of `words` a single token."""
    ranks, new = dict(ranks or {}), []
    for word in words:
        parts = _bpe(word, ranks)
        # An appended merge has the lowest priority, so it only joins what the others left apart.
        while len(parts) > 1:
            ranks[(parts[0], parts[1])] = len(ranks)
            new.append((parts[0], parts[1]))
            parts = _bpe(word, ranks)
    return new


def number_merges(max_number: int = MAX_WHOLE_NUMBER) -> list[Pair]:
    """Merges making "n" and "Ġn" single tokens for n in 0..max_number (the trainer saw no digits)."""
    numbers = [str(n) for n in range(max_number + 1)]
    return forced_merges(numbers + [_SPACE + n for n in numbers])


def _pre_tokenizer() -> pre_tokenizers.PreTokenizer:
    return pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(SPLIT_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )


def _append_merges(tok: Tokenizer, merges: Sequence[Pair]) -> Tokenizer:
    """Append `merges` (lowest priority) and their products to a trained BPE tokenizer."""
    spec = json.loads(tok.to_str())
    vocab, old = spec["model"]["vocab"], spec["model"]["merges"]
    as_strings = bool(old) and isinstance(old[0], str)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
        old.append(f"{a} {b}" if as_strings else [a, b])
    return Tokenizer.from_str(json.dumps(spec))


def _trained_ranks(tok: Tokenizer) -> dict[Pair, int]:
    merges = json.loads(tok.to_str())["model"]["merges"]
    pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in merges]
    return {p: r for r, p in enumerate(pairs)}


def train_tokenizer(docs: Iterable[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Train byte-level BPE with at most `vocab_size` entries, specials and number tokens included."""
    nums = number_merges()
    role_reserve = sum(len(w) - 1 for w in ROLE_NAMES)
    n_learned = vocab_size - len(nums) - role_reserve
    if n_learned < len(SPECIAL_TOKENS) + 256:
        raise ValueError(
            f"vocab_size {vocab_size} too small: specials, 256 bytes, role names and the number "
            f"tokens 0..{MAX_WHOLE_NUMBER} need {len(SPECIAL_TOKENS) + 256 + len(nums) + role_reserve}"
        )
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = _pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=n_learned,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The text between numbers, piece by piece: the trainer sees no digits and no false neighbours.
    pieces = (p for d in docs for p in _NUMBERS.split(d) if p)
    tok.train_from_iterator(pieces, trainer=trainer)
    tok = _append_merges(tok, forced_merges(ROLE_NAMES, _trained_ranks(tok)) + nums)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOT,
        eos_token=EOT,
        pad_token=PAD,
        extra_special_tokens=[IM_START, IM_END],
    )
    ensure_chat_template(fast)  # sets eos to <|im_end|>, so generation stops at the end of a turn
    numbers = [str(n) for n in range(MAX_WHOLE_NUMBER + 1)]
    singles = list(SPECIAL_TOKENS + ROLE_NAMES) + numbers + [" " + n for n in numbers]
    broken = [w for w in singles if len(fast.encode(w, add_special_tokens=False)) != 1]
    if broken or len(fast) > vocab_size:
        raise RuntimeError(f"tokenizer invariants broken: {broken[:5]=} {len(fast)=}")
    return fast
