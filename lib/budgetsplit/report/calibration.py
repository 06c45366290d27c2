"""The calibration's figure: the validation metric against every setting `budgetsplit calibrate`
swept (the protocol: `budgetsplit.run.calibrate`), from its sweep table (`Result.sweep`, or the
`params/<profile>/calibration/<task>.csv` written beside the choices), with matplotlib.

    from budgetsplit.config.profiles import calibration_path
    from budgetsplit.report import calibration
    fig = calibration.plot(pd.read_csv(calibration_path("toy", "math").with_suffix(".csv")))
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.ticker import NullFormatter

from budgetsplit.run.calibrate import GRIDS


def plot(sweep: pd.DataFrame) -> plt.Figure:
    """Validation metric against the swept value, one panel per setting (in the protocol's order),
    one colour per stage/regime, the same in every panel, solid at the largest budget and dashed
    at the middle one; the choice circled. The panels share one y axis from 0, so a PFT setting's
    spread of a few hundredths is not drawn as tall as SFT's climb."""
    keys = [k for k in GRIDS if k in set(sweep["setting"])]
    top = sweep["rung"].max()
    stages = list(dict.fromkeys(step.rsplit("/", 1)[0] for step in sweep["step"]))
    colors = dict(zip(stages, plt.get_cmap("tab10").colors, strict=False))
    # at most three panels a row: six (SFT, then dpo's, dpo_sft's and grpo's settings) in two
    cols = min(3, len(keys))
    rows = math.ceil(len(keys) / cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(4.5 * cols, 4.0 * rows), squeeze=False, sharey=True
    )
    for ax in axes.flat[len(keys) :]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        for label, g in sweep[sweep["setting"] == key].groupby("step", sort=False):
            color = colors[label.rsplit("/", 1)[0]]
            for rung, r in g.groupby("rung"):
                r = r.sort_values("value")
                name = f"{label.rsplit('/', 1)[0]} B={r['budget'].iloc[0]:g}"
                style = "-" if rung == top else "--"
                ax.plot(r["value"], r["score"], style, marker="o", color=color, label=name)
            pick = g[g["chosen"]]
            ax.scatter(pick["value"], pick["score"], s=160, facecolors="none", edgecolors=color)
        ax.set(xscale="log", xlabel=key, ylabel=f"{sweep['metric'].iloc[0]} (val)")
        ax.xaxis.set_minor_formatter(NullFormatter())  # log minor labels overlap at these ranges
        values = sorted(set(sweep.loc[sweep["setting"] == key, "value"]))
        if all(float(v).is_integer() for v in values):  # samples per prompt: 2, 4, 8 named
            ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.legend(fontsize=7, framealpha=0.6, handlelength=3)  # long enough to show the dashes
    axes[0, 0].set_ylim(bottom=0)
    fig.suptitle(f"calibration of {sweep['task'].iloc[0]} on validation (circled: chosen)")
    fig.tight_layout()
    return fig
