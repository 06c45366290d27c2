"""The paper profile's tasks: the paper's real datasets and metrics (GPU and Hub, or local copies).

    from budgetsplit.config import load_params
    from budgetsplit.paper import get_paper_task
    from budgetsplit.paper.preflight import check_paper_ready

    params = load_params("paper", "math")
    check_paper_ready([params])                    # clear error without a GPU or the data
    task = get_paper_task("math", params.task_options)
    task.sft_pool()[0]                             # {"id", "prompt_id", "prompt", "response"}

Each dataset id in `task_options.data` (roles sft, pref, test; reward_model for helpful) may be
a Hub id or a local folder/file in the Hub's schema; see budgetsplit.paper.data.
"""

from __future__ import annotations

from budgetsplit.config import TaskConfig
from budgetsplit.paper.data import PaperDataError, PaperTask, load_split
from budgetsplit.paper.gsm8k import MathTask
from budgetsplit.paper.helpful import HelpfulTask, RewardScorer
from budgetsplit.paper.instruct import InstructTask
from budgetsplit.paper.summarize import SummarizeTask

PAPER_TASKS: dict[str, type[PaperTask]] = {
    "math": MathTask,
    "instruct": InstructTask,
    "summarize": SummarizeTask,
    "helpful": HelpfulTask,
}

__all__ = [
    "PAPER_TASKS",
    "HelpfulTask",
    "InstructTask",
    "MathTask",
    "PaperDataError",
    "PaperTask",
    "RewardScorer",
    "SummarizeTask",
    "get_paper_task",
    "load_split",
]


def get_paper_task(name: str, task_cfg: TaskConfig | None = None) -> PaperTask:
    """The paper task `name`, reading the datasets `task_cfg.data` names (defaults: the paper's)."""
    if name not in PAPER_TASKS:
        raise ValueError(f"unknown paper task {name!r}; known: {', '.join(PAPER_TASKS)}")
    return PAPER_TASKS[name](task_cfg)
