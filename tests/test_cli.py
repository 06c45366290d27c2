"""The command line and run_all.sh's dry run: plans print without models, data or network."""

import os
import subprocess

from budgetsplit.cli import main
from budgetsplit.config import ROOT


def test_plan_prints_cells_stages_and_ids(capsys, tmp_path):
    assert (
        main(["plan", "--profile", "toy", "--task", "math", "--set", f"output_dir={tmp_path}"]) == 0
    )
    out = capsys.readouterr().out
    assert "params/toy/math.yaml" in out and "distinct SFT stages" in out
    assert "[todo] math-dpo-B100-f0p01-s0: n_sft=1 n_pref=99" in out


def test_bad_profile_and_override_are_clear_errors(capsys):
    assert main(["plan", "--profile", "nosuch"]) == 2
    assert "no such profile" in capsys.readouterr().err
    assert main(["plan", "--profile", "toy", "--task", "math", "--set", "pft.beta=-1"]) == 2
    assert "'pft.beta' = -1" in capsys.readouterr().err


def test_paper_dry_run_needs_no_network():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HTTPS_PROXY": "http://127.0.0.1:9"}
    out = subprocess.run(
        [str(ROOT / "run_all.sh"), "--profile", "paper", "--dry-run"],
        capture_output=True, text=True, timeout=120, env=env, check=True,
    ).stdout  # fmt: skip
    for needle in (
        "Qwen/Qwen2.5-1.5B",
        "mohit-raghavendra/gsm8k-gpt4opreferences",
        "google/IFEval",
        "UCL-DARK/openai-tldr-filtered",
        "nvidia/HelpSteer2",
        "distinct SFT stages",
    ):
        assert needle in out, needle
    assert "total: " in out


def test_run_all_rejects_bad_arguments_before_any_work():
    for args, needle in ((["--workers", "two"], "--workers takes a whole number"),
                         (["--profile", "nosuch"], "no params/nosuch/"),
                         (["--colour"], "unknown argument")):  # fmt: skip
        r = subprocess.run(
            [str(ROOT / "run_all.sh"), *args], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)


def test_toy_large_plan_inherits_the_toy_world():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(ROOT / "run_all.sh"), "--profile", "toy_large", "--dry-run", "--tasks", "helpful"],
        capture_output=True, text=True, timeout=120, env=env, check=True,
    ).stdout  # fmt: skip
    assert "63 cells" in out and "helpful-dpo_sft-B1000-f0p75-s2" in out
