"""Each task's floor of cheap outputs: what outputs that learn nothing from the annotations score
on the rows the cells are scored on (`Task.cheap_outputs`: an empty answer, a copy of the prompt, a
constant guess, the bare template, ...). A split has learned something only above the highest of
them and of the base model (analysis/verdicts.py decides "above the floor" with intervals).

    from budgetsplit.study import floors
    floors.floor_rows(task, params.eval, params.profile)  # the highest one's per-row scores

The floor's per-row scores join the per-row score table (results.row_scores_table) as one more
cell of the task, method "floor" (budget 0, SFT fraction 0, seed 0), on the same rows
(`ids_digest`) as the cells, so its difference to every split is paired over rows. `output` names
the cheap output it is. A cheap output is text, so it has no seed spread: its interval is the
rows' alone.
"""

from __future__ import annotations

import pandas as pd

from budgetsplit.config.params import EvalConfig
from budgetsplit.study.cells import FLOOR
from budgetsplit.tasks.interface import Task, eval_rows, row_scores


def _scored(task: Task, cfg: EvalConfig) -> list[tuple[str, dict]]:
    rows = eval_rows(task, cfg)
    return [
        (name, row_scores(task, rows, outs, cfg.split))
        for name, outs in task.cheap_outputs(rows).items()
    ]


def floor_rows(task: Task, cfg: EvalConfig, profile: str) -> pd.DataFrame:
    """The per-row scores of `task`'s highest cheap output, as cells' rows of the per-row score
    table (results.ROW_SCORE_COLUMNS, which orders them; method "floor")."""
    scored = _scored(task, cfg)
    name, rs = max(scored, key=lambda s: sum(s[1]["values"]))  # max keeps the first of a tie
    return pd.DataFrame(
        {
            "profile": profile,
            "task": task.name,
            "method": FLOOR,
            "budget": 0.0,
            "sft_fraction": 0.0,
            "seed": 0,
            "cost_ratio": float("nan"),
            "model": None,  # the floor of cheap outputs is no model's: every model's floor
            "n_sft": 0,
            "n_pref": 0,
            "metric": rs["metric"],
            "split": rs["split"],
            "ids_digest": rs["ids_digest"],
            "row": range(len(rs["values"])),
            "score": rs["values"],
            "output": name,
        }
    )
