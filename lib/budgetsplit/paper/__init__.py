"""The paper profile's tasks: the paper's real datasets and metrics (GPU and Hub, or local copies).

    from budgetsplit.config import load_params
    from budgetsplit.paper import get_paper_task
    from budgetsplit.paper.preflight import check_paper_ready

    params = load_params("paper", "math")
    check_paper_ready([params])                    # clear error without a GPU or the data
    task = get_paper_task("math", params.task_options)
    task.sft_pool()[0]                             # {"id", "prompt_id", "prompt", "response"}

The classes are named after their datasets: `GSM8KTask` (math), `IFEvalTask` (instruct),
`TLDRTask` (summarize), `HelpSteerTask` (helpful). Each dataset id in `task_options.data` (roles
sft, pref, test; reward_model for helpful) may be a Hub id or a local folder/file in the Hub's
schema; see budgetsplit.paper.data.
"""

from __future__ import annotations

from budgetsplit.config import TaskConfig
from budgetsplit.paper.data import PaperDataError, PaperTask, load_split
from budgetsplit.paper.gsm8k import GSM8KTask
from budgetsplit.paper.helpful import HelpSteerTask, RewardScorer
from budgetsplit.paper.instruct import IFEvalTask
from budgetsplit.paper.summarize import TLDRTask
from budgetsplit.registry import paper_class

__all__ = [
    "GSM8KTask",
    "HelpSteerTask",
    "IFEvalTask",
    "PaperDataError",
    "PaperTask",
    "RewardScorer",
    "TLDRTask",
    "get_paper_task",
    "load_split",
]


def get_paper_task(name: str, task_cfg: TaskConfig | None = None) -> PaperTask:
    """The paper task `name` (its class: budgetsplit.registry), reading the datasets `task_cfg.data`
    names (defaults: the class's `default_data`, the paper's)."""
    return paper_class(name)(task_cfg)
