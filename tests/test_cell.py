"""Tests of budgetsplit.run.runner: whole cells on a tiny in-process model and task, and (marked slow) on the
toy world's smoke profile end to end."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys

import pytest
from tiny import FAST

import budgetsplit.run.runner as cellmod
from budgetsplit.config.params import (
    BudgetConfig,
    ConfigError,
    CostConfig,
    EvalConfig,
    ModelConfig,
    Params,
    PFTConfig,
    StageConfig,
)
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import ids_digest
from budgetsplit.run import start_model
from budgetsplit.run.runner import run_cell
from budgetsplit.study import records
from budgetsplit.study.cells import Cell, cell_costs
from budgetsplit.training.models import base_model_id, load_model

# Tiny models run fastest on one thread (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def record_path(params, cell):
    return RunLayout.of(params).record_path(cell.task, cell.cell_id)


def params(out, base_folder, **kw) -> Params:
    kw.setdefault("eval", EvalConfig(n_examples=16, max_new_tokens=12, batch_size=16))
    return Params(
        task="math",
        profile="test",
        model=ModelConfig(name=base_folder),
        device="cpu",
        cpu_threads=1,
        sft=StageConfig(**FAST, learning_rate=3e-3),
        pft=PFTConfig(**FAST, learning_rate=1e-3),
        output_dir=str(out),
        **kw,
    )


def test_cell_ids_are_readable_unique_and_safe():
    cells = [
        Cell("math", m, b, f, s, r)
        for m in ("dpo", "kto")
        for b in (100, 1000.0, 2.5)
        for f in (0.0, 0.01, 0.1, 1.0)
        for s in (0, 1)
        for r in (None, 2.0)
    ]
    ids = [c.cell_id for c in cells]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]+", i) for i in ids)
    assert Cell("math", "dpo", 1000, 0.25, 3).cell_id == "math-dpo-B1000-f0p25-s3"
    assert Cell("math", "dpo", 1000, 0.25, 3, 5.0).cell_id == "math-dpo-B1000-f0p25-s3-r5"


def test_costs_per_budget_unit(tmp_path, base_folder):
    p = params(tmp_path, base_folder)
    assert cell_costs(p, Cell("math", "dpo", 100, 0.5, 0)) == (1.0, 1.0)
    with pytest.raises(ConfigError, match="money"):
        cell_costs(p, Cell("math", "dpo", 100, 0.5, 0, cost_ratio=2.0))
    money = params(
        tmp_path,
        base_folder,
        budget=BudgetConfig(unit="money", costs=CostConfig(sft=0.004, pref=0.001)),
    )
    assert cell_costs(money, Cell("math", "dpo", 1, 0.5, 0)) == (0.004, 0.001)
    assert cell_costs(money, Cell("math", "dpo", 1, 0.5, 0, cost_ratio=2.0)) == (0.002, 0.001)


def stage_dir(tmp_path, rec):
    return tmp_path / "test" / "math" / "sft" / rec["sft_stage"]


def test_sft_then_dpo_cell_writes_its_record_once(tmp_path, base_folder, task, monkeypatch):
    p = params(tmp_path, base_folder)
    cell = Cell("math", "dpo", 40, 0.5, 0)
    rec = run_cell(p, cell, task)
    assert (rec["n_sft"], rec["n_pref"], rec["spent"]) == (20, 20, 40.0)
    assert records.load_record(record_path(p, cell)) == rec
    assert json.loads(record_path(p, cell).read_text()) == rec.to_json()
    assert rec.base_model == base_model_id(p.model, p.profile)
    rs = rec.row_scores  # per row, in eval-row order; their mean is the metric
    assert rs["metric"] == "accuracy" and rs["split"] == "test" and len(rs["values"]) == 16
    assert sum(rs["values"]) / 16 == pytest.approx(rec.metrics["accuracy"])
    assert rs["ids_digest"] == ids_digest(task.eval_split("test")[:16])
    assert rec["params"]["pft"]["beta"] == p.pft.beta and rec["cell"]["method"] == "dpo"
    assert set(rec["metrics"]) == {"accuracy"} and rec["n_eval"] == 16
    d = rec["diagnostics"]
    assert d["cold_start"]["n_pairs"] == 150 and d["cold_start"]["chosen_logprob_per_token"] < 0
    assert 0 <= d["format_rate"] <= 1 and d["mean_length_tokens"] > 0
    assert "final_reward_margins" in d["pft"] and "final_reward_accuracies" in d["pft"]
    assert d["sft"]["n_logged_steps"] == 3 and d["sft"]["final_loss"] > 0
    # Per stage: examples, distinct prompts, optimizer steps, how far the weights moved
    st = d["stages"]
    assert st["sft"]["examples"] == 20 and st["sft"]["prompts"] == 20  # one row per SFT prompt
    assert st["pft"]["examples"] == 20 and 1 <= st["pft"]["prompts"] <= 20
    assert st["sft"]["steps"] == 3 and st["pft"]["steps"] >= 1  # 20 rows, batch 8, 1 epoch
    assert 0 < st["sft"]["weight_change"] < 1 and 0 < st["pft"]["weight_change"] < 1
    # The PFT gain: this cell's metric minus its starting (SFT) model's, on the same rows
    assert 0 <= d["start_score"] <= 1
    assert d["pft_gain"] == pytest.approx(rec.metrics["accuracy"] - d["start_score"])
    assert len(list(stage_dir(tmp_path, rec).glob("start_score-*.json"))) == 1
    assert not rec["sft_reused"] and rec["sft_stage"].startswith("n20-s0-")
    assert not rec["cold_start_cached"]
    stage = stage_dir(tmp_path, rec)
    assert [json.loads(f.read_text()) for f in stage.glob("cold_start-*.json")] == [
        {"cold_start": d["cold_start"]}
    ]
    assert set(rec["wall_s"]) == {"sft", "diagnostics", "pft", "eval", "total"}
    assert rec["versions"]["trl"].startswith("1.") and rec["device"].startswith("cpu")

    def no_training(*a, **k):
        raise AssertionError("an existing record must not retrain")

    monkeypatch.setattr(cellmod, "train_pft", no_training)
    monkeypatch.setattr(cellmod, "load_model", no_training)
    assert run_cell(p, cell, task) == rec
    # Other budgets or seeds in the recipe do not matter; other training settings do.
    wider = dataclasses.replace(p, seeds=(0, 1), budget=BudgetConfig(budgets=(40, 80)))
    assert run_cell(wider, cell, task) == rec
    changed = dataclasses.replace(p, pft=dataclasses.replace(p.pft, beta=0.9))
    with pytest.raises(records.StaleRecordError, match=r"pft.beta: 0.1 -> 0.9(.|\n)*output_dir"):
        run_cell(changed, cell, task)


def test_cells_share_sft_stages_and_repeat_exactly(tmp_path, base_folder, task, monkeypatch):
    p = params(tmp_path / "a", base_folder)
    first = run_cell(p, Cell("math", "kto", 40, 0.5, 0), task)
    with monkeypatch.context() as m:  # the second cell reads the first one's cold-start diagnostic
        m.setattr(start_model, "response_logprobs", lambda *a: pytest.fail("recomputed cold start"))
        second = run_cell(p, Cell("math", "ipo", 40, 0.5, 0), task)
    assert not first["sft_reused"] and second["sft_reused"]
    assert not first["cold_start_cached"] and second["cold_start_cached"]
    assert second["diagnostics"]["cold_start"] == first["diagnostics"]["cold_start"]
    assert first["sft_stage"] == second["sft_stage"]
    assert len([d for d in (tmp_path / "a" / "test" / "math" / "sft").iterdir() if d.is_dir()]) == 1
    # The same cell from scratch elsewhere (SFT retrained too): identical numbers.
    again = run_cell(params(tmp_path / "b", base_folder), Cell("math", "kto", 40, 0.5, 0), task)
    assert not again["cold_start_cached"]  # computed afresh, it equals the cached value
    for key in ("metrics", "diagnostics", "examples", "n_sft", "n_pref"):
        assert again[key] == first[key], key


def test_a_cell_with_the_same_work_as_a_recorded_one_copies_it(
    tmp_path, base_folder, task, monkeypatch
):
    p = params(tmp_path, base_folder)
    first = run_cell(p, Cell("math", "dpo", 40, 0.5, 0), task)
    # Money at cost ratio 1 buys what the same example budget buys: 20 demonstrations, 20 pairs.
    money = params(
        tmp_path,
        base_folder,
        budget=BudgetConfig(
            unit="money", budgets=(40,), costs=CostConfig(sft=2.0, pref=1.0), cost_ratios=(1.0, 5.0)
        ),
    )
    with monkeypatch.context() as m:
        m.setattr(cellmod, "train_pft", lambda *a, **k: pytest.fail("retrained the same work"))
        m.setattr(cellmod, "load_model", lambda *a, **k: pytest.fail("loaded a model"))
        copy = run_cell(money, Cell("math", "dpo", 40, 0.5, 0, cost_ratio=1.0), task)
    assert copy["same_work_as"] == first["cell_id"] and copy["cell"]["cost_ratio"] == 1.0
    assert copy["params"]["budget"]["unit"] == "money" and copy["spent"] == 40.0
    for key in (
        "metrics",
        "diagnostics",
        "examples",
        "n_sft",
        "n_pref",
        "sft_stage",
        "row_scores",
        "base_model",
    ):
        assert copy[key] == first[key], key
    assert copy.wall_s["pft"] == 0.0
    assert records.load_record(record_path(money, Cell("math", "dpo", 40, 0.5, 0, 1.0))) == copy
    # Other work is trained: another method on the same split, another ratio, other settings.
    assert records.work_key(copy["params"], "ipo", 20, 20, 0) != records.work_key(
        copy["params"], "dpo", 20, 20, 0
    )
    other = run_cell(money, Cell("math", "dpo", 40, 0.5, 0, cost_ratio=5.0), task)
    assert other.same_work_as is None and (other["n_sft"], other["n_pref"]) == (4, 20)
    beta = json.loads(json.dumps(first["params"]))
    beta["pft"]["beta"] = 0.9
    assert records.work_key(beta, "dpo", 20, 20, 0) != records.work_key(
        first["params"], "dpo", 20, 20, 0
    )


def test_a_profile_copies_the_same_work_from_another_profile(
    tmp_path, base_folder, task, monkeypatch
):
    first = run_cell(params(tmp_path, base_folder), Cell("math", "dpo", 40, 0.5, 0), task)
    larger = dataclasses.replace(params(tmp_path, base_folder), profile="test_large", seeds=(0, 1))
    with monkeypatch.context() as m:
        m.setattr(cellmod, "train_pft", lambda *a, **k: pytest.fail("retrained the same work"))
        copy = run_cell(larger, Cell("math", "dpo", 40, 0.5, 0), task)
    assert copy["same_work_as"] == "test/" + first["cell_id"]
    assert record_path(larger, Cell("math", "dpo", 40, 0.5, 0)).parent.parts[-3] == "test_large"
    for key in ("metrics", "diagnostics", "examples", "n_sft", "n_pref"):
        assert copy[key] == first[key], key
    # A copy of the copy (a money cell at ratio 1 in the larger profile) names the trained cell.
    money = dataclasses.replace(
        larger,
        budget=BudgetConfig(
            unit="money", budgets=(40,), costs=CostConfig(sft=2.0, pref=1.0), cost_ratios=(1.0,)
        ),
    )
    assert run_cell(money, Cell("math", "dpo", 40, 0.5, 0, 1.0), task)["same_work_as"] == (
        "test/" + first["cell_id"]
    )


def test_sft_only_and_pft_only_cells(tmp_path, base_folder, task):
    p = params(tmp_path, base_folder)
    with pytest.raises(ConfigError, match="name a PFT method"):
        run_cell(p, Cell("math", "sft", 30, 0.5, 0), task)
    sft_only = run_cell(p, Cell("math", "sft", 30, 1.0, 0), task)
    assert (sft_only["n_sft"], sft_only["n_pref"]) == (30, 0) and sft_only["diagnostics"][
        "pft"
    ] == {}
    pft_only = run_cell(p, Cell("math", "dpo", 30, 0.0, 0), task)
    assert (pft_only["n_sft"], pft_only["n_pref"]) == (0, 30) and pft_only["sft_stage"] is None
    assert pft_only["diagnostics"]["pft"]["n_logged_steps"] == 4
    # Every cell without SFT starts from the base model: its cold start is computed once.
    small = run_cell(p, Cell("math", "kto", 8, 0.0, 0), task)
    assert not pft_only["cold_start_cached"] and small["cold_start_cached"]
    assert small["diagnostics"]["cold_start"] == pft_only["diagnostics"]["cold_start"]
    assert (
        len(list((tmp_path / "test" / "math" / "base_diagnostics").glob("cold_start-*.json"))) == 1
    )
    # Cold start: the base model finds the preference data far less likely than the SFT model does.
    lp = lambda r: r["diagnostics"]["cold_start"]["chosen_logprob_per_token"]  # noqa: E731
    assert lp(sft_only) > lp(pft_only) + 0.3


def test_cold_start_cache_key(tmp_path, base_folder, task):
    p = params(tmp_path, base_folder)
    pairs = task.pref_records(task.pref_pool()[:20])
    flipped = [
        dict(r, chosen=r["rejected"], rejected=r["chosen"]) if i == 7 else r
        for i, r in enumerate(pairs)
    ]
    stage = tmp_path / "test" / "math" / "sft" / "n20-s0-abc"
    base = start_model.cold_start_path(p, pairs, "torch.float32", "cpu", None)
    assert base.parent == tmp_path / "test" / "math" / "base_diagnostics"
    assert base == start_model.cold_start_path(
        p, [dict(r) for r in pairs], "torch.float32", "cpu", None
    )
    in_stage = start_model.cold_start_path(p, pairs, "torch.float32", "cpu", stage)
    assert in_stage.parent == stage and in_stage.name.startswith("cold_start-")
    others = [
        start_model.cold_start_path(
            p, flipped, "torch.float32", "cpu", None
        ),  # label noise flips pairs
        start_model.cold_start_path(p, pairs[:19], "torch.float32", "cpu", None),
        start_model.cold_start_path(p, pairs, "torch.bfloat16", "cpu", None),
        start_model.cold_start_path(p, pairs, "torch.float32", "cuda", None),
        start_model.cold_start_path(p, flipped, "torch.float32", "cpu", stage),
    ]
    assert len({base, in_stage, *others}) == 7


def test_a_damaged_cold_start_cache_is_moved_aside_and_recomputed(
    tmp_path, base_folder, task, capsys
):
    p = params(tmp_path, base_folder)
    model, tok = load_model(p.model, p.profile, "cpu")
    pool = task.pref_pool()[:40]
    cold, cached = start_model.cold_start(p, task, pool, model, tok, "cpu", None)
    (path,) = RunLayout.of(p).base_diagnostics_dir("math").glob("cold_start-*.json")
    assert not cached and start_model.cold_start(p, task, pool, model, tok, "cpu", None) == (
        cold,
        True,
    )
    for text in ("", '{"cold_start": {"n_pa', "{}", "[]"):
        path.write_text(text)
        assert start_model.cold_start(p, task, pool, model, tok, "cpu", None) == (cold, False)
        assert str(path) in capsys.readouterr().out
    assert len(list(path.parent.glob(path.name + ".damaged-*"))) == 4


def test_an_unwritable_output_folder_stops_before_training(
    tmp_path, base_folder, task, monkeypatch
):
    (tmp_path / "blocked").write_text("")
    monkeypatch.setattr(cellmod, "load_model", lambda *a, **k: pytest.fail("trained first"))
    with pytest.raises(PermissionError, match=str(tmp_path / "blocked")):
        run_cell(params(tmp_path / "blocked", base_folder), Cell("math", "dpo", 40, 0.5, 0), task)


def test_money_budget_cell_spends_at_its_costs(tmp_path, base_folder, task):
    money = BudgetConfig(unit="money", costs=CostConfig(sft=1.0, pref=0.5), cost_ratios=(4.0,))
    p = params(tmp_path, base_folder, budget=money)
    rec = run_cell(p, Cell("math", "dpo", 20, 0.5, 0, cost_ratio=4.0), task)
    assert (rec["n_sft"], rec["n_pref"]) == (5, 20) and rec["costs"] == {"sft": 2.0, "pref": 0.5}
    assert rec["spent"] == 20.0


# --------------------------------------------------------------- end to end on the smoke toy world
@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    from budgetsplit.config.params import load_params
    from budgetsplit.tasks import get_task

    def params(out):
        # Two SFT epochs: with one, 300 demonstrations do not yet teach the smoke model the format.
        overrides = {"output_dir": str(out), "cpu_threads": 1, "sft.epochs": 2}
        return load_params("smoke", "math", overrides=overrides)

    p = params(tmp_path_factory.mktemp("smoke"))
    return p, get_task(p), params


@pytest.mark.slow
def test_smoke_cells_end_to_end(smoke):
    from budgetsplit.training.evaluate import evaluate_model
    from budgetsplit.training.models import load_model

    p, task, _ = smoke
    sft_only = run_cell(p, Cell("math", "sft", 300, 1.0, 0))
    dpo_only = run_cell(p, Cell("math", "dpo", 40, 0.0, 0))
    sft_dpo = run_cell(p, Cell("math", "dpo", 40, 0.5, 0))
    sft_kto = run_cell(p, Cell("math", "kto", 40, 0.5, 0))
    for rec in (sft_only, dpo_only, sft_dpo, sft_kto):
        assert record_path(p, Cell(**rec["cell"])).is_file()
        assert rec["n_eval"] == p.eval.n_examples and rec["primary_metric"] == "accuracy_strict"
    assert (sft_only["n_sft"], sft_only["n_pref"], dpo_only["n_sft"], sft_dpo["n_pref"]) == (
        300,
        0,
        0,
        20,
    )
    assert not sft_dpo["sft_reused"] and sft_kto["sft_reused"]
    assert sft_dpo["sft_stage"] == sft_kto["sft_stage"]
    assert "final_reward_margins" in sft_dpo["diagnostics"]["pft"]
    assert "final_kl" in sft_kto["diagnostics"]["pft"]
    # Compute beside cost: what each stage trained on, from the trainers' own token counts
    c = {name: rec["compute"] for name, rec in (("sft", sft_only), ("dpo", dpo_only))}
    c["sft_dpo"], c["sft_kto"] = sft_dpo["compute"], sft_kto["compute"]
    n = c["sft"]["n_params"]
    assert n == sum(x.numel() for x in load_model(p.model, p.profile, "cpu")[0].parameters())
    assert c["sft"]["sft"]["tokens"] > 0 and c["sft"]["pft"]["tokens"] == 0
    assert c["dpo"]["sft"]["tokens"] == 0 and c["dpo"]["pft"]["tokens"] > 0
    # one reference pass over the pairs (precomputed), the policy's every pass it made
    passes = dpo_only["throughput"]["pft"]["passes"]
    assert passes >= p.pft.epochs
    assert c["dpo"]["pft"]["ref_tokens"] * passes == pytest.approx(
        c["dpo"]["pft"]["tokens"], abs=passes
    )
    assert c["sft_kto"]["sft"] == c["sft_dpo"]["sft"]  # the reused stage is charged as if trained
    for rec in c.values():
        assert (
            rec["train_flops"]
            == 6 * n * (rec["sft"]["tokens"] + rec["pft"]["tokens"])
            + 2 * n * rec["pft"]["ref_tokens"]
        )
        assert rec["eval"]["generated_tokens"] > 0 and rec["eval"]["prompt_tokens"] > 0
    base = evaluate_model(*load_model(p.model, p.profile, "cpu"), task, p.eval)
    metric = "accuracy_strict"
    assert sft_only["metrics"][metric] > base["metrics"][metric]
    assert sft_only["diagnostics"]["format_rate"] > base["format_rate"]


@pytest.mark.slow
def test_smoke_grpo_cell_end_to_end(smoke):
    """Online RL after SFT on the smoke world: TRL's GRPOTrainer sampling from the SFT model and
    rewarded by the task's gold scorer, on the RL prompts the rest of the budget bought."""
    p, task, _ = smoke
    rec = run_cell(p, Cell("math", "grpo", 40, 0.5, 0))
    assert record_path(p, Cell(**rec["cell"])).is_file()
    assert (rec["n_sft"], rec["n_pref"], rec["costs"]) == (20, 20, {"sft": 1.0, "rl": 1.0})
    stage = rec["diagnostics"]["stages"]["pft"]
    assert stage["prompts"] == 20 and stage["steps"] == 3 and stage["weight_change"] > 0
    steps = rec["diagnostics"]["pft"]["per_step"]
    assert len(steps["reward"]) == 3 and len(steps["frac_reward_zero_std"]) == 3
    assert all(0 < n <= p.pft.max_completion_length for n in steps["completion_length"])
    c = rec["compute"]
    assert c["pft"]["sampled_tokens"] > 0 and c["pft"]["ref_tokens"] == c["pft"]["tokens"]
    assert rec["metrics"]["accuracy_strict"] >= 0 and rec["n_eval"] == p.eval.n_examples


@pytest.mark.slow
def test_smoke_cell_repeats_exactly(smoke, tmp_path):
    p, _, params = smoke
    cell = Cell("math", "dpo", 40, 0.5, 0)
    first = run_cell(p, cell)
    again = run_cell(params(tmp_path), cell)  # a fresh output dir: SFT and DPO both retrained
    assert not again["sft_reused"]
    for key in ("metrics", "diagnostics", "examples"):
        assert again[key] == first[key], key


def _hold_claim(path) -> subprocess.Popen:
    """Another process holding the claim of a cell (as a run training it does), until killed."""
    code = (
        "import sys, time\nfrom filelock import FileLock\nlock = FileLock(sys.argv[1])\n"
        "lock.acquire()\nprint('held', flush=True)\ntime.sleep(600)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_cell_claimed_by_a_live_run_is_left_to_it_and_a_killed_runs_claim_is_taken(
    tmp_path, base_folder, task
):
    p, cell = params(tmp_path, base_folder), Cell("math", "dpo", 16, 0.5, 0)
    claim = RunLayout.of(p).claim_path("math", cell.cell_id)
    claim.parent.mkdir(parents=True)
    holder = _hold_claim(claim)
    try:
        assert cellmod.run_claimed(p, cell, task, wait=False) == (None, cellmod.ELSEWHERE)
        assert not record_path(p, cell).exists()  # nothing trained while the other run holds it
    finally:
        holder.kill()  # SIGKILL: the run dies holding the claim
        holder.wait()
    rec, how = cellmod.run_claimed(p, cell, task, wait=False)
    assert how == cellmod.TRAINED and record_path(p, cell).is_file()
    assert cellmod.run_claimed(p, cell, task) == (rec, cellmod.RECORDED)
    # A cell without SFT records no SFT time (loading the base model is not SFT).
    assert run_cell(p, Cell("math", "dpo", 16, 0.0, 0), task)["wall_s"]["sft"] == 0.0
