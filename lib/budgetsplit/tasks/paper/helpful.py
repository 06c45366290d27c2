"""The paper's helpfulness task: HelpSteer2 for training and testing, a reward model to score.

Source `nvidia/HelpSteer2` (dataset card): splits train (20,324) and validation (1,038); columns
prompt, response, helpfulness, correctness, coherence, complexity, verbosity (int 0-4). Each
prompt has (usually two) rated responses; multi-turn prompts are one string with <extra_id_1>
turn markers, kept as they are.

- SFT: the most helpful response of each train prompt (the first on ties).
- preferences: every pair of responses to one prompt with different helpfulness, higher chosen.
- test: the first 200 distinct prompts of the validation split, reference = its most helpful
  response (the paper scores a 200-prompt held-out split; ours is HelpSteer2's own held-out split).

Scoring: a reward model read with AutoModelForSequenceClassification (safetensors only, no remote
code), default `Ray2333/gpt2-large-helpful-reward_model` (GPT-2 large trained on Anthropic HH
helpfulness), fed its training format "\\n\\nHuman: {prompt} \\n\\nAssistant:" + response as a
text pair, as its model card shows. Reported: mean reward, the references' mean reward, and the win
rate of completions against the reference answer (ties count one half).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

import torch

from budgetsplit.tasks.paper.data import (
    PaperDataError,
    PaperTask,
    check_lengths,
    prompt_id,
    require_columns,
)

N_TEST = 200  # the paper's held-out helpfulness split has 200 prompts
RATING_COLUMNS = ["prompt", "response", "helpfulness"]


class RewardScorer:
    """Scalar rewards of (prompt, response) pairs from a sequence-classification reward model."""

    def __init__(
        self, model_id: str, device: str | None = None, batch_size: int = 8, max_length: int = 1024
    ):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_id, trust_remote_code=False)
            self.model = AutoModelForSequenceClassification.from_pretrained(
                model_id, use_safetensors=True, trust_remote_code=False, dtype=dtype
            )
        except OSError as e:
            raise PaperDataError(
                f"task_options.data.reward_model = {model_id!r}: cannot load a safetensors "
                f"sequence-classification model and tokenizer: {e}"
            ) from e
        if self.model.config.num_labels != 1:
            raise PaperDataError(
                f"task_options.data.reward_model = {model_id!r}: a reward model has one output, "
                f"this one has num_labels={self.model.config.num_labels}"
            )
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Right padding: GPT-2's classifier reads the last non-pad token of each row.
        self.tokenizer.padding_side = "right"
        self.model.config.pad_token_id = self.tokenizer.pad_token_id
        self.model.to(self.device).eval()
        self.batch_size, self.max_length = batch_size, max_length

    @staticmethod
    def query(prompt: str) -> str:
        return f"\n\nHuman: {prompt} \n\nAssistant:"

    @torch.no_grad()
    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        out: list[float] = []
        for i in range(0, len(prompts), self.batch_size):
            batch = self.tokenizer(
                [self.query(p) for p in prompts[i : i + self.batch_size]],
                list(responses[i : i + self.batch_size]),
                padding=True,
                truncation=True,
                max_length=self.max_length,
                return_tensors="pt",
            ).to(self.device)
            out += self.model(**batch).logits[:, 0].float().tolist()
        return out


def _by_prompt(ds) -> dict[str, list[tuple[str, int]]]:
    """prompt -> [(response, helpfulness)], prompts in first-appearance order."""
    groups: dict[str, list[tuple[str, int]]] = {}
    for p, r, h in zip(ds["prompt"], ds["response"], ds["helpfulness"], strict=True):
        groups.setdefault(p, []).append((r, int(h)))
    return groups


def _best(responses: list[tuple[str, int]]) -> str:
    return max(responses, key=lambda rh: rh[1])[0]  # max keeps the first of equal scores


class HelpSteerTask(PaperTask):
    name = "helpful"
    primary_metric = "reward"
    system_prompt = None  # HelpSteer2 prompts stand alone; the paper names no system prompt here
    default_data = {
        "sft": "nvidia/HelpSteer2",
        "pref": "nvidia/HelpSteer2",
        "test": "nvidia/HelpSteer2",
        "reward_model": "Ray2333/gpt2-large-helpful-reward_model",
    }

    def __init__(self, task_cfg=None):
        super().__init__(task_cfg)
        self._scorer: RewardScorer | None = None
        self._ref_rewards: dict[str, float] = {}

    def _groups(self, role: str, split: str) -> dict[str, list[tuple[str, int]]]:
        ds = self.load(role, split)
        require_columns(ds, RATING_COLUMNS, self.data[role], role)
        return _by_prompt(ds)

    def build_train(self) -> tuple[list[dict], list[dict], list[dict]]:
        sft_groups = self._groups("sft", "train")
        pref_groups = (
            sft_groups if self.data["pref"] == self.data["sft"] else self._groups("pref", "train")
        )
        sft = [
            {"prompt_id": prompt_id(p), "prompt": p, "response": _best(rs)}
            for p, rs in sft_groups.items()
        ]
        pref = []
        for p, rs in pref_groups.items():
            for (a, ha), (b, hb) in combinations(rs, 2):
                if ha != hb:
                    chosen, rejected = (a, b) if ha > hb else (b, a)
                    pref.append(
                        {
                            "prompt_id": prompt_id(p),
                            "prompt": p,
                            "chosen": chosen,
                            "rejected": rejected,
                        }
                    )
        candidates = [
            {"prompt_id": r["prompt_id"], "prompt": r["prompt"], "reference": r["response"]}
            for r in sft
        ]
        return sft, pref, candidates

    def build_test(self) -> list[dict]:
        groups = list(self._groups("test", "validation").items())[:N_TEST]
        return [
            {"prompt_id": prompt_id(p), "prompt": p, "reference": _best(rs)} for p, rs in groups
        ]

    def in_format(self, completion: str) -> bool:
        return bool(completion.strip())

    @property
    def scorer(self) -> RewardScorer:
        if self._scorer is None:
            self._scorer = RewardScorer(self.data["reward_model"])
        return self._scorer

    def score(self, rows: Sequence[dict], completions: Sequence[str]) -> dict[str, float]:
        check_lengths(rows, completions)
        prompts = [r["prompt"] for r in rows]
        rewards = self.scorer.score(prompts, completions)
        # References are scored once per row: every cell of a grid compares against the same ones.
        todo = [r for r in rows if r["id"] not in self._ref_rewards]
        if todo:
            got = self.scorer.score([r["prompt"] for r in todo], [r["reference"] for r in todo])
            self._ref_rewards.update(zip((r["id"] for r in todo), got, strict=True))
        refs = [self._ref_rewards[r["id"]] for r in rows]
        n = len(rows)
        return {
            "reward": sum(rewards) / n,
            "reference_reward": sum(refs) / n,
            "win_rate": sum(
                1.0 if a > b else 0.5 if a == b else 0.0 for a, b in zip(rewards, refs, strict=True)
            )
            / n,
        }
