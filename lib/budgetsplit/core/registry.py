"""The study's tasks, in one table: for each task name, where its toy-world class, its share of the
toy pretraining corpus and its paper-dataset class live.

Everything that lists, validates or builds tasks reads this table: `config.TASKS` (which recipes
and world knobs are valid), `budgetsplit.tasks.get_task`, `toyworld.get_toy_task`, the toy
corpus (`toyworld.pretrain`) and `paper.get_paper_task`. A new task is one row here plus its
modules. Rows are import paths, not objects, so this module imports nothing of the package and
sits at the bottom of the import graph; a class is imported when first asked for.

    from budgetsplit.core.registry import TASKS, corpus_source, paper_class, toy_class
    toy_class("math")        # budgetsplit.tasks.toyworld.task_math.MathTask
    paper_class("math")      # budgetsplit.tasks.paper.gsm8k.GSM8KTask (its default datasets: .default_data)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module


@dataclass(frozen=True)
class TaskEntry:
    toy: str  # "module:Class": the toy world's synthetic task (a toyworld.common.ToyTask)
    corpus: str  # "module:function": (seed, n, **knobs) -> n documents of the toy pretraining text
    paper: str  # "module:Class": the task over the paper's datasets (a paper.data.PaperTask)


_TOY, _PAPER = "budgetsplit.tasks.toyworld", "budgetsplit.tasks.paper"
REGISTRY: dict[str, TaskEntry] = {
    "math": TaskEntry(
        f"{_TOY}.task_math:MathTask",
        f"{_TOY}.task_math:corpus_documents",
        f"{_PAPER}.gsm8k:GSM8KTask",
    ),
    "instruct": TaskEntry(
        f"{_TOY}.task_instruct:InstructTask",
        f"{_TOY}.task_instruct:corpus_documents",
        f"{_PAPER}.instruct:IFEvalTask",
    ),
    "summarize": TaskEntry(
        f"{_TOY}.task_summarize:SummarizeTask",
        f"{_TOY}.task_summarize:corpus_documents",
        f"{_PAPER}.summarize:TLDRTask",
    ),
    "helpful": TaskEntry(
        f"{_TOY}.task_helpful:HelpfulTask",
        f"{_TOY}.task_helpful:corpus_documents",
        f"{_PAPER}.helpful:HelpSteerTask",
    ),
}
TASKS: tuple[str, ...] = tuple(REGISTRY)


class UnknownTask(ValueError):
    """A task name the table does not hold; callers that know the file add it (ConfigError)."""


def entry(name: str) -> TaskEntry:
    if name not in REGISTRY:
        raise UnknownTask(f"unknown task {name!r}; known: {', '.join(TASKS)}")
    return REGISTRY[name]


def _load(ref: str):
    module, attr = ref.split(":")
    return getattr(import_module(module), attr)


def toy_class(name: str) -> type:
    """The toy world's task class of `name` (a ToyTask subclass)."""
    return _load(entry(name).toy)


def corpus_source(name: str) -> Callable[..., list[str]]:
    """The toy corpus generator of `name`: corpus_documents(seed, n, **knobs) -> list[str]."""
    return _load(entry(name).corpus)


def paper_class(name: str) -> type:
    """The paper profile's task class of `name` (a PaperTask subclass)."""
    return _load(entry(name).paper)
