"""The budget split and the subset draw: exactness, never over budget, nesting, determinism,
disjointness, and clear errors."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from budgetsplit.core.budget import BudgetError, draw_order, draw_subsets, spent, split_budget


def pools(n_prompts_sft=60, n_prompts_pref=40, pairs_per_prompt=3, shared=False):
    sft = [{"id": f"s{i}", "prompt_id": f"p{i}"} for i in range(n_prompts_sft)]
    start = 0 if shared else n_prompts_sft
    pref = [
        {"id": f"r{i}-{k}", "prompt_id": f"p{start + i}"}
        for i in range(n_prompts_pref)
        for k in range(pairs_per_prompt)
    ]
    return sft, pref


def test_known_splits():
    assert split_budget(1000, 0.1) == (100, 900)  # 0.1 * 1000 is exactly 100, not 99.99...
    assert split_budget(1000, 0.0) == (0, 1000)
    assert split_budget(1000, 1.0) == (1000, 0)
    assert split_budget(100, 0.01) == (1, 99)
    assert split_budget(100, 0.25, c_sft=2, c_pref=1) == (12, 75)
    assert split_budget(10.0, 0.3, c_sft=0.7, c_pref=0.3) == (4, 23)
    assert split_budget(5, 0.5) == (2, 2)  # rounding down leaves 1 example unspent


@pytest.mark.parametrize(
    "args", [(0, 0.5), (-1, 0.5), (100, 1.5), (100, -0.5), (100, 0.5, 0, 1), (100, 0.5, 1, -2)]
)
def test_bad_split_args(args):
    with pytest.raises(BudgetError):
        split_budget(*args)


budgets = st.one_of(st.integers(1, 50_000), st.floats(0.01, 1e5, allow_nan=False))
fractions = st.one_of(st.sampled_from([0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0]), st.floats(0, 1))
costs = st.one_of(st.just(1), st.floats(0.001, 20, allow_nan=False))


@given(budgets, fractions, costs, costs)
@settings(max_examples=400, deadline=None)
def test_never_over_budget_and_tight(b, f, cs, cp):
    n_sft, n_pref = split_budget(b, f, cs, cp)
    assert n_sft >= 0 and n_pref >= 0
    assert spent(n_sft, n_pref, cs, cp) <= b * (1 + 1e-12)
    # rounding down loses less than one example of each kind
    assert (n_sft + 1) * cs > f * b * (1 - 1e-9)
    assert (n_pref + 1) * cp > (1 - f) * b * (1 - 1e-9)
    if f == 0:
        assert n_sft == 0
    if f == 1:
        assert n_pref == 0


@given(
    st.integers(0, 2**31), st.booleans(), st.integers(0, 60), st.integers(0, 60), st.integers(0, 60)
)
@settings(max_examples=150, deadline=None)
def test_nested_and_deterministic(seed, disjoint, a, b, n_pref):
    sft_pool, pref_pool = pools(shared=True, n_prompts_sft=200, n_prompts_pref=200)
    small, big = sorted((a, b))
    s1, p1 = draw_subsets(sft_pool, pref_pool, small, min(n_pref, small), seed, "math", disjoint)
    s2, p2 = draw_subsets(sft_pool, pref_pool, big, n_pref, seed, "math", disjoint)
    assert s2[:small] == s1  # a smaller draw is a prefix of a larger one
    assert p2[: len(p1)] == p1
    again = draw_subsets(sft_pool, pref_pool, big, n_pref, seed, "math", disjoint)
    assert again == (s2, p2)
    if disjoint:
        assert not {r["prompt_id"] for r in s2} & {r["prompt_id"] for r in p2}


def test_seed_and_task_change_the_draw():
    sft_pool, pref_pool = pools()
    base = draw_subsets(sft_pool, pref_pool, 20, 20, 0, "math")
    assert draw_subsets(sft_pool, pref_pool, 20, 20, 1, "math") != base
    assert draw_subsets(sft_pool, pref_pool, 20, 20, 0, "helpful") != base


def test_pairs_of_a_prompt_are_drawn_together():
    sft_pool, pref_pool = pools(pairs_per_prompt=4)
    _, order = draw_order(sft_pool, pref_pool, 3, "math", disjoint=True)
    prompts = [pref_pool[i]["prompt_id"] for i in order]
    # grouped: each prompt's pairs are contiguous in the draw order
    seen, last = set(), None
    for p in prompts:
        if p != last:
            assert p not in seen
            seen.add(p)
        last = p


def test_disjoint_collision_is_an_error():
    sft_pool, pref_pool = pools(
        n_prompts_sft=30, n_prompts_pref=30, pairs_per_prompt=1, shared=True
    )
    draw_subsets(sft_pool, pref_pool, 10, 10, 0, "math", disjoint=False)
    with pytest.raises(BudgetError, match="disjoint"):
        draw_subsets(sft_pool, pref_pool, 25, 25, 0, "math", disjoint=True)


def test_more_than_the_pool_is_an_error_not_a_cap():
    sft_pool, pref_pool = pools()
    with pytest.raises(BudgetError, match="61 SFT examples but the SFT pool holds only 60"):
        draw_subsets(sft_pool, pref_pool, 61, 0, 0, "math")
    with pytest.raises(BudgetError, match="preference pool holds only 120"):
        draw_subsets(sft_pool, pref_pool, 0, 121, 0, "math")
