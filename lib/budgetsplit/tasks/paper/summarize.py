"""The paper's summarization task: Reddit TL;DR (Stiennon et al. 2020) as filtered by UCL-DARK.

Sources (no official code exists for this task; schemas from code reading these datasets):
- SFT `UCL-DARK/openai-tldr-filtered`, split train (files train/valid/test.jsonl): id, subreddit,
  title, post, summary. Demonstration = the post as the prompt, the human TL;DR as the response.
- preferences `UCL-DARK/openai-tldr-summarisation-preferences`, split train: the comparisons of
  openai/summarize_from_feedback: info {id, post, title, subreddit, ...}, summaries (two
  {text, policy, note}), choice (index of the preferred summary), worker, batch, split.
  Rows without a Reddit post (the CNN/DM comparisons carry `article`) and pairs of two identical
  summaries are skipped.
- test: the filtered dataset's test split (the paper's follow-up: "the official test split").

Scoring: ROUGE-L F1 of the completion against the reference summary (the paper's metric is marked
uncertain in our notes). The prompt wording is ours: the paper's is not published; the user turn
follows Stiennon et al.'s query layout (SUBREDDIT / TITLE / POST).
"""

from __future__ import annotations

from collections.abc import Sequence

from budgetsplit.tasks.metrics import rouge_l_f1
from budgetsplit.tasks.paper.data import (
    PaperTask,
    check_lengths,
    dedupe_by_prompt,
    prompt_id,
    require_columns,
)

SYSTEM_PROMPT = (
    "You are a helpful assistant who is an expert at summarizing. Write a short TL;DR summary "
    "of the following Reddit post."
)
POST_COLUMNS = ["subreddit", "title", "post"]


def user_turn(subreddit: str | None, title: str | None, post: str) -> str:
    return f"SUBREDDIT: r/{subreddit or ''}\nTITLE: {(title or '').strip()}\nPOST: {post.strip()}"


class TLDRTask(PaperTask):
    name = "summarize"
    primary_metric = "rouge_l"
    system_prompt = SYSTEM_PROMPT
    default_data = {
        "sft": "UCL-DARK/openai-tldr-filtered",
        "pref": "UCL-DARK/openai-tldr-summarisation-preferences",
        "test": "UCL-DARK/openai-tldr-filtered",
    }

    def _posts(self, role: str, split: str) -> list[dict]:
        ds = self.load(role, split)
        require_columns(ds, [*POST_COLUMNS, "summary"], self.data[role], role)
        rows = []
        for sub, title, post, summary in zip(
            ds["subreddit"], ds["title"], ds["post"], ds["summary"], strict=True
        ):
            prompt = user_turn(sub, title, post)
            rows.append(
                {"prompt_id": prompt_id(prompt), "prompt": prompt, "reference": summary.strip()}
            )
        return rows

    def build_train(self) -> tuple[list[dict], list[dict], list[dict]]:
        posts = self._posts("sft", "train")
        sft = [
            {"prompt_id": r["prompt_id"], "prompt": r["prompt"], "response": r["reference"]}
            for r in posts
        ]

        data_id = self.data["pref"]
        ds = self.load("pref", "train")
        require_columns(ds, ["info", "summaries", "choice"], data_id, "pref")
        pref = []
        for info, summaries, choice in zip(ds["info"], ds["summaries"], ds["choice"], strict=True):
            if not info.get("post") or choice not in (0, 1) or len(summaries) != 2:
                continue
            chosen = summaries[choice]["text"].strip()
            rejected = summaries[1 - choice]["text"].strip()
            if chosen == rejected:
                continue
            prompt = user_turn(info.get("subreddit"), info.get("title"), info["post"])
            pref.append(
                {
                    "prompt_id": prompt_id(prompt),
                    "prompt": prompt,
                    "chosen": chosen,
                    "rejected": rejected,
                }
            )
        return sft, pref, dedupe_by_prompt(posts)

    def build_test(self) -> list[dict]:
        return self._posts("test", "test")

    def in_format(self, completion: str) -> bool:
        return bool(completion.strip())

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        check_lengths(rows, completions)
        n = len(rows)
        return {
            "rouge_l": sum(
                rouge_l_f1(c, r["reference"]) for r, c in zip(rows, completions, strict=True)
            )
            / n,
            "nonempty_rate": sum(self.in_format(c) for c in completions) / n,
        }
