"""`Task`: the interface every task (toy world or paper) implements, and the chat conversions.

A task is four pools of plain-string rows plus a scorer:

- SFT pool rows:        {"id", "prompt_id", "prompt", "response"}
- preference pool rows: {"id", "prompt_id", "prompt", "chosen", "rejected"}
- val / test rows:      {"id", "prompt_id", "prompt", "reference", ...task-specific gold fields}
- RL pool rows:         as val / test rows, one per prompt of the preference pool (its prompt ids,
                        so the budget's draws keep them apart from the SFT prompts): the prompts
                        online RL (grpo) buys, scored by `score` on their gold fields

`prompt` is the user turn's text. Chat formatting (system prompt, roles) happens here, once, so that
the toy world and the paper's datasets reach the trainers in exactly the same shape: TRL's
conversational `messages` for SFT, `prompt`/`chosen`/`rejected` for DPO, and TRL's own unpairing for
KTO.

The rows a cell is scored on (`eval_rows`) and their per-row scores (`row_scores`) are defined here
too, once: the trainer's evaluation and the floors (`Task.cheap_outputs`, study/floors.py) score the
same rows the same way.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from budgetsplit.config.params import ConfigError, EvalConfig
from budgetsplit.core.store import ids_digest


class Task(ABC):
    """One task of the study. Subclasses set the class attributes and implement the methods."""

    name: str = ""
    # The metric the study optimises and plots; must be a key of `score`'s result.
    primary_metric: str = ""
    # System prompt put before every user turn (None: no system turn).
    system_prompt: str | None = None

    @abstractmethod
    def sft_pool(self) -> list[dict]:
        """Demonstrations, in a fixed order (the budget module draws from it by seed)."""

    @abstractmethod
    def pref_pool(self) -> list[dict]:
        """Preference pairs, in a fixed order; several pairs may share a prompt_id."""

    def rl_pool(self) -> list[dict]:
        """Prompts with their gold fields for online RL, in a fixed order, one per prompt id of
        the preference pool; a task without them cannot run the grpo method."""
        raise NotImplementedError(
            f"task {self.name!r} has no RL pool (prompts with an answer key or checker): "
            "the grpo method cannot run on it"
        )

    @abstractmethod
    def eval_split(self, split: str) -> list[dict]:
        """Rows of the "val" or "test" split."""

    @abstractmethod
    def in_format(self, completion: str) -> bool:
        """Whether a completion is in the response format the task asks for."""

    @abstractmethod
    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        """Aggregate metrics of `completions` (one per row, same order), all floats."""

    def cheap_outputs(self, rows: Sequence[dict]) -> dict[str, list[str]]:
        """Outputs that learn nothing from the annotations, one per row each, by name: what a
        split must beat to have learned anything (study/floors.py scores them on the cells' rows).
        Every task has these two; a task adds its own (a constant guess, its bare template, ...)."""
        return {"empty answer": [""] * len(rows), "copy of the prompt": [r["prompt"] for r in rows]}

    # ----------------------------------------------------------------- chat formatting, shared
    def prompt_messages(self, prompt: str) -> list[dict]:
        msgs = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        return msgs + [{"role": "user", "content": prompt}]

    def sft_records(self, rows: Sequence[dict]) -> list[dict]:
        """TRL conversational language-modelling rows: {"messages": [...]}."""
        return [
            {"messages": self.prompt_messages(r["prompt"]) + [_assistant(r["response"])]}
            for r in rows
        ]

    def rl_records(self, rows: Sequence[dict]) -> list[dict]:
        """TRL conversational prompt-only rows for GRPOTrainer: {"prompt": [...], "rl_index": i},
        i the row's place in `rows` (the reward reads its gold fields there)."""
        return [
            {"prompt": self.prompt_messages(r["prompt"]), "rl_index": i} for i, r in enumerate(rows)
        ]

    def pref_records(self, rows: Sequence[dict]) -> list[dict]:
        """TRL conversational preference rows: {"prompt": [...], "chosen": [...], "rejected": [...]}."""
        return [
            {
                "prompt": self.prompt_messages(r["prompt"]),
                "chosen": [_assistant(r["chosen"])],
                "rejected": [_assistant(r["rejected"])],
            }
            for r in rows
        ]


def _assistant(text: str) -> dict:
    return {"role": "assistant", "content": text}


def eval_rows(task: Task, cfg: EvalConfig) -> list[dict]:
    """The rows scored: the first `cfg.n_examples` of the eval split, which must hold that many."""
    rows = task.eval_split(cfg.split)
    if not rows:
        raise ValueError(f"task {task.name!r}: eval split {cfg.split!r} is empty")
    if cfg.n_examples is not None and cfg.n_examples > len(rows):
        raise ConfigError(
            "params",
            "eval.n_examples",
            cfg.n_examples,
            f"above the size of task {task.name!r}'s {cfg.split} split ({len(rows)} rows)",
        )
    return rows[: cfg.n_examples]


def row_scores(task: Task, rows: Sequence[dict], texts: Sequence[str], split: str) -> dict:
    """The task's primary metric of each row on its own: {"metric", "split", "ids_digest", "values"}."""
    metric = task.primary_metric
    values = [
        round(float(task.score([r], [t])[metric]), 4) for r, t in zip(rows, texts, strict=True)
    ]
    return {"metric": metric, "split": split, "ids_digest": ids_digest(rows), "values": values}
