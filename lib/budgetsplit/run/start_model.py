"""What the model PFT starts from scores, measured once per starting model (the SFT stage, or the
base model when a cell buys no demonstrations) and cached beside it: the cold-start diagnostic
(log-probs of a fixed sample of pairs) and the start score (the primary metric on the cell's eval
rows, from which a cell's PFT gain is taken). Deterministic, so the cells that share a starting
model read back what the first computed; a damaged cache file is moved aside and recomputed.

    from budgetsplit.run.start_model import cold_start, start_score
    diag, was_cached = cold_start(params, task, pref_pool, model, tok, "cpu", stage_dir)
"""

from __future__ import annotations

from pathlib import Path

from budgetsplit.config.params import Params, to_dict
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.store import (
    DamagedFileError,
    digest,
    ids_digest,
    move_aside,
    read_json,
    write_json,
)
from budgetsplit.tasks.interface import eval_rows
from budgetsplit.training.evaluate import evaluate_model, logprob_sample, response_logprobs
from budgetsplit.training.models import base_model_id


def cold_start_path(
    params: Params, pairs: list[dict], dtype: str, device: str, stage_dir: Path | None
) -> Path:
    """Where the cold-start diagnostic of a starting model is cached: in its SFT stage's folder, or
    for the base model (`stage_dir` None) in the task's `base_diagnostics` folder.
    The scored pairs (TRL records) are in the key: label noise changes them but not the SFT stage."""
    key = {"pairs": digest(pairs), "dtype": dtype, "device": device}
    if stage_dir is None:
        key["base"] = base_model_id(params.model, params.profile)
    return RunLayout.of(params).start_cache(params.task, stage_dir, "cold_start", digest(key))


def _cached(path: Path, what: str, field: str, compute):
    """`compute()`, kept in the JSON file `path` under `field`; a damaged file is moved aside and
    recomputed. Returns (value, whether it was read from the cache)."""
    if path.is_file():
        try:
            cached = read_json(path, what)
            if field in cached:
                return cached[field], True
            raise DamagedFileError(path, f"this {what} has no {field!r}")
        except DamagedFileError as e:
            print(f"{e}; moved aside to {move_aside(path).name}, recomputing", flush=True)
    value = compute()
    write_json(path, {field: value})
    return value, False


def cold_start(
    params: Params, task, pref_pool: list[dict], model, tok, device: str, stage_dir: Path | None
) -> tuple[dict, bool]:
    """(`response_logprobs` of a fixed sample of `pref_pool` under the model PFT starts from, whether
    it was read from the cache). It depends on that model and the pairs only, and is deterministic,
    so the cells sharing a starting model compute it once."""
    rows = logprob_sample(pref_pool, params.cold_start_pairs)
    path = cold_start_path(params, task.pref_records(rows), str(model.dtype), device, stage_dir)
    return _cached(
        path, "cold-start cache", "cold_start", lambda: response_logprobs(model, tok, task, rows)
    )


def start_score(params: Params, task, model, tok, device: str, stage_dir: Path | None, seed: int):
    """The primary metric of the model PFT starts from (the SFT stage, or the base model) on the
    cell's eval rows: the cell's PFT gain is its own metric minus this. Cached per starting model
    and eval settings (and seed when decoding samples)."""
    key = {
        "eval": to_dict(params.eval),
        "rows": ids_digest(eval_rows(task, params.eval)),
        "metric": task.primary_metric,
        "dtype": str(model.dtype),
        "device": device,
        "seed": seed if params.eval.temperature > 0 else None,
    }
    if stage_dir is None:
        key["base"] = base_model_id(params.model, params.profile)
    path = RunLayout.of(params).start_cache(params.task, stage_dir, "start_score", digest(key))

    def score():
        return evaluate_model(model, tok, task, params.eval, seed)["metrics"]

    metrics, _ = _cached(path, "start-model score cache", "metrics", score)
    return metrics[task.primary_metric]
