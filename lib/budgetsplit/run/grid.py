"""Running a recipe's grid, locally or on Ray (the cells: `study.cells.expand`; what a run would do
and how long it takes: `run.estimate.plan`).

    from budgetsplit.config.params import load_params
    from budgetsplit.run.grid import run_grid
    params = load_params("toy", "math")
    table = run_grid(params)       # resumable: finished cells are skipped
    run_grid(params, replace=True) # records of other settings (or damaged) moved aside and redone

or from a shell: `python -m budgetsplit grid --profile toy --task math [--workers 2] [--executor ray]`.
The local executor runs cells one after another (`workers=1`) or in worker processes; `ray` runs
them as Ray tasks on a local instance or a cluster.

Before any training, `plan` and `run_grid` read every existing record of the requested cells
(`records.review_records`): one made with other settings, or damaged, stops the run with an error
naming it and the ways out (a new output_dir, or `replace`). `run_grid` also checks that the output
folder can be written and removes temp files left by killed runs.

Runs into one output folder split the cells: a cell is claimed while it trains (`cell.run_claimed`),
another run skips it and waits for its record once its own cells are done; a killed run's claim
is dropped with its process. Crash safety lives in the cell runner: each finished cell writes its
JSON record atomically (temp file + fsync + rename), SFT checkpoints are renamed into place whole,
so a killed grid leaves nothing that reads as a result, and a rerun recomputes exactly the cells
without a record. The
results table (`results.parquet` and `.csv` of the profile, `budgetsplit.study.results`) is always
rebuilt from the records; `run_grid` returns it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing
import os
import time
from collections import Counter, defaultdict

import pandas as pd

from budgetsplit.config.params import Params, model_params
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.progress import progress as progress_bar
from budgetsplit.core.store import check_writable, remove_stale_temps
from budgetsplit.run.cluster import check_address, connect
from budgetsplit.run.estimate import DEFAULT_COST_S, cell_estimate, fmt_duration, plan
from budgetsplit.run.estimate import rates as estimate_rates
from budgetsplit.run.runner import COPIED, ELSEWHERE, RECORDED, TRAINED, run_claimed
from budgetsplit.study.cells import Cell, expand, sft_stage
from budgetsplit.study.records import review_records
from budgetsplit.study.results import results_table
from budgetsplit.training.models import resolve_device, usable_cores


# ------------------------------------------------------------------------------------ executors
def resolve_workers(params: Params, workers: int | None) -> int:
    """Local worker processes: `workers` if > 0; else one per `cpu_threads` cores on a CPU (a tiny
    model keeps one core busy better than two: the default toy math grid used 677 s of cell time
    in 344 s on two single-thread workers), and one on a GPU."""
    if workers is not None and workers < 0:
        raise ValueError(f"workers must be >= 0 (0: one per CPU core), got {workers}")
    if workers:
        return workers
    if resolve_device(params.device) != "cpu":
        return 1
    return max(1, usable_cores() // (params.cpu_threads or 1))


def _stage_waves(
    params: Params, cells: list[Cell], cost: dict[str, float]
) -> tuple[list[Cell], dict[str, list[Cell]], dict[str, float]]:
    """(cells that can start now, followers by the id of the cell they wait for, priorities).

    The first cell of each SFT stage trains and caches it; the others wait for it, so no stage is
    trained twice when cells run in parallel. Longest first (`cost`, estimated seconds) keeps
    workers busy to the end; a stage's first cell counts its longest follower too, since that one
    cannot start before it ends."""
    groups: dict[tuple | None, list[Cell]] = defaultdict(list)
    for cell in cells:
        groups[sft_stage(params, cell)].append(cell)
    prio = {c.cell_id: cost[c.cell_id] for c in cells}
    ready, waiting = list(groups.pop(None, [])), {}
    for group in groups.values():
        lead, rest = group[0], group[1:]
        ready.append(lead)
        waiting[lead.cell_id] = rest
        prio[lead.cell_id] += max((cost[c.cell_id] for c in rest), default=0.0)
    return sorted(ready, key=lambda c: -prio[c.cell_id]), waiting, prio


def _run_local(
    params: Params, cells: list[Cell], bar, workers: int, cost: dict[str, float], done: Counter
) -> None:
    if workers <= 1 or len(cells) <= 1:
        held = []  # claimed by another live run: waited for once everything else is done
        for cell in cells:
            bar.set_postfix_str(cell.cell_id)
            how = run_claimed(params, cell, wait=False)[1]
            if how == ELSEWHERE:
                held.append(cell)
                continue
            done[how] += 1
            bar.update()
        for cell in held:
            bar.set_postfix_str(f"{cell.cell_id} (another run has it)")
            done[run_claimed(params, cell)[1]] += 1
            bar.update()
        return
    threads = params.cpu_threads or max(1, usable_cores() // workers)
    params = dataclasses.replace(params, cpu_threads=threads)  # not a result setting
    ready, waiting, prio = _stage_waves(params, cells, cost)
    running: dict[cf.Future, Cell] = {}
    held, wait = [], False
    # spawn, not fork: the parent may hold torch thread pools and a Jupyter kernel's sockets.
    # Workers inherit TQDM_DISABLE (tqdm reads it at import): the parent's bar over cells is the
    # one to read, and per-step bars of two workers would interleave. At most `workers` cells are
    # submitted at a time, so on a failure the pool only waits for the cells already running.
    ctx = multiprocessing.get_context("spawn")
    with _environ(TQDM_DISABLE="1"), cf.ProcessPoolExecutor(workers, mp_context=ctx) as pool:
        while ready or running or held:
            if not ready and not running:  # only cells other runs hold are left: wait for them
                ready, held, wait = held, [], True
            while ready and len(running) < workers:
                cell = ready.pop(0)
                running[pool.submit(_outcome, params, cell, wait)] = cell
            bar.set_postfix_str(", ".join(c.cell_id for c in running.values()))
            finished, _ = cf.wait(running, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                cell = running.pop(fut)
                how = fut.result()  # re-raises a cell's failure here; finished records stay
                if how == ELSEWHERE:
                    held.append(cell)
                else:
                    done[how] += 1
                    bar.update()
                ready.extend(waiting.pop(cell.cell_id, []))
            ready.sort(key=lambda c: -prio[c.cell_id])


def _outcome(params: Params, cell: Cell, wait: bool) -> str:
    """What `run_claimed` did with the cell (in a worker process or a Ray task)."""
    return run_claimed(params, cell, wait=wait)[1]


@contextlib.contextmanager
def _environ(**values: str):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _run_ray(
    params: Params, cells: list[Cell], bar, address: str | None, cost: dict[str, float], done
) -> None:
    """Cells as Ray tasks with their CPU and GPU needs; cells sharing an SFT stage wait for the one
    that trains it (`_stage_waves`); cells another run holds are waited for last."""
    import ray
    import torch

    started_here = not ray.is_initialized()
    if started_here:
        connect(address, include_dashboard=False, log_to_driver=False)  # fails fast if dead
    cpus = params.cpu_threads or 1
    # A cell uses the CPUs Ray reserves for it, no more: unset, torch would take every core of the
    # node for each of the cells Ray runs there at once.
    params = dataclasses.replace(params, cpu_threads=cpus)  # not a result setting
    wants_gpu = params.device == "cuda" or (params.device == "auto" and torch.cuda.is_available())
    gpus = 1 if wants_gpu else 0
    remote = ray.remote(num_cpus=cpus, num_gpus=gpus, max_retries=0)(_outcome)

    ready, waiting, _ = _stage_waves(params, cells, cost)
    pending = {remote.remote(params, c, False): c for c in ready}
    held: list[Cell] = []
    try:
        while pending:
            finished, _ = ray.wait(list(pending), num_returns=1)
            cell = pending.pop(finished[0])
            how = ray.get(finished[0])  # re-raises a cell's failure here
            follow = waiting.pop(cell.cell_id, [])
            if how == ELSEWHERE:  # another run has it: ask again, waiting, when the rest is done
                held.append(cell)
            else:
                done[how] += 1
                bar.set_postfix_str(cell.cell_id)
                bar.update()
            for c in follow:
                pending[remote.remote(params, c, False)] = c
            if not pending:
                pending = {remote.remote(params, c, True): c for c in held}
                held = []
    finally:
        if started_here:
            ray.shutdown()


def _summary(done: Counter) -> str:
    """ "trained 4 cells, copied 1, 2 recorded by another run": what this run did with its cells."""
    parts = [f"trained {done[TRAINED]} cells"]
    if done[COPIED]:
        parts.append(f"copied {done[COPIED]} from recorded work")
    if done[RECORDED]:
        parts.append(f"{done[RECORDED]} recorded by another run")
    return ", ".join(parts)


def _where(params: Params) -> str:
    """ "toy/math", or "paper/math on qwen1_5b" for a model of the model axis: a log line's run."""
    on = f" on {params.model_label}" if params.model_label is not None else ""
    return f"{params.profile}/{params.task}{on}"


def run_grid(
    params: Params,
    executor: str = "local",
    address: str | None = None,
    progress: bool = True,
    cells: list[Cell] | None = None,
    workers: int | None = 1,
    replace: bool = False,
) -> pd.DataFrame:
    """Run every cell without a record, then rebuild and return the results table.

    `workers` (local executor): cells run in that many processes at once; 0 or None picks one per
    CPU core on a CPU, one on a GPU (`resolve_workers`). Existing records of the cells made with
    other settings (or damaged) stop the run before any training; with `replace` they are moved
    aside and their cells rerun. A recipe with several models (`Params.models`) runs each
    model's cells in turn."""
    if executor not in ("local", "ray"):
        raise ValueError(f"executor must be 'local' or 'ray', got {executor!r}")
    if executor == "ray":
        check_address(address)  # a dead address fails in seconds, before anything is written
    cells = expand(params) if cells is None else cells
    if len(several := model_params(params)) > 1:  # the model axis: one model after another
        for mp in several:
            if mine := [c for c in cells if c.model == mp.model_label]:
                kw = dict(progress=progress, workers=workers, replace=replace)
                run_grid(mp, executor, address, cells=mine, **kw)
        return results_table(params.output_dir, params.profile)
    layout = RunLayout.of(params)
    check_writable(layout.cells_dir(params.task))
    for folder in layout.temp_dirs(params.task):
        remove_stale_temps(folder)
    review_records(params, cells, replace=replace)
    p = plan(params, cells)
    print(f"[{_where(params)}] {p}", flush=True)
    done = {c.cell_id for c in p.done}
    todo = [c for c in p.cells if c.cell_id not in done]
    # Longest cells first (estimated from finished records, else the toy defaults): one after
    # another it changes nothing, in parallel it leaves no long cell for the end.
    rates = estimate_rates(params) or DEFAULT_COST_S
    cost = {c.cell_id: 0.0 if c in p.copies else cell_estimate(params, c, rates) for c in todo}
    todo.sort(key=lambda c: (-cost[c.cell_id], c.cell_id))
    start, done = time.time(), Counter()
    with progress_bar(
        total=len(todo), desc=f"{params.task} cells", unit="cell", disable=not progress
    ) as bar:
        if executor == "local":
            _run_local(params, todo, bar, resolve_workers(params, workers), cost, done)
        else:
            _run_ray(params, todo, bar, address, cost, done)
    if todo:
        print(f"[{_where(params)}] {_summary(done)} in {fmt_duration(time.time() - start)}")
    return results_table(layout.output_dir, params.profile)
