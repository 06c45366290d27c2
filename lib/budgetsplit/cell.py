"""One cell of the study grid: (task, method, budget, SFT fraction, seed[, cost ratio]) -> one JSON record.

`run_cell` turns the budget into n_sft demonstrations and n_pref preference pairs
(`budgetsplit.budget`), draws them from the task's pools, runs SFT (or reuses the cached stage),
then PFT from the SFT model (from the base model when n_sft = 0; no PFT when n_pref = 0),
evaluates, and writes `<output_dir>/<profile>/<task>/cells/<cell_id>.json` atomically. A cell whose
record exists is returned as recorded, without training. The cold-start diagnostic is computed once
per starting model (`cold_start`) and read back by the other cells that share it. A cell that would
repeat another recorded cell's work exactly (same settings, method, seed, n_sft and n_pref: a money
budget at cost ratio 1 buys what the same example budget buys) copies that cell's result
(`same_work_as`) instead of training it again; training is deterministic, so it would be the same.
The recorded cell may belong to another profile under the same `output_dir` when the two share the
world (toy_large inherits toy's), so a larger study reuses the cells of a smaller one.

    from budgetsplit.cell import Cell, run_cell
    from budgetsplit.config import load_params
    params = load_params("toy", "math")
    record = run_cell(params, Cell("math", "dpo", budget=300, sft_fraction=0.1, seed=0))
    record["metrics"], record["diagnostics"]["cold_start"]
"""

from __future__ import annotations

import dataclasses
import json
import platform
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import torch

from budgetsplit.budget import draw_subsets, spent, split_budget
from budgetsplit.config import METHODS, ConfigError, Params
from budgetsplit.evaluate import (
    evaluate_model,
    logprob_sample,
    response_logprobs,
    trainer_diagnostics,
)
from budgetsplit.models import base_model_id, load_model, resolve_device, set_cpu_threads
from budgetsplit.records import (
    check_fresh,
    digest,
    find_same_work,
    record_path,
    stored_settings,
    work_key,
    write_json,
)
from budgetsplit.stages import run_sft_stage
from budgetsplit.train import train_pft

# The method of a cell that buys no preference data (its result is the same for every PFT method).
SFT_ONLY = "sft"
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


def _num(x: float) -> str:
    """A number for a file name: 1000.0 -> "1000", 0.25 -> "0p25"."""
    return (
        (str(int(x)) if float(x).is_integer() else repr(float(x)))
        .replace(".", "p")
        .replace("-", "m")
    )


@dataclass(frozen=True)
class Cell:
    task: str
    method: str  # a PFT method, or "sft" for a cell that buys no preference data
    budget: float
    sft_fraction: float
    seed: int
    cost_ratio: float | None = None  # money budgets: c_sft = cost_ratio * costs.pref

    @property
    def cell_id(self) -> str:
        """A readable, filesystem-safe id, unique per cell, e.g. "math-dpo-B1000-f0p25-s0"."""
        parts = [
            self.task,
            self.method,
            f"B{_num(self.budget)}",
            f"f{_num(self.sft_fraction)}",
            f"s{self.seed}",
        ]
        if self.cost_ratio is not None:
            parts.append(f"r{_num(self.cost_ratio)}")
        return "-".join(parts)


def cell_costs(params: Params, cell: Cell) -> tuple[float, float]:
    """(c_sft, c_pref): 1 and 1 for example budgets; money budgets use the params' costs and the cell's ratio."""
    b = params.budget
    if b.unit == "examples":
        if cell.cost_ratio is not None:
            raise ConfigError(
                "params", "budget.unit", b.unit, "a cell with a cost ratio needs budget.unit: money"
            )
        return 1.0, 1.0
    c_pref = b.costs.pref
    return (cell.cost_ratio * c_pref if cell.cost_ratio is not None else b.costs.sft), c_pref


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


def cold_start_path(
    params: Params, pairs: list[dict], dtype: str, device: str, stage_dir: Path | None
) -> Path:
    """Where the cold-start diagnostic of a starting model is cached: in its SFT stage's folder, or
    for the base model (`stage_dir` None) under `<output_dir>/<profile>/<task>/base_diagnostics/`.
    The scored pairs (TRL records) are in the key: label noise changes them but not the SFT stage."""
    key = {"pairs": digest(pairs), "dtype": dtype, "device": device}
    if stage_dir is not None:
        return Path(stage_dir) / f"cold_start-{digest(key)}.json"
    key["base"] = base_model_id(params.model, params.profile)
    folder = Path(params.output_dir) / params.profile / params.task / "base_diagnostics"
    return folder / f"{digest(key)}.json"


def cold_start(
    params: Params, task, pref_pool: list[dict], model, tok, device: str, stage_dir: Path | None
) -> tuple[dict, bool]:
    """(`response_logprobs` of a fixed sample of `pref_pool` under the model PFT starts from, whether
    it was read from the cache). It depends on that model and the pairs only, and is deterministic,
    so the cells sharing a starting model compute it once."""
    rows = logprob_sample(pref_pool)
    path = cold_start_path(params, task.pref_records(rows), str(model.dtype), device, stage_dir)
    if path.is_file():
        return json.loads(path.read_text())["cold_start"], True
    cold = response_logprobs(model, tok, task, rows)
    write_json(path, {"cold_start": cold})
    return cold, False


def run_cell(params: Params, cell: Cell, task=None) -> dict:
    """Train and evaluate one cell, or return its existing record; see the module docstring."""
    path = record_path(params, cell)
    if path.is_file():
        record = json.loads(path.read_text())
        check_fresh(path, record, params)
        return record
    if cell.task != params.task:
        raise ConfigError("params", "task", params.task, f"the cell is for task {cell.task!r}")
    if cell.method not in (*METHODS, SFT_ONLY):
        known = ", ".join((*METHODS, SFT_ONLY))
        raise ConfigError("cell", "method", cell.method, f"unknown method; known: {known}")
    t_start = time.perf_counter()
    if task is None:
        from budgetsplit.tasks import get_task

        task = get_task(params)
    c_sft, c_pref = cell_costs(params, cell)
    n_sft, n_pref = split_budget(cell.budget, cell.sft_fraction, c_sft, c_pref)
    if cell.method == SFT_ONLY and n_pref:
        raise ConfigError(
            "cell", "method", SFT_ONLY, f"the cell buys {n_pref} pairs: name a PFT method"
        )
    params_dict = stored_settings(params)
    costs = {"sft": c_sft, "pref": c_pref}
    key = work_key(params_dict, cell.method, n_sft, n_pref, cell.seed)
    same = find_same_work(params, cell.task, key)
    if same is not None:
        record = {**same, "cell_id": cell.cell_id, "cell": dataclasses.asdict(cell)}
        record.update(params=params_dict, costs=costs, spent=spent(n_sft, n_pref, c_sft, c_pref))
        source = same.get("same_work_as", same["cell_id"])  # "<profile>/<id>" in another profile
        if same["params"]["profile"] != params.profile and "/" not in source:
            source = f"{same['params']['profile']}/{source}"
        record["same_work_as"] = source
        record["wall_s"] = {k: 0.0 for k in same["wall_s"]} | {
            "total": time.perf_counter() - t_start
        }
        record = json.loads(json.dumps(record))
        write_json(path, record)
        return record
    pref_pool = task.pref_pool()
    sft_rows, pref_rows = draw_subsets(
        task.sft_pool(),
        pref_pool,
        n_sft,
        n_pref,
        cell.seed,
        task.name,
        params.budget.disjoint_prompts,
    )
    set_cpu_threads(params.cpu_threads)
    device = resolve_device(params.device)
    wall: dict[str, float] = {}
    sft_meta: dict = {}
    stage_dir = None

    # SFT: trained once per distinct stage; every cell loads it from disk, so a reused stage and a
    # freshly trained one continue from identical weights.
    t = time.perf_counter()
    if n_sft > 0:
        base_id = base_model_id(params.model, params.profile)
        stage_dir, sft_meta = run_sft_stage(params, task, sft_rows, cell.seed, base_id, device)
        model, tok = load_model(params.model, params.profile, device, path=stage_dir)
    else:
        model, tok = load_model(params.model, params.profile, device)
    wall["sft"] = time.perf_counter() - t

    # Cold start: how likely the preference data is under the model PFT starts from.
    t = time.perf_counter()
    cold, cold_cached = cold_start(params, task, pref_pool, model, tok, device, stage_dir)
    wall["diagnostics"] = time.perf_counter() - t

    pft_diag: dict = {}
    pft_throughput: dict = {}
    t = time.perf_counter()
    if n_pref > 0:
        records = task.pref_records(pref_rows)
        outcome = train_pft(
            model,
            tok,
            records,
            cell.method,
            params.pft,
            params.model.lora,
            cell.seed,
            device,
            ref_cache=Path(params.output_dir) / params.profile / cell.task / "ref_logps",
        )
        model = outcome.model
        pft_diag = trainer_diagnostics(outcome.log_history)
        pft_throughput = outcome.throughput
    wall["pft"] = time.perf_counter() - t

    t = time.perf_counter()
    result = evaluate_model(model, tok, task, params.eval, seed=cell.seed)
    wall["eval"] = time.perf_counter() - t
    wall["total"] = time.perf_counter() - t_start

    record = {
        "cell_id": cell.cell_id,
        "cell": dataclasses.asdict(cell),
        "params": params_dict,
        "n_sft": n_sft,
        "n_pref": n_pref,
        "costs": costs,
        "spent": spent(n_sft, n_pref, c_sft, c_pref),
        "metrics": result["metrics"],
        "primary_metric": task.primary_metric,
        "n_eval": result["n_eval"],
        "diagnostics": {
            "cold_start": cold,
            "format_rate": result["format_rate"],
            "mean_length_tokens": result["mean_length_tokens"],
            "eos_rate": result["eos_rate"],
            "sft": trainer_diagnostics(sft_meta.get("log_history", [])),
            "pft": pft_diag,
        },
        "examples": result["examples"],
        "sft_stage": sft_meta.get("key"),
        "sft_reused": bool(sft_meta.get("reused", False)),
        "cold_start_cached": cold_cached,
        "throughput": {"sft": sft_meta.get("throughput", {}), "pft": pft_throughput},
        "wall_s": wall,
        "versions": _versions(),
        "device": _device_name(device),
    }
    record = json.loads(json.dumps(record))  # as a later run will read it back (tuples -> lists)
    write_json(path, record)
    return record
