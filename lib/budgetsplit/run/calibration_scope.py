"""Which PFT methods a task's calibration sweeps, and what a sweep of some of them keeps of the file
written before it (`budgetsplit calibrate --method M`).

    from budgetsplit.run.calibration_scope import task_methods
    task_methods("toy", "math")     # ('dpo', 'dpo_sft', 'grpo'): every recipe that reads toy's file

A sweep of some methods (`swept_methods`) first reruns the SFT step, whose choice every method's
steps rest on (the anchor of their lr grids, the SFT stage before them). `carry_over` then keeps
the earlier file's choices and rows for the methods not swept now when that step ran the same
points (settings digests) on the same base model (where the earlier rows record it) and chose
the same learning rate: the other methods' steps would then run as they ran. Their scores may
differ in the last digits on another machine (CPU kernels; docs/results.md measures how much), and
the file's header says by how much. Otherwise the sweep stops with an error asking for a run of
every method, rather than mix choices made after different SFT steps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from budgetsplit.config.params import ConfigError, Params, load_params
from budgetsplit.config.profiles import (
    calibration_path,
    profile_chain,
    profile_dir,
    profiles,
    recipe_paths,
)
from budgetsplit.core.methods import TABLE as METHOD_TABLE
from budgetsplit.study.cells import SFT_ONLY


def task_methods(profile: str, task: str) -> tuple[str, ...]:
    """The PFT methods any recipe of `task` runs (math.yaml, math_costs.yaml), in the profile's folder
    and in every profile that reads this calibration through `inherit:` (toy_large reads toy's: its
    plain dpo on math is tuned here, though the default profile's math runs dpo_sft only)."""
    found: set[str] = set()
    for folder in _readers(profile, task):
        for path in recipe_paths(folder):
            p = load_params(path, calibrated=False)
            found |= set(p.methods) if p.task == task else set()
    return tuple(m for m in METHOD_TABLE if m in found)


def _readers(profile: str, task: str) -> list[Path]:
    """The profile folders whose recipes of `task` read `profile`'s calibration: its own, and those
    inheriting from it with no calibration of `task` nearer in their chain."""
    home = profile_dir(profile).resolve()
    out = []
    for folder in dict.fromkeys(profile_dir(p) for p in profiles()):
        chain = [f.resolve() for f in profile_chain(folder)]
        if home in chain and not any(
            calibration_path(f, task).is_file() for f in chain[: chain.index(home)]
        ):
            out.append(folder)
    return out


def swept_methods(profile: str, task: str, params: Params, methods=None) -> tuple[str, ...]:
    """The PFT methods a calibration of `task` sweeps: all the task's (`task_methods`), or those
    of them named in `methods`; a name the task does not run is an error naming it."""
    every = task_methods(profile, task) or params.methods
    if not methods:
        return every
    for m in methods:
        if m not in every:
            raise ConfigError(
                f"budgetsplit calibrate --profile {profile} --task {task}",
                "method",
                m,
                f"not among the PFT methods the task's recipes run ({', '.join(every)})",
            )
    return tuple(m for m in every if m in methods)


@dataclass
class Earlier:
    """What a sweep of some methods keeps of the file before it: the choices of the methods it does
    not sweep, as `calibrate` holds them ({(method, regime): {dotted key: value}}), their rows, and
    how the SFT step's scores compare with the earlier ones (`note`, for the file's header)."""

    settings: dict[tuple, dict] = field(default_factory=dict)
    rows: list[dict] = field(default_factory=list)
    note: str = ""

    @property
    def methods(self) -> list[str]:
        return list(dict.fromkeys(stage for stage, _ in self.settings))


def carry_over(profile: str, task: str, swept: tuple[str, ...], sft_rows: list[dict]) -> Earlier:
    """The earlier file's choices and rows for the methods not in `swept`, checked against the SFT
    step just run (`sft_rows`, as `calibrate` writes them; module docstring). Nothing to keep (no
    earlier file, or it tuned no other method): an empty `Earlier`."""
    yaml_path = calibration_path(profile, task)
    csv_path = yaml_path.with_suffix(".csv")
    if not (yaml_path.is_file() and csv_path.is_file()):
        return Earlier()
    tuned = (yaml.safe_load(yaml_path.read_text()) or {}).get("pft", {}).get("tuned", {})
    keep = [m for m in task_methods(profile, task) if m in tuned and m not in swept]
    if not keep:
        return Earlier()
    old = pd.read_csv(csv_path, dtype={"point": str})  # a digest of digits alone is no number
    then = old[old["stage"] == SFT_ONLY].to_dict("records")
    problem = _other_step(then, sft_rows)
    if problem:
        raise ConfigError(
            str(yaml_path),
            "sft",
            problem,
            f"its choices for {', '.join(keep)} were made after another SFT step than the one "
            f"run now ({csv_path.name} holds that step): sweep every method (no --method)",
        )
    settings = {
        (m, regime): {f"pft.{k}": v for k, v in chosen.items()}
        for m in keep
        for regime, chosen in tuned[m].items()
    }
    rows = [r for r in old.to_dict("records") if r["stage"] in keep]
    return Earlier(settings, rows, _compare_scores(then, sft_rows))


def _other_step(then: list[dict], now: list[dict]) -> str:
    """Why the SFT step `now` is not the one the earlier rows `then` record ('' if it is)."""
    if set(_scores(then)) != set(_scores(now)):
        return "the points differ (other settings)"
    lr = {
        label: [r["value"] for r in rows if r["chosen"]]
        for label, rows in (("then", then), ("now", now))
    }
    if lr["then"] != lr["now"]:
        return f"learning rate chosen then {lr['then']}, now {lr['now']}"
    base = {b for r in then if isinstance(b := r.get("base_model"), str)}
    if base and base != {r["base_model"] for r in now}:
        return f"base model then {', '.join(sorted(base))}, now {now[0]['base_model']}"
    return ""


def _scores(rows: list[dict]) -> dict[tuple, float]:
    # a point is its settings (the folder's digest); its budgets are cells in that folder
    return {(str(r["point"]), float(r["budget"])): float(r["score"]) for r in rows}


def _compare_scores(then: list[dict], now: list[dict]) -> str:
    before, after = _scores(then), _scores(now)
    gaps = [abs(after[k] - before[k]) for k in after]
    moved = [g for g in gaps if g > 1e-9]
    if not moved:
        return "every SFT point scored as before"
    return f"{len(moved)} of {len(gaps)} SFT points scored otherwise, by up to {max(moved):.3g}"
