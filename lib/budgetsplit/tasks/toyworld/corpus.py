"""The toy base model's pretraining corpus and the cache key of a build; no torch.

`build_corpus(world, sources)` assembles `world.pretrain.corpus_docs` documents: an equal share
from each task's `corpus_documents(seed, n, **knobs)` (`default_sources`: the task table's,
budgetsplit.core.registry), less `pretrain.copy_share` of copy drills over their words
(drills.py), in an order seeded by `world.seed`. `knobs` are the task's `world.tasks` settings
that its generator takes. `cache_key(world, sources)` hashes what a build depends on: the seed,
the pretrain section, CODE_VERSION and a fingerprint of the generators' output with their knobs,
so editing a task's corpus changes the key and pool sizes do not. pretrain.py trains on the
corpus and caches the model under the key.

    from budgetsplit.config.params import load_world
    from budgetsplit.tasks.toyworld.corpus import cache_key, default_sources
    cache_key(load_world("toy"), default_sources())      # the toy base model's cache folder name
"""

from __future__ import annotations

import inspect
import random
from collections.abc import Callable, Mapping

from budgetsplit.config.params import WorldConfig
from budgetsplit.config.world import identity
from budgetsplit.core.registry import TASKS, corpus_source
from budgetsplit.core.store import digest, stream_digest
from budgetsplit.tasks.toyworld.drills import copy_drills, lexicon
from budgetsplit.tasks.toyworld.tokenizer import SPECIAL_TOKENS

# Bump when the corpus assembly, the tokenizer or the training loop changes what gets built.
CODE_VERSION = 1
CorpusSource = Callable[[int, int], list[str]]
_FINGERPRINT_DOCS = 16


def default_sources() -> dict[str, CorpusSource]:
    """Every task's `corpus_documents` (budgetsplit.core.registry), imported on demand."""
    return {t: corpus_source(t) for t in TASKS}


def _generate(world: WorldConfig, name: str, fn: CorpusSource, n: int) -> list[str]:
    knobs = world.tasks.get(name, {})
    accepted = list(inspect.signature(fn).parameters)[2:]
    return fn(world.seed, n, **{k: v for k, v in knobs.items() if k in accepted})


def _lexicon(world: WorldConfig, sources: Mapping[str, CorpusSource]) -> list[str]:
    # the words of a fixed sample per source: the same for the build and its cache key
    return lexicon(
        d for name in sorted(sources) for d in _generate(world, name, sources[name], 500)
    )


def build_corpus(world: WorldConfig, sources: Mapping[str, CorpusSource]) -> list[str]:
    """`world.pretrain.corpus_docs` documents in a seeded order: `pretrain.copy_share` of them
    copy drills over the sources' words (drills.py), the rest an equal share per source."""
    n, names = world.pretrain.corpus_docs, sorted(sources)
    n_drills = round(world.pretrain.copy_share * n)
    n -= n_drills
    docs = copy_drills(world.seed, n_drills, _lexicon(world, sources)) if n_drills else []
    for i, name in enumerate(names):
        k = n // len(names) + (i < n % len(names))
        got = _generate(world, name, sources[name], k)
        if len(got) != k:
            raise ValueError(f"corpus source {name!r} returned {len(got)} documents, asked for {k}")
        for d in got:
            if any(s in d for s in SPECIAL_TOKENS):
                raise ValueError(f"corpus source {name!r} leaks a special token: {d[:80]!r}")
        docs.extend(got)
    random.Random(f"corpus-{world.seed}").shuffle(docs)
    return docs


def cache_key(world: WorldConfig, sources: Mapping[str, CorpusSource]) -> str:
    samples = [
        "\x00".join(_generate(world, name, sources[name], _FINGERPRINT_DOCS)).encode()
        for name in sorted(sources)
    ]
    if world.pretrain.copy_share:
        drills = copy_drills(world.seed, _FINGERPRINT_DOCS, _lexicon(world, sources))
        samples.append("\x00".join(drills).encode())
    spec = {
        "code_version": CODE_VERSION,
        "seed": world.seed,
        "pretrain": identity(world)["pretrain"],
        "corpus": stream_digest(iter(samples), n=64),
    }
    return digest(spec)
