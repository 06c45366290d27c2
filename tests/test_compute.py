"""The compute model: 6N per trained token, 2N per token read forward, per stage; the reference's
tokens by whether its log-probs are precomputed; old stage records still give their tokens."""

import pytest

from budgetsplit.core.compute import cell_compute, ref_tokens, trained_tokens


def test_flops_per_stage_and_the_training_total():
    c = cell_compute(
        1000, sft_tokens=50, pft_tokens=40, pft_ref_tokens=20, prompt_tokens=7, generated_tokens=3
    )
    assert c["sft"] == {"tokens": 50, "flops": 6 * 1000 * 50}
    assert c["pft"]["flops"] == 6 * 1000 * 40 + 2 * 1000 * 20
    assert c["eval"]["flops"] == 2 * 1000 * (7 + 3)
    assert c["train_flops"] == c["sft"]["flops"] + c["pft"]["flops"]  # eval is not training
    assert cell_compute(1000)["train_flops"] == 0  # the base-model cell trains nothing


@pytest.mark.parametrize("bad", [{"n_params": 0}, {"sft_tokens": -1}, {"pft_tokens": 2.5}])
def test_counts_are_whole_and_not_negative(bad):
    with pytest.raises(ValueError, match="whole numbers"):
        cell_compute(**{"n_params": 10, **bad})


def test_reference_tokens_one_pass_when_precomputed_else_every_epoch():
    assert ref_tokens(300, passes=3, precomputed=True) == 100
    assert ref_tokens(300, passes=2.5, precomputed=True) == 120  # min_steps repeated the data
    assert ref_tokens(300, passes=3, precomputed=False) == 300
    assert ref_tokens(0, passes=3, precomputed=True) == 0


def test_trained_tokens_from_the_count_or_from_rate_and_runtime():
    assert trained_tokens({"tokens": 1234, "tokens_per_s": 1.0, "train_runtime_s": 1.0}) == 1234
    assert trained_tokens({"tokens_per_s": 100.0, "train_runtime_s": 2.5}) == 250  # older stages
    assert trained_tokens({}) == 0
