"""The paper profile's tasks: the paper's real datasets and metrics (GPU and Hub, or local copies).

    from budgetsplit.config.params import load_params
    from budgetsplit.tasks.paper import get_paper_task
    from budgetsplit.tasks.paper.preflight import check_paper_ready

    params = load_params("paper", "math")
    check_paper_ready([params])                    # clear error without a GPU or the data
    task = get_paper_task("math", params.task_options)
    task.sft_pool()[0]                             # {"id", "prompt_id", "prompt", "response"}

The classes are named after their datasets: `GSM8KTask` (math), `IFEvalTask` (instruct),
`TLDRTask` (summarize), `HelpSteerTask` (helpful). Each dataset id in `task_options.data` (roles
sft, pref, test; reward_model for helpful) may be a Hub id or a local folder/file in the Hub's
schema; see budgetsplit.tasks.paper.data.
"""

from __future__ import annotations

from budgetsplit.config.params import TaskConfig
from budgetsplit.core.registry import paper_class
from budgetsplit.tasks.paper.data import PaperDataError, PaperTask, load_split
from budgetsplit.tasks.paper.gsm8k import GSM8KTask
from budgetsplit.tasks.paper.helpful import HelpSteerTask, RewardScorer
from budgetsplit.tasks.paper.instruct import IFEvalTask
from budgetsplit.tasks.paper.summarize import TLDRTask

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
    """The paper task `name` (its class: budgetsplit.core.registry), reading the datasets `task_cfg.data`
    names (defaults: the class's `default_data`, the paper's)."""
    return paper_class(name)(task_cfg)
