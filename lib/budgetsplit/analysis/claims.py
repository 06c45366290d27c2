"""The paper's six claims, each a rule computed from the results: reproduced, not reproduced or
inconclusive, with the numbers and intervals it rests on (docs/statistics.md states the rules).

    from budgetsplit.analysis import claims
    found = claims.evaluate(score_table, results_table)       # {method: six Claim objects}
    found["dpo"][0].verdict, found["dpo"][0].why, found["dpo"][0].resolution

budgetsplit.report.claims_md writes them down (claims.md, the README's table), and
`budgetsplit claims --profile toy` (cli/claims.py) does both on a finished run's records.

Every rule works on best sets (verdicts.best_sets): per group (task, method, cost ratio, budget)
the fractions not significantly worse than the leader, above the task's floor (the higher of the
base model and its cheap outputs). Each claim is judged for each PFT method
on its own (`evaluate` returns {method: claims}, the paper's methods first): the paper's claims are
about its methods, and one method's counterexample says nothing about another's. Each group gives
a status: "holds", "fails" or "undecided" (no best, or the intervals cannot tell). A group fails
only on a resolved contradiction: a difference whose interval excludes 0, or a split shown
equivalent to another (its difference's interval within the equivalence margin,
verdicts.EQUIVALENCE); a split that is merely not shown worse decides nothing. A claim is inconclusive when no group decides it, reproduced when every
deciding group holds, and not reproduced when any deciding group fails (the evidence says in how
many it holds): a claim stated without exceptions is refuted by a clear counterexample. Undecided groups never count, so a verdict rests only on
differences the intervals resolve; each claim reports `resolution`, the median half-width of its
groups' intervals on differences from the leader: the smallest difference it could tell apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from budgetsplit.analysis import stats, verdicts
from budgetsplit.core.methods import METHODS, TABLE

LOW_BUDGET = 1000  # the paper's "low budgets (< ~1,000 annotated examples)"
COLD_TASK = "math"
PAPER = {
    1: "Low budgets (up to ~1,000 examples): SFT only is best",
    2: "Larger budgets: a mix is best, with a growing preference share",
    3: "Cold start: PFT on the base model is poor on math",
    4: "Less than 10% of the budget on SFT first fixes the cold start",
    5: "Well-allocated small budgets match poorly allocated budgets 2-5x larger",
    6: "Under varied annotation costs, part of the budget on SFT before PFT is still best",
}


@dataclass
class Claim:
    number: int
    verdict: str  # "reproduced" | "not reproduced" | "inconclusive"
    why: str
    evidence: list[str] = field(default_factory=list)
    # The median half-width of the groups' difference intervals (leader minus each split): a
    # difference much smaller than this cannot decide the claim. None: no such interval.
    resolution: float | None = None

    @property
    def text(self) -> str:
        return PAPER[self.number]


def _num(x: float) -> str:
    return f"{x:.3g}"


def _cell(g: pd.DataFrame, f: float) -> str:
    r = g[g["sft_fraction"] == f].iloc[0]
    return f"{_num(r['mean'])} [{_num(r['low'])}, {_num(r['high'])}]"


def _name(g: pd.DataFrame) -> str:
    r = g.iloc[0]
    cost = "" if pd.isna(r["cost_ratio"]) else f" cost ratio {r['cost_ratio']:g}"
    return f"{r['task']} {r['method']}{cost} B={r['budget']:g}"


def _set(g: pd.DataFrame) -> str:
    s = g["best_set"].iloc[0]
    floor = ""
    if "floor" in g:
        floor = f": {g['floor_source'].iloc[0]}, {_num(g['floor'].iloc[0])}"
    return (
        f"no best (every split at the floor{floor})"
        if not s
        else "best set {"
        + ", ".join(f"{f:g}" for f in s)
        + "} (top "
        + _cell(g, g.loc[g["mean"].idxmax(), "sft_fraction"])
        + ")"
    )


def _status(g: pd.DataFrame, holds: bool | None, note: str = "") -> tuple[str, str, float | None]:
    status = "undecided" if holds is None else "holds" if holds else "fails"
    return status, f"{_name(g)}: {status}; {_set(g)}{'; ' + note if note else ''}", _half_width(g)


def _half_width(g: pd.DataFrame) -> float | None:
    """The median half-width of a group's intervals on (leader minus split), over its splits."""
    if "diff_low" not in g:
        return None
    w = ((g["diff_high"] - g["diff_low"]) / 2)[g["sft_fraction"] != g["leader"]].dropna()
    return float(w.median()) if len(w) else None


def _verdict(number: int, results: list[tuple], empty_why: str) -> Claim:
    evidence = [r[1] for r in results]
    widths = [r[2] for r in results if len(r) > 2 and r[2] is not None]
    resolution = float(np.median(widths)) if widths else None
    n_hold = sum(r[0] == "holds" for r in results)
    n_fail = sum(r[0] == "fails" for r in results)
    if not results:
        return Claim(number, "inconclusive", empty_why)
    if n_hold + n_fail == 0:
        why = "no group is decided by its intervals"
        return Claim(number, "inconclusive", why, evidence, resolution)
    counts = f"holds in {n_hold} of {n_hold + n_fail} decided groups ({len(results)} in all)"
    verdict = "reproduced" if n_fail == 0 else "not reproduced"
    return Claim(number, verdict, counts, evidence, resolution)


def _groups(best: pd.DataFrame, mask: pd.Series):
    for _, g in best[mask].groupby(verdicts.GROUP, dropna=False, sort=True):
        yield g


def _has(g: pd.DataFrame, f: float) -> bool:
    return bool((g["sft_fraction"] == f).any())


def claim_sft_only(best: pd.DataFrame, low: float = LOW_BUDGET) -> Claim:
    out = []
    for g in _groups(best, best["cost_ratio"].isna() & (best["budget"] <= low)):
        if not _has(g, 1.0) or len(g) < 2:
            continue
        s = g["best_set"].iloc[0]
        # holds: SFT only alone in the set; fails: outside it; tied with other splits: undecided
        holds = False if s and 1.0 not in s else True if s == (1.0,) else None
        out.append(_status(g, holds, f"SFT only {_cell(g, 1.0)}"))
    return _verdict(1, out, f"no example budget <= {low:g} with SFT-only and mixed cells")


def claim_mix(best: pd.DataFrame, low: float = LOW_BUDGET) -> Claim:
    d = best[best["cost_ratio"].isna()]
    if d.empty or d["budget"].max() <= low:
        top = "none" if d.empty else f"{d['budget'].max():g}"
        return Claim(
            2,
            "inconclusive",
            f"the grid's largest example budget is {top}; the claim concerns budgets above {low:g}",
        )
    out, trend = [], []
    for g in _groups(best, best["cost_ratio"].isna() & (best["budget"] > low)):
        s = g["best_set"].iloc[0]
        mixes = [f for f in s if 0 < f < 1]
        holds = None if not s or (1.0 in s and mixes) else bool(mixes) and 1.0 not in s
        out.append(_status(g, holds, f"SFT only {_cell(g, 1.0)}" if _has(g, 1.0) else ""))
    for (task, method), t in d[d["budget"] > low].groupby(["task", "method"]):
        sets = t[~t["no_best"]].groupby("budget")["best_set"].first().sort_index()
        if len(sets) < 2:
            continue
        first, last = sets.iloc[0], sets.iloc[-1]
        status = (
            "holds"
            if max(last) < min(first)
            else "fails"
            if min(last) > max(first)
            else "undecided"
        )
        trend.append(
            (
                status,
                f"{task} {method}, growing preference share: {status}; best set "
                f"{set(first)} at {sets.index[0]:g} -> {set(last)} at {sets.index[-1]:g}",
            )
        )
    mix, grow = _verdict(2, out, ""), _verdict(2, trend, "")
    evidence, res = mix.evidence + grow.evidence, mix.resolution
    if "not reproduced" in (mix.verdict, grow.verdict):
        return Claim(
            2,
            "not reproduced",
            f"mix best: {mix.why}; growing share: "
            f"{grow.why or 'fewer than 2 budgets above ' + format(low, 'g')}",
            evidence,
            res,
        )
    if mix.verdict == grow.verdict == "reproduced":
        why = f"mix best: {mix.why}; growing share: {grow.why}"
        return Claim(2, "reproduced", why, evidence, res)
    return Claim(
        2,
        "inconclusive",
        "mix best: "
        + (mix.why or "untested")
        + "; growing share: "
        + (grow.why or f"fewer than 2 budgets above {low:g} with a best"),
        evidence,
        res,
    )


def _diag(results: pd.DataFrame | None, g: pd.DataFrame, f: float, col: str) -> float | None:
    """The seed mean of a diagnostic column for fraction f of group g (None: not recorded)."""
    if results is None or col not in results:
        return None
    r, cell = results, g.iloc[0]
    r = r[
        (r["task"] == cell["task"])
        & (r["method"] == cell["method"])
        & (r["budget"] == cell["budget"])
        & (r["sft_fraction"] == f)
        & r["cost_ratio"].isna()
    ]
    v = r[col].dropna()
    return None if v.empty else float(v.mean())


def _not_poor(g: pd.DataFrame, boot: stats.Bootstrap | None, f: float) -> bool:
    """Whether fraction f of group g is resolved to be no worse than the best of the group's
    other splits by more than the margin (the lower end of the interval of f minus it is above
    -margin): f is the leader and resolved ahead, or equivalent to the leader."""
    r = g[g["sft_fraction"] == f].iloc[0]
    if r["mean"] < g["mean"].max():
        return bool(r["equivalent"])
    if boot is None:
        return False
    other = g[g["sft_fraction"] != f]
    other = other.loc[other["mean"].idxmax()]
    key = {k: verdicts._none(r[k]) for k in verdicts.GROUP}
    i, j = boot.index(**key, sft_fraction=f), boot.index(**key, sft_fraction=other["sft_fraction"])
    _, low, _ = stats.difference(boot, i, j)
    return bool(r["margin"] > 0 and low >= -r["margin"])


def claim_cold_start(best: pd.DataFrame, results=None, task: str = COLD_TASK, boot=None) -> Claim:
    # holds: SFT fraction 0 resolved worse than the leader (outside the best set); fails: it is
    # resolved no worse than the best other split by more than the margin; else undecided
    out = []
    for g in _groups(best, best["cost_ratio"].isna() & (best["task"] == task)):
        if not _has(g, 0.0) or len(g) < 2:
            continue
        s = g["best_set"].iloc[0]
        if not s:
            holds = None
        else:
            holds = True if 0.0 not in s else False if _not_poor(g, boot, 0.0) else None
        lp = _diag(results, g, 0.0, "diag.cold_start.chosen_logprob_per_token")
        fmt = _diag(results, g, 0.0, "diag.format_rate")
        notes = [f"PFT from the base model {_cell(g, 0.0)}"]
        notes += [f"log-prob of chosen per token {lp:.3g}"] if lp is not None else []
        notes += [f"answers in format {fmt:.3g}"] if fmt is not None else []
        out.append(_status(g, holds, ", ".join(notes)))
    return _verdict(3, out, f"no {task} cells with SFT fraction 0 beside other fractions")


def claim_small_sft(best: pd.DataFrame, boot: stats.Bootstrap, task: str = COLD_TASK) -> Claim:
    out = []
    for g in _groups(best, best["cost_ratio"].isna() & (best["task"] == task)):
        small = [f for f in g["sft_fraction"] if 0 < f <= 0.1]
        if not _has(g, 0.0) or not small:
            continue
        if 0.0 in g["best_set"].iloc[0] or g["no_best"].iloc[0]:
            out.append(_status(g, None, "no cold start to fix (SFT fraction 0 is not shown worse)"))
            continue
        key = {k: verdicts._none(g.iloc[0][k]) for k in verdicts.GROUP}
        i0 = boot.index(**key, sft_fraction=0.0)
        gains = [(f, *stats.difference(boot, boot.index(**key, sft_fraction=f), i0)) for f in small]
        f, m, lo, hi = max(gains, key=lambda x: x[2])
        # holds: the gain is resolved above 0; fails: resolved below the margin (less than a
        # tenth of what the best split gained over the floor); else undecided
        margin = float(g["margin"].iloc[0])
        holds = True if lo > 0 else False if hi < margin else None
        note = f"SFT {f:g} minus SFT 0: {_num(m)} [{_num(lo)}, {_num(hi)}], margin {_num(margin)}"
        out.append(_status(g, holds, note))
    return _verdict(4, out, f"no {task} cells with SFT fraction 0 and one in (0, 0.1]")


def claim_equal_performance(best: pd.DataFrame, boot: stats.Bootstrap) -> Claim:
    out, ratios = [], []
    for _, r in verdicts.equal_performance(best, boot).iterrows():
        name = f"{r['task']} {r['method']}"
        # (no reference, no match: None, or NaN once other groups' numbers share the column)
        if pd.isna(r["poor_fraction"]):
            out.append(
                (
                    "undecided",
                    f"{name}: undecided; no poorly allocated split (above the "
                    f"floor, outside the best set) at {r['large_budget']:g}",
                )
            )
        elif pd.isna(r["matching_budget"]) and r["unresolved"]:
            out.append(
                (
                    "undecided",
                    f"{name}: undecided; no smaller budget's best split matches "
                    f"{r['large_budget']:g} at SFT {r['poor_fraction']:g} "
                    f"({_num(r['poor_score'])}), and {r['unresolved']:g} of them are at the floor "
                    "without being shown worse",
                )
            )
        elif pd.isna(r["matching_budget"]):
            out.append(
                (
                    "fails",
                    f"{name}: fails; every smaller budget's best split is shown worse than "
                    f"{r['large_budget']:g} at SFT {r['poor_fraction']:g} "
                    f"({_num(r['poor_score'])})",
                )
            )
        else:
            holds, ratio = r["budget_ratio"] >= 2, r["budget_ratio"]
            ratios.append(ratio)
            where = (
                "below the paper's 2-5x"
                if ratio < 2
                else "in the paper's 2-5x"
                if ratio <= 5
                else "beyond the paper's 5x"
            )
            out.append(
                (
                    "holds" if holds else "fails",
                    f"{name}: {'holds' if holds else 'fails'}; {r['matching_budget']:g} at SFT "
                    f"{r['matching_fraction']:g} ({_num(r['matching_score'])}) ~ "
                    f"{r['large_budget']:g} at SFT {r['poor_fraction']:g} "
                    f"({_num(r['poor_score'])}), difference {_num(r['diff'])} "
                    f"[{_num(r['diff_low'])}, {_num(r['diff_high'])}], "
                    f"{ratio:.3g}x ({where})",
                )
            )
    claim = _verdict(5, out, "no example-budget cells")
    if ratios:  # the paper's claim is a range: say how many matches lie in it
        inside = sum(2 <= x <= 5 for x in ratios)
        listed = ", ".join(f"{x:.3g}x" for x in ratios)
        claim.why += f"; budget ratios {listed}: {inside} of {len(ratios)} in the paper's 2-5x"
    return claim


def claim_costs(best: pd.DataFrame) -> Claim:
    # "part of the budget on SFT before PFT": a fraction strictly between 0 and 1
    out = []
    for g in _groups(best, best["cost_ratio"].notna()):
        mixes = [f for f in g["sft_fraction"] if 0 < f < 1]
        if not mixes or len(g) < 2:
            continue
        s = g["best_set"].iloc[0]
        # holds: only mixes in the best set (SFT only and PFT only resolved worse); fails: no mix
        # in it (every mix resolved worse than the leader); else undecided
        mixed = [0 < f < 1 for f in s]
        holds = None if not s else True if all(mixed) else False if not any(mixed) else None
        out.append(_status(g, holds, ", ".join(f"SFT {f:g} {_cell(g, f)}" for f in mixes)))
    return _verdict(6, out, "no money-budget cells (cost ratios) with a mixed split beside others")


def methods_of(best: pd.DataFrame) -> list[str]:
    """The PFT methods of the best sets, the paper's first (core.methods), then the others."""
    known = {m: (not TABLE[m].paper, METHODS.index(m)) for m in METHODS}
    return sorted(best["method"].unique(), key=lambda m: (*known.get(m, (True, len(known))), m))


def judge(best: pd.DataFrame, boot: stats.Bootstrap, results=None) -> dict[str, list[Claim]]:
    """The six claims of each PFT method, from its best sets (which hold its SFT-only and
    base-floor comparisons too), their bootstrap and (for diagnostics) the results table."""
    return {m: judge_method(best[best["method"] == m], boot, results) for m in methods_of(best)}


def judge_method(best: pd.DataFrame, boot: stats.Bootstrap, results=None) -> list[Claim]:
    """The six claims from one method's best sets."""
    return [
        claim_sft_only(best),
        claim_mix(best),
        claim_cold_start(best, results, boot=boot),
        claim_small_sft(best, boot),
        claim_equal_performance(best, boot),
        claim_costs(best),
    ]


def evaluate(
    scores: pd.DataFrame,
    results: pd.DataFrame | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, list[Claim]]:
    """{PFT method: its six claims} from a per-row score table (and the results table: each task's
    primary metric, diagnostics; with it, only its cells count, and a cell without per-row scores
    counts its seed means: verdicts.cell_scores)."""
    if results is None:
        boot = verdicts.bootstrap(scores, None, seed=seed, n_resamples=n_resamples)
        return judge(verdicts.best_sets(boot, verdicts.floor_names(scores)), boot)
    names = verdicts.floor_names(scores)
    scores = verdicts.cell_scores(results, scores)
    boot = verdicts.bootstrap(scores, results, seed=seed, n_resamples=n_resamples)
    return judge(verdicts.best_sets(boot, names), boot, results)
