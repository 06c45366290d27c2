"""The base model's check on a grid: the conditions on SFT only over seeds, the floors, the probes."""

import math
from pathlib import Path

import pandas as pd
import pytest

from budgetsplit.run import base_check as bc

ROOT = Path(__file__).resolve().parents[1]


def _results(scores: dict[int, list[float]], base=0.01, in_format=0.0, task="math") -> pd.DataFrame:
    rows = [
        {"task": task, "method": "base", "budget": 0.0, "sft_fraction": 0.0, "n_sft": 0, "seed": 0}
        | {"primary_metric": "accuracy_strict", "metric.accuracy_strict": base}
        | {"metric.format_share": in_format}
    ]
    for budget, per_seed in scores.items():
        for seed, s in enumerate(per_seed):
            rows.append(
                {"task": task, "method": "sft", "budget": float(budget), "sft_fraction": 1.0}
                | {
                    "n_sft": budget,
                    "seed": seed,
                    "primary_metric": "accuracy_strict",
                    "metric.accuracy_strict": s,
                }
                | {"metric.format_share": 1.0}
            )
    return pd.DataFrame(rows)


GOOD = {100: [0.2, 0.21, 0.19], 1000: [0.5, 0.52, 0.51], 3000: [0.8, 0.81, 0.79]}


def _met(table: pd.DataFrame) -> dict[str, bool]:
    return dict(zip(table["condition"], table["met"], strict=True))


def test_a_task_in_its_window_meets_every_condition_but_the_count_of_tasks():
    met = _met(bc.conditions(_results(GOOD), {"math": 0.05}, {"math": 0.9}))
    assert all(v for k, v in met.items() if k != "tasks over the floor at 100")
    assert not met["tasks over the floor at 100"]  # one task of the two needed


def test_two_tasks_over_their_floor_at_100_pass_the_count():
    both = pd.concat([_results(GOOD), _results(GOOD, task="instruct")], ignore_index=True)
    table = bc.conditions(both, {"math": 0.05, "instruct": 0.05}, {"math": 0.9, "instruct": 0.9})
    assert table["met"].all()
    assert table.loc[table["condition"] == "tasks over the floor at 100", "value"].item() == 2


@pytest.mark.parametrize(
    ("change", "fails"),
    [
        ({"probes": {"math": 0.69}}, "probe"),
        ({"in_format": 0.11}, "base in format"),
        ({1000: [0.9, 0.9, 0.9]}, "SFT only at 1,000: range"),
        ({1000: [0.4, 0.5, 0.6]}, "SFT only at 1,000: seed sd"),
        ({3000: [0.95, 0.96, 0.97]}, "SFT only at 3,000: cap"),
        ({"base": 0.06}, "base under cheap outputs"),
    ],
)
def test_each_condition_fails_on_its_own(change, fails):
    probes = change.pop("probes", {"math": 0.9})
    kw = {k: change.pop(k) for k in ("in_format", "base") if k in change}
    table = bc.conditions(_results(GOOD | change, **kw), {"math": 0.05}, probes)
    failed = set(table.loc[~table["met"], "condition"]) - {"tasks over the floor at 100"}
    assert failed == {fails}


def test_a_base_model_over_the_cheap_outputs_is_the_floor_of_the_gain():
    table = bc.conditions(_results(GOOD, base=0.2), {"math": 0.05}, {"math": 0.9})
    failed = set(table.loc[~table["met"], "condition"]) - {"tasks over the floor at 100"}
    assert failed == {"base under cheap outputs", "SFT only at 1,000: gain", "SFT only at 100"}


def test_a_missing_budget_fails_with_no_value():
    table = bc.conditions(_results({1000: GOOD[1000]}), {"math": 0.05}, {"math": 0.9})
    row = table[table["condition"] == "SFT only at 3,000: cap"].iloc[0]
    assert math.isnan(row["value"]) and not row["met"]


def test_the_committed_toy_large_table_reads():
    # the results table alone: its floors come from the world it ran in, which may have changed
    results = pd.read_csv(ROOT / "results" / "toy_large" / "results.csv")
    floors = {t: 0.05 for t in ("math", "instruct", "summarize", "helpful")}
    table = bc.conditions(results, floors, {t: 1.0 for t in floors})
    assert set(table["task"]) == {"math", "instruct", "summarize", "helpful", "all"}
    sft = bc.sft_only(results)
    assert (sft.loc[sft["n_sft"] == 1000, "seeds"] == 3).all()  # each seed once, at any cost ratio
