"""Calibration: one protocol, written here, that picks every stage's training settings on the
validation split before any grid runs, the same for every stage, method, task and profile.

    budgetsplit calibrate --profile toy --task math [--method dpo] [--dry-run] [--params DIR]

or from Python (`notebooks/calibrate.ipynb` does this):

    from budgetsplit.run import calibrate
    print(calibrate.plan("toy", "math"))          # points, SFT stages, time; runs nothing
    result = calibrate.calibrate("toy", "math")   # resumable: finished points are read back

The protocol (`sweep_steps`), fixed before any result is seen:

1. SFT: `sft.learning_rate` over `GRIDS` x the profile's prior, SFT-only cells.
2. For each PFT method the task's recipes run, and each starting regime (`config.params.REGIMES`:
   from the base model, n_sft = 0; after an SFT stage of `AFTER_SFT_FRACTION` of the budget,
   trained at the lr of step 1): `pft.learning_rate` over two decades up to the chosen SFT lr, then
   the settings the method's row in `budgetsplit.core.methods` sweeps (`swept`: `pft.beta` for dpo,
   ipo and kto, `pft.sft_weight` for dpo_sft, `pft.kl_beta` then `pft.num_generations` for grpo)
   around the prior, at the lr chosen.

Each step sweeps one setting by successive halving over the reference budgets (`rungs`): every value
at the middle budget of the profile, the best 1/`ETA` of them again at the largest, which decides.
Values are ranked by the primary validation metric rounded to `DECIMALS`; ties go to the prior
value when it is among them, else to the smaller value (the smaller step, the weaker loss term).

Every point is a real cell (`budgetsplit.run.runner.run_cell`) on `eval.split: val` with its own
output folder under `<output_dir>/calibration/<profile>/<task>/points/`
(`RunLayout.calibration_dir`), named by a digest of its settings, so a changed setting never reads
another's record; SFT stages, reference log-probs and cold-start diagnostics are shared through
links to one folder, as in a grid. A killed run resumes from the records. The choices go to
`params/<profile>/calibration/<task>.yaml`, which `load_params` layers between the profile's
defaults and the recipe, with the sweep as `<task>.csv` beside it (its figure:
`budgetsplit.report.calibration.plot`). The calibration itself always starts from the priors
(`load_params(..., calibrated=False)`).
`--method` (the `methods` argument) sweeps some of the task's PFT methods only, in the protocol's
order, for a sweep too long to run whole. It reruns the SFT step first; the file written keeps the
earlier file's choices for the other methods when that step ran the same points on the same base
model and chose the same learning rate as before (`run.calibration_scope.carry_over`; its header
says how the scores compare), and stops with an error otherwise; a method tuned by neither run
trains at its priors until a run of every method (whose finished points are read back).
Points run one at a time; on a 2-core CPU two tasks at once, each with `--set cpu_threads=1`, use
the cores better (as the grid's workers do); they share no files.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml
from tqdm.auto import tqdm

from budgetsplit.config.params import REGIMES, Params, load_params
from budgetsplit.config.profiles import calibration_path
from budgetsplit.core.layout import RunLayout
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.core.store import atomic_file, digest
from budgetsplit.run.calibration_scope import Earlier, carry_over, swept_methods, task_methods
from budgetsplit.run.estimate import DEFAULT_COST_S, cell_estimate, fmt_duration
from budgetsplit.run.runner import run_cell
from budgetsplit.study.cells import SFT_ONLY, Cell, cell_sizes
from budgetsplit.study.records import result_settings, stored_settings
from budgetsplit.tasks import get_task, is_toy

# Factors of the anchor (`ANCHORS`) each setting is swept over. The PFT lr grid spans two decades
# ending at the calibrated SFT lr: from the base model PFT may need SFT's lr, after SFT far less.
GRIDS = {
    "sft.learning_rate": (10**-1, 10**-0.5, 1.0, 10**0.5),
    "pft.learning_rate": (10**-2, 10**-1.5, 10**-1, 10**-0.5, 1.0),
    "pft.beta": (1 / 3, 1.0, 3.0),
    "pft.sft_weight": (1 / 3, 1.0, 3.0),
    "pft.kl_beta": (1 / 3, 1.0, 3.0),
    "pft.num_generations": (0.5, 1.0, 2.0),  # a whole number: 2, 4, 8 around the prior 4
}
ANCHORS = {
    "sft.learning_rate": "sft.learning_rate",
    "pft.learning_rate": "sft.learning_rate",
    "pft.beta": "pft.beta",
    "pft.sft_weight": "pft.sft_weight",
    "pft.kl_beta": "pft.kl_beta",
    "pft.num_generations": "pft.num_generations",
}
AFTER_SFT_FRACTION = 0.1  # "after a small SFT stage": this share of the budget buys demonstrations
ETA = 2  # successive halving keeps the best ceil(n / ETA) values of a rung
DECIMALS = 3  # scores equal after rounding are tied


@dataclass(frozen=True)
class SweepStep:
    """One setting the protocol sweeps, for one stage (and PFT regime)."""

    stage: str  # "sft" or a PFT method
    regime: str | None  # a config.params.REGIMES entry for PFT steps
    key: str  # the dotted params key swept

    @property
    def name(self) -> str:
        return "/".join(x for x in (self.stage, self.regime, self.key.split(".")[1]) if x)


def sweep_steps(methods: tuple[str, ...]) -> list[SweepStep]:
    """The protocol's steps in order: the SFT lr, then per method and regime the PFT lr and the
    settings the method's row sweeps (`budgetsplit.core.methods`)."""
    out = [SweepStep(SFT_ONLY, None, "sft.learning_rate")]
    for m in methods:
        for regime in REGIMES:
            for key in ("pft.learning_rate", *METHOD_TABLE[m].swept):
                out.append(SweepStep(m, regime, key))
    return out


def rungs(params: Params) -> tuple[float, ...]:
    """The reference budgets: (middle, largest) of the profile's budgets, or the only one."""
    b = sorted(set(params.budget.budgets))
    return (b[(len(b) - 1) // 2], b[-1]) if len(b) > 1 else (b[0],)


def point_cell(params: Params, step: SweepStep, budget: float) -> Cell:
    if step.stage == SFT_ONLY:
        return Cell(params.task, SFT_ONLY, budget, 1.0, params.seeds[0])
    frac = 0.0 if step.regime == REGIMES[0] else AFTER_SFT_FRACTION
    return Cell(params.task, step.stage, budget, frac, params.seeds[0])


def _get(params: Params, dotted: str) -> float:
    section, key = dotted.split(".")
    return getattr(getattr(params, section), key)


def rank_key(score: float | None, value: float, prior: float) -> tuple:
    """Sort key of the protocol's ranking: best rounded score first; ties to the prior, then the smaller."""
    s = -math.inf if score is None or math.isnan(score) else round(score, DECIMALS)
    return (-s, not math.isclose(value, prior), value)


# --------------------------------------------------------------------------------------- planning
@dataclass
class SweepPlan:
    """What `calibrate` would run for one task, counted by `plan`: its steps, rungs and points."""

    profile: str
    task: str
    steps: list[SweepStep]
    rungs: tuple[float, ...]
    points: int  # points of the protocol
    repeats: int  # of them, points sure to repeat an earlier one's settings (read back, not run)
    sft_stages: int
    estimate_s: float | None  # None: no basis (not the toy world)

    def __str__(self) -> str:
        lines = [
            f"calibration of {self.profile}/{self.task} on the validation split: "
            f"{len(self.steps)} steps, {self.points} points ({self.repeats} read back from "
            f"an earlier step), {self.sft_stages} SFT stages, "
            + (
                "no time estimate (not the toy world)"
                if self.estimate_s is None
                else f"estimated {fmt_duration(self.estimate_s)} one point at a time"
            )
        ]
        budgets = " -> ".join(f"{b:g}" for b in self.rungs)
        lines.append(f"  rungs (budgets): {budgets}; keep the best 1/{ETA} per rung")
        for s in self.steps:
            g = GRIDS[s.key]
            grid = ", ".join(f"{f:.3g}" for f in g)
            lines.append(f"  {s.name}: {len(g)} values = {ANCHORS[s.key]} x [{grid}]")
        return "\n".join(lines)


# Calibration tunes a recipe's own `model`; the models of a model axis (`models:`) train with the
# settings it chose (per-model calibration is not part of the protocol).
ONE_MODEL = {"models": {}}


def _points_per_step(n: int, n_rungs: int) -> list[int]:
    sizes = [n]
    for _ in range(n_rungs - 1):
        sizes.append(math.ceil(sizes[-1] / ETA))
    return sizes


def plan(profile: str, task: str, overrides: dict | None = None, methods=None) -> SweepPlan:
    """The sweep `calibrate` runs, counted before any point (offline, no training); `methods`:
    sweep only these of the task's PFT methods (module docstring)."""
    overrides = {**(overrides or {}), **ONE_MODEL}
    params = load_params(profile, task, overrides=overrides, calibrated=False)
    todo = sweep_steps(swept_methods(profile, task, params, methods))
    budgets = rungs(params)
    rates = DEFAULT_COST_S if is_toy(params.profile) else None
    points = sft_points = repeats = 0
    est = 0.0
    shared: set[Cell] = set()  # the after-SFT stages, one per budget, shared by every PFT step
    for step in todo:
        for rung, (budget, n) in enumerate(
            zip(budgets, _points_per_step(len(GRIDS[step.key]), len(budgets)), strict=True)
        ):
            cell = point_cell(params, step, budget)
            points += n
            # beta and the SFT-term weight at their prior (factor 1) repeat the lr step's best point
            if rung == 0 and ANCHORS[step.key] == step.key and step.stage != SFT_ONLY:
                n, repeats = n - 1, repeats + 1
            sft_points += n if step.stage == SFT_ONLY else 0
            if rates:
                est += n * cell_estimate(params, cell, rates, with_sft=step.stage == SFT_ONLY)
            if step.stage != SFT_ONLY and cell.sft_fraction > 0:
                shared.add(Cell(params.task, SFT_ONLY, budget, cell.sft_fraction, cell.seed))
    for c in shared if rates else ():
        est += cell_sizes(params, c)[0] * params.sft.epochs * rates["sft"]
    n_stages = sft_points + len(shared)
    estimate = est if rates else None
    return SweepPlan(profile, task, todo, budgets, points, repeats, n_stages, estimate)


# ---------------------------------------------------------------------------------------- running
@dataclass
class Result:
    choices: dict  # the calibration layer: {"sft": {...}, "pft": {"tuned": {...}}}
    sweep: pd.DataFrame  # one row per point
    yaml_path: Path
    csv_path: Path


def _link_shared(folder: Path, shared: Path) -> None:
    """Point a point folder's stage caches at the shared ones: every cache is keyed by what it
    depends on, so points with other PFT settings reuse SFT stages and reference log-probs."""
    for name in ("sft", "ref_logps", "base_diagnostics"):
        link = folder / name
        if not link.is_symlink():
            (shared / name).mkdir(parents=True, exist_ok=True)
            link.parent.mkdir(parents=True, exist_ok=True)
            # relative, so that the calibration folder can be moved or copied whole
            link.symlink_to(os.path.relpath(shared / name, link.parent), target_is_directory=True)


def _run_point(profile, task, over, cell, root: Path, task_obj) -> tuple[dict, Path]:
    probe = load_params(profile, task, overrides=over, calibrated=False)
    folder = root / "points" / digest(result_settings(stored_settings(probe)))
    params = load_params(
        profile, task, overrides={**over, "output_dir": str(folder)}, calibrated=False
    )
    _link_shared(folder / profile / task, root / "shared")
    return run_cell(params, cell, task=task_obj), folder


def calibrate(
    profile: str,
    task: str,
    overrides: dict | None = None,
    progress: bool = True,
    methods=None,
) -> Result:
    """Run the protocol (module docstring) for one task, or for some of its PFT methods
    (`methods`); write and return its choices and sweep."""
    overrides = {**(overrides or {}), "eval.split": "val", **ONE_MODEL}
    prior = load_params(profile, task, overrides=overrides, calibrated=False)
    the_plan = plan(profile, task, overrides, methods)
    print(the_plan, flush=True)
    root = RunLayout(prior.output_dir, profile).calibration_dir(task)
    task_obj = get_task(prior)
    rows: list[dict] = []
    settings: dict[tuple, dict] = {}  # (stage, regime) -> dotted keys chosen so far
    swept = tuple(s.stage for s in the_plan.steps if s.stage != SFT_ONLY)
    earlier = Earlier()
    t0 = time.time()
    bar = tqdm(total=the_plan.points, desc=f"calibrate {task}", unit="point", disable=not progress)
    for step in the_plan.steps:
        common = settings.get((SFT_ONLY, None), {})
        own = settings.setdefault((step.stage, step.regime), dict(common))
        anchor = own.get(ANCHORS[step.key], _get(prior, ANCHORS[step.key]))
        prior_value = _get(prior, step.key)
        alive = grid(step.key, anchor, prior_value)
        for rung, budget in enumerate(the_plan.rungs):
            scores = {}
            for value in alive:
                bar.set_postfix_str(f"{step.name}={value:g} B={budget:g}")
                cell = point_cell(prior, step, budget)
                over = {**overrides, **own, step.key: value}
                rec, folder = _run_point(profile, task, over, cell, root, task_obj)
                scores[value] = rec["metrics"].get(rec["primary_metric"])
                rows.append(_row(step, value, rung, budget, rec, folder))
                bar.update()
            alive = sorted(alive, key=lambda v: rank_key(scores[v], v, prior_value))
            if rung < len(the_plan.rungs) - 1:
                alive = alive[: math.ceil(len(alive) / ETA)]
        own[step.key] = alive[0]
        for r in rows:
            if r["step"] == step.name and r["rung"] == len(the_plan.rungs) - 1:
                r["chosen"] = r["value"] == alive[0]
        if step.stage == SFT_ONLY and methods:  # the step the earlier file's choices rest on
            earlier = carry_over(profile, task, swept, [r for r in rows if r["stage"] == SFT_ONLY])
    bar.close()
    print(f"calibrated {profile}/{task} in {fmt_duration(time.time() - t0)}", flush=True)
    settings.update(earlier.settings)
    order = {m: i for i, m in enumerate((SFT_ONLY, *task_methods(profile, task)))}
    sweep = pd.DataFrame(rows + earlier.rows)
    sweep = sweep.sort_values("stage", key=lambda c: c.map(order), kind="stable")
    unswept = [m for m in order if m != SFT_ONLY and (m, REGIMES[0]) not in settings]
    return _write(profile, task, settings, sweep.reset_index(drop=True), unswept, earlier)


def grid(key: str, anchor: float, prior_value) -> list:
    """The values the protocol sweeps `key` over: `GRIDS[key]` x `anchor`, as the setting takes
    them."""
    return [_grid_value(anchor * f, prior_value) for f in GRIDS[key]]


def _grid_value(x: float, prior_value):
    """A grid point as the setting takes it: a whole number of at least 2 for a whole-number
    setting (the samples per prompt: one sample has no group to be compared with), else 3
    significant digits."""
    return max(2, round(x)) if isinstance(prior_value, int) else float(f"{x:.3g}")


def _recorded(rec: dict, dotted: str):
    section, key = dotted.split(".")
    return rec["params"][section][key]


def _row(step: SweepStep, value, rung, budget, rec: dict, folder: Path) -> dict:
    return {
        "task": rec["cell"]["task"],
        "step": step.name,
        "stage": step.stage,
        "regime": step.regime,
        "setting": step.key,
        "value": value,
        "rung": rung,
        "budget": budget,
        "n_sft": rec["n_sft"],
        "n_pref": rec["n_pref"],
        "metric": rec["primary_metric"],
        "score": rec["metrics"].get(rec["primary_metric"]),
        "format_rate": rec["diagnostics"]["format_rate"],
        **{k: _recorded(rec, k) for k in GRIDS},
        "chosen": False,
        "wall_s": rec["wall_s"]["total"],
        "point": folder.name,
        "base_model": rec["base_model"],
    }


def _write(
    profile: str,
    task: str,
    settings: dict[tuple, dict],
    sweep: pd.DataFrame,
    unswept=(),
    earlier: Earlier | None = None,
) -> Result:
    choices: dict = {"sft": {"learning_rate": settings[(SFT_ONLY, None)]["sft.learning_rate"]}}
    tuned: dict = {}
    for (stage, regime), chosen in settings.items():
        if stage != SFT_ONLY:
            pft = {k.split(".")[1]: v for k, v in chosen.items() if k.startswith("pft.")}
            tuned.setdefault(stage, {})[regime] = pft
    if tuned:
        choices["pft"] = {"tuned": tuned}
    yaml_path = calibration_path(profile, task)
    csv_path = yaml_path.with_suffix(".csv")
    yaml_path.parent.mkdir(parents=True, exist_ok=True)
    sweep.to_csv(csv_path, index=False)
    header = (
        f"# Written by `budgetsplit calibrate --profile {profile} --task {task}` on the "
        "validation split\n# (protocol: budgetsplit/run/calibrate.py; every point: "
        f"{csv_path.name}). Do not edit by hand.\n"
    )
    if earlier and earlier.methods:
        header += (
            f"# Kept from the file before (--method): {', '.join(earlier.methods)}, chosen after "
            f"an SFT step of the same points and choice ({earlier.note}).\n"
        )
    if unswept:
        header += (
            f"# Not swept (--method): {', '.join(unswept)}, which train at the priors until a "
            "run of every method.\n"
        )
    with atomic_file(yaml_path) as tmp:
        tmp.write_text(header + yaml.safe_dump(choices, sort_keys=True))
    load_params(profile, task)  # the recipes must read it: fail here, not in the next grid
    return Result(choices, sweep, yaml_path, csv_path)
