"""The toy world's tokenizer, corpus, base-model build and cache, and task construction.

Most tests use a tiny in-test corpus and model (seconds); the last one builds (or reuses from the
repo-local cache) the smoke profile's base model, about a minute on 2 cores the first time.
"""

import json
import random
import time

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from budgetsplit.config.params import ConfigError, PretrainConfig, WorldConfig, load_world, replace
from budgetsplit.core.chat import IM_END, IM_START
from budgetsplit.tasks.toyworld import get_toy_task
from budgetsplit.tasks.toyworld.pretrain import (
    build_corpus,
    cache_key,
    default_sources,
    get_base_model,
)
from budgetsplit.tasks.toyworld.tokenizer import (
    EOT,
    MAX_WHOLE_NUMBER,
    ROLE_NAMES,
    forced_merges,
    train_tokenizer,
)

WORDS = (
    "the a fox dog cat river city market baker walked saw found gave sold ran to from and".split()
)


def _source(tag: str):
    def corpus_documents(seed: int, n: int) -> list[str]:
        rng = random.Random(f"{seed}/{tag}")
        return [
            " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 40)))
            + f". It had {rng.randint(0, 150)} {tag} things, {rng.randint(0, 9)} more."
            for _ in range(n)
        ]

    return corpus_documents


SOURCES = {"alpha": _source("alpha"), "beta": _source("beta")}
TINY = WorldConfig(
    seed=3,
    pretrain=PretrainConfig(
        vocab_size=600,
        hidden_size=32,
        num_layers=2,
        num_heads=2,
        intermediate_size=64,
        seq_len=64,
        batch_size=8,
        steps=12,
        learning_rate=3e-3,
        warmup_steps=2,
        corpus_docs=300,
    ),
)


@pytest.fixture(scope="module")
def tok():
    return train_tokenizer(build_corpus(TINY, SOURCES), vocab_size=600)


# ------------------------------------------------------------------------------------- tokenizer
def test_forced_merges_known_answers():
    assert forced_merges(["ab"]) == [("a", "b")]
    # "abc" after a learned ("b", "c") merge needs only ("a", "bc").
    assert forced_merges(["abc"], {("b", "c"): 0}) == [("a", "bc")]
    assert forced_merges(["a"]) == []


@pytest.mark.parametrize(
    "text",
    [
        "The fox walked to the market.",
        "Tom had 7 apples, then 123 and 4567!\n\n  odd  spaces",
        "Café — naïve 日本 ✓",
        "x5y 0.25 -3 #### 10",
        "",
    ],
)
def test_tokenizer_round_trips(tok, text):
    assert tok.decode(tok.encode(text, add_special_tokens=False)) == text


def test_numbers_roles_and_specials_are_single_tokens(tok):
    for n in (0, 7, 42, MAX_WHOLE_NUMBER):
        assert len(tok.encode(str(n), add_special_tokens=False)) == 1
        assert len(tok.encode(f" {n}", add_special_tokens=False)) == 1
    assert len(tok.encode(f" {MAX_WHOLE_NUMBER + 51}", add_special_tokens=False)) == 2
    for w in ROLE_NAMES + (EOT, IM_START, IM_END):
        assert len(tok.encode(w, add_special_tokens=False)) == 1, w
    assert len(tok) <= 600


def test_tokenizer_has_chatml_and_survives_a_reload(tok, tmp_path):
    msgs = [{"role": "user", "content": "hi 5"}, {"role": "assistant", "content": "ok 7"}]
    text = tok.apply_chat_template(msgs, tokenize=False)
    assert text == f"{IM_START}user\nhi 5{IM_END}\n{IM_START}assistant\nok 7{IM_END}\n"
    assert tok.eos_token == IM_END and tok.pad_token not in (None, IM_END)
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert again.apply_chat_template(msgs, tokenize=False) == text
    assert again.encode(text) == tok.encode(text) and again.eos_token == IM_END
    assert len(again) == len(tok)


# ---------------------------------------------------------------------------------------- corpus
def test_corpus_is_deterministic_and_rejects_special_tokens():
    docs = build_corpus(TINY, SOURCES)
    assert len(docs) == 300 and docs == build_corpus(TINY, SOURCES)
    leaky = dict(SOURCES, gamma=lambda seed, n: [f"text {IM_START}user"] * n)
    with pytest.raises(ValueError, match="gamma"):
        build_corpus(TINY, leaky)


def test_real_corpus_has_no_chat_template_nor_response_format():
    world = load_world("smoke", overrides={"pretrain.corpus_docs": 2000})
    docs = build_corpus(world, default_sources())
    assert len(docs) == 2000
    for d in docs:
        for bad in (IM_START, IM_END, EOT, "####", "Step 1:", "TL;DR"):
            assert bad not in d, (bad, d)


# ------------------------------------------------------------------------------- build and cache
def test_build_is_deterministic_and_cached(tmp_path, monkeypatch):
    weights = []
    stale = tmp_path / "b" / "base" / f".tmp-{cache_key(TINY, SOURCES)}-1"  # a killed build's
    stale.mkdir(parents=True)
    for run in ("a", "b"):
        monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path / run))
        folder = get_base_model(TINY, progress=False, sources=SOURCES)
        assert folder.parent == tmp_path / run / "base"
        weights.append(load_file(folder / "model.safetensors"))
    assert weights[0].keys() == weights[1].keys()
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
    assert not stale.exists()

    info = json.loads((folder / "build_info.json").read_text())
    assert info["heldout_loss"] < info["initial_train_loss"]  # it learned something
    stamp = (folder / "model.safetensors").stat().st_mtime_ns
    start = time.time()
    assert get_base_model(TINY, progress=False, sources=SOURCES) == folder
    assert time.time() - start < 2.0
    assert (folder / "model.safetensors").stat().st_mtime_ns == stamp
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.tie_word_embeddings and model.config.max_position_embeddings == 64
    assert model.config.vocab_size == len(AutoTokenizer.from_pretrained(folder))


@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_damaged_cached_base_model_is_named_and_rebuilt(tmp_path, monkeypatch, capsys, damage):
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path))
    folder = get_base_model(TINY, progress=False, sources=SOURCES)
    weights = (folder / "model.safetensors").read_bytes()
    cut = b"" if damage == "empty" else weights[: len(weights) // 2]
    (folder / "model.safetensors").write_bytes(cut)
    assert get_base_model(TINY, progress=False, sources=SOURCES, build=False) is None
    assert get_base_model(TINY, progress=False, sources=SOURCES) == folder
    out = capsys.readouterr().out
    assert f"base model {folder} is damaged" in out and "model.safetensors" in out
    assert (folder / "model.safetensors").read_bytes() == weights  # rebuilt, deterministic
    assert len(list(folder.parent.glob(folder.name + ".damaged-*"))) == 1


def test_cache_key_follows_config_and_corpus():
    key = cache_key(TINY, SOURCES)
    assert key == cache_key(TINY, SOURCES)
    steps = replace(TINY, pretrain=replace(TINY.pretrain, steps=13))
    assert cache_key(steps, SOURCES) != key
    assert cache_key(TINY, dict(SOURCES, beta=_source("gamma"))) != key
    # Pool sizes do not change the base model, so they do not rebuild it.
    assert cache_key(replace(TINY, n_test=7), SOURCES) == key


def test_failed_build_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path))
    calls = []

    def flaky(seed, n):  # fine for the cache key, fails in the build
        calls.append(n)
        if len(calls) > 1:
            raise RuntimeError("generator crashed")
        return ["some words here"] * n

    with pytest.raises(RuntimeError, match="crashed"):
        get_base_model(TINY, progress=False, sources={"flaky": flaky})
    assert [p.name for p in (tmp_path / "base").iterdir() if not p.name.endswith(".lock")] == []


# ------------------------------------------------------------------------------------ toy tasks
def test_get_toy_task_applies_knobs_and_rejects_unknown_ones():
    world = WorldConfig(seed=1, n_sft_pool=30, n_pref_pool=30, n_val=5, n_test=7)
    task = get_toy_task("math", replace(world, tasks={"math": {"max_number": 9}}))
    assert task.name == "math" and len(task.eval_split("test")) == 7
    assert task.max_number == 9 and task.seed == 1 and task.sizes["sft"] == 30
    # Each error names the world file, the dotted key and the value.
    src = "params/x/world.yaml"
    cases = [
        ({"math": {"max_numbr": 9}}, r"tasks\.math\.max_numbr' = 9: unknown knob"),
        ({"math": {"n_test": 9}}, r"tasks\.math\.n_test' = 9: set at the top level"),
        ({"math": {"label_noise": 0.2}}, r"tasks\.math\.label_noise' = 0\.2: set by the recipe"),
        ({"math": {"max_number": 2}}, r"tasks\.math' = \{'max_number': 2\}.*max_number = 2"),
    ]
    for tasks, message in cases:
        with pytest.raises(ConfigError, match=rf"^{src}: key '{message}"):
            get_toy_task("math", replace(world, tasks=tasks), source=src)
    with pytest.raises(ConfigError, match=rf"^{src}: key 'task' = 'poetry': unknown task"):
        get_toy_task("poetry", world, source=src)


# ------------------------------------------------------------------------- the smoke base model
def test_smoke_base_model_does_not_answer_in_the_math_format():
    """Cold start: the base model writes world prose, never the "Step ... #### N" format."""
    world = load_world("smoke")
    folder = get_base_model(world, progress=False)
    info = json.loads((folder / "build_info.json").read_text())
    assert info["heldout_loss"] < info["initial_train_loss"] - 2.0
    tok = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    task = get_toy_task("math", world)
    rows = task.eval_split("test")[:16]
    chats = [
        tok.apply_chat_template(
            task.prompt_messages(r["prompt"]), tokenize=False, add_generation_prompt=True
        )
        for r in rows
    ]
    batch = tok(chats, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.no_grad():
        out = model.generate(**batch, max_new_tokens=48, do_sample=False)
    completions = tok.batch_decode(out[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)
    assert all(c.strip() for c in completions)  # it does write something
    assert not any(task.in_format(c) for c in completions), completions
