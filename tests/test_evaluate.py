"""Tests of budgetsplit.training.evaluate: batched generation, scoring, and the cold-start diagnostics."""

from __future__ import annotations

import pytest
import torch
from tiny import tiny_llama_folder

from budgetsplit.config.params import ConfigError, EvalConfig, LoraConfig, ModelConfig, StageConfig
from budgetsplit.tasks.interface import eval_rows, row_scores
from budgetsplit.training.evaluate import (
    evaluate_model,
    generate,
    logprob_sample,
    response_logprobs,
    trainer_diagnostics,
)
from budgetsplit.training.models import load_model
from budgetsplit.training.train import train_sft

# Tiny models run fastest on one thread (conftest.one_thread).
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def base(tmp_path_factory, task):
    return load_model(
        ModelConfig(name=tiny_llama_folder(tmp_path_factory.mktemp("b"), task)), device="cpu"
    )


@pytest.fixture(scope="module")
def tuned(base, task):
    """The base model after a short SFT: it has learned the answer format and to stop."""
    model, tok = base
    import copy

    stage = StageConfig(
        epochs=3.0, batch_size=8, per_device_batch_size=8, learning_rate=1e-2, warmup_ratio=0.0
    )
    out = train_sft(
        copy.deepcopy(model), tok, task.sft_records(task.sft_pool()), stage, LoraConfig(), 0, "cpu"
    )
    return out.model, tok


def test_batched_generation_matches_one_by_one(base, task):
    model, tok = base
    convs = [task.prompt_messages(r["prompt"]) for r in task.eval_split("val")[:6]]
    # Prompts of different lengths, so left padding is exercised.
    convs[0] = task.prompt_messages("What is 3 plus 4? Answer briefly please, answer briefly.")
    cfg = EvalConfig(max_new_tokens=12, batch_size=6)
    batched, lengths, _ = generate(model, tok, convs, cfg)
    one_by_one = [generate(model, tok, [c], cfg)[0][0] for c in convs]
    assert batched == one_by_one
    assert all(1 <= n <= 12 for n in lengths)


def test_sampling_is_seeded(base, task):
    model, tok = base
    convs = [task.prompt_messages(r["prompt"]) for r in task.eval_split("val")[:4]]
    cfg = EvalConfig(max_new_tokens=10, temperature=1.0, top_p=0.9)
    a, b, c = (generate(model, tok, convs, cfg, seed=s)[0] for s in (0, 0, 1))
    assert a == b and a != c


def test_evaluate_scores_and_stops_at_eos(base, tuned, task):
    cfg = EvalConfig(n_examples=24, max_new_tokens=16, batch_size=8)
    before = evaluate_model(*base, task, cfg)
    after = evaluate_model(*tuned, task, cfg)
    assert before["n_eval"] == after["n_eval"] == 24
    assert before["format_rate"] < 0.2 and before["eos_rate"] < 0.5
    assert after["format_rate"] > 0.9 and after["eos_rate"] > 0.9
    assert after["mean_length_tokens"] < before["mean_length_tokens"]
    assert (
        set(after["metrics"]) == {"accuracy"}
        and after["metrics"]["accuracy"] >= before["metrics"]["accuracy"]
    )
    assert "<|im_end|>" not in after["examples"][0]["completion"]
    rs = after["row_scores"]
    assert rs["metric"] == "accuracy" and rs["split"] == "test" and len(rs["values"]) == 24
    assert sum(rs["values"]) / 24 == pytest.approx(after["metrics"]["accuracy"])


def test_row_scores_are_per_row_in_row_order(task):
    rows = task.eval_split("test")[:6]
    right = [task.answer(int(r["reference"])) for r in rows]
    texts = [right[0], "no", right[2], right[3], "The answer is -1.", right[5]]
    rs = row_scores(task, rows, texts, "test")
    assert rs["values"] == [1.0, 0.0, 1.0, 1.0, 0.0, 1.0] and rs["metric"] == "accuracy"
    assert sum(rs["values"]) / 6 == task.score(rows, texts)["accuracy"]
    # The digest names the rows and their order: the same rows give it, others do not.
    assert rs["ids_digest"] == row_scores(task, rows, right, "test")["ids_digest"]
    assert rs["ids_digest"] != row_scores(task, rows[::-1], right[::-1], "test")["ids_digest"]


def test_response_logprobs_match_a_direct_computation(tuned, task):
    model, tok = tuned
    pair = task.pref_pool()[0]
    got = response_logprobs(model, tok, task, [pair])
    prompt = tok.apply_chat_template(
        task.prompt_messages(pair["prompt"]), add_generation_prompt=True, tokenize=False
    )
    for side in ("chosen", "rejected"):
        completion = tok(pair[side] + "<|im_end|>\n", add_special_tokens=False)["input_ids"]
        ids = tok(prompt, add_special_tokens=False)["input_ids"] + completion
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), -1)
        start = len(ids) - len(completion)
        want = sum(logp[start - 1 + j, t].item() for j, t in enumerate(completion)) / len(
            completion
        )
        assert got[f"{side}_logprob_per_token"] == pytest.approx(want, abs=1e-4)
    # After SFT on correct answers the chosen responses are far likelier than the rejected ones.
    many = response_logprobs(model, tok, task, task.pref_pool()[:20])
    assert many["n_pairs"] == 20
    assert many["chosen_logprob_per_token"] > many["rejected_logprob_per_token"] + 1.0


def test_logprob_sample_is_fixed_and_spread():
    pool = [{"id": i} for i in range(1000)]
    s = logprob_sample(pool, 200)
    assert len(s) == 200 and s == logprob_sample(pool, 200)
    assert s[0]["id"] == 0 and s[-1]["id"] == 995
    assert logprob_sample(pool[:50], 200) == pool[:50]


def test_trainer_diagnostics_average_the_last_steps():
    logs = [
        {"loss": 1.0, "rewards/margins": float(i), "rewards/accuracies": 0.5} for i in range(20)
    ]
    logs.append({"train_runtime": 3.0, "train_loss": 0.7})
    d = trainer_diagnostics(logs)
    assert d["n_logged_steps"] == 20
    assert d["final_reward_margins"] == pytest.approx(18.5)  # last 10%: steps 18 and 19
    assert d["final_reward_accuracies"] == 0.5 and d["first_reward_margins"] == 0.0
    assert trainer_diagnostics([]) == {"n_logged_steps": 0.0}


def test_eval_rows_refuse_more_examples_than_the_split_holds(task):
    n = len(task.eval_split("val"))
    assert len(eval_rows(task, EvalConfig(split="val", n_examples=n))) == n
    assert len(eval_rows(task, EvalConfig(split="val", n_examples=None))) == n
    with pytest.raises(ConfigError, match=rf"'eval.n_examples' = {n + 1}: above .* \({n} rows\)"):
        eval_rows(task, EvalConfig(split="val", n_examples=n + 1))
