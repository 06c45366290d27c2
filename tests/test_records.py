"""Cell records: the Record type on disk (old records, damaged ones), the review of existing records
against the settings asked for (stale records stop plan, grid and table), work keys across recipes
and profiles, and the lookup of recorded work (copying a record in run_cell: test_cell.py)."""

import json

import pytest
from test_grid import _fake_record

from budgetsplit.cli import main
from budgetsplit.config.params import load_params, to_dict
from budgetsplit.core.layout import RunLayout
from budgetsplit.run import estimate, grid
from budgetsplit.study import records, results
from budgetsplit.study.cells import cell_sizes, expand


def _as_stored(params) -> dict:
    return json.loads(json.dumps(to_dict(params)))


def test_work_keys_follow_the_world_not_the_profile_name():
    toy, large = load_params("toy", "math"), load_params("toy_large", "math")
    smoke = load_params("smoke", "math")
    assert records.world_id("toy") == records.world_id("toy_large") is not None
    assert records.world_id("smoke") not in (None, records.world_id("toy"))
    assert records.world_id("paper") is None  # Hub data and models: named in the settings
    key = records.work_key(_as_stored(toy), "dpo", 10, 90, 0)
    assert records.work_key(_as_stored(large), "dpo", 10, 90, 0) == key
    # Another world (smoke's: another base model and task pools) or other work: other keys.
    smoke_like = {**_as_stored(toy), "profile": "smoke"}
    assert records.work_key(smoke_like, "dpo", 10, 90, 0) != key
    assert records.work_key(_as_stored(smoke), "dpo", 10, 90, 0) != key
    for other in [
        ("dpo_sft", 10, 90, 0),
        ("dpo", 11, 90, 0),
        ("dpo", 10, 89, 0),
        ("dpo", 10, 90, 1),
    ]:
        assert records.work_key(_as_stored(toy), *other) != key


def test_recorded_work_is_found_in_this_profile_first_then_in_others(tmp_path, capsys):
    toy = load_params("toy", "math", overrides={"output_dir": str(tmp_path)})
    large = load_params("toy_large", "math", overrides={"output_dir": str(tmp_path)})
    cells = expand(toy)
    for c in cells[:3]:
        _fake_record(tmp_path, toy, c, score=0.5)
    c = cells[0]
    key = records.work_key(_as_stored(large), c.method, *cell_sizes(large, c), c.seed)
    found = records.find_same_work(large, "math", key)
    assert found is not None and found.cell_id == c.cell_id
    assert found.params["profile"] == "toy"
    assert records.find_same_work(large, "summarize", key) is None
    # The plan of the larger profile counts them and leaves them out of its time estimate.
    p = estimate.plan(large)
    assert {x.cell_id for x in p.copies} == {x.cell_id for x in cells[:3]}
    assert not p.done and "3 of them copying recorded work" in str(p)
    cmd = ["plan", "--profile", "toy_large", "--task", "math", "--set", f"output_dir={tmp_path}"]
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert out.count("    [copy] ") == 3 and f"[copy] {cells[0].cell_id}:" in out
    fresh = estimate.plan(
        load_params("toy_large", "math", overrides={"output_dir": str(tmp_path / "x")})
    )
    assert not fresh.copies and fresh.estimate_s > p.estimate_s
    # A record that is not a cell record of this version is never the same work.
    junk = tmp_path / "old" / "math" / "cells" / "x.json"
    junk.parent.mkdir(parents=True)
    junk.write_text(json.dumps({"cell_id": "x"}))
    assert records.find_same_work(large, "math", "no such key") is None


# ------------------------------------------------------------------------- the record on disk
def _smoke(tmp_path, **over):
    return load_params("smoke", "math", overrides={"output_dir": str(tmp_path), **over})


def test_a_record_reads_back_equal_and_old_records_still_load(tmp_path):
    params = _smoke(tmp_path)
    cell = expand(params)[0]
    rec = _fake_record(tmp_path, params, cell, score=0.25)
    path = RunLayout.of(params).record_path("math", cell.cell_id)
    assert records.load_record(path) == rec and rec["metrics"] == rec.metrics
    assert json.loads(path.read_text())["cell_id"] == cell.cell_id
    # A record as this package wrote it before base_model, row_scores and same_work_as existed.
    old = json.loads(path.read_text())
    for key in ("base_model", "row_scores", "same_work_as"):
        del old[key]
    path.write_text(json.dumps(old))
    back = records.load_record(path)
    assert back.row_scores is None and back.base_model is None and back.cell == cell
    assert back.metrics == rec.metrics


@pytest.mark.parametrize(
    "text, problem",
    [
        ('{"cell": {"task": "ma', "not valid JSON"),
        ("", "empty"),
        ("{}", "no cell, params"),
        ("[1, 2]", "list, not an object"),
        (
            '{"cell": {"x": 1}, "params": {}, "n_sft": 1, "n_pref": 1,'
            ' "costs": {}, "spent": 1, "metrics": {}}',
            "not a cell record",
        ),
    ],
)
def test_a_damaged_record_stops_plan_grid_and_table_naming_it(tmp_path, capsys, text, problem):
    params = _smoke(tmp_path)
    cells = expand(params)
    for c in cells[:2]:
        _fake_record(tmp_path, params, c, score=0.5)
    path = RunLayout.of(params).record_path("math", cells[1].cell_id)
    path.write_text(text)
    for call in (
        lambda: estimate.plan(params),
        lambda: grid.run_grid(params, progress=False),
        lambda: results.results_table(tmp_path, "smoke"),
    ):
        with pytest.raises(records.DamagedRecordError, match=problem) as e:
            call()
        assert str(path) in str(e.value) and "--replace" in str(e.value)
        assert "delete the file" in str(e.value)
    for cmd in ("plan", "grid", "table"):
        assert (
            main([cmd, "--profile", "smoke", "--task", "math", "--set", f"output_dir={tmp_path}"])
            == 2
        )
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err  # one line, naming the file
    # --replace on plan only counts the cell as to run; on the grid it moves the record aside.
    assert len(estimate.plan(params, replace=True).done) == 1 and path.is_file()
    assert records.review_records(params, cells, replace=True).keys() == {cells[0].cell_id}
    assert not path.exists() and len(list(path.parent.glob(path.name + ".replaced-*"))) == 1


def test_plan_and_grid_stop_on_records_of_other_settings(tmp_path, capsys):
    old = _smoke(tmp_path)
    cells = expand(old)
    for c in cells:
        _fake_record(tmp_path, old, c, score=0.5)
    new = _smoke(tmp_path, **{"pft.beta": 0.3})
    assert len(estimate.plan(old).done) == len(cells)
    # The rerun with another beta into the same folder stops before any training ...
    for call in (lambda: estimate.plan(new), lambda: grid.run_grid(new, progress=False)):
        with pytest.raises(records.StaleRecordError) as e:
            call()
        msg = str(e.value)
        assert f"pft.beta: {old.pft.beta!r} -> 0.3" in msg and f"{len(cells)} finished" in msg
        assert "output_dir" in msg and "--replace" in msg
    # ... and still stops with one record deleted (never a new-beta cell beside old-beta ones).
    layout = RunLayout.of(new)
    layout.record_path("math", cells[0].cell_id).unlink()
    with pytest.raises(records.StaleRecordError, match=f"{len(cells) - 1} finished"):
        estimate.plan(new)
    cmd = [
        "grid",
        "--profile",
        "smoke",
        "--task",
        "math",
        "--set",
        f"output_dir={tmp_path}",
        "--set",
        "pft.beta=0.3",
    ]
    assert main(cmd) == 2 and "pft.beta: " in capsys.readouterr().err
    # Settings that only choose cells (budget lists, seeds) are no change; a new folder is clean.
    assert len(estimate.plan(_smoke(tmp_path, seeds=[0, 1])).done) == len(cells) - 1
    assert not estimate.plan(_smoke(tmp_path / "new", **{"pft.beta": 0.3})).done
    # --replace moves the stale records aside; their cells are to run.
    p = estimate.plan(new, replace=True)
    assert not p.done and len(p.cells) == len(cells)
    assert records.review_records(new, cells, replace=True) == {}
    assert not layout.record_paths() and "moved aside" in capsys.readouterr().out


def test_records_made_on_another_base_model_of_the_world_are_stale(tmp_path):
    # same settings, but the world's base model changed (its recipe, corpus or task knobs): the
    # record names the cache key of the model it started from, and that key is compared
    params = _smoke(tmp_path)
    cells = expand(params)[:2]
    key = records.toy_base_key(params)
    assert key is not None and len(key) == 16
    for c in cells:
        _fake_record(tmp_path, params, c, score=0.5)
    paths = [RunLayout.of(params).record_path(c.task, c.cell_id) for c in cells]
    for path, built_on in zip(paths, (key, "0123456789abcdef"), strict=True):
        data = json.loads(path.read_text())
        path.write_text(json.dumps(data | {"base_model": f"{built_on}:feedface"}))
    with pytest.raises(records.StaleRecordError) as e:
        records.review_records(params, cells)
    assert "1 finished" in str(e.value)
    assert f"base_model: '0123456789abcdef' -> '{key}'" in str(e.value)
    assert list(records.review_records(params, cells, replace=True)) == [cells[0].cell_id]


def test_a_diagnostic_sample_size_is_not_a_result_setting():
    # cold_start_pairs changes what the cold-start diagnostic reads, not what a cell trains or
    # scores: records of another sample size (or of before the key existed) still answer.
    a = _as_stored(load_params("smoke", "math"))
    b = _as_stored(load_params("smoke", "math", overrides={"cold_start_pairs": 7}))
    older = {k: v for k, v in a.items() if k != "cold_start_pairs"}
    assert b["cold_start_pairs"] == 7 != a["cold_start_pairs"]
    assert records.settings_diff(a, b) == records.settings_diff(older, a) == {}
    keys = {records.work_key(p, "dpo", 10, 10, 0) for p in (a, b, older)}
    assert len(keys) == 1


def test_settings_diff_names_dotted_keys():
    a = _as_stored(load_params("smoke", "math"))
    b = json.loads(json.dumps(a))
    b["pft"]["beta"], b["seeds"], b["model"]["lora"]["r"] = 0.7, [5], 4
    diff = records.settings_diff(a, b)
    assert diff == {
        "pft.beta": (a["pft"]["beta"], 0.7),
        "model.lora.r": (a["model"]["lora"]["r"], 4),
    }


def test_calibrating_another_method_leaves_a_cells_record_valid(tmp_path):
    # A dpo cell's record made before grpo was calibrated: grpo's tuned settings are no change
    # for it, its own method's are; and a review of dpo cells goes on (no stale error).
    a = _as_stored(load_params("smoke", "math"))
    a["pft"]["tuned"] = {"dpo": {"after_sft": {"beta": 0.3}}}
    b = json.loads(json.dumps(a))
    b["pft"]["tuned"]["grpo"] = {"after_sft": {"kl_beta": 0.12, "learning_rate": 2e-4}}
    assert records.settings_diff(a, b, "dpo") == {}
    # and its work is the same work: a larger profile still copies the cell instead of retraining
    assert records.work_key(a, "dpo", 10, 10, 0) == records.work_key(b, "dpo", 10, 10, 0)
    assert records.work_key(a, "grpo", 10, 10, 0) != records.work_key(b, "grpo", 10, 10, 0)
    assert set(records.settings_diff(a, b)) == {
        "pft.tuned.grpo.after_sft.kl_beta",
        "pft.tuned.grpo.after_sft.learning_rate",
    }  # without a method: every key counts
    assert records.settings_diff(a, b, "grpo") == {
        "pft.tuned.grpo.after_sft.kl_beta": (None, 0.12),
        "pft.tuned.grpo.after_sft.learning_rate": (None, 2e-4),
    }
    b["pft"]["tuned"]["dpo"]["after_sft"]["beta"] = 1.0
    assert records.settings_diff(a, b, "dpo") == {"pft.tuned.dpo.after_sft.beta": (0.3, 1.0)}
    # an SFT-only cell reads no method's tuned settings
    assert records.settings_diff(a, b, "sft") == {}
    # through review_records: grpo calibrated after a dpo cell's record was made
    params = _smoke(tmp_path)
    cell = next(c for c in expand(params) if c.method == "dpo")
    _fake_record(tmp_path, params, cell, score=0.5)
    tuned = {"grpo": {"after_sft": {"kl_beta": 0.12}}}
    later = _smoke(tmp_path, **{"pft.tuned": tuned})
    assert list(records.review_records(later, [cell])) == [cell.cell_id]


def test_records_from_before_the_rl_settings_still_answer():
    # grpo's settings and the RL prompts' cost came after records were made by other methods:
    # a record without them answers; one that has them with other values does not.
    a = _as_stored(load_params("smoke", "math"))
    older = json.loads(json.dumps(a))
    for section, key in (
        ("pft", "num_generations"),
        ("pft", "kl_beta"),
        ("pft", "max_completion_length"),
    ):
        del older[section][key]
    del older["budget"]["costs"]["rl"]
    assert records.settings_diff(older, a) == {}
    other = json.loads(json.dumps(a))
    other["pft"]["kl_beta"] = 0.5
    assert records.settings_diff(other, a) == {"pft.kl_beta": (0.5, a["pft"]["kl_beta"])}
    # the toy world's id leaves out copy drills at 0, as the base model's cache key does
    from budgetsplit.config.params import load_world, to_dict
    from budgetsplit.core.store import digest

    world = to_dict(load_world("smoke"))
    del world["pretrain"]["copy_share"]
    assert records.world_id("smoke") == digest(world)
