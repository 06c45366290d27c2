"""The paper profile's params and preflight: the recipes load with the paper's settings, and a
machine without a GPU, the Hub or the data gets a clear, multi-line error fast, never a hang.
Hub caches are redirected to empty temporary folders and the Hub endpoint to local sockets."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import datasets
import huggingface_hub
import pytest
import torch

from budgetsplit.config.params import load_params
from budgetsplit.core.registry import paper_class
from budgetsplit.tasks.paper import get_paper_task, load_split
from budgetsplit.tasks.paper.preflight import PaperNotReady, check_paper_ready, in_hf_cache

TASK_NAMES = ("math", "instruct", "summarize", "helpful")


@pytest.fixture
def empty_caches(tmp_path, monkeypatch) -> Path:
    hub = tmp_path / "hub"
    hub.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets")
    return hub


def fake_cached_dataset(hub: Path, repo_id: str, gsm8k_dir: Path) -> None:
    """What `huggingface-cli download --repo-type dataset` leaves in the Hub cache."""
    repo = hub / f"datasets--{repo_id.replace('/', '--')}"
    snap = repo / "snapshots" / "0123abc"
    (snap / "main").mkdir(parents=True)
    (snap / "main" / "test-00000-of-00001.jsonl").write_text((gsm8k_dir / "test.jsonl").read_text())
    (snap / "README.md").write_text(
        "---\nconfigs:\n- config_name: main\n  data_files:\n  - split: test\n    path: main/test-*\n---\n"
    )
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abc")


def test_paper_params_hold_the_papers_settings():
    for name in TASK_NAMES:
        p = load_params("paper", name)
        assert p.profile == "paper" and p.task == name
        assert p.model.name == "Qwen/Qwen2.5-1.5B" and not p.model.trust_remote_code
        lora = p.model.lora
        assert (lora.enabled, lora.r, lora.alpha, lora.dropout) == (True, 32, 32, 0.0)
        assert len(lora.target_modules) == 7
        for stage, lr in ((p.sft, 5e-5), (p.pft, 5e-6)):
            assert (stage.learning_rate, stage.epochs, stage.batch_size, stage.max_length) == (
                lr,
                2,
                16,
                1024,
            )
            assert (stage.lr_scheduler, stage.warmup_ratio, stage.weight_decay) == (
                "cosine",
                0.1,
                0.01,
            )
        assert p.pft.beta == 1.0 and p.seeds == (42,) and p.methods == ("dpo",)
        assert p.budget.sft_fractions == (0.0, 0.01, 0.1, 0.25, 0.5, 0.75, 1.0)
        assert p.budget.budgets[0] == 100 and p.budget.budgets[-1] <= 20000
        assert (p.eval.temperature, p.eval.top_p, p.eval.split) == (0.5, 0.9, "test")
        assert set(p.task_options.data) == set(paper_class(name).default_data)
        assert p.task_options.data == paper_class(name).default_data and p.task_options.n_val == 200
        assert get_paper_task(name, p.task_options).data == p.task_options.data  # builds lazily


def test_preflight_offline_here_says_what_is_missing_and_how_to_fetch_it(empty_caches):
    t0 = time.monotonic()
    with pytest.raises(PaperNotReady) as err:
        check_paper_ready([load_params("paper", name) for name in TASK_NAMES])
    assert time.monotonic() - t0 < 60
    msg = str(err.value)
    assert msg.count("\n") > 10
    assert ("No CUDA GPU" in msg) == (not torch.cuda.is_available())
    assert "HF_HUB_OFFLINE=1 is set" in msg
    # every model of the paper's model axis, named where the params name it
    assert "  model   Qwen/Qwen2.5-1.5B" in msg and "math: models.qwen2_5_1_5b;" in msg
    for model in ("meta-llama/Llama-3.2-1B", "meta-llama/Llama-3.1-8B", "Qwen/Qwen2.5-14B"):
        assert f"huggingface-cli download {model}\n" in msg
    assert "huggingface-cli download --repo-type dataset openai/gsm8k" in msg
    assert "huggingface-cli download Ray2333/gpt2-large-helpful-reward_model" in msg
    assert "(math: task_options.data.test)" in msg
    assert "task_options.data.test: /data/gsm8k" in msg  # the local-path alternative


def test_a_hub_cache_download_counts_and_loads_offline(empty_caches, gsm8k_dir):
    assert not in_hf_cache("dataset", "openai/gsm8k", "main")
    fake_cached_dataset(empty_caches, "openai/gsm8k", gsm8k_dir)
    assert in_hf_cache("dataset", "openai/gsm8k", "main")
    assert load_split("openai/gsm8k", "test", config="main").num_rows == 1319


def test_local_paths_need_no_hub_and_missing_ones_are_named(tmp_path, empty_caches):
    folder = tmp_path / "data"
    folder.mkdir()
    local = {role: str(folder) for role in paper_class("math").default_data}
    one = {"task_options.data": local, "model.name": str(folder), "models": {}}  # one model
    ok = load_params("paper", "math", overrides=one)
    check_paper_ready([ok], require_gpu=False)  # nothing remote: no probe, no error
    gone = load_params("paper", "math", overrides={"task_options.data.sft": "/no/such/folder"})
    with pytest.raises(PaperNotReady, match="Local dataset path '/no/such/folder' does not exist"):
        check_paper_ready([gone], require_gpu=False)


@pytest.mark.parametrize("server", ["silent", "closed"])
def test_unreachable_hub_is_reported_within_the_timeout(server, empty_caches, monkeypatch):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if server == "silent":
        sock.listen(1)  # accepts the connection (backlog) and never answers
    else:
        sock.close()  # nothing listens: connection refused
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    t0 = time.monotonic()
    with pytest.raises(PaperNotReady, match=rf"Hub at http://127.0.0.1:{port} is unreachable"):
        check_paper_ready([load_params("paper", "summarize")], timeout=0.5, require_gpu=False)
    assert time.monotonic() - t0 < 10
    if server == "silent":
        sock.close()
