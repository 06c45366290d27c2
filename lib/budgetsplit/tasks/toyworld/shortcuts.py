"""Surface shortcuts in preference pairs: can a model tell chosen from rejected without the task?

A preference pair should be decided by the task (the right answer, the constraints followed, the
facts of the post), not by a surface feature such as "the longer one" or "the one without a
`####` on line 3". This module measures how far surface features alone separate a pool's pairs:

- `surface_features(text)`: lengths (characters, words, lines) and, per format marker of the
  world (MARKERS), its count and where it first appears (character offset and line, or -1).
- `shortcut_report(rows)`: presents each pair in a seeded random order (chosen first or second),
  fits a logistic regression (scikit-learn) on both sides' features, their differences and the
  signs of the length differences, and reports its held-out accuracy at "which side is chosen"
  (0.5 = no shortcut), with the chosen-longer share among pairs of unequal length (in characters).

    python -m budgetsplit.tasks.toyworld.shortcuts            # the table in docs/toyworld.md
    from budgetsplit.tasks.toyworld.shortcuts import shortcut_report
    shortcut_report(MathTask(seed=0, n_pref_pool=4000).pref_pool())

tests/test_shortcuts.py asserts accuracy <= 0.6 and a chosen-longer share in [0.4, 0.6] per task.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence

from budgetsplit.core.registry import TASKS, toy_class

# The format tokens of the four tasks' responses (math, summarize, instruct bullets and line
# breaks, helpful hedges and extra sentences), and upper-case letters (instruct's case rules).
MARKERS = ("####", "Step ", "TL;DR:", ";", "* ", ",", " or ", ". ")
_UPPER = re.compile(r"[A-Z]")
LENGTHS = ("chars", "words", "lines")


def surface_features(text: str) -> list[float]:
    """Lengths, upper-case letters, and per marker: count, first character offset, first line."""
    out = [float(len(text)), float(len(text.split())), float(text.count("\n") + 1)]
    out.append(float(len(_UPPER.findall(text))))
    for marker in MARKERS:
        at = text.find(marker)
        out += [
            float(text.count(marker)),
            float(at),
            float(text.count("\n", 0, at) if at >= 0 else -1),
        ]
    return out


def _pair_features(a: str, b: str) -> list[float]:
    fa, fb = surface_features(a), surface_features(b)
    diff = [x - y for x, y in zip(fa, fb, strict=True)]
    signs = [float((d > 0) - (d < 0)) for d in diff[: len(LENGTHS)]]
    return fa + fb + diff + signs


def shortcut_report(rows: Sequence[dict], seed: int = 0, test_share: float = 0.3) -> dict:
    """{"surface_accuracy", "longer_rule_accuracy", "chosen_longer_share", "unequal_share", "n"}:
    the held-out accuracy of a logistic regression on surface features at finding the chosen side,
    the accuracy of "pick the longer" on unequal pairs, and the chosen-longer share among them.
    Rows of one prompt stay on one side of the split (they share most of their text)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = random.Random(f"shortcuts/{seed}")
    prompts = sorted({r["prompt_id"] for r in rows})
    rng.shuffle(prompts)
    held = set(prompts[: max(1, int(test_share * len(prompts)))])
    x_fit, y_fit, x_held, y_held = [], [], [], []
    for r in rows:
        first = rng.random() < 0.5  # is the chosen side shown first?
        a, b = (r["chosen"], r["rejected"]) if first else (r["rejected"], r["chosen"])
        x, y = (x_held, y_held) if r["prompt_id"] in held else (x_fit, y_fit)
        x.append(_pair_features(a, b))
        y.append(int(first))
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_fit, y_fit)
    accuracy = float(model.score(x_held, y_held))
    unequal = [r for r in rows if len(r["chosen"]) != len(r["rejected"])]
    longer = sum(len(r["chosen"]) > len(r["rejected"]) for r in unequal)
    share = longer / len(unequal) if unequal else 0.5
    return {
        "surface_accuracy": round(accuracy, 3),
        "longer_rule_accuracy": round(max(share, 1 - share), 3),
        "chosen_longer_share": round(share, 3),
        "unequal_share": round(len(unequal) / len(rows), 3),
        "n": len(rows),
    }


def main() -> None:
    print("| task | surface-feature accuracy | chosen longer (of unequal) | unequal pairs |")
    print("|---|---|---|---|")
    for name in TASKS:
        task = toy_class(name)(seed=0, n_pref_pool=4000, n_sft_pool=0)
        report = shortcut_report(task.pref_pool())
        print(
            f"| {name} | {report['surface_accuracy']:.1%} | {report['chosen_longer_share']:.1%} "
            f"| {report['unequal_share']:.1%} |"
        )


if __name__ == "__main__":
    main()
