"""The base-model sweep: which toy base model (size x pretraining tokens) the study runs on,
chosen by a rule written down before the sweep ran (docs/toyworld.md, "Choosing the base model").

    python -m budgetsplit.run.base_sweep                      # every point, resumable
    python -m budgetsplit.run.base_sweep --points m1_t2,m1_t6 # some of them
    python -m budgetsplit.run.base_sweep --points m3_t60 --pause-after 90   # a long build in chunks

For each point of `params/toy/sweeps/base_model.yaml` (the toy world with the point's `pretrain`
overrides) it builds or finds the base model (toyworld.pretrain, cached by key), probes its skills
(training.probes, validation), and runs per task the base-model cell and SFT only on `n_sft`
demonstrations (real cells, budgetsplit.run.runner, on validation, seed 0) at each learning
rate of the calibration protocol's SFT grid (`sft_lrs`; the best one counts), and scores the floor
of cheap outputs on the same rows. One JSON per point goes to `results/base_sweep/<point>.json`
(a finished point is read back, so a killed sweep resumes), the table to
`results/base_sweep/points.csv`, and `choose` applies the rule.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import pandas as pd
import yaml

from budgetsplit.config.params import load_params, load_world
from budgetsplit.config.profiles import profile_dir
from budgetsplit.core.registry import TASKS
from budgetsplit.study.cells import BASE, SFT_ONLY, Cell
from budgetsplit.study.floors import floor_rows
from budgetsplit.tasks.toyworld.resume import BuildPaused

SWEEP = profile_dir("toy") / "sweeps" / "base_model.yaml"
OUT = Path("results") / "base_sweep"

# The rule (docs/toyworld.md, "Choosing the base model"), fixed on 2026-12-02 before any point ran.
MIN_PROBE = 0.70  # every task's skill probe
# SFT only at n_sft over the task's floor (the higher of base model and cheap outputs)
MIN_GAIN = 3.0
SFT_RANGE = (0.15, 0.85)  # SFT only at n_sft, as a share of the metric's maximum (1 for every task)
# The base model with the chat template: its share in the task's response format (changed from
# 0 on 2026-12-02 after the first point ran; docs/toyworld.md says why), and its score no higher
# than the floor of cheap outputs.
BASE_FORMAT = 0.10
# SFT only at n_sft: the best of the calibration protocol's SFT learning-rate grid, ranked as
# calibration ranks (changed on 2026-12-07 from the toy profile's calibrated lr of the time, which
# calibration chose for a base model without the skills; docs/toyworld.md says why). Records made
# before keep their one lr and say so in `sft_protocol`; only a point measured this way passes.
SFT_PROTOCOL = "lr grid"
OLD_PROTOCOL = "calibrated lr of the time"


def load_sweep(path: Path = SWEEP) -> dict:
    """The sweep file, its `world` (the world every point starts from) resolved beside it."""
    spec = yaml.safe_load(path.read_text())
    for key in ("world", "n_sft", "n_probes", "corpus_docs", "points"):
        if key not in spec:
            raise ValueError(f"{path}: key {key!r} is missing")
    world = path.parent / spec["world"]
    if not world.is_file():
        raise ValueError(f"{path}: key 'world' names {str(spec['world'])!r}, not a file beside it")
    return spec | {"world": world}


def _settings(spec: dict, point: str) -> dict:
    """The point's pretrain overrides (`pretrain.<key>`) and task knobs (`tasks`, a JSON text:
    the knobs feed the corpus, so they are part of what the point is)."""
    point_spec = dict(spec["points"][point])
    knobs = point_spec.pop("tasks", {})
    return {**{f"pretrain.{k}": v for k, v in point_spec.items()}, "tasks": json.dumps(knobs)}


def _world(spec: dict, point: str):
    settings = _settings(spec, point)
    knobs = json.loads(settings.pop("tasks"))
    over = {f"tasks.{t}.{k}": v for t, kv in knobs.items() for k, v in kv.items()}
    # the sweep's corpus size, unless the point names its own (`corpus_docs`, a pretrain key)
    corpus = {"pretrain.corpus_docs": spec["corpus_docs"]}
    # the sweep's own world, not the study's: that one takes the chosen recipe
    return load_world(spec["world"], overrides={**corpus, **settings, **over})


def _recorded(path: Path, spec: dict, point: str) -> bool:
    """Whether the point's record exists; a record made with other settings is an error (a rerun
    never mixes settings: remove the file to run the point again)."""
    if not path.exists():
        return False
    row = json.loads(path.read_text())
    row.setdefault("tasks", "{}")  # records from before points had task knobs
    for key, want in _settings(spec, point).items():
        if row.get(key) != want:
            raise SystemExit(
                f"{path}: recorded {key}={row.get(key)!r}, but the sweep file says {want!r}; "
                "remove the record to run the point with the new settings"
            )
    return True


def run_point(spec: dict, point: str, runs: Path, pause_after_s: float | None = None) -> dict:
    """Build, probe and train one point; its row of the sweep table."""
    from budgetsplit.run.runner import run_cell  # torch and the trainers: when a point runs
    from budgetsplit.tasks.toyworld import get_toy_task
    from budgetsplit.tasks.toyworld.pretrain import get_base_model
    from budgetsplit.training.probes import probe_scores

    world = _world(spec, point)
    t0 = time.time()
    folder = get_base_model(world, pause_after_s=pause_after_s)  # BuildPaused: resume later
    info = json.loads((folder / "build_info.json").read_text())
    row = {
        "point": point,
        **_settings(spec, point),
        "n_params": info["n_params"],
        "train_tokens": info["corpus"]["train_tokens"],
        "tokens_seen": world.pretrain.steps * world.pretrain.batch_size * world.pretrain.seq_len,
        "epochs": info["corpus"]["epochs"],
        "heldout_loss": info["heldout_loss"],
        "build_s": info["wall_s"],
        "build_tokens_per_s": info["train_tokens_per_s"],
        "base_model": f"{folder.name}",
    }
    row["pretrain_flops"] = 6 * row["n_params"] * row["tokens_seen"]
    probes = probe_scores(world, folder, split="val", n=spec["n_probes"])
    row["sft_protocol"] = SFT_PROTOCOL
    for name in TASKS:
        row[f"probe.{name}"] = round(probes[name]["score"], 4)
        over = {"model.name": str(folder), "eval.split": "val", "seeds": [0]}
        params = load_params("toy", name, overrides={**over, "output_dir": str(runs / point)})
        task = get_toy_task(name, world)
        base = run_cell(params, Cell(name, BASE, 0, 0.0, 0), task=task)
        metric = task.primary_metric
        sft, scores, cell_s = {}, {}, {}
        for lr in sft_lrs(name):  # each lr its own run folder: the cells' names do not hold it
            lr_over = {**over, "sft.learning_rate": lr, "output_dir": str(runs / point / f"lr{lr}")}
            t_cell = time.time()
            cell = Cell(name, SFT_ONLY, spec["n_sft"], 1.0, 0)
            sft[lr] = run_cell(load_params("toy", name, overrides=lr_over), cell, task=task)
            scores[lr], cell_s[lr] = sft[lr].metrics[metric], round(time.time() - t_cell, 1)
        best = best_lr(scores, load_params("toy", name, calibrated=False).sft.learning_rate)
        floor = floor_rows(task, params.eval, params.profile)  # the highest cheap output
        row |= {
            f"base.{name}": base.metrics[metric],
            f"base_format.{name}": base.metrics.get("format_share"),
            f"floor.{name}": float(floor["score"].mean()),
            f"floor_output.{name}": floor["output"].iloc[0],
            f"sft.{name}": scores[best],
            f"sft_format.{name}": sft[best].metrics.get("format_share"),
            f"sft_lr.{name}": best,
            f"sft_by_lr.{name}": json.dumps({f"{lr:g}": s for lr, s in scores.items()}),
            f"cell_s.{name}": cell_s[best],
        }
    row["point_s"] = round(time.time() - t0, 1)
    return row


def sft_lrs(task: str) -> list[float]:
    """The calibration protocol's SFT learning rates for `task`: its grid around the toy profile's
    prior (`budgetsplit calibrate`'s first step, at one budget here: the rule's n_sft)."""
    from budgetsplit.run.calibrate import grid  # imports the runner: torch

    prior = load_params("toy", task, calibrated=False).sft.learning_rate
    return grid("sft.learning_rate", prior, prior)


def best_lr(scores: dict[float, float], prior: float) -> float:
    """The learning rate calibration would keep: the best rounded score, ties to the prior, then
    to the smaller rate."""
    from budgetsplit.run.calibrate import rank_key  # imports the runner: torch

    return min(scores, key=lambda lr: rank_key(scores[lr], lr, prior))


def task_checks(
    probe: float, base: float, cheap: float, sft: float, in_format: float | None
) -> dict[str, bool]:
    """The rule's conditions for one task (docs/toyworld.md, "Choosing the base model"): the
    skill `probe`; SFT only's score `sft` against the floor (the higher of the `base` model and the
    `cheap` outputs) and inside SFT_RANGE; the base model's share of rows `in_format` (None: none)
    and its score against the cheap outputs. base_check.py applies the same to a grid."""
    floor = max(base, cheap)
    return {
        "probe": probe >= MIN_PROBE,
        "gain": sft >= MIN_GAIN * floor,
        "range": SFT_RANGE[0] <= sft <= SFT_RANGE[1],
        "format": (in_format or 0.0) <= BASE_FORMAT,
        "under_cheap": base <= cheap,
    }


def checks(row: dict) -> dict[str, bool]:
    """`task_checks` of one sweep point per task, keyed `<condition>.<task>`; the base model's two
    (`format`, `under_cheap`) as one, `cold` (it keeps the cold start)."""
    out = {}
    for t in TASKS:
        c = task_checks(
            row[f"probe.{t}"],
            row[f"base.{t}"],
            row[f"floor.{t}"],
            row[f"sft.{t}"],
            row[f"base_format.{t}"],
        )
        out |= {f"{k}.{t}": c[k] for k in ("probe", "gain", "range")}
        out[f"cold.{t}"] = c["format"] and c["under_cheap"]
    return out


def choose(table: pd.DataFrame) -> tuple[str, bool]:
    """(point, whether it passes): the passing point with the fewest parameters, then the fewest
    pretraining tokens; with none passing, the point that meets the most conditions (then the
    same order), reported as failing. A point passes when it meets every condition, measured with
    the current SFT protocol."""
    rows = table.to_dict("records")
    met = {r["point"]: sum(checks(r).values()) for r in rows}
    passes = {
        r["point"]: all(checks(r).values()) and r.get("sft_protocol", SFT_PROTOCOL) == SFT_PROTOCOL
        for r in rows
    }
    order = sorted(
        rows,
        key=lambda r: (not passes[r["point"]], -met[r["point"]], r["n_params"], r["tokens_seen"]),
    )
    best = order[0]["point"]
    return best, passes[best]


def table(out: Path = OUT) -> pd.DataFrame:
    # records from before points had task knobs, and before the SFT lr grid
    old = {"tasks": "{}", "sft_protocol": OLD_PROTOCOL}
    rows = [old | json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    return pd.DataFrame(rows).sort_values(["n_params", "tokens_seen"]).reset_index(drop=True)


def _label(n_params: int, tasks: str, corpus_m: int, copy: float) -> str:
    knobs = json.loads(tasks)
    said = "; ".join(
        f"{t} " + ", ".join(f"{k}={v}" for k, v in kv.items()) for t, kv in knobs.items()
    )
    drills = f", {copy:.0%} copy drills" if copy else ""
    return f"{n_params / 1e6:.1f}M params, {corpus_m}M-token corpus{drills}" + (
        f" ({said})" if said else ""
    )


def plot(t: pd.DataFrame, path: Path | None = None):
    """The sweep as a figure: per task, the skill probe and SFT only at n_sft (with its floor)
    against pretraining tokens, a line per model size and task knobs; the rule's thresholds
    dashed."""
    import matplotlib.pyplot as plt

    # a line joins points that differ in pretraining steps only: one model size, task knobs and
    # corpus (its training tokens, to the million, and its share of copy drills)
    copy = t["pretrain.copy_share"] if "pretrain.copy_share" in t else 0.0
    t = t.assign(
        corpus_m=(t["train_tokens"] / 1e6).round().astype(int),
        copy=pd.Series(copy, index=t.index).fillna(0.0),
    )
    groups = list(t.groupby(["n_params", "tasks", "corpus_m", "copy"]))
    # the legend's notes after the lines' labels: (marker, fill, line style, text)
    notes = [
        (
            "x",
            "grey",
            ":",
            "each line's floor (bottom row): the higher of the base model and cheap outputs",
        )
    ]
    best, passes = choose(t)
    if passes:  # the chosen point ringed in every panel
        notes.append(("o", "none", "", f"ringed: {best}, the point the rule chooses"))
    if (t["sft_protocol"] == OLD_PROTOCOL).any():
        notes.append(
            (
                "o",
                "white",
                "",
                "open (bottom row): SFT at the calibrated lr of the time, not the lr grid",
            )
        )
    # the legend below the panels gets its own height (a line of 8-point text each), so the panels
    # keep theirs however many lines there are
    legend_h = 0.17 * (len(groups) + len(notes)) + 0.2
    fig_h = 4.6 + legend_h
    fig, axes = plt.subplots(2, len(TASKS), figsize=(3.2 * len(TASKS), fig_h), sharex=True)
    # one colour and marker per line: ten colours, then the next marker, so no two lines share both
    styles = [(plt.cm.tab10(i % 10), "osD^v"[i // 10 % 5]) for i in range(len(groups))]
    for j, name in enumerate(TASKS):
        for (key, g), (c, m) in zip(groups, styles, strict=True):
            x, label = g["tokens_seen"] / 1e6, _label(*key)
            axes[0, j].plot(x, g[f"probe.{name}"], marker=m, c=c, label=label)
            axes[1, j].plot(x, g[f"sft.{name}"], marker=m, c=c, label=label)
            old = g["sft_protocol"] == OLD_PROTOCOL  # SFT at another model's lr: open marker
            axes[1, j].plot(x[old], g[f"sft.{name}"][old], m, mfc="white", c=c)
            floor = g[[f"base.{name}", f"floor.{name}"]].max(axis=1)
            axes[1, j].plot(x, floor, "x:", color=c)  # its floor, same colour
        if passes:
            chosen = t[t["point"] == best]
            for ax, col in ((axes[0, j], f"probe.{name}"), (axes[1, j], f"sft.{name}")):
                x = chosen["tokens_seen"] / 1e6
                ax.plot(x, chosen[col], "o", ms=14, mfc="none", mec="black", mew=1.5)
        axes[0, j].axhline(MIN_PROBE, ls="--", c="grey", lw=1)
        for y in SFT_RANGE:
            axes[1, j].axhline(y, ls="--", c="grey", lw=1)
        axes[0, j].set(title=name, ylim=(0, 1.02))
        axes[1, j].set(ylim=(0, 1.02), xlabel="pretraining tokens (M)", xscale="log")
    ticks = sorted(t["tokens_seen"].unique() / 1e6)
    for ax in axes.flat:  # the points' own token counts, not log-scale minor labels
        # whole millions from 10 on: 20.5 and 30.7 would overlap on a log axis
        ax.set_xticks(ticks, [f"{x:.0f}" if x >= 10 else f"{x:.3g}" for x in ticks])
        ax.minorticks_off()
    axes[0, 0].set_ylabel("skill probe\n(val)")
    axes[1, 0].set_ylabel("SFT only,\n1,000 demos (val)")
    handles, labels = axes[1, 0].get_legend_handles_labels()
    for marker, fill, ls, text in notes:
        colour = "black" if fill == "none" else "grey"  # the ring is drawn black
        handles.append(plt.Line2D([], [], color=colour, marker=marker, mfc=fill, ls=ls))
        labels.append(text)
    fig.legend(handles, labels, loc="lower center", ncol=1, frameon=False, fontsize=8)
    fig.tight_layout(rect=(0, legend_h / fig_h, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", default=None, help="comma-separated point names (default: all)")
    ap.add_argument("--sweep", type=Path, default=SWEEP)
    ap.add_argument("--runs", type=Path, default=Path("runs") / "base_sweep")
    ap.add_argument(
        "--pause-after",
        type=float,
        metavar="MIN",
        help="stop a base-model build after MIN minutes of training, its state saved; the same "
        "command goes on from there",
    )
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    spec = load_sweep(args.sweep)
    names = args.points.split(",") if args.points else list(spec["points"])
    for bad in set(names) - set(spec["points"]):
        raise SystemExit(f"{args.sweep}: no point {bad!r}; points: {', '.join(spec['points'])}")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in names:
        path = OUT / f"{name}.json"
        if _recorded(path, spec, name):
            old = json.loads(path.read_text()).get("sft_protocol") != SFT_PROTOCOL
            note = f" (SFT at the {OLD_PROTOCOL}: remove it to measure on the lr grid)" * old
            print(f"{name}: recorded in {path}{note}")
            continue
        pause = None if args.pause_after is None else 60 * args.pause_after
        try:
            row = run_point(spec, name, args.runs, pause)
        except BuildPaused as e:
            print(f"{name}: {e}")
            return 3
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(row, indent=1) + "\n")
        tmp.replace(path)  # a killed point leaves no half-written record
        print(f"{name}: {json.dumps({k: v for k, v in row.items() if '.' in k})}")
    t = table()
    t.to_csv(OUT / "points.csv", index=False)
    plot(t, Path("docs") / "figures" / "base_sweep.png")
    point, ok = choose(t)
    print(f"chosen: {point} ({'passes the rule' if ok else 'passes no point: the closest'})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
