"""Shared test set-up: no Hub, a repo-local cache (so the smoke base model is built once per
checkout and reused across test files), and the path of the real GSM8K files when present."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("BUDGETSPLIT_CACHE", str(ROOT / ".cache" / "budgetsplit"))
GSM8K_DIR = ROOT.parent / "shared" / "data" / "gsm8k"


@pytest.fixture
def gsm8k_dir() -> Path:
    if not (GSM8K_DIR / "test.jsonl").is_file():
        pytest.skip(f"real GSM8K files not found in {GSM8K_DIR}")
    return GSM8K_DIR


# ----------------------------------------------------------------------------- toy task pools
@pytest.fixture(scope="module")
def full(toy_task):
    """(task, pools, seconds): the module's `toy_task` fixture with its four pools drawn (once per
    module) and how long drawing them took."""
    from time import perf_counter

    t0 = perf_counter()
    pools = {
        "sft": toy_task.sft_pool(),
        "pref": toy_task.pref_pool(),
        "val": toy_task.eval_split("val"),
        "test": toy_task.eval_split("test"),
    }
    return toy_task, pools, perf_counter() - t0


@pytest.fixture
def check_pools():
    """What every toy task's pools at the default sizes satisfy: sizes, drawn within 10 s, one row
    per prompt in sft/val/test, no prompt in two pools, preference prompt_ids and prompts one to
    one with several pairs for some, unique row ids."""

    def check(pools: dict[str, list[dict]], seconds: float) -> None:
        sizes = {k: len(v) for k, v in pools.items()}
        assert sizes == {"sft": 20000, "pref": 20000, "val": 200, "test": 500}
        assert seconds < 10  # spec: ~2 s; generous for a shared CPU
        prompts = {k: {r["prompt"] for r in v} for k, v in pools.items()}
        for k in ("sft", "val", "test"):
            assert len(prompts[k]) == len(pools[k])
        names = list(prompts)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                assert not prompts[a] & prompts[b], (a, b)
        by_id: dict[str, str] = {}
        for r in pools["pref"]:
            assert by_id.setdefault(r["prompt_id"], r["prompt"]) == r["prompt"]
        assert len(set(by_id.values())) == len(by_id) < len(pools["pref"])  # pairs share prompts
        assert len({r["id"] for v in pools.values() for r in v}) == sum(sizes.values())

    return check


# ------------------------------------------- tiny in-process model fixtures (see tests/tiny.py)
@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread, and the machine is shared; restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def task():
    from tiny import AddTask

    return AddTask()


@pytest.fixture(scope="module")
def base_folder(tmp_path_factory, task):
    from tiny import tiny_llama_folder

    return tiny_llama_folder(tmp_path_factory.mktemp("base"), task)


@pytest.fixture
def params_dir(tmp_path, monkeypatch) -> Path:
    """A copy of params/smoke as the only shipped profile, so what calibration writes beside a
    profile's recipes lands in tmp_path."""
    import shutil

    from budgetsplit.config import profiles

    folder = tmp_path / "params"
    shutil.copytree(profiles.PARAMS_DIR / "smoke", folder / "smoke")
    monkeypatch.setattr(profiles, "PARAMS_DIR", folder)
    return folder


@pytest.fixture(autouse=True)
def _no_user_params(monkeypatch):
    """`--params DIR` sets $BUDGETSPLIT_PARAMS for the process (so workers inherit it); undo it after
    each test, lest one test's params folder leak into the next."""
    monkeypatch.delenv("BUDGETSPLIT_PARAMS", raising=False)
