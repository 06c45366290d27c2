"""Calibration: the protocol's plan (offline), its tie rule, the calibration layer the recipes read,
and (slow) a tiny real calibration on the smoke profile that resumes and never reads the test split."""

import json

import pandas as pd
import pytest
import yaml

from budgetsplit.cli import main
from budgetsplit.config import profiles
from budgetsplit.config.params import REGIMES, ROOT, ConfigError, load_params, pft_settings
from budgetsplit.report import calibration
from budgetsplit.run import calibrate, calibration_scope


def test_smoke_plan_counts_points_and_runs_nothing(params_dir, tmp_path, monkeypatch, capsys):
    p = calibrate.plan("smoke", "math")
    # smoke math runs dpo (math.yaml) and dpo_sft (both recipes); one budget, so one rung
    assert p.rungs == (40.0,)
    assert [s.name for s in p.steps] == [
        "sft/learning_rate",
        *[f"dpo/{r}/{k}" for r in REGIMES for k in ("learning_rate", "beta")],
        *[f"dpo_sft/{r}/{k}" for r in REGIMES for k in ("learning_rate", "sft_weight")],
    ]
    assert p.points == 4 + 2 * 2 * (5 + 3) and p.repeats == 4
    assert p.sft_stages == 4 + 1  # one per SFT lr, one after-SFT stage shared by the PFT steps
    assert p.estimate_s > 0
    monkeypatch.chdir(tmp_path)
    assert main(["calibrate", "--profile", "smoke", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("calibration of smoke/") == 4 and "total: estimated" in out
    assert not (params_dir / "smoke" / "calibration").exists() and not (tmp_path / "runs").exists()
    bad = ["calibrate", "--profile", "smoke", "--task", "math", "--set", "pft.beta=high"]
    assert main([*bad, "--dry-run"]) == 2
    assert "'pft.beta' = 'high'" in capsys.readouterr().err


def test_calibrate_takes_a_users_params_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(profiles.PARAMS_ENV, raising=False)  # --params sets it; restored
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "_defaults.yaml").write_text("inherit: smoke\n")
    (tmp_path / "mine" / "math.yaml").write_text("task: math\nmethods: [kto]\n")
    argv = ["calibrate", "--params", str(tmp_path), "--profile", "mine", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.count("calibration of mine/") == 1 and "kto/from_base/beta" in out
    # the calibration it would write is the user's profile's, beside its recipes
    assert profiles.calibration_path("mine", "math") == tmp_path / "mine/calibration/math.yaml"
    assert main(["calibrate", "--profile", "nosuch", "--dry-run"]) == 2
    assert "'profile' = 'nosuch': no such profile" in capsys.readouterr().err


def test_methods_of_profiles_that_read_the_calibration_are_tuned(params_dir):
    # A profile inheriting smoke's calibration runs kto on math: smoke's calibration must tune it.
    child = params_dir / "child"
    child.mkdir()
    (child / "_defaults.yaml").write_text("inherit: smoke\nprofile: child\n")
    (child / "math.yaml").write_text("task: math\nmethods: [kto]\n")
    (params_dir / "smoke" / "math_costs.yaml").unlink()
    recipe = params_dir / "smoke" / "math.yaml"
    recipe.write_text(recipe.read_text().replace("methods: [dpo, dpo_sft]", "methods: [dpo]"))
    assert calibration_scope.task_methods("smoke", "math") == ("dpo", "kto")
    # the child has no instruct
    assert calibration_scope.task_methods("smoke", "instruct") == ("dpo_sft",)
    # With a calibration of its own the child no longer reads smoke's.
    (child / "calibration").mkdir()
    (child / "calibration" / "math.yaml").write_text("sft: {learning_rate: 0.001}\n")
    assert calibration_scope.task_methods("smoke", "math") == ("dpo",)


def test_toy_plan_sweeps_two_rungs_and_pft_lr_reaches_the_sft_lr():
    p = calibrate.plan("toy", "math")
    assert p.rungs == (300.0, 1000.0)  # the middle and the largest budget
    # 4 SFT lrs then the best 2; per method and regime 5 lrs then 3, and 3 betas/weights then 2;
    # dpo and dpo_sft sweep one setting each, grpo (toy_large's, read here) two
    assert p.points == (4 + 2) + 2 * (2 * ((5 + 3) + (3 + 2)) + ((5 + 3) + 2 * (3 + 2)))
    lrs = calibrate.GRIDS["pft.learning_rate"]
    assert max(lrs) == 1.0 and max(lrs) / min(lrs) >= 100
    assert calibrate.ANCHORS["pft.learning_rate"] == "sft.learning_rate"


def test_method_option_sweeps_some_methods_and_names_an_unknown_one(capsys):
    p = calibrate.plan("toy", "math", methods=["dpo_sft", "dpo"])  # in the protocol's order
    assert [s.stage for s in p.steps[1:]] == ["dpo"] * 4 + ["dpo_sft"] * 4
    assert p.points == (4 + 2) + 2 * 2 * ((5 + 3) + (3 + 2))
    with pytest.raises(ConfigError, match=r"'method' = 'kto': not among .*\(dpo, dpo_sft, grpo\)"):
        calibrate.plan("toy", "math", methods=["kto"])
    argv = ["calibrate", "--profile", "toy", "--task", "math", "--method", "grpo", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "grpo/from_base/kl_beta" in out and "dpo/" not in out


def test_a_sweep_of_some_methods_keeps_the_others_only_after_the_same_sft_step(params_dir):
    yaml_path = profiles.calibration_path("smoke", "math")
    base = "a0522ff67110f723:d5222e4e0f3af98c"
    sft = [  # point b2 at two budgets (the protocol's rungs): one folder, two cells
        {
            "stage": "sft",
            "point": "a1",
            "budget": 300,
            "value": 0.01,
            "score": 0.25,
            "chosen": False,
        },
        {"stage": "sft", "point": "b2", "budget": 300, "value": 0.1, "score": 0.5, "chosen": False},
        {
            "stage": "sft",
            "point": "b2",
            "budget": 1000,
            "value": 0.1,
            "score": 0.75,
            "chosen": True,
        },
    ]
    sft = [{**r, "base_model": base} for r in sft]
    assert calibration_scope.carry_over("smoke", "math", ("dpo_sft",), sft).settings == {}
    yaml_path.parent.mkdir()
    tuned = {"from_base": {"learning_rate": 0.01, "beta": 3.0}, "after_sft": {"beta": 1.0}}
    yaml_path.write_text(yaml.safe_dump({"pft": {"tuned": {"dpo": tuned, "dpo_sft": {}}}}))
    dpo = [{"stage": "dpo", "point": "c3", "budget": 300, "value": 0.01, "score": 0.125}]
    pd.DataFrame(sft + dpo + [{**dpo[0], "stage": "dpo_sft"}]).to_csv(
        yaml_path.with_suffix(".csv"), index=False
    )
    kept = calibration_scope.carry_over("smoke", "math", ("dpo_sft",), sft)
    assert kept.settings == {
        ("dpo", "from_base"): {"pft.learning_rate": 0.01, "pft.beta": 3.0},
        ("dpo", "after_sft"): {"pft.beta": 1.0},
    }
    assert kept.methods == ["dpo"] and [r["point"] for r in kept.rows] == ["c3"]
    assert kept.note == "every SFT point scored as before"
    # every method swept now: nothing to keep
    assert calibration_scope.carry_over("smoke", "math", ("dpo", "dpo_sft"), sft).rows == []
    # scores a little otherwise (another machine's kernels), the same choice: kept, and said
    moved = [sft[0], {**sft[1], "score": 0.505}, sft[2]]
    note = calibration_scope.carry_over("smoke", "math", ("dpo_sft",), moved).note
    assert note == "1 of 3 SFT points scored otherwise, by up to 0.005"
    # another choice, other points, another base model: the file's choices rest on another step
    for other, why in (
        (
            [{**sft[0], "chosen": True}, sft[1], {**sft[2], "chosen": False}],
            r"chosen then \[0.1\], now \[0.01\]",
        ),
        ([sft[0], {**sft[1], "point": "d4"}, sft[2]], "the points differ"),
        (sft[:2], "the points differ"),  # a rung fewer
        ([{**r, "base_model": "ffff:0"} for r in sft], "base model then a0522ff67110f723"),
    ):
        with pytest.raises(ConfigError, match=rf"math.yaml.*{why}.*for dpo were made after"):
            calibration_scope.carry_over("smoke", "math", ("dpo_sft",), other)


def test_calibration_figure_gives_a_stage_one_colour_in_every_panel():
    rows = []
    for step, setting in (
        ("sft/learning_rate", "sft.learning_rate"),
        ("dpo_sft/after_sft/learning_rate", "pft.learning_rate"),
        ("dpo/from_base/learning_rate", "pft.learning_rate"),
        ("dpo/from_base/beta", "pft.beta"),
        ("dpo_sft/after_sft/sft_weight", "pft.sft_weight"),
    ):
        for rung, budget in enumerate((300, 1000)):
            for value in (0.1, 1.0):
                rows.append(
                    {
                        "task": "math",
                        "metric": "accuracy",
                        "step": step,
                        "setting": setting,
                        "rung": rung,
                        "budget": budget,
                        "value": value,
                        "score": value / 2,
                        "chosen": rung == 1 and value == 1.0,
                    }
                )
    fig = calibration.plot(pd.DataFrame(rows))
    seen: dict[str, set] = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            stage = line.get_label().split(" B=")[0]
            seen.setdefault(stage, set()).add(line.get_color())
    assert set(seen) == {"sft", "dpo_sft/after_sft", "dpo/from_base"}
    assert all(len(c) == 1 for c in seen.values())  # one colour per stage, whatever the panel
    assert len({next(iter(c)) for c in seen.values()}) == 3  # and stages apart


def test_tie_rule_prefers_the_prior_then_the_smaller_value():
    def rank(scores, prior):
        key = lambda v: calibrate.rank_key(scores[v], v, prior)  # noqa: E731
        return sorted(scores, key=key)

    assert rank({1e-4: 0.5, 1e-3: 0.6, 1e-2: 0.6}, prior=1e-2) == [1e-2, 1e-3, 1e-4]
    assert rank({1e-4: 0.5, 1e-3: 0.6, 1e-2: 0.6}, prior=5e-5) == [1e-3, 1e-2, 1e-4]
    # equal after rounding to DECIMALS: tied; a missing score ranks last
    assert rank({3.0: 0.6001, 1.0: 0.6004, 0.3: None}, prior=9.0) == [1.0, 3.0, 0.3]


def test_recipes_read_the_calibration_layer(params_dir):
    layer = {
        "sft": {"learning_rate": 0.004},
        "pft": {
            "tuned": {
                "dpo": {
                    "from_base": {"learning_rate": 0.003, "beta": 0.2},
                    "after_sft": {"learning_rate": 0.0001},
                }
            }
        },
    }
    path = params_dir / "smoke" / "calibration" / "math.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump(layer))
    p = load_params("smoke", "math")
    assert p.sft.learning_rate == 0.004  # calibration over the profile's defaults
    assert load_params("smoke", "math_costs").sft.learning_rate == 0.004  # every recipe of the task
    assert load_params("smoke", "instruct").sft.learning_rate == 1e-3  # not another task's
    assert load_params("smoke", "math", calibrated=False).sft.learning_rate == 1e-3
    over = load_params("smoke", "math", overrides={"sft.learning_rate": 0.01})
    assert over.sft.learning_rate == 0.01  # overrides over calibration
    base, after = pft_settings(p, "dpo", 0), pft_settings(p, "dpo", 5)
    assert (base.learning_rate, base.beta) == (0.003, 0.2)
    assert (after.learning_rate, after.beta) == (0.0001, p.pft.beta)
    assert pft_settings(p, "dpo_sft", 0) == pft_settings(p, "dpo_sft", 5)  # not calibrated: pft
    assert pft_settings(p, "dpo_sft", 0).learning_rate == p.pft.learning_rate
    for bad, key in (
        ({"pft": {"tuned": {"dpo": {"cold": {}}}}}, "pft.tuned.dpo.cold"),
        ({"pft": {"tuned": {"dpo": {"from_base": {"lr": 1}}}}}, "pft.tuned.dpo.from_base.lr"),
        ({"pft": {"tuned": {"dpo": {"from_base": {"beta": -1.0}}}}}, "beta"),
    ):
        path.write_text(yaml.safe_dump(bad))
        with pytest.raises(ConfigError) as e:
            load_params("smoke", "math")
        assert str(path) in str(e.value) and key in str(e.value)


# --------------------------------------------------------------------- a real calibration (slow)
@pytest.mark.slow
def test_tiny_calibration_writes_resumes_and_never_reads_test(params_dir, tmp_path, monkeypatch):
    # One method, 2 PFT lrs, nothing else swept: 1 SFT point + 2 regimes x (2 lrs + 1 repeated beta).
    (params_dir / "smoke" / "math_costs.yaml").unlink()
    recipe = params_dir / "smoke" / "math.yaml"
    recipe.write_text(recipe.read_text().replace("methods: [dpo, dpo_sft]", "methods: [dpo]"))
    for key, grid in (
        ("sft.learning_rate", (1.0,)),
        ("pft.learning_rate", (0.1, 1.0)),
        ("pft.beta", (1.0,)),
    ):
        monkeypatch.setitem(calibrate.GRIDS, key, grid)
    real_get_task = calibrate.get_task
    splits = []

    def guarded(params):
        task = real_get_task(params)
        real_split = task.eval_split

        def eval_split(split):
            splits.append(split)
            if split == "test":
                raise AssertionError("calibration read the test split")
            return real_split(split)

        monkeypatch.setattr(task, "eval_split", eval_split)
        return task

    monkeypatch.setattr(calibrate, "get_task", guarded)
    # --set eval.split=test is overruled: calibration evaluates on validation rows only
    over = {
        "output_dir": str(tmp_path / "runs"),
        "eval.n_examples": 16,
        "cpu_threads": 1,
        "eval.split": "test",
    }
    first = calibrate.calibrate("smoke", "math", overrides=over, progress=False)
    assert splits and set(splits) == {"val"}
    sweep = first.sweep
    assert len(sweep) == 1 + 2 * 3 and sweep["score"].notna().all()
    assert set(sweep["step"]) == {
        "sft/learning_rate",
        *(f"dpo/{r}/{k}" for r in REGIMES for k in ("learning_rate", "beta")),
    }
    prior = load_params("smoke", "math", calibrated=False)
    assert first.choices["sft"] == {"learning_rate": prior.sft.learning_rate}
    for regime in REGIMES:
        rows = sweep[sweep["step"] == f"dpo/{regime}/learning_rate"]
        assert sorted(rows["value"]) == [prior.sft.learning_rate / 10, prior.sft.learning_rate]
        best = rows.sort_values("value", ascending=False).sort_values("score", ascending=False)
        chosen = first.choices["pft"]["tuned"]["dpo"][regime]
        assert chosen["learning_rate"] == rows[rows["chosen"]]["value"].item()
        assert round(rows[rows["chosen"]]["score"].item(), 3) == round(best["score"].iloc[0], 3)
        assert chosen["beta"] == prior.pft.beta
    # every point is a record on validation rows; the repeated beta points were read back
    records = sorted(
        (tmp_path / "runs" / "calibration").glob("smoke/math/points/*/smoke/math/cells/*.json")
    )
    assert len(records) == 5
    assert {json.loads(r.read_text())["params"]["eval"]["split"] for r in records} == {"val"}
    # the recipes read the choices
    p = load_params("smoke", "math")
    assert (
        pft_settings(p, "dpo", 0).learning_rate
        == first.choices["pft"]["tuned"]["dpo"]["from_base"]["learning_rate"]
    )
    assert pd_equal(first.sweep, pd.read_csv(first.csv_path))
    fig = calibration.plot(first.sweep)  # one panel per swept setting
    assert [ax.get_xlabel() for ax in fig.axes] == [
        "sft.learning_rate",
        "pft.learning_rate",
        "pft.beta",
    ]
    # one y axis from 0 for every panel: a PFT setting's few hundredths not drawn as tall as SFT's
    assert len({ax.get_ylim() for ax in fig.axes}) == 1 and fig.axes[0].get_ylim()[0] == 0
    # resume after a kill: one point's record gone, and the outputs; the others are not retrained
    lost = records[-1]
    kept = {r: r.stat().st_mtime_ns for r in records if r != lost}
    lost_score = json.loads(lost.read_text())["metrics"]
    lost.unlink()
    first.yaml_path.unlink()
    again = calibrate.calibrate("smoke", "math", overrides=over, progress=False)
    assert again.choices == first.choices
    assert json.loads(lost.read_text())["metrics"] == lost_score  # retrained, the same
    assert {r: r.stat().st_mtime_ns for r in kept} == kept
    # one more method swept alone: the SFT step read back, dpo's choices and rows kept from the file
    recipe.write_text(recipe.read_text().replace("methods: [dpo]", "methods: [dpo, dpo_sft]"))
    monkeypatch.setitem(calibrate.GRIDS, "pft.sft_weight", (1.0,))
    more = calibrate.calibrate("smoke", "math", over, progress=False, methods=["dpo_sft"])
    assert more.choices["pft"]["tuned"]["dpo"] == first.choices["pft"]["tuned"]["dpo"]
    assert set(more.choices["pft"]["tuned"]["dpo_sft"]) == set(REGIMES)
    assert list(dict.fromkeys(more.sweep["stage"])) == ["sft", "dpo", "dpo_sft"]
    assert pd_equal(more.sweep[more.sweep["stage"] != "dpo_sft"], first.sweep)
    assert "Kept from the file before (--method): dpo," in more.yaml_path.read_text()


def pd_equal(a, b) -> bool:
    cols = ["step", "value", "rung", "score", "chosen"]
    return a[cols].reset_index(drop=True).equals(b[cols].reset_index(drop=True))


def test_notebook_prints_the_plan_through_papermill(tmp_path):
    import papermill as pm

    out = tmp_path / "calibrate.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "calibrate.ipynb"),
        str(out),
        parameters={"profile": "smoke", "task": "helpful", "dry_run": True},
        cwd=str(tmp_path),
        progress_bar=False,
    )
    text = out.read_text()
    assert "calibration of smoke/helpful" in text and "dpo_sft/after_sft/sft_weight" in text
