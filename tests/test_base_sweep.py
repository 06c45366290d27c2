"""The base-model sweep's rule (budgetsplit.run.base_sweep: checks, choose) on made-up rows, and
its sweep file."""

import json
from pathlib import Path

import pandas as pd
import pytest

from budgetsplit.core.registry import TASKS
from budgetsplit.run import base_sweep as bs
from budgetsplit.tasks.toyworld.corpus import cache_key, default_sources

RECORDS = Path(__file__).resolve().parents[1] / bs.OUT


def _row(point, n_params, tokens, probe=0.8, sft=0.4, floor=0.1, base=0.0, base_format=0.0):
    row = {"point": point, "n_params": n_params, "tokens_seen": tokens}
    row["sft_protocol"] = bs.SFT_PROTOCOL
    for t in TASKS:
        row |= {
            f"probe.{t}": probe,
            f"sft.{t}": sft,
            f"floor.{t}": floor,
            f"base.{t}": base,
            f"base_format.{t}": base_format,
        }
    return row


def test_checks_follow_the_written_rule():
    assert all(bs.checks(_row("a", 1, 1)).values())
    assert not bs.checks(_row("a", 1, 1, probe=0.69))["probe.math"]
    assert not bs.checks(_row("a", 1, 1, sft=0.29))["gain.math"]  # < 3 x 0.1
    assert not bs.checks(_row("a", 1, 1, sft=0.9, floor=0.2))["range.math"]
    assert not bs.checks(_row("a", 1, 1, base=0.2, floor=0.1))["cold.math"]  # above its floor
    assert not bs.checks(_row("a", 1, 1, base_format=0.11))["cold.math"]
    assert bs.checks(_row("a", 1, 1, base_format=0.1))["cold.math"]
    # the floor is the higher of the base model and the cheap outputs
    assert not bs.checks(_row("a", 1, 1, sft=0.4, floor=0.0, base=0.2))["gain.math"]


def test_choose_takes_the_smallest_passing_point_then_the_closest():
    t = pd.DataFrame(
        [_row("big", 3, 20), _row("small_long", 1, 20), _row("small_short", 1, 2, probe=0.3)]
    )
    assert bs.choose(t) == ("small_long", True)
    t = pd.DataFrame([_row("a", 1, 2, probe=0.3), _row("b", 3, 2, probe=0.3, sft=0.1)])
    assert bs.choose(t) == ("a", False)  # none passes: the one meeting the most conditions


def test_a_point_measured_before_the_lr_grid_is_reported_but_never_passes():
    old = _row("old", 1, 2) | {"sft_protocol": bs.OLD_PROTOCOL}
    assert bs.choose(pd.DataFrame([old])) == ("old", False)
    assert bs.choose(pd.DataFrame([old, _row("new", 3, 2)])) == ("new", True)


def test_sft_is_judged_at_the_calibration_protocols_best_learning_rate():
    lrs = bs.sft_lrs("helpful")
    assert lrs == [0.0002, 0.000632, 0.002, 0.00632]  # calibration's SFT grid around the 2e-3 prior
    assert bs.best_lr({0.0002: 0.1, 0.002: 0.4, 0.00632: 0.2}, 0.002) == 0.002
    # ties after rounding go to the prior, then to the smaller rate, as in calibration
    assert bs.best_lr({0.000632: 0.4001, 0.002: 0.4004, 0.00632: 0.4}, 0.002) == 0.002
    assert bs.best_lr({0.000632: 0.4001, 0.00632: 0.4004}, 0.002) == 0.000632


def test_the_sweep_file_names_its_points_and_worlds_load():
    spec = bs.load_sweep()
    assert spec["n_sft"] == 1000 and spec["points"]
    for name in spec["points"]:
        world = bs._world(spec, name)
        want = spec["points"][name].get("corpus_docs", spec["corpus_docs"])
        assert world.pretrain.corpus_docs == want  # a point's own corpus size wins
        assert world.pretrain.steps == spec["points"][name]["steps"]


def test_every_recorded_point_is_rebuilt_with_the_key_of_its_base_model():
    # the sweep's world is its own file: the study's world.yaml may change, no point's world may
    spec = bs.load_sweep()
    rows = [json.loads(p.read_text()) for p in sorted(RECORDS.glob("*.json"))]
    assert len(rows) >= 20
    for row in rows:
        world = bs._world(spec, row["point"])
        assert cache_key(world, default_sources()) == row["base_model"], row["point"]


def test_a_sweep_file_without_its_world_is_named(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text("world: nowhere.yaml\nn_sft: 1\nn_probes: 1\ncorpus_docs: 1\npoints: {}\n")
    with pytest.raises(ValueError, match="sweep.yaml: key 'world' names 'nowhere.yaml'"):
        bs.load_sweep(path)


def test_the_figure_gives_every_line_its_own_colour_and_marker():
    import matplotlib  # only the figure tests draw

    matplotlib.use("Agg")
    extra = {"tasks": "{}", "pretrain.copy_share": 0.0}
    # 12 lines (each its own corpus size): more than one palette has colours
    rows = [_row(f"p{i}", 1, 2) | extra | {"train_tokens": 1e6 * (i + 1)} for i in range(12)]
    fig = bs.plot(pd.DataFrame(rows))
    lines = [ln for ln in fig.axes[0].get_lines() if not ln.get_label().startswith("_")]
    styles = {(matplotlib.colors.to_rgba(ln.get_color()), ln.get_marker()) for ln in lines}
    matplotlib.pyplot.close(fig)
    assert len(lines) == 12 and len(styles) == 12


def test_the_figures_panels_keep_their_height_however_long_the_legend():
    import matplotlib  # only the figure tests draw

    matplotlib.use("Agg")
    extra = {"tasks": "{}", "pretrain.copy_share": 0.0}
    heights = []
    for n in (2, 20):  # lines in the legend, each its own corpus size
        rows = [_row(f"p{i}", 1, 2e7) | extra | {"train_tokens": 1e6 * (i + 1)} for i in range(n)]
        fig = bs.plot(pd.DataFrame(rows))
        heights.append(fig.axes[0].get_position().height * fig.get_figheight())  # inches
        ticks = [t.get_text() for t in fig.axes[4].get_xticklabels()]
        matplotlib.pyplot.close(fig)
    assert abs(heights[0] - heights[1]) < 0.1 * heights[0]
    assert ticks == ["20"]  # whole millions from 10M on
