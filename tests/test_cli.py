"""The command line and run_all.sh's dry run: plans print without models, data or network."""

import os
import subprocess

import pytest

from budgetsplit.cli import main
from budgetsplit.config.params import PARAMS_ENV, ROOT


def test_plan_prints_cells_stages_and_ids(capsys, tmp_path):
    assert (
        main(["plan", "--profile", "toy", "--task", "math", "--set", f"output_dir={tmp_path}"]) == 0
    )
    out = capsys.readouterr().out
    assert "params/toy/math.yaml" in out and "distinct SFT stages" in out
    assert "[todo] math-dpo_sft-B100-f0p1-s0: n_sft=10 n_pref=90" in out


def test_bad_profile_and_override_are_clear_errors(capsys):
    assert main(["plan", "--profile", "nosuch"]) == 2
    assert "no such profile" in capsys.readouterr().err
    assert main(["plan", "--profile", "toy", "--task", "math", "--set", "pft.beta=-1"]) == 2
    assert "'pft.beta' = -1" in capsys.readouterr().err


def test_bad_command_line_values_are_one_clear_error(capsys):
    assert main(["plan", "--profile", "toy", "--task", "math", "--set", "seeds=[0,1"]) == 2
    err = capsys.readouterr().err
    assert (
        err.startswith("error: --set: key 'seeds' = '[0,1': not valid YAML")
        and "\n" not in err[:-1]
    )
    assert main(["plan", "--profile", "smoke", "--set", "seeds=[4294967295]"]) == 0  # numpy's last
    capsys.readouterr()
    assert main(["plan", "--profile", "smoke", "--set", "seeds=[4294967296]"]) == 2
    assert "'seeds' = 4294967296: a seed must be >= 0 and <= 4294967295" in capsys.readouterr().err
    assert main(["plan", "--profile", "toy", "--set", "budget.budgets=[.nan]"]) == 2
    assert "'budget.budgets' = nan: expected a finite number" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["grid", "--profile", "smoke", "--workers", "-1"])
    assert e.value.code == 2
    assert (
        "--workers: expected a whole number >= 0 (0: automatic), got '-1'"
        in capsys.readouterr().err
    )


def test_params_option_reads_a_users_folder(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv(PARAMS_ENV, raising=False)  # main sets it for worker processes; restored
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "_defaults.yaml").write_text("inherit: smoke\nprofile: mine\nseeds: [7]\n")
    (tmp_path / "mine" / "math.yaml").write_text("task: math\n")
    out_dir = f"output_dir={tmp_path / 'runs'}"
    assert main(["plan", "--params", str(tmp_path), "--profile", "mine", "--set", out_dir]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path.name}/mine/math.yaml" in out and "math-dpo_sft-B40-f0p5-s7" in out
    assert os.environ[PARAMS_ENV] == str(tmp_path.resolve())
    assert main(["plan", "--params", str(tmp_path / "nope")]) == 2
    assert "no such params folder" in capsys.readouterr().err


def test_paper_dry_run_needs_no_network():
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HTTPS_PROXY": "http://127.0.0.1:9"}
    out = subprocess.run(
        [str(ROOT / "run_all.sh"), "--profile", "paper", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    ).stdout
    for needle in (
        # the model axis: the paper's seven base models, each with its own cells
        "model[llama3_2_1b]=meta-llama/Llama-3.2-1B (LoRA r=32)",
        "model[llama3_2_3b]=meta-llama/Llama-3.2-3B",
        "model[llama3_1_8b]=meta-llama/Llama-3.1-8B",
        "model[qwen2_5_1_5b]=Qwen/Qwen2.5-1.5B",
        "model[qwen2_5_3b]=Qwen/Qwen2.5-3B",
        "model[qwen2_5_7b]=Qwen/Qwen2.5-7B",
        "model[qwen2_5_14b]=Qwen/Qwen2.5-14B",
        "math-dpo-B100-f0p5-s42-on_qwen2_5_14b",
        "mohit-raghavendra/gsm8k-gpt4opreferences",
        "google/IFEval",
        "UCL-DARK/openai-tldr-filtered",
        "nvidia/HelpSteer2",
        "distinct SFT stages",
    ):
        assert needle in out, needle
    assert "total: " in out


def test_run_all_rejects_bad_arguments_before_any_work():
    for args, needle in (
        (["--workers", "two"], "--workers takes a whole number"),
        (["--workers"], "--workers needs a value"),
        (["--workers", "--dry-run"], "--workers needs a value"),
        (["--params", "/no/such/folder"], "--params: no folder"),
        (["--profile", "nosuch"], "no params/nosuch/"),
        (["--colour"], "unknown argument"),
    ):
        r = subprocess.run(
            [str(ROOT / "run_all.sh"), *args], capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 2 and needle in r.stderr, (args, r.stderr)


def test_toy_large_plan_inherits_the_toy_world():
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run(
        [str(ROOT / "run_all.sh"), "--profile", "toy_large", "--dry-run", "--tasks", "helpful"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=True,
    ).stdout
    assert (
        "73 cells" in out  # 4 budgets x 6 fractions x 3 seeds + the base cell
        and "helpful-base-B0-f0-s0" in out
        and "helpful-dpo_sft-B3000-f0p75-s2" in out
    )


def test_run_all_params_option_takes_a_folder_relative_to_the_caller(tmp_path):
    (tmp_path / "mine" / "mine").mkdir(parents=True)
    (tmp_path / "mine" / "mine" / "_defaults.yaml").write_text("inherit: smoke\nprofile: mine\n")
    (tmp_path / "mine" / "mine" / "math.yaml").write_text("task: math\nseeds: [9]\n")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    env.pop(PARAMS_ENV, None)
    args = ["--params", "mine", "--profile", "mine", "--tasks", "math", "--dry-run"]
    out = subprocess.run(
        [str(ROOT / "run_all.sh"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "mine/mine/math.yaml" in out and "math-dpo_sft-B40-f0p5-s9" in out
