"""Tests of budgetsplit.training.lmhead: the dense LM head against TRL's own fused head on a tiny Llama."""

from __future__ import annotations

import copy

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM
from trl.trainer.utils import add_fused_lm_head

from budgetsplit.config.params import StageConfig
from budgetsplit.training.lmhead import (
    DENSE_LOGITS_MAX_BYTES,
    dense_lm_head,
    logits_bytes,
    use_dense_lm_head,
)

# Tiny models run fastest on one thread (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")

FIELDS = ("log_probs", "entropy", "log_sum_sq_probs", "mean_logits", "is_top1")


def tiny_llama(**extra) -> LlamaForCausalLM:
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=97,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
        **extra,
    )
    return LlamaForCausalLM(cfg)


def batch():
    """Three rows of length 12: a prompt (label -100), a completion, right padding (label -100)."""
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 97, (3, 12), generator=g)
    attention = torch.ones_like(ids)
    labels = ids.clone()
    for row, (prompt, length) in enumerate(((3, 12), (5, 10), (1, 7))):
        labels[row, :prompt] = -100
        labels[row, length:] = -100
        attention[row, length:] = 0
    return ids, attention, labels


def pair(**extra):
    """The same tiny model twice: TRL's head on the first, ours on the second."""
    trl_model = tiny_llama(**extra)
    ours = copy.deepcopy(trl_model)
    add_fused_lm_head(trl_model, outputs=FIELDS)
    dense_lm_head(ours, outputs=FIELDS)
    return trl_model, ours


@pytest.mark.parametrize("num_items", [None, 40])
def test_dense_head_matches_trl_outputs_and_gradients(num_items):
    ids, attention, labels = batch()
    results = []
    for model in pair():
        out = model(
            input_ids=ids,
            attention_mask=attention,
            labels=labels,
            fused_lm_head=True,
            num_items_in_batch=num_items,
        )
        # Per-token weights make every labelled position's gradient count on its own.
        w = torch.linspace(0.5, 1.5, out.log_probs.numel()).view_as(out.log_probs)
        (out.loss + (w * out.log_probs).sum()).backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters()}
        results.append((out, grads))
    (trl_out, trl_grads), (out, grads) = results
    mask = labels[:, 1:] != -100
    assert torch.equal(out.label_mask, mask) and torch.equal(trl_out.label_mask, mask)
    assert out.log_probs.shape == mask.shape and (out.log_probs[mask] < 0).all()
    assert (out.log_probs[~mask] == 0).all()
    torch.testing.assert_close(out.loss, trl_out.loss, atol=1e-4, rtol=1e-5)
    for f in FIELDS[:-1]:
        torch.testing.assert_close(getattr(out, f), getattr(trl_out, f), atol=1e-4, rtol=1e-5)
    assert torch.equal(out.is_top1, trl_out.is_top1)
    assert set(grads) == set(trl_grads)
    for k in grads:
        torch.testing.assert_close(grads[k], trl_grads[k], atol=1e-5, rtol=1e-4, msg=k)
    assert grads["lm_head.weight"].abs().sum() > 0


def test_top1_and_temperature_and_shift_labels():
    ids, attention, labels = batch()
    trl_model, ours = tiny_llama(), tiny_llama()
    add_fused_lm_head(trl_model, temperature=0.7, outputs=("log_probs", "is_top1"))
    dense_lm_head(ours, temperature=0.7, outputs=("log_probs", "is_top1"))
    # Labels set to the model's own greedy choice: every labelled position is top-1.
    with torch.no_grad():
        greedy = ours(input_ids=ids, attention_mask=attention).logits.argmax(-1)
    shifted = torch.where(labels[:, 1:] != -100, greedy[:, :-1], -100)
    # Pre-shifted to the full length, as TRL passes them under context parallelism.
    shifted = torch.cat([shifted, torch.full((3, 1), -100)], 1)
    with torch.no_grad():
        a, b = (
            m(input_ids=ids, attention_mask=attention, shift_labels=shifted, fused_lm_head=True)
            for m in (trl_model, ours)
        )
    mask = shifted != -100
    assert b.log_probs.shape == shifted.shape and b.entropy is None
    assert b.is_top1[mask].all() and not b.is_top1[~mask].any()
    assert torch.equal(a.is_top1, b.is_top1)
    torch.testing.assert_close(b.log_probs, a.log_probs, atol=1e-4, rtol=1e-5)


def test_plain_forward_is_unchanged():
    ids, attention, labels = batch()
    plain = tiny_llama()
    ours = copy.deepcopy(plain)
    dense_lm_head(ours)
    with torch.no_grad():
        want, got = plain(input_ids=ids, labels=labels), ours(input_ids=ids, labels=labels)
    assert torch.equal(want.logits, got.logits) and torch.equal(want.loss, got.loss)


def test_scaled_logits_are_left_to_trl():
    # TRL caps the logits of such models; the dense head does not know how, so it hands over.
    ids, attention, labels = batch()
    trl_model, ours = pair(final_logit_softcapping=0.5)
    plain = tiny_llama()
    dense_lm_head(plain, outputs=FIELDS)
    with torch.no_grad():
        a, b, c = (
            m(input_ids=ids, labels=labels, fused_lm_head=True) for m in (trl_model, ours, plain)
        )
    torch.testing.assert_close(b.log_probs, a.log_probs)
    assert not torch.allclose(c.log_probs, a.log_probs, atol=1e-2)


def test_trainers_get_the_dense_head_only_where_it_pays():
    import trl.trainer.dpo_trainer as dpo
    import trl.trainer.kto_trainer as kto
    import trl.trainer.sft_trainer as sft

    modules = (sft, dpo, kto)
    assert all(m.add_fused_lm_head is add_fused_lm_head for m in modules)
    with use_dense_lm_head("cpu", DENSE_LOGITS_MAX_BYTES):
        assert all(m.add_fused_lm_head is dense_lm_head for m in modules)
    assert all(m.add_fused_lm_head is add_fused_lm_head for m in modules)
    for device, size in (("cuda", 1), ("cpu", DENSE_LOGITS_MAX_BYTES + 1)):
        with use_dense_lm_head(device, size):
            assert all(m.add_fused_lm_head is add_fused_lm_head for m in modules)
    stage = StageConfig(max_length=64, batch_size=8, per_device_batch_size=4)
    assert logits_bytes(tiny_llama(), stage, 2) == 4 * 97 * 64 * 4 * 2
