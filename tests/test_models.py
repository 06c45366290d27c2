"""Tests of budgetsplit.training.models (fixtures: tests/tiny.py and conftest.py)."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_llama_folder
from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

from budgetsplit.config.params import ConfigError, LoraConfig, ModelConfig
from budgetsplit.core.chat import IM_END
from budgetsplit.training.models import (
    base_model_id,
    folder_fingerprint,
    load_model,
    resolve_device,
    resolve_dtype,
    set_cpu_threads,
)

# Tiny models run fastest on one thread (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


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
    # The new rows are random but seeded: every load is the same model, whatever ran before.
    torch.manual_seed(123)
    again, _ = load_model(ModelConfig(name=base_folder), device="cpu")
    for (name, a), b in zip(model.state_dict().items(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_refuses_pickle_weights(tmp_path, base_folder):
    model = LlamaForCausalLM.from_pretrained(base_folder)
    model.config.save_pretrained(tmp_path)
    PreTrainedTokenizerFast.from_pretrained(base_folder).save_pretrained(tmp_path)
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="safetensors"):
        load_model(ModelConfig(name=str(tmp_path)), device="cpu")


def test_a_damaged_weights_file_is_named_not_a_raw_traceback(tmp_path, base_folder):
    import shutil

    from budgetsplit.core.store import DamagedFileError

    folder = tmp_path / "model"
    shutil.copytree(base_folder, folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(DamagedFileError, match="model.safetensors: this weights file") as e:
        load_model(ModelConfig(name=str(folder)), device="cpu")
    assert e.value.path == weights


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
