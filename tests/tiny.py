"""Tiny in-process fixtures shared by the model, train, evaluate, cell and lmhead tests.

A byte-level BPE tokenizer trained with `tokenizers` on a tiny arithmetic task's text, a tiny random
LlamaForCausalLM saved next to it (a "base model" folder without ChatML, as base models ship), and
`AddTask`, a Task whose answers a few SFT steps can learn. The pytest fixtures built from them
(`task`, `base_folder`, `one_thread`) are in conftest.py.
"""

from __future__ import annotations

import random

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from budgetsplit.tasks.interface import Task

# Training settings small enough for a test: one epoch of a few steps.
FAST = dict(epochs=1.0, batch_size=8, per_device_batch_size=8, max_length=64, warmup_ratio=0.0)


class AddTask(Task):
    """Add two one-digit numbers; the response format is "The answer is N."."""

    name = "math"
    primary_metric = "accuracy"
    system_prompt = "Answer briefly."

    def __init__(self, n: int = 300, seed: int = 0):
        rng = random.Random(seed)
        self.rows = []
        for i in range(n):
            a, b = rng.randrange(10), rng.randrange(10)
            self.rows.append(
                {
                    "id": f"q{i}",
                    "prompt_id": f"p{i}",
                    "a": a,
                    "b": b,
                    "prompt": f"What is {a} plus {b}?",
                    "reference": str(a + b),
                }
            )

    @staticmethod
    def answer(n: int) -> str:
        return f"The answer is {n}."

    def sft_pool(self):
        return [{**r, "response": self.answer(r["a"] + r["b"])} for r in self.rows[:200]]

    def pref_pool(self):
        return [
            {
                **r,
                "chosen": self.answer(r["a"] + r["b"]),
                "rejected": f"I think {r['a'] * r['b'] + 1}",
            }
            for r in self.rows[100:250]
        ]

    def rl_pool(self):  # the pref pool's prompts, once each, with their gold fields
        return self.rows[100:250]

    def eval_split(self, split):
        return self.rows[250:] if split == "test" else self.rows[230:250]

    def in_format(self, completion):
        return completion.startswith("The answer is ")

    def score(self, rows, completions):
        ok = [
            c.strip() == self.answer(int(r["reference"]))
            for r, c in zip(rows, completions, strict=True)
        ]
        return {"accuracy": sum(ok) / len(ok)}


def corpus(task: AddTask) -> list[str]:
    lines = [r["prompt"] for r in task.rows] + [task.answer(n) for n in range(19)]
    lines += [f"I think {n}" for n in range(100)] + [task.system_prompt, "system user assistant"]
    return lines * 3


def tiny_tokenizer(task: AddTask) -> PreTrainedTokenizerFast:
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(corpus(task), trainers.BpeTrainer(vocab_size=300, show_progress=False))
    return PreTrainedTokenizerFast(tokenizer_object=tk)


def tiny_llama_folder(folder, task: AddTask | None = None, seed: int = 0) -> str:
    """A base-model folder: a tiny random Llama and a tokenizer without ChatML (as base models ship)."""
    tok = tiny_tokenizer(task or AddTask())
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)
