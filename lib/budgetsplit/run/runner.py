"""One cell of the study grid: (task, method, budget, SFT fraction, seed[, cost ratio]) -> one `Record`.

`run_cell` turns the budget into n_sft demonstrations and n_pref preference pairs, or for online RL
(grpo) n_pref RL prompts (`budgetsplit.core.budget`), draws them from the task's pools, runs SFT (or
reuses the cached stage), then PFT or GRPO (training/grpo.py) from the SFT model (from the base
model when n_sft = 0; neither when n_pref = 0),
evaluates, and writes the cell's record (`budgetsplit.study.records`) atomically. A cell whose record
exists is returned as recorded, without training, after checking it was made with these settings.
A run claims a cell before training it (`run_claimed`), so concurrent runs into one output folder
split the cells.
The cold-start diagnostic is computed once per starting model (`run.start_model`) and read back by the
other cells that share it; a damaged cache file is moved aside and recomputed. A cell that would
repeat another recorded cell's work exactly (same settings, method, seed, n_sft and n_pref: a money
budget at cost ratio 1 buys what the same example budget buys) copies that cell's result
(`same_work_as`) instead of training it again; training is deterministic, so it would be the same.
The recorded cell may belong to another profile under the same `output_dir` when the two share the
world (toy_large inherits toy's), so a larger study reuses the cells of a smaller one.

    from budgetsplit.config.params import load_params
    from budgetsplit.run.runner import run_cell
    from budgetsplit.study.cells import Cell
    params = load_params("toy", "math")
    record = run_cell(params, Cell("math", "dpo", budget=300, sft_fraction=0.1, seed=0))
    record.metrics, record.diagnostics["cold_start"], record.row_scores["values"][:10]
"""

from __future__ import annotations

import dataclasses
import platform
import time
from importlib.metadata import PackageNotFoundError, version

import torch
from filelock import FileLock, Timeout

from budgetsplit.config.params import ConfigError, Params, for_model, pft_settings
from budgetsplit.core.budget import draw_subsets, spent
from budgetsplit.core.compute import cell_compute, trained_tokens
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.methods import TABLE
from budgetsplit.core.store import check_writable
from budgetsplit.run.start_model import cold_start, start_score
from budgetsplit.study.cells import BASE, SFT_ONLY, Cell, buys, cell_costs, cell_sizes
from budgetsplit.study.records import (
    Record,
    find_same_work,
    review_records,
    stored_settings,
    work_key,
    write_record,
)
from budgetsplit.tasks import get_task
from budgetsplit.tasks.interface import eval_rows
from budgetsplit.training.evaluate import evaluate_model, trainer_diagnostics
from budgetsplit.training.grpo import grpo_diagnostics, train_grpo
from budgetsplit.training.models import base_model_id, load_model, resolve_device, set_cpu_threads
from budgetsplit.training.stages import run_sft_stage
from budgetsplit.training.train import train_pft

# What `run_claimed` did with a cell: found its record, copied recorded work, trained it, or left
# it to the live run that holds its claim.
RECORDED, COPIED, TRAINED, ELSEWHERE = "recorded", "copied", "trained", "elsewhere"

_LIBRARIES = (
    "torch",
    "transformers",
    "trl",
    "peft",
    "datasets",
    "tokenizers",
    "accelerate",
    "budgetsplit",
)


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for lib in _LIBRARIES:
        try:
            out[lib] = version(lib)
        except PackageNotFoundError:
            out[lib] = "not installed"
    return out


def _device_name(device: str) -> str:
    if device == "cuda":
        return f"cuda: {torch.cuda.get_device_name()}"
    return (
        f"{device}: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )


def _stage_diagnostics(rows: list[dict], steps: int | None, weight_change: float | None) -> dict:
    """What one stage did: examples, distinct prompts, optimizer steps, relative weight change."""
    return {
        "examples": len(rows),
        "prompts": len({r["prompt_id"] for r in rows}),
        "steps": steps,
        "weight_change": weight_change,
    }


def run_cell(params: Params, cell: Cell, task=None) -> Record:
    """Train and evaluate one cell, or return its existing record; see the module docstring."""
    return run_claimed(params, cell, task)[0]


def run_claimed(
    params: Params, cell: Cell, task=None, wait: bool = True
) -> tuple[Record | None, str]:
    """(`run_cell`'s record, what was done: RECORDED, COPIED, TRAINED or ELSEWHERE).

    A run holds the cell's claim (a lock file, `RunLayout.claim_path`) while it trains it, so two
    runs into one output folder split the cells instead of training each twice. A cell another live
    run holds is left to it: `wait=False` returns (None, ELSEWHERE) at once, `wait=True` waits for
    that run's record. The operating system drops a claim when its process dies, so a claim of a
    killed run never blocks a rerun: the cell is trained here. `params` may be a recipe's with
    several models: the cell's own (`Cell.model`) is the one trained."""
    params = for_model(params, cell.model)
    layout = RunLayout.of(params)
    if layout.record_path(cell.task, cell.cell_id).is_file():
        return review_records(params, [cell])[cell.cell_id], RECORDED  # stops if damaged or stale
    _check_cell(params, cell)
    check_writable(layout.cells_dir(cell.task))  # before training, not after
    path = layout.claim_path(cell.task, cell.cell_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    claim = FileLock(str(path))
    try:
        claim.acquire(timeout=0)
    except Timeout:
        if not wait:
            return None, ELSEWHERE
        print(f"{cell.cell_id}: another run is training it; waiting for its record", flush=True)
        claim.acquire()
    try:
        if layout.record_path(cell.task, cell.cell_id).is_file():  # that run finished it
            return review_records(params, [cell])[cell.cell_id], RECORDED
        return _run_unclaimed(params, cell, task)
    finally:
        claim.release()


def _run_unclaimed(params: Params, cell: Cell, task) -> tuple[Record, str]:
    # The toy base model is built (once, cached) before the clock starts: no stage's time holds it.
    base_model_id(params.model, params.profile)
    t_start = time.perf_counter()
    settings = stored_settings(params)
    n_sft, n_pref = cell_sizes(params, cell)
    same = find_same_work(
        params, cell.task, work_key(settings, cell.method, n_sft, n_pref, cell.seed)
    )
    if same is not None:
        return write_record(params, _copy_of(same, params, cell, settings, t_start)), COPIED
    if task is None:
        task = get_task(params)
    eval_rows(task, params.eval)  # an eval size the split cannot fill stops here, before training
    record = _train_and_evaluate(params, cell, task, settings, t_start)
    return write_record(params, record), TRAINED


def _check_cell(params: Params, cell: Cell) -> None:
    if cell.task != params.task:
        raise ConfigError("params", "task", params.task, f"the cell is for task {cell.task!r}")
    if cell.method not in (*TABLE, SFT_ONLY, BASE):
        known = ", ".join((*TABLE, SFT_ONLY, BASE))
        raise ConfigError("cell", "method", cell.method, f"unknown method; known: {known}")
    n_pref = cell_sizes(params, cell)[1]
    if cell.method == SFT_ONLY and n_pref:
        raise ConfigError(
            "cell", "method", SFT_ONLY, f"the cell buys {n_pref} pairs: name a PFT method"
        )


def _bought(params: Params, cell: Cell) -> dict:
    """The record fields of what the cell buys: sizes, prices and what it spent."""
    (c_sft, c_pref), (n_sft, n_pref) = cell_costs(params, cell), cell_sizes(params, cell)
    return dict(
        n_sft=n_sft,
        n_pref=n_pref,
        costs={"sft": c_sft, buys(cell.method): c_pref},
        spent=spent(n_sft, n_pref, c_sft, c_pref),
    )


def _copy_of(same: Record, params: Params, cell: Cell, settings: dict, t_start: float) -> Record:
    """`cell`'s record made from a recorded cell that did the same work (no training)."""
    source = same.same_work_as or same.cell_id  # "<profile>/<id>" in another profile
    if same.params["profile"] != params.profile and "/" not in source:
        source = f"{same.params['profile']}/{source}"
    wall = {k: 0.0 for k in same.wall_s} | {"total": time.perf_counter() - t_start}
    return dataclasses.replace(
        same, cell=cell, params=settings, same_work_as=source, wall_s=wall, **_bought(params, cell)
    )


def _start_model(params: Params, task, cell: Cell, sft_rows: list[dict], device: str):
    """(model, tok, SFT stage folder or None, stage meta): the model PFT starts from. The SFT stage
    is trained once per distinct stage and every cell loads it from disk, so a reused stage and a
    freshly trained one continue from identical weights."""
    if not sft_rows:
        return (*load_model(params.model, params.profile, device), None, {})
    base_id = base_model_id(params.model, params.profile)
    stage_dir, meta = run_sft_stage(params, task, sft_rows, cell.seed, base_id, device)
    return (*load_model(params.model, params.profile, device, path=stage_dir), stage_dir, meta)


def _compute(n_params: int, throughput: dict, result: dict) -> dict:
    """The record's compute block (core/compute.py) from what the stages and the eval counted."""
    return cell_compute(
        n_params,
        sft_tokens=trained_tokens(throughput["sft"]),
        pft_tokens=trained_tokens(throughput["pft"]),
        pft_ref_tokens=int(throughput["pft"].get("ref_tokens", 0)),
        pft_sampled_tokens=int(throughput["pft"].get("generated_tokens", 0)),
        prompt_tokens=result["prompt_tokens"],
        generated_tokens=result["generated_tokens"],
    )


def _preference_finetune(params: Params, cell: Cell, task, model, tok, pref_rows, device: str):
    """(model after PFT, trainer diagnostics, throughput, stage diagnostics); the model as is
    without pairs."""
    if not pref_rows:
        return model, {}, {}, _stage_diagnostics([], 0, None)
    # The PFT settings of the cell's method and starting regime (calibrated per regime: see
    # budgetsplit.run.calibrate), from the base model when there was no SFT.
    pft = pft_settings(params, cell.method, n_sft=cell_sizes(params, cell)[0])
    if buys(cell.method) == "rl":  # online RL on the RL prompts, rewarded by the gold scorer
        outcome = train_grpo(model, tok, task, pref_rows, pft, params.model.lora, cell.seed, device)
        stage = _stage_diagnostics(pref_rows, outcome.steps, outcome.weight_change)
        return outcome.model, grpo_diagnostics(outcome.log_history), outcome.throughput, stage
    outcome = train_pft(
        model,
        tok,
        task.pref_records(pref_rows),
        cell.method,
        pft,
        params.model.lora,
        cell.seed,
        device,
        ref_cache=RunLayout.of(params).ref_logps_dir(cell.task),
    )
    stage = _stage_diagnostics(pref_rows, outcome.steps, outcome.weight_change)
    return outcome.model, trainer_diagnostics(outcome.log_history), outcome.throughput, stage


def _train_and_evaluate(params: Params, cell: Cell, task, settings: dict, t_start: float) -> Record:
    bought = _bought(params, cell)
    pref_pool = task.pref_pool()
    # what the budget after SFT buys: pairs, or RL prompts (the pref pool's prompts, so the draw's
    # prompt order, and its disjointness from SFT, is the same)
    sft_rows, pref_rows = draw_subsets(
        task.sft_pool(),
        task.rl_pool() if buys(cell.method) == "rl" else pref_pool,
        bought["n_sft"],
        bought["n_pref"],
        cell.seed,
        task.name,
        params.budget.disjoint_prompts,
    )
    set_cpu_threads(params.cpu_threads)
    device = resolve_device(params.device)
    wall: dict[str, float] = {}

    t = time.perf_counter()
    model, tok, stage_dir, sft_meta = _start_model(params, task, cell, sft_rows, device)
    wall["sft"] = time.perf_counter() - t if sft_rows else 0.0  # loading the base is not SFT
    n_params = sum(p.numel() for p in model.parameters())  # merged: the base model's N

    # Cold start: how likely the preference data is under the model PFT starts from.
    t = time.perf_counter()
    cold, cold_cached = cold_start(params, task, pref_pool, model, tok, device, stage_dir)

    start = None
    if pref_rows:  # the PFT gain is read against the model PFT starts from, on the same rows
        start = start_score(params, task, model, tok, device, stage_dir, cell.seed)
    wall["diagnostics"] = time.perf_counter() - t

    t = time.perf_counter()
    model, pft_diag, pft_throughput, pft_stage = _preference_finetune(
        params, cell, task, model, tok, pref_rows, device
    )
    wall["pft"] = time.perf_counter() - t

    t = time.perf_counter()
    result = evaluate_model(model, tok, task, params.eval, seed=cell.seed)
    wall["eval"] = time.perf_counter() - t
    wall["total"] = time.perf_counter() - t_start
    throughput = {"sft": sft_meta.get("throughput", {}), "pft": pft_throughput}

    return Record(
        cell=cell,
        params=settings,
        **bought,
        metrics=result["metrics"],
        primary_metric=task.primary_metric,
        n_eval=result["n_eval"],
        diagnostics={
            "cold_start": cold,
            "format_rate": result["format_rate"],
            "mean_length_tokens": result["mean_length_tokens"],
            "eos_rate": result["eos_rate"],
            "sft": trainer_diagnostics(sft_meta.get("log_history", [])),
            "pft": pft_diag,
            "stages": {
                "sft": _stage_diagnostics(
                    sft_rows,
                    sft_meta.get("steps", 0 if not sft_rows else None),
                    sft_meta.get("weight_change"),
                ),
                "pft": pft_stage,
            },
            "start_score": start,
            "pft_gain": None if start is None else result["metrics"][task.primary_metric] - start,
        },
        examples=result["examples"],
        sft_stage=sft_meta.get("key"),
        sft_reused=bool(sft_meta.get("reused", False)),
        cold_start_cached=cold_cached,
        throughput=throughput,
        compute=_compute(n_params, throughput, result),
        wall_s=wall,
        versions=_versions(),
        device=_device_name(device),
        base_model=base_model_id(params.model, params.profile),
        row_scores=result["row_scores"],
    )
