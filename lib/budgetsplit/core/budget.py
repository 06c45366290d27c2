"""The budget and cost model: how a budget becomes n_sft demonstrations and n_pref preference pairs,
and which examples of a task's pools they are.

Splitting. A budget B is counted in examples (both costs 1) or in money (costs c_sft, c_pref per
example). Fraction f of it goes to SFT:

    n_sft  = floor(f * B / c_sft)
    n_pref = floor((1 - f) * B / c_pref)

Rounding is always down, computed in exact rational arithmetic on the decimal values as written
(so 0.1 * 1000 is 100, not 99.99...), hence n_sft * c_sft + n_pref * c_pref <= B: a split never
exceeds its budget, and what is left over (less than one example of each kind) is unspent.
f = 0 gives n_sft = 0 exactly and f = 1 gives n_pref = 0 exactly.

Drawing. `draw_subsets` picks the examples deterministically from (seed, task): each pool is put in
one fixed order and a draw of n examples is the first n of it, so a smaller draw is a prefix of a
larger one (curves across budgets differ only in the data added). With `disjoint=True` one seeded
permutation of all prompts serves both pools: SFT reads it from the front, preferences from the
back, so the two subsets never share a prompt until they would have to, which is an error. Asking
for more than a pool holds is an error too, never a silent cap.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from fractions import Fraction


class BudgetError(ValueError):
    """A budget or draw that cannot be honoured."""


def _exact(x: float | int) -> Fraction:
    # repr() gives the shortest decimal that round-trips, i.e. the number as the user wrote it.
    return Fraction(repr(x)) if isinstance(x, float) else Fraction(x)


def split_budget(
    budget: float, sft_fraction: float, c_sft: float = 1, c_pref: float = 1
) -> tuple[int, int]:
    """(n_sft, n_pref) for a budget, the SFT fraction and per-example costs."""
    if not budget > 0:
        raise BudgetError(f"budget must be > 0, got {budget!r}")
    if not 0 <= sft_fraction <= 1:
        raise BudgetError(f"sft_fraction must lie in [0, 1], got {sft_fraction!r}")
    if not (c_sft > 0 and c_pref > 0):
        raise BudgetError(f"costs must be > 0, got c_sft={c_sft!r}, c_pref={c_pref!r}")
    b, f = _exact(budget), _exact(sft_fraction)
    n_sft = math.floor(f * b / _exact(c_sft))
    n_pref = math.floor((1 - f) * b / _exact(c_pref))
    return n_sft, n_pref


def spent(n_sft: int, n_pref: int, c_sft: float = 1, c_pref: float = 1) -> float:
    """What n_sft demonstrations and n_pref pairs cost."""
    return float(n_sft * _exact(c_sft) + n_pref * _exact(c_pref))


def _rng(seed: int, task: str, stream: str) -> random.Random:
    digest = hashlib.sha256(f"budgetsplit:{task}:{seed}:{stream}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _prompt_rank(prompt_ids: Sequence[str], rng: random.Random) -> dict[str, int]:
    unique = sorted(set(prompt_ids))
    rng.shuffle(unique)
    return {p: i for i, p in enumerate(unique)}


def _ordered(
    pool: Sequence[dict], rank: dict[str, int], rng: random.Random, reverse: bool
) -> list[int]:
    """Indices of `pool` grouped by prompt in rank order; rows sharing a prompt in a seeded order."""
    tiebreak = list(range(len(pool)))
    rng.shuffle(tiebreak)
    sign = -1 if reverse else 1
    return sorted(range(len(pool)), key=lambda i: (sign * rank[pool[i]["prompt_id"]], tiebreak[i]))


def draw_order(
    sft_pool: Sequence[dict], pref_pool: Sequence[dict], seed: int, task: str, disjoint: bool
) -> tuple[list[int], list[int]]:
    """The fixed orders (pool indices) that every draw of (seed, task) takes prefixes of."""
    if disjoint:
        ids = [r["prompt_id"] for r in sft_pool] + [r["prompt_id"] for r in pref_pool]
        rank = _prompt_rank(ids, _rng(seed, task, "prompts"))
        sft_rank = pref_rank = rank
    else:
        sft_rank = _prompt_rank([r["prompt_id"] for r in sft_pool], _rng(seed, task, "sft-prompts"))
        pref_rank = _prompt_rank(
            [r["prompt_id"] for r in pref_pool], _rng(seed, task, "pref-prompts")
        )
    sft_order = _ordered(sft_pool, sft_rank, _rng(seed, task, "sft-rows"), reverse=False)
    pref_order = _ordered(pref_pool, pref_rank, _rng(seed, task, "pref-rows"), reverse=disjoint)
    return sft_order, pref_order


def draw_subsets(
    sft_pool: Sequence[dict],
    pref_pool: Sequence[dict],
    n_sft: int,
    n_pref: int,
    seed: int,
    task: str,
    disjoint: bool = True,
) -> tuple[list[dict], list[dict]]:
    """The n_sft demonstrations and n_pref pairs of a cell: nested across n, deterministic."""
    for kind, n, pool in (("SFT", n_sft, sft_pool), ("preference", n_pref, pref_pool)):
        if n < 0:
            raise BudgetError(f"{task}: asked for a negative number of {kind} examples ({n})")
        if n > len(pool):
            raise BudgetError(
                f"{task}: asked for {n} {kind} examples but the {kind} pool holds only {len(pool)}; "
                "lower the budget or enlarge the pool"
            )
    sft_order, pref_order = draw_order(sft_pool, pref_pool, seed, task, disjoint)
    sft = [sft_pool[i] for i in sft_order[:n_sft]]
    pref = [pref_pool[i] for i in pref_order[:n_pref]]
    if disjoint:
        shared = {r["prompt_id"] for r in sft} & {r["prompt_id"] for r in pref}
        if shared:
            raise BudgetError(
                f"{task}: {n_sft} SFT and {n_pref} preference examples cannot have disjoint prompts "
                f"({len(shared)} prompts would be shared); lower the budget or set "
                "budget.disjoint_prompts: false"
            )
    return sft, pref
