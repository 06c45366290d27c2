"""Tests of budgetsplit.analysis.advise on a synthetic world whose best split is known."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from budgetsplit.analysis import advise
from budgetsplit.cli import advise as cli_advise
from budgetsplit.cli import main
from budgetsplit.core.budget import split_budget
from budgetsplit.study.cells import cell_sizes, expand


def truth(n_sft, n_pref):
    """Saturating in each kind of data, preference data worth more after some SFT."""
    u = 1 - (1 + np.asarray(n_sft, float) / 300) ** -1.0
    v = 1 - (1 + np.asarray(n_pref, float) / 500) ** -1.0
    return 0.05 + 0.4 * u + 0.05 * v + 0.4 * u * v


def world(budgets=(100, 300, 1000, 3000, 10000), seeds=(0, 1, 2), noise=0.01, ratios=(None,)):
    rng = np.random.default_rng(0)
    rows = []
    for ratio in ratios:
        for b in budgets:
            for f in (0.0, 0.1, 0.25, 0.5, 0.75, 1.0):
                n_sft, n_pref = split_budget(b, f, ratio or 1, 1)
                for s in seeds:
                    rows.append(
                        {
                            "task": "math",
                            "method": "sft" if f == 1 else "dpo",
                            "budget": b,
                            "sft_fraction": f,
                            "cost_ratio": ratio,
                            "seed": s,
                            "n_sft": n_sft,
                            "n_pref": n_pref,
                            "score": truth(n_sft, n_pref) + noise * rng.standard_normal(),
                        }
                    )
    return pd.DataFrame(rows)


def best_fraction(budget, ratio):
    curve = [truth(*split_budget(budget, float(f), ratio, 1)) for f in advise.FRACTIONS]
    return advise.FRACTIONS[int(np.argmax(curve))]


@pytest.mark.parametrize(("budget", "ratio"), [(2000, 1.0), (2000, 2.0), (500, 1.0)])
def test_recommends_the_known_optimum(budget, ratio):
    table = advise.load_table(world())
    a = advise.recommend(table, "math", budget, ratio)
    true = best_fraction(budget, ratio)
    assert a.method == "dpo" and abs(a.fraction - true) <= 0.1, (a, true)
    assert a.fraction_low <= a.fraction <= a.fraction_high and true in a.within_noise
    assert a.predicted == pytest.approx(truth(a.n_sft, a.n_pref), abs=0.03)
    assert a.predicted_low <= a.predicted <= a.predicted_high and not a.extrapolating
    assert set(a.lobo_rmse) == {"saturating", "gp"} and a.model in a.lobo_rmse


def test_extrapolation_is_flagged_and_one_seed_has_no_interval():
    a = advise.recommend(advise.load_table(world(seeds=(0,))), "math", 30000)
    assert a.extrapolating and np.isnan(a.fraction_low) and a.within_noise == [a.fraction]


def test_leave_one_budget_out_table():
    # six seeds: a bootstrap over three seeds alone is too narrow to judge a held-out budget by
    # (docs/statistics.md); the records' per-row scores are what the README's table uses
    table = advise.load_table(world(seeds=range(6)))
    v = advise.leave_one_budget_out(table, "math", "dpo")
    assert list(v.columns) == [
        "budget",
        "recommended",
        "best",
        "recommended_score",
        "best_score",
        "best_low",
        "best_high",
        "gap",
        "gap_low",
        "gap_high",
        "within",
    ]
    assert list(v["budget"]) == [100, 300, 1000, 3000, 10000] and (v["gap"] >= 0).all()
    assert v["within"].all(), v  # the true best split is within noise of the grid's best
    # a miss is reported: at 3,000 SFT only jumps to 0.95, which no other budget foretells
    jump = (table["budget"] == 3000) & (table["sft_fraction"] == 1)
    w = advise.leave_one_budget_out(table.assign(y=np.where(jump, 0.95, table["y"])), "math", "dpo")
    w = w.set_index("budget")
    assert w.loc[3000, "best"] == 1.0 and w.loc[3000, "recommended"] < 1
    assert not w.loc[3000, "within"] and w.loc[3000, "gap_low"] > 0.2


def test_errors_name_the_problem(tmp_path):
    table = advise.load_table(world())
    with pytest.raises(advise.AdviceError, match="unknown task 'chess'.*\\['math'\\]"):
        advise.recommend(table, "chess", 1000)
    with pytest.raises(advise.AdviceError, match="budget must be > 0, got 0"):
        advise.recommend(table, "math", 0)
    with pytest.raises(advise.AdviceError, match="unknown method 'kto'"):
        advise.recommend(table, "math", 1000, method="kto")
    path = tmp_path / "r.csv"
    world().drop(columns=["seed", "n_pref"]).to_csv(path, index=False)
    with pytest.raises(
        advise.AdviceError, match=r"r.csv: missing column\(s\) \['n_pref', 'seed'\]"
    ):
        advise.load_table(path)
    small = advise.load_table(world(budgets=(100,)))
    with pytest.raises(advise.AdviceError, match="too few cells to fit math/dpo"):
        advise.recommend(small, "math", 1000)


def test_cli_text_and_json(tmp_path, capsys):
    path = tmp_path / "results.csv"
    world(ratios=(None, 2.0)).to_csv(path, index=False)
    base = ["advise", "--results", str(path), "--task", "math", "--budget", "2000"]
    assert main([*base, "--cost-ratio", "2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("method") and "dpo" in out and "cost ratio 2" in out
    assert main([*base, "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["method"] == "dpo" and rec["fraction"] == pytest.approx(
        best_fraction(2000, 1), abs=0.1
    )
    one = tmp_path / "one_seed.csv"
    world(seeds=(0,)).to_csv(one, index=False)
    assert (
        main(["advise", "--results", str(one), "--task", "math", "--budget", "2000", "--json"]) == 0
    )
    rec = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))[
        0
    ]
    assert rec["fraction_low"] is None and rec["n_seeds"] == 1
    assert main([*base[:-1], "-5"]) == 2
    assert "budget must be > 0" in capsys.readouterr().err


def test_cli_without_results_says_where_it_looked(tmp_path, monkeypatch, capsys):
    # No records and no committed tables (those of the checkout, once committed, are not looked at)
    monkeypatch.setattr(cli_advise, "committed_results_dir", lambda p: tmp_path / "results" / p)
    argv = ["advise", "--output-dir", str(tmp_path / "runs"), "--task", "math", "--budget", "100"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no records of 'toy'" in err and "results/toy/results.csv" in err


def test_cli_finds_the_paper_profiles_records_under_its_own_output_dir(
    tmp_path, monkeypatch, capsys
):
    """paper's output_dir is runs/paper: `advise --profile paper` reads runs/paper/paper/, with no
    --output-dir (relative output_dirs resolve against tmp_path here, not the checkout)."""
    from test_grid import _fake_record

    from budgetsplit.config.params import load_params
    from budgetsplit.core import layout

    monkeypatch.setattr(layout, "project_root", lambda: tmp_path)
    runs = tmp_path / "runs" / "paper"
    grid_keys = {"budget.budgets": [100, 300, 1000], "budget.sft_fractions": [0, 0.25, 0.5, 1]}
    params = load_params("paper", "math", overrides={**grid_keys, "output_dir": str(runs)})
    for c in expand(params):
        _fake_record(runs, params, c, score=float(truth(*cell_sizes(params, c))))
    argv = ["advise", "--profile", "paper", "--task", "math", "--budget", "500", "--json"]
    # the paper's model axis: one fit never pools models, so a model is named
    assert main(argv) == 2 and "several models" in capsys.readouterr().err
    assert main([*argv, "--model", "qwen2_5_1_5b"]) == 0
    rec = json.loads(capsys.readouterr().out)[0]
    assert rec["method"] == "dpo" and rec["grid_budgets"] == [100, 1000]


def test_cli_reads_a_profile_of_a_users_params_folder(tmp_path, monkeypatch, capsys):
    from budgetsplit.config.params import PARAMS_ENV

    monkeypatch.delenv(PARAMS_ENV, raising=False)  # --params sets it; restored
    monkeypatch.setattr(cli_advise, "committed_results_dir", lambda p: tmp_path / "results" / p)
    (tmp_path / "mine").mkdir()
    defaults = f"inherit: smoke\noutput_dir: {tmp_path / 'out'}\n"
    (tmp_path / "mine" / "_defaults.yaml").write_text(defaults)
    ask = ["--task", "math", "--budget", "100"]
    assert main(["advise", "--params", str(tmp_path), "--profile", "mine", *ask]) == 2
    assert f"no records of 'mine' under {tmp_path / 'out'} and no" in capsys.readouterr().err
    assert main(["advise", "--profile", "nosuch", *ask]) == 2
    assert "'profile' = 'nosuch': no such profile" in capsys.readouterr().err


def test_curves_follow_the_known_optimum_and_flag_extrapolation():
    table = advise.load_table(world(budgets=(100, 300, 1000, 3000)))
    c = advise.curves(table, budgets=[300, 2000, 9000], cost_ratios=[1.0, 5.0], n_resamples=50)
    assert len(c) == 6 and set(c["method"]) == {"dpo"}
    for r in c.itertuples():
        assert abs(r.fraction - best_fraction(r.budget, r.cost_ratio)) <= 0.1, r
        assert r.fraction_low <= r.fraction <= r.fraction_high
    assert c.set_index("budget")["extrapolating"].to_dict() == {300: False, 2000: False, 9000: True}


def test_advisor_notebook_on_a_results_csv_with_a_known_optimum(tmp_path):
    """notebooks/advisor.ipynb, executed through papermill on a results file from elsewhere."""
    import papermill as pm

    from budgetsplit.config.params import ROOT
    from budgetsplit.report.notebook import read_recorded

    world(budgets=(100, 300, 1000, 3000)).to_csv(tmp_path / "results.csv", index=False)
    out = tmp_path / "advisor.ipynb"
    pm.execute_notebook(
        str(ROOT / "notebooks" / "advisor.ipynb"),
        str(out),
        cwd=str(tmp_path),
        progress_bar=False,
        kernel_name="python3",
        parameters={
            "results_file": str(tmp_path / "results.csv"),
            "figures_dir": str(tmp_path / "figs"),
            "budgets": [2000],
            "cost_ratios": [1, 2],
        },
    )
    rec = read_recorded(out)
    got = {(a["cost_ratio"], a["budget"]): a["fraction"] for a in rec["advice"]}
    assert got.keys() == {(1.0, 2000.0), (2.0, 2000.0)}
    for (ratio, budget), f in got.items():
        assert abs(f - best_fraction(budget, ratio)) <= 0.1
    assert {r["budget"] for r in rec["lobo"]} <= {100, 300, 1000, 3000} and rec["lobo"]
    assert (tmp_path / "figs" / "fig6_advice.png").stat().st_size > 10_000


def test_validate_covers_every_task_and_method_and_reads_as_the_readme_table(capsys):
    big = world(seeds=range(6))
    # a second task with one budget: nothing to hold out against, so it is skipped with a reason
    small = world(budgets=(1000,), seeds=(0, 1)).assign(task="helpful")
    table = advise.load_table(pd.concat([big, small], ignore_index=True))
    v = advise.validate(table)
    assert set(v["task"]) == {"math"} and set(v["method"]) == {"dpo"} and len(v) == 5
    assert "skipped:" in capsys.readouterr().out
    pd.testing.assert_frame_equal(
        v.drop(columns=["task", "method"]), advise.leave_one_budget_out(table, "math", "dpo")
    )
    md = advise.validation_markdown(v).splitlines()
    assert md[0].startswith("| task | method | held-out budget |") and len(md) == 2 + 5
    first = v.iloc[0]
    assert md[2].startswith(f"| math | dpo | 100 | {first['recommended']:g} |")
    assert md[2].endswith("| yes |") == bool(first["within"])
    assert "too few budgets" in advise.validation_markdown(pd.DataFrame())
