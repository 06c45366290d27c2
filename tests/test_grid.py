"""The grid: expansion, planning, copies of recorded work, and (slow) real runs: resumable after a
SIGKILL, and the Ray executor on a real local Ray instance."""

import dataclasses
import json
import re

import pandas as pd
import pytest

from budgetsplit.config.params import PARAMS_DIR, load_params
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import ids_digest
from budgetsplit.run import estimate, grid
from budgetsplit.run.cluster import check_address
from budgetsplit.study import records, results
from budgetsplit.study.cells import Cell, cell_sizes, expand, sft_stage
from budgetsplit.tasks import get_task, is_toy
from budgetsplit.tasks.interface import eval_rows


def test_expand_covers_the_grid_once():
    params = load_params(
        "smoke",
        "math",
        overrides={
            "budget.budgets": [40, 80],
            "budget.sft_fractions": [0.0, 0.5, 1.0],
            "methods": ["dpo", "kto"],
            "seeds": [0, 1],
        },
    )
    cells = expand(params)
    ids = [c.cell_id for c in cells]
    assert len(ids) == len(set(ids))
    # f < 1: 2 budgets x 2 fractions x 2 methods x 2 seeds; f = 1 is SFT only, one cell per
    # method-free key; one base-model cell (greedy decoding: the same for every seed)
    assert len(cells) == 2 * 2 * 2 * 2 + 2 * 2 + 1
    sft_only = [c for c in cells if c.method == "sft"]
    assert {c.sft_fraction for c in sft_only} == {1.0}
    base = [c for c in cells if c.method == "base"]
    assert [(c.budget, c.sft_fraction, c.seed) for c in base] == [(0, 0.0, 0)]
    assert cell_sizes(params, base[0]) == (0, 0)
    sampled = expand(
        dataclasses.replace(params, eval=dataclasses.replace(params.eval, temperature=0.5))
    )
    assert sorted(c.seed for c in sampled if c.method == "base") == [0, 1]  # sampling: per seed


def test_money_grid_has_cost_ratios():
    params = load_params(
        "smoke",
        "math",
        overrides={
            "budget.unit": "money",
            "budget.budgets": [40],
            "budget.sft_fractions": [0.5],
            "budget.cost_ratios": [1, 5],
            "budget.costs.pref": 1.0,
        },
    )
    cells = expand(params)
    assert {c.cost_ratio for c in cells} == {1.0, 5.0}
    sizes = {c.cost_ratio: cell_sizes(params, c) for c in cells}
    assert sizes[1.0] == (20, 20) and sizes[5.0] == (4, 20)


def test_plan_counts_distinct_sft_stages(tmp_path):
    params = load_params(
        "smoke",
        "math",
        overrides={
            "budget.budgets": [40, 80],
            "budget.sft_fractions": [0.0, 0.5, 1.0],
            "methods": ["dpo", "ipo"],
            "output_dir": str(tmp_path),
        },
    )
    p = estimate.plan(params)
    # SFT stages: n_sft in {20, 40} at B=40 and {40, 80} at B=80 -> 20, 40, 80 distinct
    assert p.sft_stages == 3 and p.sft_stages_todo == 3
    assert not p.done and p.estimate_s > 0
    assert "3 distinct SFT stages" in str(p)


def test_plan_estimate_before_any_record_scales_with_this_machines_speed(tmp_path, monkeypatch):
    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    monkeypatch.setattr(estimate, "tokens_per_s", lambda *a, **k: estimate.REFERENCE_TOKENS_S)
    at_reference = estimate.plan(params).estimate_s
    monkeypatch.setattr(estimate, "tokens_per_s", lambda *a, **k: estimate.REFERENCE_TOKENS_S / 2)
    assert estimate.plan(params).estimate_s == pytest.approx(2 * at_reference)  # half as fast


def test_rl_prompts_are_timed_apart_from_pairs(tmp_path, monkeypatch):
    """An RL prompt (grpo samples and scores completions) costs more than a pair: its own rate,
    the default one before grpo cells are recorded, then what they measured."""
    monkeypatch.setattr(estimate, "tokens_per_s", lambda *a, **k: estimate.REFERENCE_TOKENS_S)
    over = {"output_dir": str(tmp_path), "methods": ["dpo", "grpo"]}
    params = load_params("smoke", "math", overrides=over)
    rates = estimate.rates(params)
    grpo, dpo = Cell("math", "grpo", 40, 0.5, 0), Cell("math", "dpo", 40, 0.5, 0)
    gap = estimate.cell_estimate(params, grpo, rates) - estimate.cell_estimate(params, dpo, rates)
    assert gap == pytest.approx(20 * params.pft.epochs * (rates["rl"] - rates["pref"]))
    assert rates["rl"] > rates["pref"]
    _fake_record(tmp_path, params, grpo, 0.5)  # its PFT stage took 2 s for 20 prompts
    measured = estimate.rates(params)
    assert measured["rl"] == pytest.approx(2.0 / params.pft.epochs / 20)
    assert measured["pref"] == rates["pref"]  # no pair cell recorded: still the default


def _fake_record(tmp_path, params, cell, score):
    """A real record of `cell` with made-up results, written as run_cell writes it, for table and
    plan tests that need no training: the first of its per-row scores is `score`, on the task's
    real eval rows in the toy world (so its floor of cheap outputs pairs with it), else on four
    made-up ones (the paper's datasets are not here)."""
    n_sft, n_pref = cell_sizes(params, cell)
    rows = eval_rows(get_task(params), params.eval) if is_toy(params.profile) else [{"id": 0}] * 4
    values = [score] + [(1.0, 0.0, 0.5)[i % 3] for i in range(len(rows) - 1)]
    rec = records.Record(
        cell=cell,
        params=records.stored_settings(params),
        n_sft=n_sft,
        n_pref=n_pref,
        costs={"sft": 1.0, "pref": 1.0},
        spent=float(n_sft + n_pref),
        metrics={"accuracy_strict": score, "format_share": 1.0},
        primary_metric="accuracy_strict",
        n_eval=len(rows),
        diagnostics={"cold_start": {"chosen_logprob_per_token": -1.5}},
        wall_s={"sft": 1.0, "pft": 2.0, "eval": 0.5},
        base_model="toy:0123",
        row_scores={
            "metric": "accuracy_strict",
            "split": "test",
            "ids_digest": ids_digest(rows),
            "values": values,
        },
    )
    assert str(tmp_path) == params.output_dir
    return records.write_record(params, rec)


def _fake_smoke_recipes(tmp_path) -> tuple:
    """(examples, costs): smoke's math.yaml and math_costs.yaml into `tmp_path`, every cell with a
    fake record, so one profile's table holds two recipes' cells."""
    over = {"output_dir": str(tmp_path)}
    examples = load_params("smoke", "math", overrides=over)
    costs = load_params(PARAMS_DIR / "smoke" / "math_costs.yaml", overrides=over)
    for params in (examples, costs):
        for c in expand(params):
            _fake_record(tmp_path, params, c, score=0.5)
    return examples, costs


def test_run_grid_checks_the_output_folder_and_removes_temps_of_killed_runs(tmp_path):
    import subprocess
    import sys

    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    cells = expand(params)
    for c in cells:
        _fake_record(tmp_path, params, c, score=0.5)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    layout = RunLayout.of(params)
    left = [
        layout.sft_dir("math") / f".n20-s0-abc.{dead}.x1.tmp",
        layout.cells_dir("math") / f".{cells[0].cell_id}.json.{dead}.x2.tmp",
    ]
    left[0].mkdir(parents=True)
    left[1].write_text("{")
    table = grid.run_grid(params, progress=False)  # every cell done: nothing trains
    assert len(table) == len(cells) and not any(p.exists() for p in left)
    assert (tmp_path / "smoke" / "results.parquet").is_file()
    # An output folder that cannot be written stops before any cell runs.
    (tmp_path / "blocked").write_text("")
    blocked = load_params("smoke", "math", overrides={"output_dir": str(tmp_path / "blocked")})
    with pytest.raises(PermissionError, match="cannot write results here"):
        grid.run_grid(blocked, progress=False)


def test_table_prints_a_summary_and_replace_moves_a_damaged_record_aside(tmp_path, capsys):
    from budgetsplit.cli import main

    params = load_params("smoke", "math", overrides={"output_dir": str(tmp_path)})
    cells = expand(params)
    for c in cells:
        _fake_record(tmp_path, params, c, score=0.5)
    args = ["table", "--profile", "smoke", "--task", "math", "--set", f"output_dir={tmp_path}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"{len(cells)} cells -> " in out
    assert re.search(r"math\s+dpo_sft\s+\d+\s+\d+\s+\d+\s+\d+\s+accuracy_strict\s+0.5", out)
    damaged = RunLayout.of(params).record_path("math", cells[1].cell_id)
    damaged.write_text('{"cell": ')
    assert main(args) == 2 and str(damaged) in capsys.readouterr().err
    assert main(args + ["--replace"]) == 0
    out = capsys.readouterr().out
    assert f"{len(cells) - 1} cells -> " in out and f"moved aside: {damaged}" in out
    assert not damaged.exists() and len(pd.read_csv(tmp_path / "smoke" / "results.csv")) == 5


def test_cell_ids_are_unique_and_safe():
    a = Cell("math", "dpo", 1000.0, 0.25, 0)
    b = Cell("math", "dpo", 1000.0, 0.25, 0, cost_ratio=2.0)
    assert a.cell_id != b.cell_id
    assert all(ch.isalnum() or ch in "-_" for ch in a.cell_id + b.cell_id)


# ----------------------------------------------------------------------- real runs (smoke world)
SMOKE = {
    "budget.budgets": [40, 60],
    "budget.sft_fractions": [0.0, 0.5, 1.0],
    "cpu_threads": 1,
    "eval.n_examples": 16,
}
# Timings and whether a stage was reused legitimately differ between an interrupted run and a
# straight one; everything else in the table must not.
VOLATILE = ("time.", "sft_reused", "diag.sft.wall", "diag.pft.train_runtime")


def _stable(df: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in df.columns if not c.startswith(VOLATILE)]
    return df[keep].reset_index(drop=True)


def _grid_cmd(out) -> list[str]:
    import sys

    sets = [f"{k}={json.dumps(v)}" for k, v in {**SMOKE, "output_dir": str(out)}.items()]
    return [sys.executable, "-m", "budgetsplit", "grid", "--profile", "smoke", "--task", "math"] + [
        a for s in sets for a in ("--set", s)
    ]


@pytest.fixture(scope="module")
def local_40(tmp_path_factory):
    """(output folder, table) of the smoke math grid at budget 40 on two local worker processes:
    what the Ray executor and one process after another must match (run once for both)."""
    out = tmp_path_factory.mktemp("local_40")
    over = {**SMOKE, "budget.budgets": [40], "output_dir": str(out)}
    return out, grid.run_grid(
        load_params("smoke", "math", overrides=over), workers=2, progress=False
    )


@pytest.mark.slow
def test_sigkill_midway_then_rerun_matches_a_straight_run(tmp_path, local_40):
    import os
    import signal
    import subprocess
    import time

    killed = tmp_path / "killed"
    cmd = _grid_cmd(killed) + ["--set", "budget.budgets=[40]"]
    proc = subprocess.Popen(
        cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    cells = killed / "smoke" / "math" / "cells"
    deadline = time.time() + 300
    while time.time() < deadline and len(list(cells.glob("*.json"))) < 2:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.json")}
    over = {**SMOKE, "budget.budgets": [40], "output_dir": str(killed)}
    n_cells = len(expand(load_params("smoke", "math", overrides=over)))
    assert 2 <= len(before) < n_cells, "the kill should land midway"
    subprocess.run(cmd, check=True, capture_output=True)
    after = {p.name: p.stat().st_mtime_ns for p in cells.glob("*.json")}
    assert len(after) == n_cells  # every cell exactly once
    assert all(after[name] == t for name, t in before.items())  # finished cells were not redone
    # The same cells run straight through, in one go (the fixture, in process)
    a = pd.read_parquet(local_40[0] / "smoke" / "results.parquet")
    b = pd.read_parquet(killed / "smoke" / "results.parquet")
    pd.testing.assert_frame_equal(_stable(a), _stable(b))


@pytest.mark.slow
def test_two_grids_at_once_into_one_folder_train_each_cell_once(tmp_path):
    import subprocess

    out = tmp_path / "shared"
    cmd = _grid_cmd(out) + ["--set", "budget.budgets=[40]", "--workers", "1"]
    pipe = dict(stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    runs = [subprocess.Popen(cmd, **pipe) for _ in range(2)]
    logs = [r.communicate(timeout=600)[0] for r in runs]
    assert [r.returncode for r in runs] == [0, 0], logs
    trained = [int(m[1]) if (m := re.search(r"trained (\d+) cells", log)) else 0 for log in logs]
    over = {**SMOKE, "budget.budgets": [40], "output_dir": str(out)}
    params = load_params("smoke", "math", overrides=over)
    cells = expand(params)
    assert sum(trained) == len(cells) == 6, logs  # not 12: the runs split the cells
    assert len(list((out / "smoke" / "math" / "cells").glob("*.json"))) == 6
    # Both stages were trained once, by whichever run came first.
    stages = [d for d in (out / "smoke" / "math" / "sft").iterdir() if d.is_dir()]
    assert sorted(d.name.split("-")[0] for d in stages) == ["n20", "n40"]
    # A rerun finds every cell done, and the plan counts no stage to train.
    assert estimate.plan(params).sft_stages_todo == 0
    victim = next(c for c in cells if all(cell_sizes(params, c)))  # SFT, then pairs
    (out / "smoke" / "math" / "cells" / f"{victim.cell_id}.json").unlink()
    p = estimate.plan(params)
    assert len(p.cells) - len(p.done) == 1 and p.sft_stages_todo == 0  # its stage is cached


@pytest.mark.slow
def test_ray_executor_on_a_local_ray_instance(tmp_path, local_40):
    import ray

    over = {**SMOKE, "budget.budgets": [40], "output_dir": str(tmp_path / "ray")}
    params = load_params("smoke", "math", overrides=over)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        check_address(ray.get_runtime_context().gcs_address)  # a real Ray head passes the handshake
        table = grid.run_grid(params, executor="ray", progress=False)
        assert ray.cluster_resources().get("CPU") == 2
    finally:
        ray.shutdown()
    assert len(table) == len(expand(params)) == 6  # f=0, 0.5 x dpo, dpo_sft; SFT only; base
    # Each cell used the one CPU Ray reserved for it, not every core of the node.
    records = results.load_records(tmp_path / "ray", "smoke")
    assert {r["device"].rsplit(", ", 1)[1] for r in records} == {"1 threads"}
    pd.testing.assert_frame_equal(_stable(table), _stable(local_40[1]))


@pytest.mark.slow
def test_local_worker_processes_match_one_after_another(tmp_path, local_40):
    over = {**SMOKE, "budget.budgets": [40], "output_dir": str(tmp_path / "w1")}
    tables = {2: local_40[1]}
    tables[1] = grid.run_grid(
        load_params("smoke", "math", overrides=over), workers=1, progress=False
    )
    for out in (local_40[0], tmp_path / "w1"):
        assert {
            d.name.split("-")[0] for d in (out / "smoke" / "math" / "sft").iterdir() if d.is_dir()
        } == {"n20", "n40"}
    t = tables[2]
    assert len(t) == 6 and set(t["diag.cold_start.n_pairs"].dropna()) == {200}  # with the base cell
    # Each SFT stage was trained by one cell; the cells sharing it waited and reused it.
    trained = t[(t["n_sft"] > 0) & ~t["sft_reused"].astype(bool)]
    assert sorted(trained["n_sft"]) == [20, 40]
    pd.testing.assert_frame_equal(_stable(tables[2]), _stable(tables[1]))


def test_parallel_order_is_longest_first_and_stage_aware():
    # two methods: an SFT stage feeds two cells (grpo's long cells from the base model aside)
    params = load_params("toy_large", "math", overrides={"methods": ["dpo", "dpo_sft"]})
    cells = expand(params)
    rates = estimate.DEFAULT_COST_S
    cost = {c.cell_id: estimate.cell_estimate(params, c, rates) for c in cells}
    ready, waiting, prio = grid._stage_waves(params, cells, cost)
    followers = [c for group in waiting.values() for c in group]
    assert len(ready) + len(followers) == len(cells) and not set(ready) & set(followers)
    # Every SFT stage has exactly one cell that can start; cells without SFT can all start.
    stages = {sft_stage(params, c) for c in cells}
    assert len([c for c in ready if sft_stage(params, c)]) == len(stages - {None})
    assert all(
        sft_stage(params, f) == sft_stage(params, next(c for c in ready if c.cell_id == lead))
        for lead, group in waiting.items()
        for f in group
    )
    assert [prio[c.cell_id] for c in ready] == sorted(
        (prio[c.cell_id] for c in ready), reverse=True
    )
    # First to start: an SFT stage at the largest budget whose two cells (dpo, dpo_sft) then train
    # on its pairs, a longer chain than any single cell.
    assert ready[0].budget == max(params.budget.budgets) and ready[0].cell_id in waiting
    assert prio[ready[0].cell_id] > max(cost.values())
    for lead, group in waiting.items():
        assert prio[lead] == cost[lead] + max((cost[c.cell_id] for c in group), default=0.0)


@pytest.mark.parametrize(
    "workers, cores, threads, device, want",
    [
        (3, 2, None, "cpu", 3),
        (0, 2, None, "cpu", 2),
        (None, 8, 2, "cpu", 4),
        (0, 1, None, "cpu", 1),
    ],
)
def test_worker_count(monkeypatch, workers, cores, threads, device, want):
    monkeypatch.setattr(grid, "usable_cores", lambda: cores)
    params = load_params("smoke", "math", overrides={"cpu_threads": threads, "device": device})
    assert grid.resolve_workers(params, workers) == want


def test_negative_worker_count_is_an_error():
    with pytest.raises(ValueError, match="workers must be >= 0.*got -1"):
        grid.resolve_workers(load_params("smoke", "math"), -1)
