"""Tests of budgetsplit.report.plots on small results tables built here (the real figures of the
smoke profile are drawn by tests/test_notebooks.py through figures.ipynb)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from budgetsplit.analysis import verdicts  # noqa: E402
from budgetsplit.report import plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    matplotlib.pyplot.close("all")


def results_rows(cells, task: str = "math", seeds=(0,)) -> pd.DataFrame:
    """A results table as `results.results_table` gives it: one row per seed of each
    (method, budget, fraction, score) in `cells`, the score rising 0.01 a seed."""
    rows = []
    for method, budget, frac, score in cells:
        n_sft = int(budget * frac)
        for seed in seeds:
            rows.append(
                {
                    "task": task,
                    "method": method,
                    "budget": budget,
                    "sft_fraction": frac,
                    "seed": seed,
                    "cost_ratio": None,
                    "n_sft": n_sft,
                    "n_pref": int(budget) - n_sft,
                    "primary_metric": "accuracy",
                    "metric.accuracy": score + 0.01 * seed,
                }
            )
    return pd.DataFrame(rows)


def raw(scores: dict[tuple[float, float], float], task: str = "math", seeds=(0,)) -> pd.DataFrame:
    """{(budget, fraction): score} for dpo (SFT only at fraction 1)."""
    cells = (("sft" if f == 1.0 else "dpo", b, f, s) for (b, f), s in scores.items())
    return results_rows(cells, task, seeds)


def table(scores: dict[tuple[float, float], float], **kw) -> pd.DataFrame:
    """The prepared table, without verdicts (figure 1 draws it)."""
    return verdicts.prepare(raw(scores, **kw))


def judged(scores: dict[tuple[float, float], float], **kw) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the table with its verdicts, its equal-performance rows), as figures.ipynb makes them."""
    df, best, boot = verdicts.verdicts(raw(scores, **kw))
    return df, verdicts.equal_performance(best, boot)


def marked(df: pd.DataFrame, in_set, top) -> pd.DataFrame:
    """`df` with verdicts set by hand: masks of its rows in the best set and at its top."""
    return df.assign(in_best_set=in_set, no_best=False, set_top=top)


def test_equal_performance_plot_draws_the_rule_and_says_nothing_without_a_reference():
    by_budget = {100: (0.05, 0.20, 0.10), 300: (0.10, 0.30, 0.25), 1000: (0.25, 0.50, 0.40)}
    fracs = (0.0, 0.5, 1.0)
    cells = {(b, f): x for b, row in by_budget.items() for f, x in zip(fracs, row, strict=True)}
    df, _ = judged(cells, seeds=(0, 1, 2))
    eq = pd.DataFrame(
        [
            {
                "task": "math",
                "method": "dpo",
                "large_budget": 1000,
                "poor_fraction": 0.0,
                "poor_score": 0.26,
                "matching_budget": 300,
                "matching_fraction": 0.5,
                "matching_score": 0.31,
                "budget_ratio": 1000 / 300,
            }
        ]
    )
    ax = plots.equal_performance_plot(df, eq).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["best share", "0% SFT"]
    assert "3.3x smaller: 300 at best ~ 1000 at 0% SFT" in [t.get_text() for t in ax.texts]
    flat = judged({(b, f): 0.3 for b in (100, 1000) for f in (0.0, 0.5)}, seeds=(0, 1, 2))
    ax = plots.equal_performance_plot(*flat).axes[0]  # every split ties: no poor split
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["best share"]
    floor = flat[0].assign(in_best_set=False, no_best=True, set_top=False)
    ax = plots.equal_performance_plot(floor, flat[1]).axes[0]
    assert ax.get_legend() is None and [t.get_text() for t in ax.texts] == ["no best at any budget"]


def test_every_figure_is_drawn_and_saved(tmp_path):
    cells = {(b, f): 0.1 * f + b / 10_000 for b in (100, 300) for f in (0.0, 0.01, 0.1, 1.0)}
    df, eq = judged(cells, seeds=(0, 1))
    df["diag.cold_start.chosen_logprob_per_token"] = -1.0
    df["diag.format_rate"] = 0.5
    paths = plots.all_figures(df, tmp_path, eq)
    assert set(paths) == set(plots.FIGURES)
    for files in paths.values():
        assert [p.suffix for p in files] == [".png", ".pdf"] and all(
            p.stat().st_size > 1000 for p in files
        )


GRID = {(b, f): 0.1 * f + b / 10_000 for b in (100, 300) for f in (0.0, 0.5, 1.0)}


def _grid(seeds=(0,)):
    return table(GRID, seeds=seeds)


def test_figures_read_without_the_code():
    df = _grid()
    fig = plots.fraction_curves(df)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "accuracy (%)" and ax.get_title() == "math, dpo"
    legend = fig.legends[0]  # one below the panels: a budget has one colour in all of them
    assert [t.get_text() for t in legend.get_texts()] == ["100", "300"]  # not 100.0
    top = max(max(line.get_ydata()) for line in ax.get_lines())
    assert top == pytest.approx(100 * df["score"].max())  # a share drawn in %
    assert "one seed" in fig._suptitle.get_text() and "min-max" not in fig._suptitle.get_text()
    assert df["budget"].dtype.kind == "i" and df["n_sft"].dtype.kind == "i"
    two = plots.fraction_curves(_grid(seeds=(0, 1)))._suptitle.get_text()
    assert "min-max over 2 seeds" in two
    ci = _grid().assign(ci_low=lambda d: d["score"] - 0.01, ci_high=lambda d: d["score"] + 0.01)
    assert "95% CI" in plots.fraction_curves(ci)._suptitle.get_text()


def test_a_single_task_table_draws_a_panel_per_method():
    df = _grid()
    other = df[df["method"] == "dpo"].assign(method="dpo_sft")
    fig = plots.fraction_curves(pd.concat([df, other], ignore_index=True))
    assert [ax.get_title() for ax in fig.axes] == ["math, dpo", "math, dpo_sft"]
    assert "dpo, dpo_sft" in fig._suptitle.get_text()


def test_every_figure_has_the_same_width():
    df, eq = judged(GRID, seeds=(0, 1))
    df["diag.cold_start.chosen_logprob_per_token"] = -1.0
    df["diag.format_rate"] = 0.5
    figs = {
        name: make(df, eq) if make is plots.equal_performance_plot else make(df)
        for name, make in plots.FIGURES.items()
    }
    widths = {name: fig.get_size_inches()[0] for name, fig in figs.items()}
    assert set(widths.values()) == {plots.WIDTH}, widths


def _boxes(fig):
    return [p for p in fig.axes[0].patches if p.get_edgecolor()[:3] == (1, 0, 0)]


def test_figures_draw_the_analysis_verdicts_and_never_their_own():
    df = _grid(seeds=(0, 1))
    # the set and its top as the table says, though 100% SFT has the highest mean everywhere
    mine = marked(df, df["sft_fraction"] < 1, df["sft_fraction"] == 0.5)
    assert len(_boxes(plots.heatmaps(mine))) == 4  # two splits per budget
    assert "best set" in plots.heatmaps(mine)._suptitle.get_text()
    cold = plots.cold_start(mine).axes[0]
    best = [line for line in cold.get_lines() if line.get_label() == "dpo, best share"][0]
    assert list(best.get_ydata()) == [pytest.approx(100 * (0.055 + b / 10_000)) for b in (100, 300)]
    eq = pd.DataFrame(columns=["task", "method", "poor_fraction"])
    top = plots.equal_performance_plot(mine, eq).axes[0].get_lines()[0]
    assert list(top.get_ydata()) == list(best.get_ydata())
    for figure in (plots.heatmaps, plots.cold_start, plots.costs):
        with pytest.raises(ValueError, match="verdicts"):
            figure(df)  # no verdicts: no figure that would have to decide the best
    with pytest.raises(ValueError, match="verdicts"):
        plots.equal_performance_plot(df, eq)


def test_no_best_split_is_marked_where_every_split_is_at_the_floor():
    zeros = table({(100, f): 0.0 for f in (0.0, 0.5, 1.0)})
    zeros = zeros.assign(in_best_set=False, no_best=True, set_top=False)
    assert not _boxes(plots.heatmaps(zeros))
    money = zeros.assign(cost_ratio=2.0)
    assert "no split is best" in plots.costs(money).axes[0].texts[0].get_text()
    curve = plots.fraction_curves(zeros).axes[0]
    lo, hi = curve.get_ylim()
    shown = [t for t in curve.get_yticks() if lo <= t <= hi]
    assert min(shown) == 0 and hi >= 1  # accuracy in %: no negative ticks when all is 0


def test_the_base_model_is_a_floor_line_not_a_budget():
    df = _grid(seeds=(0, 1))
    df = marked(df, df["sft_fraction"] == 1, df["sft_fraction"] == 1)
    base = df.iloc[[0]].assign(method="base", budget=0, sft_fraction=0.0, n_sft=0, n_pref=0)
    base = base.assign(score=0.04, in_best_set=None, no_best=None, set_top=None)
    df = pd.concat([df, base], ignore_index=True)
    fig = plots.fraction_curves(df)
    ax = fig.axes[0]
    assert ax.get_title() == "math, dpo" and len(fig.axes) == 1  # no panel for "base"
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["100", "300"]  # no budget-0 curve
    floor = [line for line in ax.get_lines() if line.get_label() == "base model"][0]
    assert list(floor.get_ydata()) == [pytest.approx(4.0)] * 2
    assert "dashed: the floor" in fig._suptitle.get_text()
    # with the verdicts' floor (here a cheap output above the base model), that line, named
    cheap = df.assign(floor=0.06, floor_source="constant guess #### 19")
    ax = plots.fraction_curves(cheap).axes[0]
    dashed = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in dashed] == [[pytest.approx(6.0)] * 2]
    assert "floor: constant guess #### 19" in [t.get_text() for t in ax.texts]
    heat = plots.heatmaps(df).axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["100", "300"]
    assert 0 not in plots.cold_start(df).axes[0].get_lines()[0].get_xdata()


def test_no_best_is_said_where_every_split_is_at_the_floor():
    df = _grid()
    top = (df["budget"] == 300) & (df["sft_fraction"] == 1.0)
    df = df.assign(in_best_set=top, no_best=df["budget"] == 100, set_top=top)
    texts = [t.get_text() for t in plots.fraction_curves(df).axes[0].texts]
    assert texts == ["no best: 100"]
    heat = plots.heatmaps(df).axes[0]
    assert [t.get_text() for t in heat.get_yticklabels()] == ["100\nno best", "300"]


def test_costs_draw_the_best_set_span_and_its_top():
    df = _grid(seeds=(0, 1)).assign(cost_ratio=2.0)
    df = marked(df, df["sft_fraction"] >= 0.5, df["sft_fraction"] == 0.5)
    ax = plots.costs(df).axes[0]
    (points,) = ax.containers  # points with bars, no line: two budgets are no trend
    assert points.lines[0].get_linestyle() == "None"
    assert list(points.lines[0].get_ydata()) == [0.5, 0.5]  # the set's top as the table marks it
    spans = [tuple(seg[:, 1]) for seg in points.lines[2][0].get_segments()]
    assert spans == [(0.5, 1.0), (0.5, 1.0)]
    # a cost ratio whose budget has no best is written, not left as a missing dot
    none = df.assign(cost_ratio=5.0, in_best_set=False, no_best=True, set_top=False)
    ax = plots.costs(pd.concat([df, none], ignore_index=True)).axes[0]
    assert [t.get_text() for t in ax.texts] == ["no best", "no best"]


def test_advice_figure_draws_a_panel_per_task_and_method_and_dashes_extrapolation():
    rows = [
        {
            "task": t,
            "method": m,
            "cost_ratio": r,
            "budget": b,
            "model": "gp",
            "fraction": f,
            "fraction_low": f - 0.1,
            "fraction_high": f + 0.1,
            "extrapolating": b > 1000,
            "n_seeds": 3,
        }
        for t, m in (("math", "dpo"), ("math", "dpo_sft"), ("instruct", "dpo_sft"))
        for r in (1.0, 5.0)
        for b, f in ((100, 1.0), (1000, 0.5), (3000, 0.25))
    ]
    fig = plots.advice(pd.DataFrame(rows))
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert sorted(ax.get_title() for ax in axes) == [
        "instruct, dpo_sft (gp fit)",
        "math, dpo (gp fit)",
        "math, dpo_sft (gp fit)",
    ]
    assert fig.get_size_inches()[0] == plots.WIDTH
    solid = [ln for ln in axes[0].lines if ln.get_linestyle() == "-"]
    assert [list(ln.get_xdata()) for ln in solid] == [[100, 1000]] * 2  # 3000 only dashed
    assert "no task" in plots.advice(pd.DataFrame()).axes[0].texts[0].get_text()
    # no recommendation where the interval spans most of the range, or the task is at its floor
    wide = pd.DataFrame(rows).assign(fraction_low=0.0, fraction_high=1.0)
    fig = plots.advice(wide, floor_below={("math", "dpo"): float("inf")})
    notes = {ax.get_title(): [t.get_text() for t in ax.texts] for ax in fig.axes if ax.get_title()}
    assert all(not ax.lines for ax in fig.axes if ax.get_title())
    assert "at its floor" in notes["math, dpo (gp fit)"][0]
    assert "spans more" in notes["instruct, dpo_sft (gp fit)"][0]
    # below the grid's first budget above the floor, nothing is drawn
    fig = plots.advice(pd.DataFrame(rows), floor_below={("math", "dpo"): 1000})
    ax = next(ax for ax in fig.axes if ax.get_title() == "math, dpo (gp fit)")
    assert all(min(ln.get_xdata()) >= 1000 for ln in ax.lines)
    assert "not drawn below 1000 (at the floor)" in ax.texts[0].get_text()


def test_cold_start_keeps_the_cold_start_scale_and_writes_the_far_point():
    """A best share far above the cold-start splits (34% against 0-7%) stays off the axis, its
    value written at the top edge; the methods' shared SFT-only best is drawn once."""
    cells = {
        (b, f): v
        for b, row in {
            1000: {0.0: 0.0, 0.1: 0.05, 1.0: 0.07},
            3000: {0.0: 0.0, 0.1: 0.06, 1.0: 0.34},
        }.items()
        for f, v in row.items()
    }
    df = table(cells, seeds=(0, 1))
    other = df[df["method"] == "dpo"].assign(method="dpo_sft")
    df = pd.concat([df, other], ignore_index=True)
    df = marked(df, df["sft_fraction"] == 1, df["sft_fraction"] == 1)
    ax = plots.cold_start(df).axes[0]
    assert ax.get_ylim()[1] < 20  # the cold-start scale, not 34%
    assert [t.get_text() for t in ax.texts] == ["34.5 \u2191"]  # seeds 0.34, 0.35
    best = [ln.get_label() for ln in ax.get_lines() if "best share" in ln.get_label()]
    assert best == ["every method, best share"]


def test_heatmaps_share_one_colour_scale_per_metric_with_a_bar_and_the_metric_precision():
    cells = {(b, f): 0.1 * f + b / 10_000 for b in (100, 300) for f in (0.0, 0.5, 1.0)}
    two = pd.concat([raw(cells, task="math"), raw(cells, task="gsm")], ignore_index=True)
    two.loc[two["task"] == "gsm", "metric.accuracy"] *= 5  # another range, the same metric
    df, best, _ = verdicts.verdicts(two)
    df = df.merge(best[[*verdicts.CELL, "above_floor"]], on=verdicts.CELL, how="left")
    fig = plots.heatmaps(df)
    meshes = [ax.collections[0] for ax in fig.axes if ax.get_title()]
    assert len(meshes) == 2
    assert {m.get_clim() for m in meshes} == {(0, 100)}  # the metric's whole range, 0-100%
    assert all(m.colorbar is not None for m in meshes)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "5.0" in texts and all(len(t.split(".")[-1]) == 1 for t in texts)
    fact = df.assign(primary_metric="fact_score")
    mesh = plots.heatmaps(fact).axes[0].collections[0]
    assert mesh.get_clim() == (0, 1)
    assert ".050" in [t.get_text() for t in plots.heatmaps(fact).axes[0].texts]


def test_heatmaps_hatch_the_floor_and_inset_the_best_set_boxes():
    df, _ = judged(GRID, seeds=(0, 1))
    floor = df.assign(above_floor=df["sft_fraction"] > 0)
    ax = plots.heatmaps(floor).axes[0]
    hatched = [p for p in ax.patches if p.get_hatch()]
    assert len(hatched) == 2  # 0% SFT at both budgets
    for box in _boxes(plots.heatmaps(floor).figure):
        assert 0 < box.get_x() % 1 and box.get_width() < 1  # inset: neighbours stay apart


def test_equal_performance_prints_each_match_budget_ratio():
    by_budget = {100: (0.05, 0.20, 0.10), 1000: (0.10, 0.30, 0.25), 3000: (0.25, 0.50, 0.40)}
    cells = {
        (b, f): x for b, row in by_budget.items() for f, x in zip((0.0, 0.5, 1.0), row, strict=True)
    }
    df, _ = judged(cells, seeds=(0, 1, 2))
    eq = pd.DataFrame(
        [
            {
                "task": "math",
                "method": "dpo",
                "large_budget": 3000,
                "poor_fraction": 0.0,
                "poor_score": 0.26,
                "matching_budget": 100,
                "matching_fraction": 0.5,
                "matching_score": 0.2,
                "budget_ratio": 30.0,
            }
        ]
    )
    fig = plots.equal_performance_plot(df, eq)
    ax = fig.axes[0]
    assert any(t.get_text().startswith("30x smaller") for t in ax.texts)
    legend = ax.get_legend().get_window_extent()
    fig.canvas.draw()
    assert legend.y1 <= ax.get_window_extent().y0  # below the data, not on it
