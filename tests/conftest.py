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
