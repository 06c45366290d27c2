"""The toy base model checked on a profile's grid: its skill probes and response format on the
grid's eval rows, and SFT only at 100, 1,000 and 3,000 demonstrations over the grid's seeds against
each task's floor (docs/toyworld.md, "Choosing the base model").

    python -m budgetsplit.run.base_check --profile toy_large   # the committed tables, test rows

The base-model sweep (base_sweep.py) chooses a recipe on validation with one seed; this checks the
model a grid ran on with the grid's own numbers: its cells' seeds and the rows it scored (test for
the study profiles). The thresholds are the sweep's where it has them; the rest are written here,
before any grid on a chosen base model ran:

- every task's skill probe at least MIN_PROBE, and the base model with the chat template in the
  task's response format on at most BASE_FORMAT of the rows, scoring no higher than the cheap
  outputs (the sweep's rule as changed on 2026-12-02: instruct's format check accepts the short
  prose a base model writes; docs/toyworld.md says why);
- SFT only at 1,000 (mean over seeds) at least MIN_GAIN x the floor (the higher of the base model
  and the cheapest non-learning output) and inside SFT_RANGE of the metric's maximum (1 for every
  toy task), with a seed standard deviation (ddof 1) of at most MAX_SD;
- SFT only at 3,000 below CAP_3000;
- at 100, at least AT_100 tasks at MIN_GAIN x their floor or more.
"""

from __future__ import annotations

import argparse
import os

import pandas as pd

from budgetsplit.config.params import for_model, load_params, toy_size
from budgetsplit.config.world import load_world, sized_world
from budgetsplit.core.layout import committed_results_dir
from budgetsplit.run.base_sweep import BASE_FORMAT, MIN_GAIN, MIN_PROBE, SFT_RANGE, task_checks
from budgetsplit.study.cells import BASE, FLOOR, SFT_ONLY
from budgetsplit.study.results import committed_tables, model_rows, models_in

N_SFT, N_LOW, N_HIGH = 1000, 100, 3000
CAP_3000 = 0.95
AT_100 = 2
MAX_SD = 0.03


def sft_only(results: pd.DataFrame) -> pd.DataFrame:
    """Per task and number of demonstrations (`n_sft`), SFT only's primary metric over seeds:
    mean, sd (ddof 1), seeds. A money budget at several cost ratios buys the same n_sft more than
    once; those cells train the same stage, so each (task, n_sft, seed) counts once."""
    cells = results[(results["method"] == SFT_ONLY) & (results["sft_fraction"] == 1.0)]
    cells = cells.drop_duplicates(["task", "n_sft", "seed"])
    score = cells.apply(lambda r: r[f"metric.{r['primary_metric']}"], axis=1)
    out = cells.assign(score=score).groupby(["task", "n_sft"])["score"]
    return out.agg(mean="mean", sd="std", seeds="count").reset_index()


def conditions(
    results: pd.DataFrame, floors: dict[str, float], probes: dict[str, float]
) -> pd.DataFrame:
    """One row per task and condition (condition, task, value, threshold, met) for the cells of
    one model in `results` (a results table), the tasks' cheap-output `floors` and skill
    `probes`; a task lacking a budget's cells fails that condition with value NaN."""
    sft = sft_only(results).set_index(["task", "n_sft"])
    base = results[results["method"] == BASE].set_index("task")
    rows = []

    def add(condition: str, task: str, value: float, threshold: str, met: bool) -> None:
        rows.append(dict(condition=condition, task=task, value=value, threshold=threshold, met=met))

    def at(task: str, n_sft: int, col: str) -> float:
        key = (task, n_sft)
        return float(sft.loc[key, col]) if key in sft.index else float("nan")

    at_100 = []
    for t in sorted(set(results["task"]) - {None}):
        metric = f"metric.{base.loc[t, 'primary_metric']}" if t in base.index else None
        base_score = float(base.loc[t, metric]) if metric else float("nan")
        cheap = floors.get(t, float("nan"))
        floor = max(base_score, cheap)
        in_format = float(base.loc[t, "metric.format_share"]) if t in base.index else float("nan")
        probe = probes.get(t, float("nan"))
        mean, sd = at(t, N_SFT, "mean"), at(t, N_SFT, "sd")
        # NaN compares False: a task lacking a number fails the condition that reads it
        met = task_checks(probe, base_score, cheap, mean, in_format)
        add("probe", t, probe, f">= {MIN_PROBE}", met["probe"])
        add("base in format", t, in_format, f"<= {BASE_FORMAT}", met["format"])
        add("base under cheap outputs", t, base_score, f"<= {cheap:.3f}", met["under_cheap"])
        gain = f">= {MIN_GAIN:g} x floor {floor:.3f}"
        add(f"SFT only at {N_SFT:,}: gain", t, mean, gain, met["gain"])
        lo, hi = SFT_RANGE
        add(f"SFT only at {N_SFT:,}: range", t, mean, f"in [{lo}, {hi}]", met["range"])
        add(f"SFT only at {N_SFT:,}: seed sd", t, sd, f"<= {MAX_SD}", sd <= MAX_SD)
        high = at(t, N_HIGH, "mean")
        add(f"SFT only at {N_HIGH:,}: cap", t, high, f"< {CAP_3000}", high < CAP_3000)
        low = at(t, N_LOW, "mean")
        at_100.append(task_checks(probe, base_score, cheap, low, in_format)["gain"])
        add(f"SFT only at {N_LOW}", t, low, gain, bool(at_100[-1]))
    count = sum(at_100)
    add(f"tasks over the floor at {N_LOW}", "all", count, f">= {AT_100}", count >= AT_100)
    return pd.DataFrame(rows)


def _probes(profile: str, model: str | None, tasks: list[str], split: str, n: int) -> dict:
    # torch, the trainers' tokenizer and every task: only when a check runs
    from budgetsplit.tasks.toyworld.pretrain import get_base_model
    from budgetsplit.training.probes import probe_scores

    name = for_model(load_params(profile, tasks[0]), model).model.name
    toy, size = toy_size(name)
    if not toy:
        raise SystemExit(f"profile {profile!r}: model {name!r} is no toy base model: no probes")
    world = sized_world(load_world(profile), size)
    scores = probe_scores(world, get_base_model(world), split=split, n=n, tasks=tuple(tasks))
    return {t: s["score"] for t, s in scores.items()}


def check(profile: str, n_probes: int) -> pd.DataFrame:
    """The conditions of every model of `profile`'s committed tables (a `model` column)."""
    results, scores = committed_tables(profile)
    floor_rows = scores[scores["method"] == FLOOR]
    floors = floor_rows.groupby("task")["score"].mean().to_dict()
    splits = sorted(set(floor_rows["split"]))
    if len(splits) != 1:  # the probes are scored on the rows the cells were
        raise SystemExit(f"{committed_results_dir(profile)}: floors on splits {splits}")
    parts = []
    for model in models_in(results):
        cells = model_rows(results, model)
        tasks = sorted(set(cells["task"]) - {None})
        probes = _probes(profile, model, tasks, splits[0], n_probes)
        parts.append(conditions(cells, floors, probes).assign(model=model))
    return pd.concat(parts, ignore_index=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="toy_large")
    ap.add_argument("--probes", type=int, default=500, help="probe prompts per task")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    table = check(args.profile, args.probes)
    path = committed_results_dir(args.profile) / "base_check.csv"
    table.to_csv(path, index=False)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(table.to_string(index=False))
    failed = table[~table["met"]]
    print(f"{len(table) - len(failed)} of {len(table)} conditions met; written to {path}")
    return 0 if failed.empty else 1


if __name__ == "__main__":
    raise SystemExit(main())
