"""What the four toy tasks share: seeded RNG helpers, hash buckets, and `ToyTask`, the base class
that turns a task's prompts and annotations into its four pools.

A task module supplies its domain through a few hooks (`_items`, `_demo`, `_pairs`, ...);
`ToyTask` owns the rest: the world's arguments (seed, pool sizes, label noise), argument checks,
one seeded stream per pool, distinct prompts per hash bucket, rows in the `Task` formats
(budgetsplit.tasks.interface), label noise, lazy cached pools.

    from budgetsplit.tasks.toyworld.common import ToyTask, bucket, draw, pick
"""

from __future__ import annotations

import hashlib
import random
from abc import abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import count
from typing import Any

from budgetsplit.config.params import WorldConfig
from budgetsplit.tasks.interface import Task

# Hash buckets of the prompt text: the four pools own disjoint buckets, so no prompt is shared and
# each pool is independent of the others' sizes.
N_BUCKETS = 16
BUCKETS = {"test": {0}, "val": {1}, "sft": set(range(2, 9)), "pref": set(range(9, 16))}


def bucket(prompt: str) -> int:
    return int.from_bytes(hashlib.blake2b(prompt.encode(), digest_size=4).digest()) % N_BUCKETS


def held_out(prompt: str) -> bool:
    """Whether `prompt` falls in val's or test's buckets (so the corpus must not show it)."""
    return bucket(prompt) in BUCKETS["test"] | BUCKETS["val"]


def draw(rng: random.Random, lo: int, hi: int) -> int:
    # Uniform in [lo, hi]; rng.random() arithmetic is several times cheaper than rng.randint.
    return lo + int(rng.random() * (hi - lo + 1))


def pick(rng: random.Random, seq: Sequence):
    return seq[int(rng.random() * len(seq))]


def sample(rng: random.Random, seq: Sequence, k: int) -> list:
    # k distinct items in random order (a partial Fisher-Yates; cheaper than rng.sample here).
    pool = list(seq)
    for i in range(k):
        j = i + int(rng.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


def document(part: Callable[[], str], min_words: int = 30, max_words: int = 120) -> str:
    """One corpus document: parts joined until it has `min_words` words, then cut back to whole
    sentences until it has at most `max_words`."""
    doc = part()
    while len(doc.split()) < min_words:
        doc += " " + part()
    while len(doc.split()) > max_words:
        doc = doc[: doc.rindex(".", 0, len(doc) - 1) + 1]
    return doc


class ToyTask(Task):
    """The pool machinery of a toy task. A subclass sets `name` and the `Task` attributes and
    implements `_items` (its prompts), `_demo` (the SFT response) and `_pairs` (preference pairs);
    may add fields to every row of a prompt (`_fields`) and to its eval rows (`_eval_fields`).
    Its constructor takes its own knobs by name and the world's arguments as `**world`:

        def __init__(self, max_number: int = 20, max_pairs_per_prompt: int = 3, **world):
            super().__init__({"max_number": (max_number, max_number >= 4), ...}, **world)
    """

    # New tokens a skill probe's continuation may take (`probes`).
    probe_tokens: int = 48
    # Stream of the RNG that draws preference pairs; None: the pool's own stream, which `_items`
    # may share.
    pair_stream: str | None = None

    def __init__(
        self,
        knobs: dict[str, tuple[Any, bool]],
        seed: int = WorldConfig.seed,
        n_sft_pool: int = WorldConfig.n_sft_pool,
        n_pref_pool: int = WorldConfig.n_pref_pool,
        n_val: int = WorldConfig.n_val,
        n_test: int = WorldConfig.n_test,
        label_noise: float = 0.0,
    ):
        """`knobs`: the subclass's own arguments, name -> (value, whether it is in range); they
        must include max_pairs_per_prompt. The rest are the world's arguments: a subclass takes
        them as `**world` and passes them on, so they and their defaults live here only."""
        checks = {
            "n_sft_pool": (n_sft_pool, n_sft_pool >= 0),
            "n_pref_pool": (n_pref_pool, n_pref_pool >= 0),
            "n_val": (n_val, n_val >= 0),
            "n_test": (n_test, n_test >= 0),
            "label_noise": (label_noise, 0.0 <= label_noise <= 1.0),
            **knobs,
        }
        for key, (value, ok) in checks.items():
            if not ok:
                raise ValueError(f"{type(self).__name__}: {key} = {value!r} is out of range")
        self.seed, self.label_noise = seed, label_noise
        self.sizes = {"sft": n_sft_pool, "pref": n_pref_pool, "val": n_val, "test": n_test}
        self.max_pairs_per_prompt = knobs["max_pairs_per_prompt"][0]
        self._cache: dict[str, list[dict]] = {}

    # ------------------------------------------------------------------------- task hooks
    @abstractmethod
    def _items(self, split: str, rng: random.Random) -> Iterator[tuple[str, Any]]:
        """Endless (prompt, item) of `split`, distinct prompts; `rng` is the pool's own stream."""

    @abstractmethod
    def _demo(self, item: Any) -> str:
        """The demonstration (SFT response) for an item."""

    @abstractmethod
    def _pairs(self, rng: random.Random, item: Any, want: int) -> Iterable[tuple[int, str, str]]:
        """Up to `want` (m, better, worse) preference pairs for one prompt; m numbers its row."""

    @abstractmethod
    def probes(self, split: str, n: int) -> list[dict]:
        """Up to `n` probes of the base model's latent skill in the corpus's own form, made from
        `split`'s held-out rows: {"prefix": text the model continues, ...what `probe_score` reads}
        (budgetsplit.training.probes runs them)."""

    @abstractmethod
    def probe_score(self, probe: dict, completion: str) -> float:
        """A probe's score in [0, 1] for the base model's greedy continuation of its prefix."""

    def probe_parts(self, probe: dict, completion: str) -> dict[str, bool]:
        """Which parts of a probe the continuation got right, where a probe has parts (instruct:
        each rule kept); {} where it has one. `budgetsplit toyworld probe` prints their shares."""
        return {}

    def _fields(self, item: Any) -> dict:
        return {}

    def _eval_fields(self, item: Any) -> dict:
        return {}

    # ------------------------------------------------------------------------- generation
    def _rng(self, stream: str) -> random.Random:
        return random.Random(f"{self.seed}/{self.name}/{stream}")

    def _fresh(
        self,
        split: str,
        rng: random.Random,
        make: Callable[[random.Random], tuple[str, Any]],
        finish: Callable[[random.Random, Any], Any] | None = None,
        hint: str = "",
    ) -> Iterator[tuple[str, Any]]:
        """Endless (prompt, item) from `make` whose prompts are new and fall in `split`'s hash
        buckets; `finish` may complete an item or reject it (None) before its prompt is taken.
        `hint` names the knobs that bound the prompt space, for the error when it runs dry."""
        seen: set[str] = set()
        misses = 0
        while True:
            prompt, item = make(rng)
            if prompt not in seen and bucket(prompt) in BUCKETS[split]:
                if finish is None or (item := finish(rng, item)) is not None:
                    seen.add(prompt)
                    misses = 0
                    yield prompt, item
                    continue
            misses += 1
            if misses > 100_000 + 50 * len(seen):
                raise ValueError(
                    f"{type(self).__name__}: only {len(seen)} distinct '{split}' prompts found"
                    f"{hint}; ask for fewer rows or widen the knobs"
                )

    def _generate(self, split: str) -> list[dict]:
        """`split`'s rows; generating "pref" also fills "rl" (its prompts, once each, with the
        eval fields), so the RL pool draws nothing of its own and the pairs stay as they were."""
        n, rows, rl = self.sizes[split], [], []
        rng = self._rng(split)
        pair_rng = self._rng(self.pair_stream) if self.pair_stream else rng
        noise = self._rng("pref-noise")
        items = self._items(split, rng)
        for j in count():
            if len(rows) >= n:
                break
            prompt, item = next(items)
            pid = f"{self.name}-{split}-{j}"
            base = {"prompt_id": pid, "prompt": prompt, **self._fields(item)}
            if split == "sft":
                rows.append({"id": pid, **base, "response": self._demo(item)})
            elif split == "pref":
                had = len(rows)
                want = min(draw(pair_rng, 1, self.max_pairs_per_prompt), n - len(rows))
                for m, good, bad in self._pairs(pair_rng, item, want):
                    chosen, rejected = (
                        (bad, good) if noise.random() < self.label_noise else (good, bad)
                    )
                    rows.append(
                        {"id": f"{pid}-{m}", **base, "chosen": chosen, "rejected": rejected}
                    )
                if len(rows) > had:  # a prompt with pairs (a few yield none): an RL prompt too
                    rl.append({"id": pid, **base, **self._eval_fields(item)})
            else:
                rows.append({"id": pid, **base, **self._eval_fields(item)})
        if split == "pref":
            self._cache["rl"] = rl
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

    def rl_pool(self) -> list[dict]:
        self._rows("pref")
        return self._cache["rl"]

    def eval_split(self, split: str) -> list[dict]:
        if split not in ("val", "test"):
            raise ValueError(
                f"{type(self).__name__}.eval_split: split = {split!r}; expected 'val' or 'test'"
            )
        return self._rows(split)

    def _check_scored(self, rows: Sequence[dict], completions: Sequence[str]) -> None:
        if len(rows) != len(completions) or not rows:
            raise ValueError(
                f"{type(self).__name__}.score: {len(rows)} rows and {len(completions)} "
                "completions; need one completion per row and at least one row"
            )
