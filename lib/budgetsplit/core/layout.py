"""Where a study's files live: `RunLayout` owns every path under `output_dir`; no other module spells
one out. A relative `output_dir` is resolved against the project root when the package runs from a
source checkout (the folder above lib/ whose pyproject.toml names budgetsplit), else against the
working directory, so a Jupyter kernel started in notebooks/ reads the same runs/ as a shell at the
root. An absolute `output_dir` is used as is.

    <output_dir>/<profile>/                     profile_dir
        results.parquet, results.csv            results_path(".csv")
        notebooks/, figures/                    notebooks_dir, figures_dir (toy: <root>/figures)
        advisor_check.md                        advisor_check (advisor.ipynb's validation table)
        claims.md                               claims_md (every claim's groups and intervals)
        models.md                               models_md (a model axis: best splits by model)
        models/<model>/                         report_dir of one model of the model axis
                                                (RunLayout.for_model): its claims.md,
                                                advisor_check.md and figures/
        <task>/cells/<cell_id>.json             record_path(task, cell_id)
        <task>/claims/<cell_id>.lock            claim_path(task, cell_id): held while a run trains it
        <task>/sft/<key>/                       sft_stage_dir(task, key)
        <task>/base_diagnostics/                base_diagnostics_dir(task)
        <task>/ref_logps/                       ref_logps_dir(task)
        <task>/.../<kind>-<key>.json            start_cache(task, stage_dir, kind, key): caches of
                                                the model PFT starts from (its SFT stage, or base)
    <output_dir>/calibration/<profile>/<task>/  calibration_dir(task): `budgetsplit calibrate`'s
                                                points (each a run folder) and shared stages
    from budgetsplit.core.layout import RunLayout
    layout = RunLayout.of(params)          # or RunLayout("runs", "toy")
    layout.record_path("math", "math-dpo-B100-f0p5-s0")
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@cache
def project_root() -> Path | None:
    """The source checkout this package runs from, or None for an installed package."""
    package = Path(__file__).resolve().parents[1]  # .../lib/budgetsplit (this file: core/layout.py)
    root = package.parents[1]
    pyproject = root / "pyproject.toml"
    if package.parent.name != "lib" or not pyproject.is_file():
        return None
    return root if re.search(r'^name\s*=\s*"budgetsplit"', pyproject.read_text(), re.M) else None


def committed_results_dir(profile: str) -> Path:
    """Where a profile's results tables are committed beside its figures: `results/<profile>/` of
    the checkout (of the working directory in an installed package)."""
    return (project_root() or Path.cwd()) / "results" / profile


def resolve_output_dir(output_dir: str | Path) -> Path:
    """`output_dir` as an absolute path: see the module docstring."""
    path = Path(output_dir).expanduser()
    if path.is_absolute():
        return path
    return ((project_root() or Path.cwd()) / path).resolve()


@dataclass(frozen=True)
class RunLayout:
    output_dir: Path
    profile: str
    # A model of the profile's model axis (Params.models): its report files (claims, advisor
    # table, figures) go to `report_dir`; cells, records and results are the profile's for all.
    model: str | None = None

    def __post_init__(self):
        object.__setattr__(self, "output_dir", resolve_output_dir(self.output_dir))

    @classmethod
    def of(cls, params) -> RunLayout:
        """The layout of a `budgetsplit.config.params.Params` (its output_dir, profile, model)."""
        return cls(params.output_dir, params.profile, params.model_label)

    def for_model(self, model: str | None) -> RunLayout:
        """This layout with the report files of `model` (None: of the profile's one model)."""
        return RunLayout(self.output_dir, self.profile, model)

    # ------------------------------------------------------------------------------ the profile
    @property
    def profile_dir(self) -> Path:
        return self.output_dir / self.profile

    def results_path(self, suffix: str = ".parquet") -> Path:
        return self.profile_dir / f"results{suffix}"

    @property
    def report_dir(self) -> Path:
        """Where the claims and the advisor table go: the profile's folder, or for a model of
        its model axis `models/<model>/` in it."""
        return self.profile_dir if self.model is None else self.profile_dir / "models" / self.model

    @property
    def notebooks_dir(self) -> Path:
        """Executed copies of the notebooks."""
        return self.profile_dir / "notebooks"

    @property
    def advisor_check(self) -> Path:
        """advisor.ipynb's leave-one-budget-out table (markdown), which the claims CLI puts into
        the README."""
        return self.report_dir / "advisor_check.md"

    @property
    def claims_md(self) -> Path:
        """Each claim's verdict with its groups, numbers and intervals (`budgetsplit claims`)."""
        return self.report_dir / "claims.md"

    @property
    def models_md(self) -> Path:
        """A model axis's best splits side by side, model by model (`budgetsplit claims`)."""
        return self.profile_dir / "models.md"

    @property
    def figures_dir(self) -> Path:
        """The default profile's figures are committed at the project root; others stay with their runs."""
        root = project_root()
        if self.profile == "toy" and root:
            return root / "figures" if self.model is None else root / "figures" / self.model
        return self.report_dir / "figures"

    def require_results(self, suffix: str = ".parquet") -> Path:
        """The results table's path; FileNotFoundError naming the absolute path when it is missing."""
        path = self.results_path(suffix)
        if not path.is_file():
            where = "folder" if not self.profile_dir.is_dir() else "table"
            raise FileNotFoundError(
                f"no results {where} at {path if where == 'table' else self.profile_dir} "
                f"(output_dir resolved to {self.output_dir}): run the grid of profile "
                f"{self.profile!r} first, or rebuild the table with `budgetsplit table`"
            )
        return path

    # ------------------------------------------------------------------------------- one task
    def task_dir(self, task: str) -> Path:
        return self.profile_dir / task

    def cells_dir(self, task: str) -> Path:
        return self.task_dir(task) / "cells"

    def record_path(self, task: str, cell_id: str) -> Path:
        return self.cells_dir(task) / f"{cell_id}.json"

    def claim_path(self, task: str, cell_id: str) -> Path:
        """The lock a run holds while it trains a cell, so a concurrent run skips the cell."""
        return self.task_dir(task) / "claims" / f"{cell_id}.lock"

    def record_paths(self, task: str | None = None) -> list[Path]:
        """Every record of the profile (or of one task), sorted; temp files are not records."""
        return sorted(self.profile_dir.glob(f"{task or '*'}/cells/*.json"))

    def other_profiles_cells_dirs(self, task: str) -> Iterator[Path]:
        """The cells folders of `task` in the other profiles under the same output_dir."""
        own = self.cells_dir(task)
        yield from sorted(set(self.output_dir.glob(f"*/{task}/cells")) - {own})

    def sft_dir(self, task: str) -> Path:
        return self.task_dir(task) / "sft"

    def sft_stage_dir(self, task: str, key: str) -> Path:
        return self.sft_dir(task) / key

    def base_diagnostics_dir(self, task: str) -> Path:
        """Diagnostics of the base model (its cold start), shared by the cells without SFT."""
        return self.task_dir(task) / "base_diagnostics"

    def ref_logps_dir(self, task: str) -> Path:
        """Cached reference log-probs of preference pairs (`budgetsplit.training.train`)."""
        return self.task_dir(task) / "ref_logps"

    def start_cache(self, task: str, stage_dir: Path | None, kind: str, key: str) -> Path:
        """A cached diagnostic (`kind`: cold_start, start_score) of the model PFT starts from: in
        its SFT stage's folder, or for the base model (`stage_dir` None) in base_diagnostics."""
        folder = Path(stage_dir) if stage_dir is not None else self.base_diagnostics_dir(task)
        return folder / f"{kind}-{key}.json"

    def calibration_dir(self, task: str) -> Path:
        """Where `budgetsplit calibrate` runs its points for this profile's task."""
        return self.output_dir / "calibration" / self.profile / task

    def temp_dirs(self, task: str) -> list[Path]:
        """The folders where killed runs may leave temp files: cells, SFT stages, caches."""
        return [
            self.cells_dir(task),
            self.sft_dir(task),
            self.base_diagnostics_dir(task),
            self.ref_logps_dir(task),
            self.profile_dir,
        ]
