"""Tests of budgetsplit.core.layout: every path under output_dir from one object, and a relative
output_dir resolved the same from any working directory (a kernel started in notebooks/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from budgetsplit.config.params import load_params
from budgetsplit.core import layout
from budgetsplit.core.layout import RunLayout

ROOT = Path(__file__).resolve().parents[1]


def test_relative_output_dir_resolves_against_the_checkout_from_any_cwd(monkeypatch, tmp_path):
    assert layout.project_root() == ROOT  # tests run from a source checkout
    seen = set()
    for cwd in (ROOT, ROOT / "notebooks", tmp_path):
        monkeypatch.chdir(cwd)
        seen.add(RunLayout.of(load_params("toy", "math")).profile_dir)
    assert seen == {ROOT / "runs" / "toy"}
    assert RunLayout(tmp_path / "abs", "toy").profile_dir == tmp_path / "abs" / "toy"


def test_an_installed_package_resolves_against_the_cwd(monkeypatch, tmp_path):
    monkeypatch.setattr(layout, "project_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    assert RunLayout("runs", "smoke").profile_dir == tmp_path / "runs" / "smoke"
    assert RunLayout("runs", "smoke").figures_dir == tmp_path / "runs" / "smoke" / "figures"


def test_every_path_lives_under_the_profile(tmp_path):
    lay = RunLayout(tmp_path, "smoke")
    task = lay.task_dir("math")
    assert (
        lay.record_path("math", "math-dpo-B40-f0p5-s0")
        == task / "cells" / "math-dpo-B40-f0p5-s0.json"
    )
    assert lay.sft_stage_dir("math", "n20-s0-abc") == task / "sft" / "n20-s0-abc"
    assert {lay.base_diagnostics_dir("math").name, lay.ref_logps_dir("math").name} == {
        "base_diagnostics",
        "ref_logps",
    }
    assert lay.results_path(".csv") == tmp_path / "smoke" / "results.csv"
    assert (
        lay.notebooks_dir
        == lay.figures_dir.parent / "notebooks"
        == tmp_path / "smoke" / "notebooks"
    )
    assert RunLayout(tmp_path, "toy").figures_dir == ROOT / "figures"  # committed with the repo
    # Other profiles' cells (for copying recorded work), never this profile's own.
    for profile in ("smoke", "toy", "toy_large"):
        RunLayout(tmp_path, profile).cells_dir("math").mkdir(parents=True)
    assert [p.parts[-3] for p in lay.other_profiles_cells_dirs("math")] == ["toy", "toy_large"]


def test_a_missing_results_table_names_the_absolute_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(layout, "project_root", lambda: None)
    with pytest.raises(
        FileNotFoundError, match=f"no results folder at {tmp_path / 'runs' / 'toy'}"
    ):
        RunLayout("runs", "toy").require_results()
    (tmp_path / "runs" / "toy").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no results table at .*results.parquet"):
        RunLayout("runs", "toy").require_results()
