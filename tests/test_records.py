"""Cell records: work keys across recipes and profiles, and the lookup of recorded work (copying a
record in run_cell: test_cell.py)."""

import json

from test_grid import _fake_record

from budgetsplit import grid, records
from budgetsplit.cli import main
from budgetsplit.config import load_params, to_dict


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
    cells = grid.expand(toy)
    for c in cells[:3]:
        _fake_record(tmp_path, toy, c, score=0.5)
        path = records.record_path(toy, c)
        rec = json.loads(path.read_text())
        path.write_text(json.dumps({**rec, "params": _as_stored(toy)}))
    c = cells[0]
    key = records.work_key(_as_stored(large), c.method, *grid.cell_sizes(large, c), c.seed)
    found = records.find_same_work(large, "math", key)
    assert found is not None and found["cell_id"] == c.cell_id
    assert found["params"]["profile"] == "toy"
    assert records.find_same_work(large, "summarize", key) is None
    # The plan of the larger profile counts them and leaves them out of its time estimate.
    p = grid.plan(large)
    assert {x.cell_id for x in p.copies} == {x.cell_id for x in cells[:3]}
    assert not p.done and "3 of them copying recorded work" in str(p)
    cmd = ["plan", "--profile", "toy_large", "--task", "math", "--set", f"output_dir={tmp_path}"]
    assert main(cmd) == 0
    out = capsys.readouterr().out
    assert out.count("    [copy] ") == 3 and f"[copy] {cells[0].cell_id}:" in out
    fresh = grid.plan(
        load_params("toy_large", "math", overrides={"output_dir": str(tmp_path / "x")})
    )
    assert not fresh.copies and fresh.estimate_s > p.estimate_s
    # A record that is not a cell record of this version is never the same work.
    junk = tmp_path / "old" / "math" / "cells" / "x.json"
    junk.parent.mkdir(parents=True)
    junk.write_text(json.dumps({"cell_id": "x"}))
    assert records.find_same_work(large, "math", "no such key") is None
