"""The allocation advisor: "I can spend B; a demonstration costs r times a preference pair: how
should I split?" answered from a results table by a fitted model of the metric in (n_sft, n_pref).

    budgetsplit advise --profile toy --task math --budget 2000 --cost-ratio 2 [--method M] [--json]
    budgetsplit advise --params DIR --profile mine ...      a profile of a user's own folder

    from budgetsplit.analysis import advise
    table = advise.load_table("results.csv")             # or advise.records_table("runs", "toy")
    advise.recommend(table, "math", budget=2000, cost_ratio=2, method="dpo_sft")
    advise.leave_one_budget_out(table, "math", "dpo_sft")
    advise.validate(table)        # the same for every task and method; validation_markdown(...)
    advise.curves(table, budgets=[100, 300, 1000, 3000], cost_ratios=[1, 2, 5])   # figure 6

Input columns (a CSV or parquet from elsewhere works too): task, method, n_sft, n_pref, seed, and
the metric: `score`, or `metric.<name>` named by --metric or by a `primary_metric` column. Optional:
budget (else n_sft + n_pref), cost_ratio. Method "sft" rows (SFT only) count for every method and
a "base" row (n_sft = n_pref = 0) anchors every fit at the base model.

The metric is modelled per task and method (`fits`: a saturating power-law form or a Gaussian
process, whichever has the lower leave-one-budget-out error), fitted to every (cell, seed) value.

Uncertainty: the fit is redone on bootstrap resamples of the seeds (scipy.stats.bootstrap; each
seed's cells resampled together). The recommendation is the fraction with the best predicted
metric; its interval is the spread of that argmax over resamples; "within noise" are the fractions
whose predicted metric reaches the lower end of the recommended split's interval (the seed
bootstrap of a fit that pools every cell understates how flat the top is: with three seeds the
argmax interval alone missed a known optimum next to it). One seed gives no interval. A budget
outside the grid's range is flagged as extrapolation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.stats

from budgetsplit.analysis import fits, stats, verdicts
from budgetsplit.analysis.fits import MIN_CELLS
from budgetsplit.core.budget import split_budget
from budgetsplit.study.results import model_rows, models_in, results_table

COLUMNS = ["task", "method", "n_sft", "n_pref", "seed"]
FRACTIONS = np.round(np.linspace(0, 1, 41), 3)  # the candidate splits, steps of 2.5%


class AdviceError(ValueError):
    """Input the advisor cannot answer from: one message naming what is wrong."""


def load_table(source: str | Path | pd.DataFrame, metric: str | None = None) -> pd.DataFrame:
    """A results table with a `y` column (the metric), a `budget` and a `cost_ratio`."""
    name = "the results table" if isinstance(source, pd.DataFrame) else str(source)
    if isinstance(source, pd.DataFrame):
        df = source.copy()
    elif not Path(source).is_file():
        raise AdviceError(f"{source}: no such results file")
    else:
        df = pd.read_parquet(source) if str(source).endswith(".parquet") else pd.read_csv(source)
    if metric is not None:
        col = metric if metric in df else f"metric.{metric}"
    elif "score" in df:
        col = "score"
    elif "primary_metric" in df:
        df["y"] = [r[f"metric.{r['primary_metric']}"] for _, r in df.iterrows()]
        col = "y"
    else:
        col = "score (or --metric NAME, or a primary_metric column)"
    missing = [c for c in (*COLUMNS, col) if c not in df]
    if missing:
        raise AdviceError(f"{name}: missing column(s) {missing}; it has {list(df.columns)}")
    df = df.assign(y=pd.to_numeric(df[col], errors="coerce")).dropna(subset=["y"])
    if "budget" not in df:
        df["budget"] = df["n_sft"] + df["n_pref"]
    if "cost_ratio" not in df:
        df["cost_ratio"] = np.nan
    return df


def records_table(output_dir: str | Path, profile: str, model: str | None = None) -> pd.DataFrame:
    """The results table of a profile's records (budgetsplit.study.results), scored on each
    primary metric; of one `model` of its model axis (AdviceError when it has several, unnamed)."""
    df = results_table(output_dir, profile)
    if df.empty:  # (results_table may also raise FileNotFoundError itself)
        raise FileNotFoundError(f"{Path(output_dir, profile)}: no cell records")
    try:
        df = model_rows(df, model)
    except ValueError as e:
        raise AdviceError(f"{e} (--model)") from None
    return load_table(verdicts.prepare(df), "score")


def method_rows(table: pd.DataFrame, task: str, method: str | None) -> pd.DataFrame:
    """The rows one fit uses: the task's cells of `method`, its SFT-only and base rows."""
    tasks = sorted(table["task"].unique())
    if task not in tasks:
        raise AdviceError(f"unknown task {task!r}; the results have {tasks}")
    if len(models := models_in(table[table["task"] == task])) > 1:  # one fit never pools models
        raise AdviceError(
            f"{task} has cells of several models {models}: pick one (--model, "
            "study.results.model_rows)"
        )
    t = verdicts.per_method(table[table["task"] == task])
    methods = sorted(set(t["method"]) - {verdicts.BASE})
    if method is None and len(methods) == 1:
        method = methods[0]
    if method is None:
        raise AdviceError(f"{task} has several methods {methods}: name one (--method)")
    if method not in methods:
        raise AdviceError(f"unknown method {method!r} for {task}; the results have {methods}")
    d = t[t["method"].isin([method, verdicts.BASE])]
    if d[["n_sft", "n_pref"]].drop_duplicates().shape[0] < MIN_CELLS or d["budget"].nunique() < 2:
        raise AdviceError(
            f"too few cells to fit {task}/{method}: {len(d.groupby(['n_sft', 'n_pref']))} distinct "
            f"(n_sft, n_pref) over {d['budget'].nunique()} budget(s); need {MIN_CELLS} over 2+"
        )
    return d.reset_index(drop=True)


@dataclass
class Advice:
    task: str
    method: str
    budget: float
    cost_ratio: float
    model: str
    lobo_rmse: dict
    fraction: float
    fraction_low: float
    fraction_high: float
    n_sft: int
    n_pref: int
    predicted: float
    predicted_low: float
    predicted_high: float
    within_noise: list = field(default_factory=list)
    extrapolating: bool = False
    grid_budgets: tuple = ()
    n_seeds: int = 0


def _splits(budget: float, cost_ratio: float) -> np.ndarray:
    return np.array(
        [split_budget(float(budget), float(f), float(cost_ratio), 1) for f in FRACTIONS]
    )


def recommend(
    table: pd.DataFrame,
    task: str,
    budget: float,
    cost_ratio: float = 1.0,
    method: str | None = None,
    n_resamples: int = 200,
    seed: int = 0,
    model: str | None = None,
) -> Advice:
    """The advised SFT fraction at `budget` (counted in preference-pair costs) when an SFT
    demonstration costs `cost_ratio` pairs, for one method of one task (`model`: the fit's form,
    default the one with the lower leave-one-budget-out error)."""
    if not budget > 0:
        raise AdviceError(f"budget must be > 0, got {budget!r}")
    if not cost_ratio > 0:
        raise AdviceError(f"cost ratio must be > 0, got {cost_ratio!r}")
    d = method_rows(table, task, method)
    method = str(d.loc[d["method"] != verdicts.BASE, "method"].iloc[0])
    model, errors = (model, {}) if model else fits.choose_model(d)
    X = _splits(budget, cost_ratio)
    curve = fits.fit(model, d).predict(X)
    best = int(np.argmax(curve))
    seeds = np.sort(d.loc[d["method"] != verdicts.BASE, "seed"].unique())
    memo: dict[tuple, np.ndarray] = {}

    def refit(idx):  # one bootstrap resample of the seeds (repeated multisets fitted once)
        key = tuple(np.sort(idx))
        if key not in memo:
            picked = pd.concat(
                [d[(d["seed"] == seeds[i]) & (d["method"] != verdicts.BASE)] for i in key]
                + [d[d["method"] == verdicts.BASE]]
            )
            memo[key] = fits.fit(model, picked).predict(X)
        return memo[key]

    if len(seeds) > 1:
        res = scipy.stats.bootstrap(
            (np.arange(len(seeds)),),
            refit,
            vectorized=False,
            n_resamples=n_resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        )
        draws = res.bootstrap_distribution  # fractions x resamples
        argmax = FRACTIONS[np.argmax(draws, axis=0)]
        f_lo, f_hi = np.quantile(argmax, [0.025, 0.975])
        p_lo, p_hi = np.quantile(draws[best], [0.025, 0.975])
        within = [float(f) for f in FRACTIONS[curve >= p_lo]]
    else:  # one seed: nothing to resample
        f_lo = f_hi = p_lo = p_hi = np.nan
        within = [float(FRACTIONS[best])]
    grid = d.loc[d["budget"] > 0, "budget"]
    return Advice(
        task,
        method,
        float(budget),
        float(cost_ratio),
        model,
        errors,
        float(FRACTIONS[best]),
        float(f_lo),
        float(f_hi),
        int(X[best, 0]),
        int(X[best, 1]),
        float(curve[best]),
        float(p_lo),
        float(p_hi),
        within,
        bool(budget < grid.min() or budget > grid.max()),
        (float(grid.min()), float(grid.max())),
        int(len(seeds)),
    )


CURVE_COLUMNS = [
    "task",
    "method",
    "cost_ratio",
    "budget",
    "model",
    "fraction",
    "fraction_low",
    "fraction_high",
    "predicted",
    "predicted_low",
    "predicted_high",
    "extrapolating",
    "n_seeds",
]


def curves(
    table: pd.DataFrame, budgets, cost_ratios=(1.0,), n_resamples: int = 200
) -> pd.DataFrame:
    """The advice at each budget and cost ratio for every task and method of `table` (figure 6):
    one row per (task, method, cost_ratio, budget) with the recommended fraction, its interval,
    the predicted metric and whether the budget extrapolates. Each fit's form is chosen once per
    task and method."""
    rows = []
    for task in sorted(table["task"].unique()):
        for method in methods_of(table, task):
            try:
                model = fits.choose_model(method_rows(table, task, method))[0]
            except AdviceError:  # too few cells for this task and method: no curve
                continue
            for ratio in cost_ratios:
                for b in budgets:
                    a = recommend(table, task, b, ratio, method, n_resamples, model=model)
                    rows.append({k: getattr(a, k) for k in CURVE_COLUMNS})
    return verdicts.whole_numbers(pd.DataFrame(rows, columns=CURVE_COLUMNS), ["budget"])


def methods_of(table: pd.DataFrame, task: str) -> list[str]:
    t = table[table["task"] == task]
    return sorted(set(verdicts.per_method(t)["method"]) - {verdicts.BASE}) if len(t) else []


def leave_one_budget_out(
    table: pd.DataFrame,
    task: str,
    method: str,
    cost_ratio: float | None = None,
    model: str | None = None,
    boot: stats.Bootstrap | None = None,
) -> pd.DataFrame:
    """Validation: hold out each budget of one cost setting (None: example budgets), fit to the
    cells of every other budget (all cost settings), pick the grid fraction the fit predicts best there. Columns: budget, recommended, best,
    recommended_score, best_score, best_low, best_high (the best cell's interval), gap (best minus
    recommended) with gap_low, gap_high, and within (the gap's interval reaches 0: the recommended
    cell is not significantly worse than the best). `boot`: stats.bootstrap_cells of the per-row
    scores (after verdicts.per_method); default, a bootstrap over the seeds of `table`."""
    d = method_rows(table, task, method)
    model = model or fits.choose_model(d)[0]
    same = d["cost_ratio"].isna() if cost_ratio is None else d["cost_ratio"] == cost_ratio
    if boot is None:
        cells = d[same & (d["method"] == method)].assign(score=lambda x: x["y"])
        boot = stats.bootstrap_cells(stats.scores_from_results(cells))
    rows = []
    for b in sorted(set(d.loc[same, "budget"]) - {0}):
        train, test = d[d["budget"] != b], d[same & (d["budget"] == b)]
        if train[["n_sft", "n_pref"]].drop_duplicates().shape[0] < MIN_CELLS:
            continue
        means = test.groupby(["sft_fraction", "n_sft", "n_pref"])["y"].mean().reset_index()
        pred = fits.fit(model, train).predict(fits.features(means["n_sft"], means["n_pref"]))
        rec, top = means.iloc[int(np.argmax(pred))], means.loc[means["y"].idxmax()]
        key = {"task": task, "method": method, "cost_ratio": cost_ratio, "budget": b}
        i_top = boot.index(**key, sft_fraction=top["sft_fraction"])
        gap, low, high = stats.difference(
            boot, i_top, boot.index(**key, sft_fraction=rec["sft_fraction"])
        )
        rows.append(
            {
                "budget": b,
                "recommended": rec["sft_fraction"],
                "best": top["sft_fraction"],
                "recommended_score": rec["y"],
                "best_score": top["y"],
                "best_low": boot.cells.at[i_top, "low"],
                "best_high": boot.cells.at[i_top, "high"],
                "gap": top["y"] - rec["y"],
                "gap_low": low,
                "gap_high": high,
                "within": bool(low <= 0),
            }
        )
    return verdicts.whole_numbers(pd.DataFrame(rows), ["budget"])


def validate(table: pd.DataFrame, boot: stats.Bootstrap | None = None) -> pd.DataFrame:
    """leave_one_budget_out for every task and method of `table` (example budgets), one frame
    with task and method columns; a task or method with too few cells is skipped with a line on
    stdout saying why. `boot`: per-row intervals, as for leave_one_budget_out."""
    parts = []
    for task in sorted(table["task"].unique()):
        for method in methods_of(table, task):
            try:
                part = leave_one_budget_out(table, task, method, boot=boot)
            except AdviceError as e:
                print(f"skipped: {e}")
                continue
            parts.append(part.assign(task=task, method=method))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def validation_markdown(lobo: pd.DataFrame) -> str:
    """`validate`'s table as the README shows it (claims_md.update_readme puts it between the
    profile's `advisor` markers)."""
    head = (
        "| task | method | held-out budget | recommended | best cell | recommended's score "
        "| best [95% CI] | gap [95% CI] | within noise |"
    )
    lines = [head, "|" + "---|" * 9]
    for r in lobo.itertuples():
        lines.append(
            f"| {r.task} | {r.method} | {r.budget:g} | {r.recommended:g} | {r.best:g} "
            f"| {r.recommended_score:.3f} | {r.best_score:.3f} [{r.best_low:.3f}, {r.best_high:.3f}] "
            f"| {r.gap:.3g} [{r.gap_low:.3g}, {r.gap_high:.3g}] | {'yes' if r.within else 'no'} |"
        )
    if lobo.empty:
        lines.append("| (too few budgets to hold one out) |" + " |" * 8)
    return "\n".join(lines)


def text_table(advice: list[Advice]) -> str:
    lines = [
        f"{'method':<10}{'SFT fraction':<22}{'n_sft':>7}{'n_pref':>8}  {'predicted':<24}"
        f"{'model':<11}within noise"
    ]
    for a in advice:
        f, p = f"{a.fraction:g}", f"{a.predicted:.3g}"
        if a.n_seeds > 1:
            f += f" [{a.fraction_low:g}, {a.fraction_high:g}]"
            p += f" [{a.predicted_low:.3g}, {a.predicted_high:.3g}]"
        w = f"{min(a.within_noise):g}-{max(a.within_noise):g}"
        lines.append(f"{a.method:<10}{f:<22}{a.n_sft:>7}{a.n_pref:>8}  {p:<24}{a.model:<11}{w}")
    a = advice[0]
    lines.append(
        f"budget {a.budget:g} (cost ratio {a.cost_ratio:g}); grid budgets "
        f"{a.grid_budgets[0]:g}-{a.grid_budgets[1]:g}; {a.n_seeds} seed(s)"
        + ("; 95% intervals" if a.n_seeds > 1 else "; one seed: no intervals")
        + ("; EXTRAPOLATING beyond the grid's budgets" if a.extrapolating else "")
    )
    return "\n".join(lines)
