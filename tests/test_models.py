"""Tests of budgetsplit.models, and the tiny in-process fixtures the train/evaluate/cell tests share.

The fixtures: a byte-level BPE tokenizer trained with `tokenizers` on a tiny arithmetic task's text,
a tiny random LlamaForCausalLM saved next to it (a "base model" folder without ChatML), and
`AddTask`, a Task whose answers a few SFT steps can learn.
"""

from __future__ import annotations

import os
import random

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from budgetsplit.chat import IM_END
from budgetsplit.config import ConfigError, LoraConfig, ModelConfig
from budgetsplit.models import (
    base_model_id,
    folder_fingerprint,
    load_model,
    resolve_device,
    resolve_dtype,
    set_cpu_threads,
)
from budgetsplit.tasks.base import Task

os.environ.setdefault("HF_HUB_OFFLINE", "1")


# ------------------------------------------------------------------------------------ fixtures
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
            self.rows.append({"id": f"q{i}", "prompt_id": f"p{i}", "a": a, "b": b,
                              "prompt": f"What is {a} plus {b}?", "reference": str(a + b)})  # fmt: skip

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
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256)  # fmt: skip
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return str(folder)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared; restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory):
    return tiny_llama_folder(tmp_path_factory.mktemp("base"))


# ------------------------------------------------------------------------------------ the tests
def test_load_puts_chatml_on_and_resizes(base_folder):
    raw_vocab = len(PreTrainedTokenizerFast.from_pretrained(base_folder))
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    assert len(tok) == raw_vocab + 2  # <|im_start|>, <|im_end|>
    assert model.get_input_embeddings().num_embeddings == len(tok)
    assert tok.eos_token == IM_END and tok.pad_token is not None and tok.padding_side == "right"
    assert model.generation_config.eos_token_id == tok.eos_token_id
    assert model.dtype == torch.float32 and not model.training
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_refuses_pickle_weights(tmp_path, base_folder):
    model = LlamaForCausalLM.from_pretrained(base_folder)
    model.config.save_pretrained(tmp_path)
    PreTrainedTokenizerFast.from_pretrained(base_folder).save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="safetensors"):
        load_model(ModelConfig(name=str(tmp_path)), device="cpu")


def test_device_and_dtype_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="device"):
            resolve_device("cuda")
    lora = ModelConfig(lora=LoraConfig(enabled=True))
    assert resolve_dtype(lora, "cpu") == torch.float32  # bf16 is slow on CPU
    assert (
        resolve_dtype(ModelConfig(), "cuda") == torch.float32
    )  # full FT keeps fp32 master weights
    assert resolve_dtype(ModelConfig(dtype="bfloat16"), "cpu") == torch.bfloat16


def test_set_cpu_threads():
    before = torch.get_num_threads()
    try:
        assert set_cpu_threads(1) == 1 and torch.get_num_threads() == 1
        assert set_cpu_threads(None) >= 1
        with pytest.raises(ValueError):
            set_cpu_threads(0)
    finally:
        torch.set_num_threads(before)


def test_fingerprint_follows_content(tmp_path, base_folder):
    a = tiny_llama_folder(tmp_path / "a", seed=1)
    b = tiny_llama_folder(tmp_path / "b", seed=1)
    c = tiny_llama_folder(tmp_path / "c", seed=2)
    assert folder_fingerprint(a) == folder_fingerprint(b) != folder_fingerprint(c)
    assert base_model_id(ModelConfig(name=a)).endswith(folder_fingerprint(a))
    assert (
        base_model_id(ModelConfig(name="Qwen/Qwen2.5-1.5B", revision="abc"))
        == "Qwen/Qwen2.5-1.5B@abc"
    )
