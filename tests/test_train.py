"""Tests of budgetsplit.training.train: real TRL trainers on tiny in-process models (a few seconds each)."""

from __future__ import annotations

import math

import pytest
import torch
from tiny import FAST, tiny_tokenizer
from transformers import Qwen2Config, Qwen2ForCausalLM

from budgetsplit.config.params import METHODS, LoraConfig, ModelConfig, PFTConfig, StageConfig
from budgetsplit.core.chat import ensure_chat_template
from budgetsplit.core.methods import TABLE
from budgetsplit.training.evaluate import response_logprobs
from budgetsplit.training.models import align_special_tokens, load_model
from budgetsplit.training.train import train_pft, train_sft

# Tiny models run fastest on one thread (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


def losses(log_history):
    return [h["loss"] for h in log_history if "loss" in h]


def test_sft_trains_and_lowers_the_loss(base_folder, task):
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    stage = StageConfig(**{**FAST, "epochs": 2.0, "learning_rate": 3e-3})
    out = train_sft(
        model, tok, task.sft_records(task.sft_pool()[:64]), stage, LoraConfig(), 0, "cpu"
    )
    ls = losses(out.log_history)
    assert len(ls) == 16 and all(math.isfinite(x) for x in ls)
    assert sum(ls[-4:]) < 0.75 * sum(ls[:4])
    assert out.throughput["tokens_per_s"] > 0


@pytest.mark.parametrize("method", [m for m in METHODS if TABLE[m].buys == "pref"])
def test_pft_methods_run(base_folder, task, method):
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    pft = PFTConfig(**FAST, learning_rate=1e-3, beta=0.5)
    recs = task.pref_records(task.pref_pool()[:16])
    out = train_pft(model, tok, recs, method, pft, LoraConfig(), 0, "cpu")
    ls = losses(out.log_history)
    assert ls and all(math.isfinite(x) for x in ls)
    logged = set().union(*out.log_history)
    assert "rewards/chosen" in logged and ("kl" in logged) == (TABLE[method].family == "kto")
    assert out.throughput["pairs_per_s"] > 0


def test_dpo_sft_adds_the_nll_term(base_folder, task):
    # Same start, same data: the combined loss is the DPO loss plus sft_weight * NLL of the chosen.
    recs = task.pref_records(task.pref_pool()[:8])
    first = {}
    for method, w in (("dpo", 1.0), ("dpo_sft", 1.0), ("dpo_sft", 3.0)):
        model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
        pft = PFTConfig(**FAST, learning_rate=1e-6, sft_weight=w)
        first[(method, w)] = losses(
            train_pft(model, tok, recs, method, pft, LoraConfig(), 0, "cpu").log_history
        )[0]
    nll = first[("dpo_sft", 1.0)] - first[("dpo", 1.0)]
    assert nll > 1.0  # an untrained model is far from the chosen text
    assert first[("dpo_sft", 3.0)] == pytest.approx(first[("dpo", 1.0)] + 3 * nll, rel=1e-3)


@pytest.mark.parametrize("precompute", [True, False])
def test_dpo_widens_the_margin_against_the_frozen_start(base_folder, task, precompute):
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    pairs = task.pref_pool()[:32]
    before = response_logprobs(model, tok, task, pairs)
    pft = PFTConfig(
        **{**FAST, "epochs": 3.0}, learning_rate=2e-3, precompute_ref_log_probs=precompute
    )
    out = train_pft(model, tok, task.pref_records(pairs), "dpo", pft, LoraConfig(), 0, "cpu")
    after = response_logprobs(out.model, tok, task, pairs)
    margin = lambda d: d["chosen_logprob_per_token"] - d["rejected_logprob_per_token"]  # noqa: E731
    assert margin(after) > margin(before) + 0.5
    acc = [h["rewards/accuracies"] for h in out.log_history if "rewards/accuracies" in h]
    assert acc[-1] > 0.9


def test_reference_log_probs_are_cached_across_methods(tmp_path, base_folder, task):
    recs = task.pref_records(task.pref_pool()[:16])
    pft = PFTConfig(**FAST, learning_rate=1e-3)
    runs, files = {}, {}
    for name, method, cache in (
        ("memory", "dpo", None),
        ("dpo", "dpo", tmp_path),
        ("ipo", "ipo", tmp_path),
        ("again", "dpo", tmp_path),
    ):
        model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
        runs[name] = train_pft(
            model, tok, recs, method, pft, LoraConfig(), 0, "cpu", ref_cache=cache
        )
        files[name] = sorted(p.name for p in tmp_path.iterdir())
    assert files["memory"] == [] and len(files["dpo"]) == 1
    assert files["ipo"] == files["again"] == files["dpo"]  # same pairs, same start: read back
    # Read back, the log-probs train exactly as freshly computed ones.
    assert (
        losses(runs["again"].log_history)
        == losses(runs["dpo"].log_history)
        == losses(runs["memory"].log_history)
    )
    # A damaged cache file (emptied, truncated) is moved aside and computed again, same numbers.
    cache_file = tmp_path / files["dpo"][0]
    for text in (b"", cache_file.read_bytes()[:100]):
        cache_file.write_bytes(text)
        model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
        redo = train_pft(model, tok, recs, "dpo", pft, LoraConfig(), 0, "cpu", ref_cache=tmp_path)
        assert losses(redo.log_history) == losses(runs["dpo"].log_history)
    assert len(list(tmp_path.glob("*.damaged-*"))) == 2 and cache_file.stat().st_size > 100
    # Another start (other weights) gets its own.
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    with torch.no_grad():
        model.lm_head.weight.mul_(0.5)
    train_pft(model, tok, recs, "dpo", pft, LoraConfig(), 0, "cpu", ref_cache=tmp_path)
    assert len(list(tmp_path.glob("*.safetensors"))) == 2


def test_paper_path_qwen2_lora_trains_adapters_only(task):
    tok = tiny_tokenizer(task)
    ensure_chat_template(tok)
    torch.manual_seed(0)
    cfg = Qwen2Config(
        vocab_size=len(tok),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    model = Qwen2ForCausalLM(cfg)
    align_special_tokens(model, tok)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    lora = LoraConfig(enabled=True, r=32, alpha=32)  # the paper's: all seven projections
    stage = StageConfig(**{**FAST, "learning_rate": 1e-2})
    out = train_sft(model, tok, task.sft_records(task.sft_pool()[:16]), stage, lora, 0, "cpu")
    assert all(math.isfinite(x) for x in losses(out.log_history))
    merged = out.model.state_dict()
    assert set(merged) == set(start)  # merged back: a plain Qwen2 again
    changed = {k for k in start if not torch.equal(start[k], merged[k])}
    targeted = {k for k in start if any(f".{m}." in k for m in lora.target_modules)}
    assert changed and changed <= targeted
    assert {k for k in targeted if k.endswith("proj.weight")} <= changed
    # The DPO path puts a fresh adapter on; the reference is the adapter-disabled model.
    pft = PFTConfig(**FAST, learning_rate=1e-2)
    dpo = train_pft(
        out.model, tok, task.pref_records(task.pref_pool()[:8]), "dpo", pft, lora, 0, "cpu"
    )
    assert all(math.isfinite(x) for x in losses(dpo.log_history))
    assert not any("lora" in k for k in dpo.model.state_dict())


def test_small_stages_take_min_steps_and_kto_takes_dpos_steps_per_pair(base_folder, task):
    # 16 pairs at batch 8, one epoch: 2 DPO steps; KTO unpairs them into 32 rows at twice the batch,
    # so 2 steps as well. With min_steps 5 both repeat the data to 5 steps, and so does SFT on 4 rows.
    pairs = task.pref_records(task.pref_pool()[:16])
    steps, thr = {}, {}
    for method in ("dpo", "kto"):
        for min_steps in (0, 5):
            model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
            pft = PFTConfig(**FAST, learning_rate=1e-4, min_steps=min_steps)
            out = train_pft(model, tok, pairs, method, pft, LoraConfig(), 0, "cpu")
            steps[method, min_steps] = len(losses(out.log_history))
            thr[method, min_steps] = out.throughput
    assert steps == {("dpo", 0): 2, ("kto", 0): 2, ("dpo", 5): 5, ("kto", 5): 5}
    # 5 steps of 8 read the 16 pairs 2.5 times; the precomputed reference reads them once either
    # way (within the length spread of the half pass)
    assert (thr["dpo", 0]["passes"], thr["dpo", 5]["passes"]) == (1.0, 2.5)
    once, repeated = thr["dpo", 0], thr["dpo", 5]
    assert repeated["tokens"] > 2 * once["tokens"]
    assert repeated["ref_tokens"] == pytest.approx(once["ref_tokens"], rel=0.15)
    assert once["ref_tokens"] == once["tokens"]
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    stage = StageConfig(**FAST, learning_rate=1e-3, min_steps=5)
    out = train_sft(
        model, tok, task.sft_records(task.sft_pool()[:4]), stage, LoraConfig(), 0, "cpu"
    )
    assert len(losses(out.log_history)) == 5


def test_the_first_warmup_step_trains(base_folder, task):
    # One optimizer step inside warmup: transformers' warmup would give it lr 0 (no change at all).
    model, tok = load_model(ModelConfig(name=base_folder), device="cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    stage = StageConfig(**{**FAST, "warmup_ratio": 0.5}, learning_rate=1e-3)
    out = train_sft(
        model, tok, task.sft_records(task.sft_pool()[:8]), stage, LoraConfig(), 0, "cpu"
    )
    assert len(losses(out.log_history)) == 1
    moved = [k for k, v in out.model.state_dict().items() if not torch.equal(v, before[k])]
    assert moved
