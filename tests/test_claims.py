"""Tests of budgetsplit.analysis.claims on synthetic worlds whose answers are known by construction,
and of how they are written down (budgetsplit.report.claims_md, `budgetsplit claims`)."""

from __future__ import annotations

import pandas as pd
import pytest
from test_stats import score_table

from budgetsplit.analysis import claims
from budgetsplit.cli import main
from budgetsplit.core.layout import RunLayout
from budgetsplit.report import claims_md
from budgetsplit.study.cells import expand

# accuracy by (budget, SFT fraction): SFT only best up to 1,000; then a mix, with a growing
# preference share (0.5 at 3,000, 0.1 at 10,000); PFT from the base model scores 0 (cold start);
# 10% SFT fixes it; 3,000 at its best (0.55) matches 10,000 at its worst split that learned (0.50)
PAPER_WORLD = {
    100: {0.0: 0.0, 0.1: 0.05, 0.5: 0.10, 1.0: 0.20},
    300: {0.0: 0.0, 0.1: 0.10, 0.5: 0.15, 1.0: 0.30},
    1000: {0.0: 0.0, 0.1: 0.20, 0.5: 0.25, 1.0: 0.40},
    3000: {0.0: 0.0, 0.1: 0.40, 0.5: 0.55, 1.0: 0.45},
    10000: {0.0: 0.0, 0.1: 0.70, 0.5: 0.60, 1.0: 0.50},
}
COSTS = {0.0: 0.0, 0.5: 0.3, 1.0: 0.2}  # money budget 1,000 at cost ratios 2 and 5


def evaluate(*args, **kw) -> list:
    """The claims of a one-method world (its PFT method is dpo): `claims.evaluate` per method."""
    found = claims.evaluate(*args, **kw)
    assert list(found) == ["dpo"], list(found)
    return found["dpo"]


def world(grid=PAPER_WORLD, costs=COSTS, base=0.0, **kw) -> pd.DataFrame:
    cells = {("base", 0, 0.0): base} if base is not None else {}
    for budget, row in grid.items():
        for f, p in row.items():
            cells[("sft" if f == 1.0 else "dpo", budget, f)] = p
    for ratio in (2.0, 5.0) if costs else ():
        for f, p in costs.items():
            cells[("sft" if f == 1.0 else "dpo", 1000, f, ratio)] = p
    return score_table(cells, **kw)


def verdicts(df) -> list[str]:
    return [c.verdict for c in evaluate(df)]


def test_the_paper_world_reproduces_every_claim():
    found = evaluate(world())
    assert [c.verdict for c in found] == ["reproduced"] * 6, [(c.verdict, c.why) for c in found]
    assert "holds in 3 of 3" in found[0].why
    assert any("[" in line for line in found[3].evidence)  # numbers with intervals


def test_verdicts_do_not_depend_on_the_seeds_drawn_when_intervals_are_clear():
    a = verdicts(world(seed=0, seeds=(0, 1, 2)))
    b = verdicts(world(seed=7, seeds=(3, 4, 5)))
    c = evaluate(world(seed=0), seed=11)  # and not on the bootstrap's seed
    assert a == b == [x.verdict for x in c]


def test_a_clear_counterexample_refutes_claim_1():
    grid = {**PAPER_WORLD, 300: {0.0: 0.0, 0.1: 0.10, 0.5: 0.45, 1.0: 0.30}}
    c = evaluate(world(grid))[0]
    assert c.verdict == "not reproduced" and "holds in 2 of 3" in c.why
    assert any("B=300: fails" in line for line in c.evidence)


def test_claim_6_fails_where_only_sft_only_is_best():
    c = evaluate(world(costs={0.1: 0.05, 0.5: 0.1, 1.0: 0.3}))[5]
    assert c.verdict == "not reproduced" and "holds in 0 of 2" in c.why


def test_budgets_up_to_1000_cannot_test_claim_2():
    grid = {b: PAPER_WORLD[b] for b in (100, 300, 1000)}
    c = evaluate(world(grid))[1]
    assert c.verdict == "inconclusive" and "largest example budget is 1000" in c.why


def test_exact_ties_decide_only_what_equivalence_decides():
    """Every split scores 0.3 on the same rows: none is resolved better than another (claims 1, 2,
    4, 5, 6 stay inconclusive), and PFT from the base model is resolved equivalent to the best
    split (its interval within the margin), which refutes the cold start (claim 3)."""
    grid = {b: dict.fromkeys(PAPER_WORLD[b], 0.3) for b in PAPER_WORLD}
    found = evaluate(world(grid, costs=dict.fromkeys(COSTS, 0.3), base=None, exact=True))
    want = ["inconclusive"] * 6
    want[2] = "not reproduced"
    assert [c.verdict for c in found] == want, [c.why for c in found]


def test_splits_within_noise_of_each_other_fail_no_claim():
    """Every split has the same true accuracy, 0.3, but each is its own noisy model (100 rows):
    no difference is resolved and no split is shown equivalent, so no group fails any claim."""
    grid = {b: dict.fromkeys(PAPER_WORLD[b], 0.3) for b in PAPER_WORLD}
    found = evaluate(world(grid, costs=dict.fromkeys(COSTS, 0.3), n_rows=100))
    fails = [line for c in found for line in c.evidence if ": fails" in line]
    assert not fails, fails
    assert all(c.verdict == "inconclusive" for c in found), [(c.verdict, c.why) for c in found]


def test_a_split_must_beat_the_cheap_output_floor():
    """A constant guess scores 0.2 where the base model scores 0: splits at 0.1 and 0.2 are not
    above the floor (though far above the base model), 0.5 is; a budget whose splits all sit at
    or below the guess has no best, and decides no claim."""
    from budgetsplit.analysis import verdicts as v

    cells = {("base", 0, 0.0): 0.0, ("floor", 0, 0.0): 0.2}
    cells |= {("dpo", 100, 0.0): 0.1, ("dpo", 100, 0.5): 0.2, ("sft", 100, 1.0): 0.15}
    cells |= {("dpo", 1000, 0.0): 0.1, ("dpo", 1000, 0.5): 0.5, ("sft", 1000, 1.0): 0.2}
    scores = score_table(cells, exact=True, nested=False).assign(output="constant guess")
    scores.loc[scores["method"] == "floor", "seed"] = 0  # text: one "seed"
    scores = scores.drop_duplicates(["method", "budget", "sft_fraction", "seed", "row"])
    boot = v.bootstrap(scores)
    best = v.best_sets(boot, v.floor_names(scores))
    above = best.set_index(["budget", "sft_fraction"])["above_floor"]
    assert not above[(100, 0.0)] and not above[(100, 0.5)] and not above[(100, 1.0)]
    assert not above[(1000, 0.0)] and not above[(1000, 1.0)] and above[(1000, 0.5)]
    assert best.loc[best["budget"] == 100, "no_best"].all()
    assert set(best["floor_source"]) == {"constant guess"} and set(best["floor"]) == {0.2}
    c1 = claims.claim_sft_only(best)
    assert not any("B=100: fails" in line for line in c1.evidence), c1.evidence
    assert any(
        "B=100: undecided; no best (every split at the floor: constant guess, 0.2)" in line
        for line in c1.evidence
    ), c1.evidence


def test_all_floor_rows_decide_nothing():
    grid = {b: dict.fromkeys(PAPER_WORLD[b], 0.0) for b in PAPER_WORLD}
    found = evaluate(world(grid, costs=dict.fromkeys(COSTS, 0.0)))
    assert [c.verdict for c in found] == ["inconclusive"] * 6
    assert "no best" in found[0].evidence[0]


def test_overlapping_intervals_leave_claim_1_undecided():
    # SFT only 0.30 vs a mix 0.31 on 200 rows at every low budget: within noise, no verdict
    grid = {b: {0.0: 0.0, 0.5: 0.31, 1.0: 0.30} for b in (100, 300, 1000)}
    c = evaluate(world(grid, costs=None, n_rows=200, exact=True, nested=False))[0]
    assert c.verdict == "inconclusive", c.evidence


def test_missing_pieces_are_inconclusive_with_a_reason():
    found = evaluate(world(costs=None).assign(task="summarize"))
    assert found[2].verdict == found[3].verdict == "inconclusive"
    assert "no math cells" in found[2].why
    assert found[5].verdict == "inconclusive" and "cost ratios" in found[5].why


def test_a_task_without_a_poorly_allocated_split_leaves_claim_5_undecided():
    # instruct: every split ties, so none is poorly allocated; its row beside math's real numbers
    ties = {b: dict.fromkeys(PAPER_WORLD[b], 0.3) for b in (100, 300, 1000)}
    both = pd.concat(
        [world(costs=None), world(ties, costs=None, exact=True).assign(task="instruct")]
    )
    c = evaluate(both)[4]
    assert c.verdict == "reproduced", c.evidence
    assert any(
        line.startswith("instruct dpo: undecided; no poorly allocated") for line in c.evidence
    )


def test_claims_md_and_the_readme_markers(tmp_path):
    found = claims.evaluate(world())
    layout = RunLayout(tmp_path / "runs", "toy")
    path = claims_md.write_claims(layout, found)
    text = path.read_text()
    assert path == layout.claims_md and not list(path.parent.glob("*.tmp"))
    assert text.startswith("# The paper's claims on the toy profile") and "## 6." in text
    assert "# dpo\n" in text and "(dpo): reproduced" in text
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- claims:toy:start -->\nold\n<!-- claims:toy:end -->\nb\n")
    claims_md.update_readme(readme, claims_md.readme_table(found), "toy")
    new = readme.read_text()
    assert (
        "\nold\n" not in new and new.count("**reproduced**") == 6 and new.endswith("end -->\nb\n")
    )
    with pytest.raises(ValueError, match="claims:toy_large:start"):
        claims_md.update_readme(readme, "x", "toy_large")


def test_cold_start_evidence_carries_the_diagnostics():
    scores = world(costs=None)
    results = scores.drop(columns=["row", "score"]).drop_duplicates(
        ["method", "budget", "sft_fraction", "seed"]
    )
    cold = results["sft_fraction"] == 0
    results = results.assign(
        primary_metric="accuracy",
        **{
            "diag.cold_start.chosen_logprob_per_token": cold * -9.2 + ~cold * -0.3,
            "diag.format_rate": (~cold).astype(float),
        },
    )
    c = evaluate(scores, results)[2]
    assert c.verdict == "reproduced"
    assert all("log-prob of chosen per token -9.2, answers in format 0" in x for x in c.evidence)


def test_the_cli_reads_a_runs_records_and_fills_only_a_readme_with_markers(
    tmp_path, capsys, monkeypatch
):
    from test_grid import _fake_record

    from budgetsplit.config.params import load_params

    runs = tmp_path / "runs"
    params = load_params("smoke", "math", overrides={"output_dir": str(runs)})
    for c in expand(params):
        _fake_record(runs, params, c, score=c.sft_fraction / 4)
    readme = tmp_path / "README.md"
    start, end = claims_md.markers("smoke")
    readme.write_text(f"# kit\n\n{start}\nold table\n{end}\n\nmore\n")
    other = tmp_path / "OTHER.md"
    other.write_text("no markers here\n")

    argv = ["claims", "--profile", "smoke", "--output-dir", str(runs), "--readme"]
    assert main([*argv, str(readme)]) == 0
    path = runs / "smoke" / "claims.md"
    assert path.read_text().startswith("# The paper's")
    text = readme.read_text()
    assert "old table" not in text and "| claim (paper.md) | dpo | dpo_sft |" in text
    assert text.startswith("# kit\n\n" + start) and text.endswith(f"{end}\n\nmore\n")
    assert f"claims: {path}" in capsys.readouterr().out
    # the advisor's table (advisor.ipynb writes it) goes between the advisor markers, only there
    (runs / "smoke" / "advisor_check.md").write_text("| task | method |\n|---|---|\n")
    a_start, a_end = claims_md.markers("smoke", "advisor")
    readme.write_text(readme.read_text() + f"{a_start}\nold lobo\n{a_end}\n")
    assert main([*argv, str(readme)]) == 0
    text = readme.read_text()
    assert "old lobo" not in text and f"{a_start}\n| task | method |\n|---|---|\n{a_end}" in text
    assert text.count("| claim (paper.md) | dpo | dpo_sft |") == 1
    assert main([*argv, str(other)]) == 0
    assert other.read_text() == "no markers here\n"  # skipped silently
    from budgetsplit.study import results

    # No records and no committed tables (the checkout's own are not looked at): a clear error.
    monkeypatch.setattr(results, "committed_results_dir", lambda p: tmp_path / "results" / p)
    assert main(["claims", "--profile", "smoke", "--output-dir", str(tmp_path / "empty")]) == 2
    assert "no cell records under" in capsys.readouterr().err


def test_the_cli_finds_a_profile_without_a_math_recipe(tmp_path, monkeypatch, capsys):
    """A profile of a user's folder with only an instruct recipe: its output_dir and records are
    found from its profile (--params), with no math.yaml to read them from."""
    from test_grid import _fake_record

    from budgetsplit.config.params import PARAMS_ENV, load_params, use_params_dir

    monkeypatch.delenv(PARAMS_ENV, raising=False)  # --params sets it; restored
    runs = tmp_path / "runs"
    (tmp_path / "params" / "nomath").mkdir(parents=True)
    (tmp_path / "params" / "nomath" / "_defaults.yaml").write_text(
        f"inherit: smoke\noutput_dir: {runs}\n"
    )
    (tmp_path / "params" / "nomath" / "instruct.yaml").write_text("task: instruct\n")
    use_params_dir(tmp_path / "params")
    params = load_params("nomath", "instruct")
    for c in expand(params):
        _fake_record(runs, params, c, score=c.sft_fraction / 4)
    monkeypatch.delenv(PARAMS_ENV)  # the CLI's --params alone says where the profile is
    assert main(["claims", "--params", str(tmp_path / "params"), "--profile", "nomath"]) == 0
    path = runs / "nomath" / "claims.md"
    assert path.read_text().startswith("# The paper's")
    assert f"claims: {path}" in capsys.readouterr().out
    assert main(["claims", "--profile", "nosuch"]) == 2
    assert "'profile' = 'nosuch': no such profile" in capsys.readouterr().err


def test_without_records_the_cli_judges_the_committed_tables_and_exports_claims_md(
    tmp_path, monkeypatch, capsys
):
    """A fresh clone has no records: the claims are judged from results/<profile>/ (as `table
    --export` wrote it), the same as from the records, and --export commits claims.md beside it."""
    from test_grid import _fake_record

    from budgetsplit.cli import claims as cli_claims
    from budgetsplit.config.params import load_params
    from budgetsplit.study import results

    committed = tmp_path / "results" / "smoke"
    monkeypatch.setattr(results, "committed_results_dir", lambda p: tmp_path / "results" / p)
    monkeypatch.setattr(cli_claims, "committed_results_dir", lambda p: tmp_path / "results" / p)
    runs = tmp_path / "runs"
    params = load_params("smoke", "math", overrides={"output_dir": str(runs)})
    for c in expand(params):
        _fake_record(runs, params, c, score=c.sft_fraction / 4)
    results.export(runs, "smoke")
    assert main(["claims", "--profile", "smoke", "--output-dir", str(runs)]) == 0
    from_records = (runs / "smoke" / "claims.md").read_text()
    empty = tmp_path / "fresh_clone_runs"
    assert main(["claims", "--profile", "smoke", "--output-dir", str(empty), "--export"]) == 0
    out = capsys.readouterr().out
    assert "judging the committed tables of smoke (no records: " in out
    assert (empty / "smoke" / "claims.md").read_text() == from_records
    assert (committed / "claims.md").read_text() == from_records
    # Neither records nor committed tables: the error names where it looked for records.
    (committed / "results.csv").unlink()
    assert main(["claims", "--profile", "smoke", "--output-dir", str(empty)]) == 2
    assert "no cell records under" in capsys.readouterr().err


def test_each_method_is_judged_on_its_own_cells():
    """Two methods on one grid: plain dpo keeps the cold start (PFT from the base model at 0),
    dpo_sft has none (its fraction 0 is as good as the best). Pooled, dpo_sft's groups refuted
    claim 3 for both; per method it is reproduced for dpo and not for dpo_sft."""
    cells = {}
    for budget, row in PAPER_WORLD.items():
        for f, p in row.items():
            if f == 1.0:
                cells[("sft", budget, f)] = p
            else:
                cells[("dpo", budget, f)] = p
                cells[("dpo_sft", budget, f)] = max(row.values()) if f == 0.0 else p
    found = claims.evaluate(score_table(cells))
    assert list(found) == ["dpo", "dpo_sft"]  # the paper's method first
    assert found["dpo"][2].verdict == "reproduced"
    assert found["dpo_sft"][2].verdict == "not reproduced"
    assert all(g.startswith("math dpo_sft") for g in found["dpo_sft"][2].evidence)
    assert found["dpo"][2].resolution is not None and found["dpo"][2].resolution > 0
    table = claims_md.readme_table(found)
    assert table.splitlines()[0] == "| claim (paper.md) | dpo | dpo_sft |"
    assert claims_md.summary(found)[0].startswith("dpo: 1 ")
