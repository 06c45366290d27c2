"""Tests of budgetsplit.run.adaptive's search on a known accuracy curve (cells scored by drawing rows
at each fraction's accuracy: the search logic is under test here, not training)."""

from __future__ import annotations

import pytest
from test_stats import score_table

from budgetsplit.run import adaptive, estimate
from budgetsplit.study.cells import expand

FRACTIONS = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]


def runner(acc: dict[float, float], log: list):
    def run(cells):
        log.extend(cells)
        parts = [
            score_table({("dpo", 1000, f): acc[f]}, seeds=(s,), seed=int(f * 100) + s)
            for f, s in cells
        ]
        return __import__("pandas").concat(parts, ignore_index=True)

    return run


def test_a_clear_best_is_found_with_few_cells():
    acc = {0.0: 0.0, 0.1: 0.1, 0.25: 0.2, 0.5: 0.5, 0.75: 0.3, 1.0: 0.25}
    ran = []
    found = adaptive.search(FRACTIONS, runner(acc, ran), max_cells=18)
    assert found.stopped.startswith("separated")
    assert found.best_set == (0.5,) and found.leader == 0.5
    assert 0.5 in {f for f, _ in ran} and len(ran) < 18 and len(set(ran)) == len(ran)
    assert found.cells == ran


def test_overlapping_leaders_get_more_seeds_until_the_cell_budget():
    acc = {0.0: 0.0, 0.1: 0.1, 0.25: 0.2, 0.5: 0.40, 0.75: 0.41, 1.0: 0.25}
    ran = []
    found = adaptive.search(FRACTIONS, runner(acc, ran), max_cells=12, sampler_seed=1)
    seeds = {f: sorted(s for g, s in ran if g == f) for f in (0.5, 0.75)}
    assert len(ran) <= 12 and set(found.best_set) >= {0.5, 0.75}
    assert seeds[0.5] == seeds[0.75] == [0, 1, 2]  # the tie got every seed
    assert any("overlaps" in line for line in found.log)


@pytest.mark.slow
def test_grid_adaptive_trains_a_subset_resumes_and_a_full_grid_reuses_it(tmp_path):
    from budgetsplit.config.params import load_params
    from budgetsplit.core.layout import RunLayout

    over = {
        "output_dir": str(tmp_path),
        "methods": ["dpo_sft"],
        "seeds": [0, 1],
        "budget.sft_fractions": [0.0, 0.5, 1.0],
        "cpu_threads": 1,
        "eval.n_examples": 16,
    }
    params = load_params("smoke", "math", overrides=over)
    found = adaptive.run_adaptive(params, workers=1, max_cells=3)
    assert list(found) == [("dpo_sft", None, 40)]
    search = found[("dpo_sft", None, 40)]
    assert len(search.cells) == 3 and search.stopped  # every fraction once, then the budget
    cells = RunLayout.of(params).cells_dir("math")
    before = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.json")}
    assert len(before) == len(search.cells) + 1  # and the base-model cell
    again = adaptive.run_adaptive(params, workers=1, max_cells=3)  # after a kill: a rerun
    assert again[("dpo_sft", None, 40)].cells == search.cells
    assert {p.name: p.stat().st_mtime_ns for p in cells.glob("*.json")} == before  # nothing redone
    plan = estimate.plan(params)  # the full grid counts the adaptive cells as done
    assert len(plan.done) == len(before) < len(plan.cells) == len(expand(params))
