"""The paper profile's loaders and scorers on tiny fixtures written in each dataset's exact Hub
schema (column names, nesting, types, file layout) and read back through `load_dataset`, as the Hub
copies are; GSM8K on the real files in ../shared/data/gsm8k (skipped where absent). No Hub access."""

from __future__ import annotations

import gzip
import json
import math
import time
from pathlib import Path

import datasets
import pytest
import torch

from budgetsplit.config.params import TaskConfig, load_params
from budgetsplit.tasks import get_task
from budgetsplit.tasks.metrics import answers_match, extract_flexible, extract_strict
from budgetsplit.tasks.paper import (
    GSM8KTask,
    HelpSteerTask,
    IFEvalTask,
    PaperDataError,
    RewardScorer,
    TLDRTask,
    get_paper_task,
    load_split,
)
from budgetsplit.tasks.paper.gsm8k import SYSTEM_PROMPT as MATH_SYSTEM

# ------------------------------------------------------------------ fixtures in the Hub schemas

# google/IFEval's kwargs: every instruction argument present in every dict, unused ones null.
IFEVAL_KWARGS = (
    "num_highlights relation num_words num_placeholders prompt_to_repeat num_bullets "
    "section_spliter num_sections capital_relation capital_frequency keywords num_paragraphs "
    "language let_relation letter let_frequency end_phrase forbidden_words keyword frequency "
    "num_sentences postscript_marker first_word nth_paragraph"
).split()


def write_parquet(folder: Path, split: str, rows: list[dict]) -> Path:
    """The Hub's parquet layout: <repo>/data/<split>-00000-of-00001.parquet."""
    path = folder / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows).to_parquet(str(path))
    return folder


def write_jsonl(path: Path, rows: list[dict], gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r) + "\n" for r in rows)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def gsm8k_generations(folder: Path, n: int = 12) -> Path:
    rows = [
        {
            "prompt": f"Tom has {i} apples and buys {i + 2} more. How many apples does he have?",
            "correct": [f"Step 1: {i} + {i + 2} = {2 * i + 2}\n#### {2 * i + 2}"] * (1 + i % 2),
            "reference_answer": f"{i} + {i + 2} = <<{i}+{i + 2}={2 * i + 2}>>{2 * i + 2}\n#### {2 * i + 2}",
        }
        for i in range(n)
    ]
    return write_parquet(folder, "train", rows)


def gsm8k_preferences_lists(folder: Path, n: int = 12) -> Path:
    rows = [
        {
            "prompt": f"Tom has {i} apples and buys {i + 2} more. How many apples does he have?",
            "correct": [f"Step 1: {i} + {i + 2} = {2 * i + 2}\n#### {2 * i + 2}"] * (1 + i % 2),
            "incorrect": [f"Step 1: guess\n#### {k}" for k in range(1 + i % 3)],
            "reference_answer": str(2 * i + 2),
            "system_message": "You are a helpful assistant ...",
        }
        for i in range(n)
    ]
    return write_parquet(folder, "train", rows)


def gsm8k_preferences_pairs(folder: Path, n: int = 12) -> Path:
    rows = [
        {
            "system_message": "You are a helpful assistant ...",
            "prompt": f"Tom has {i} apples and buys {i + 2} more. How many apples does he have?",
            "chosen": f"Step 1: {i} + {i + 2} = {2 * i + 2}\n#### {2 * i + 2}",
            "rejected": "Step 1: guess\n#### 0",
            "reference": str(2 * i + 2),
        }
        for i in range(n)
    ]
    return write_parquet(folder, "train", rows)


def _msgs(user: str, assistant: str) -> list[dict]:
    return [{"content": user, "role": "user"}, {"content": assistant, "role": "assistant"}]


def tulu_sft(folder: Path, n: int = 10) -> Path:
    rows = [
        {
            "id": f"personas_IF_{i}",
            "prompt": f"Write about topic {i} in lowercase letters only.",
            "messages": _msgs(
                f"Write about topic {i} in lowercase letters only.", f"topic {i} is fine."
            ),
            "constraints": ["In your entire response, use only lowercase letters."],
        }
        for i in range(n)
    ]
    return write_parquet(folder, "train", rows)


def tulu_pref(folder: Path, n: int = 10, long_every: int = 4) -> Path:
    rows = []
    for i in range(n):
        p = f"Write about topic {i} in lowercase letters only."
        rejected = "TOPIC IS FINE. " + ("word " * 1100 if i % long_every == 0 else "")
        rows.append(
            {
                "id": f"personas_IF_pref_{i}",
                "prompt": p,
                "constraints": ["In your entire response, use only lowercase letters."],
                "chosen": _msgs(p, f"topic {i} is fine."),
                "rejected": _msgs(p, rejected),
                "chonsen_model": "gpt-4o",
                "rejected_model": "gpt-4o",
            }
        )
    return write_parquet(folder, "train", rows)


def ifeval_row(key: int, prompt: str, ids: list[str], kwargs: list[dict]) -> dict:
    full = [{k: kw.get(k) for k in IFEVAL_KWARGS} for kw in kwargs]
    return {"key": key, "prompt": prompt, "instruction_id_list": ids, "kwargs": full}


def tldr_filtered(folder: Path, n: int = 10) -> Path:
    """UCL-DARK/openai-tldr-filtered: train.jsonl, valid.jsonl, test.jsonl at the repo root."""
    for split, m in (("train", n), ("valid", 3), ("test", 4)):
        rows = [
            {
                "id": f"t3_{split}{i}",
                "subreddit": "relationships",
                "title": f"My friend {i} forgot my birthday",
                "post": f"Post {split} {i}: my friend forgot my birthday again and I feel hurt.",
                "summary": f" friend {i} forgot my birthday, I feel hurt",
            }
            for i in range(m)
        ]
        write_jsonl(folder / f"{split}.jsonl", rows)
    return folder


def tldr_preferences(folder: Path, n: int = 8) -> Path:
    """UCL-DARK/openai-tldr-summarisation-preferences: data/<split>-00000-of-00001.json."""
    rows = []
    for i in range(n):
        info = {
            "id": f"t3_{i}",
            "post": f"Post train {i}: my friend forgot my birthday again.",
            "title": f"My friend {i} forgot my birthday",
            "subreddit": "relationships",
            "site": None,
            "article": None,
        }
        if i == n - 1:  # a CNN/DM comparison: no post, an article instead
            info.update(post=None, title=None, subreddit=None, site="cnn", article="A storm hit.")
        summaries = [
            {"text": f" friend {i} forgot my birthday", "policy": "ref", "note": None},
            {"text": " birthday", "policy": "sup2", "note": None},
        ]
        rows.append(
            {
                "info": info,
                "summaries": summaries,
                "choice": i % 2,
                "worker": "w1",
                "batch": "batch3",
                "split": "train",
            }
        )
    write_jsonl(folder / "data" / "train-00000-of-00001.json", rows)
    return folder


def helpsteer2(folder: Path, n_prompts: int = 8, n_val_prompts: int = 3) -> Path:
    """nvidia/HelpSteer2: train.jsonl.gz and validation.jsonl.gz, two rated responses per prompt."""
    for split, m in (("train", n_prompts), ("validation", n_val_prompts)):
        rows = []
        for i in range(m):
            for k, h in enumerate((i % 5, 2)):  # prompt 2 and 7 tie at helpfulness 2
                rows.append(
                    {
                        "prompt": f"{split} question {i}?",
                        "response": f"answer {k} to {i}",
                        "helpfulness": h,
                        "correctness": 3,
                        "coherence": 4,
                        "complexity": 1,
                        "verbosity": 2,
                    }
                )
        write_jsonl(folder / f"{split}.jsonl.gz", rows, gz=True)
    return folder


def cfg(n_val: int = 2, **data: Path | str) -> TaskConfig:
    return TaskConfig(n_val=n_val, data={k: str(v) for k, v in data.items()})


def math_task(tmp_path: Path, test: Path | str, pref_writer=gsm8k_preferences_lists, n_val=2):
    return GSM8KTask(
        cfg(
            n_val,
            sft=gsm8k_generations(tmp_path / "gen"),
            pref=pref_writer(tmp_path / "pref"),
            test=test,
        )
    )


# ------------------------------------------------------------------ loading
def test_load_split_reads_files_folders_and_names_bad_input(tmp_path):
    f = write_jsonl(tmp_path / "one.jsonl", [{"a": 1}, {"a": 2}])
    assert load_split(str(f), "test")["a"] == [1, 2]  # a single file is whatever split is asked
    folder = tldr_filtered(tmp_path / "tldr")
    assert load_split(str(folder), "validation").num_rows == 3  # valid.jsonl -> validation
    with pytest.raises(PaperDataError, match=r"no split 'dev'.*\['test', 'train', 'validation'\]"):
        load_split(str(folder), "dev", role="sft")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(PaperDataError, match="unsupported file type '.txt'"):
        load_split(str(tmp_path / "x.txt"), "train")


def test_uncached_hub_id_offline_fails_fast_and_says_how_to_download():
    t0 = time.monotonic()
    with pytest.raises(PaperDataError, match="HF_HUB_OFFLINE=1.*huggingface-cli download"):
        load_split("budgetsplit-test/no-such-dataset", "train", role="sft")
    assert time.monotonic() - t0 < 30


def test_local_copy_of_a_hub_repo_with_configs_reads_the_named_config(tmp_path, gsm8k_dir):
    repo = tmp_path / "gsm8k"
    for config in ("main", "socratic"):
        (repo / config).mkdir(parents=True)
        (repo / config / "test-00000-of-00001.jsonl").write_text(
            (gsm8k_dir / "test.jsonl").read_text()
            if config == "main"
            else '{"question": "q", "answer": "#### 1"}\n'
        )
    (repo / "README.md").write_text(
        "---\nconfigs:\n"
        + "".join(
            f"- config_name: {c}\n  data_files:\n  - split: test\n    path: {c}/test-*\n"
            for c in ("main", "socratic")
        )
        + "---\n"
    )
    assert load_split(str(repo), "test", config="main").num_rows == 1319


# ------------------------------------------------------------------ math
def test_gsm8k_real_test_set_loads_formats_and_scores(tmp_path, gsm8k_dir):
    task = math_task(tmp_path, gsm8k_dir)
    test = task.eval_split("test")
    assert len(test) == 1319
    first = test[0]
    assert first["prompt"].startswith("Question: Janet\u2019s ducks lay 16 eggs") and first[
        "prompt"
    ].endswith("\nAnswer:")
    assert first["answer"] == "18" and first["reference"].endswith("#### 18")
    msgs = task.prompt_messages(first["prompt"])
    assert (
        msgs[0] == {"role": "system", "content": MATH_SYSTEM}
        and "#### <Final numerical answer>" in MATH_SYSTEM
    )
    assert msgs[1] == {"role": "user", "content": first["prompt"]}

    golds = [r["answer"] for r in test]
    model_style = [f"Step 1: work it out.\n#### {g}" for g in golds]
    for completions in (model_style, [r["reference"] for r in test]):
        assert task.score(test, completions) == {
            "accuracy_strict": 1.0,
            "accuracy_flexible": 1.0,
            "format_rate": 1.0,
        }
    shifted = model_style[1:] + model_style[:1]
    wrong = task.score(test, shifted)
    assert wrong["accuracy_strict"] < 0.05 and wrong["format_rate"] == 1.0
    # No "####": strict finds nothing, flexible still reads the last number.
    bare = task.score(test, [f"So the answer is {g}." for g in golds])
    assert (
        bare["accuracy_strict"] == 0.0
        and bare["format_rate"] == 0.0
        and bare["accuracy_flexible"] > 0.99
    )


def test_gsm8k_real_train_golds_extract_to_themselves(gsm8k_dir):
    ds = load_split(str(gsm8k_dir), "train")
    assert ds.column_names == ["question", "answer"] and ds.num_rows == 7473
    for answer in ds["answer"]:
        gold = answer.rsplit("####", 1)[-1].strip()
        completion = f"Step 1: ...\n#### {gold}"
        assert answers_match(extract_strict(completion), gold), answer
        assert answers_match(extract_flexible(completion), gold), answer
        assert answers_match(extract_strict(answer), answer)  # lm-eval's target is the full answer


def test_math_pools_pairs_and_holdout(tmp_path):
    task = math_task(tmp_path, tmp_path / "unused", n_val=3)
    sft, pref, val = task.sft_pool(), task.pref_pool(), task.eval_split("val")
    # 12 questions: the last 3 held out; 1 or 2 correct solutions each -> demonstrations.
    assert [r["answer"] for r in val] == ["20", "22", "24"]
    assert len(sft) == sum(1 + i % 2 for i in range(9))
    # Every correct x every incorrect of the 9 training questions.
    assert len(pref) == sum((1 + i % 2) * (1 + i % 3) for i in range(9))
    held = {r["prompt_id"] for r in val}
    assert not held & {r["prompt_id"] for r in sft + pref}
    assert {r["prompt_id"] for r in pref} == {r["prompt_id"] for r in sft}  # same question, same id
    assert all(r["prompt"].startswith("Question: Tom has") for r in sft + pref + val)
    assert len({r["id"] for r in sft + pref + val}) == len(sft + pref + val)
    again = math_task(tmp_path / "again", tmp_path / "unused", n_val=3)
    assert again.sft_pool() == sft and again.pref_pool() == pref  # deterministic
    rec = task.pref_records(pref[:1])[0]
    assert rec["prompt"][0]["role"] == "system" and rec["chosen"][0]["role"] == "assistant"


def test_math_preference_pair_layout_and_unknown_layout(tmp_path):
    task = math_task(tmp_path, "unused", pref_writer=gsm8k_preferences_pairs)
    assert (
        len(task.pref_pool()) == 10 and task.pref_pool()[0]["rejected"] == "Step 1: guess\n#### 0"
    )
    bad = write_parquet(tmp_path / "bad", "train", [{"prompt": "q", "better": "a", "worse": "b"}])
    task = GSM8KTask(cfg(sft=gsm8k_generations(tmp_path / "gen2"), pref=bad))
    with pytest.raises(PaperDataError, match="missing columns: need 'correct' and 'incorrect'"):
        task.pref_pool()


def test_missing_column_and_bad_config_are_named(tmp_path):
    no_ref = write_parquet(tmp_path / "g", "train", [{"prompt": "q", "correct": ["#### 1"]}])
    with pytest.raises(
        PaperDataError, match=r"data.sft = .*missing column\(s\) \['reference_answer'\]"
    ):
        GSM8KTask(cfg(sft=no_ref)).sft_pool()
    with pytest.raises(PaperDataError, match="unknown role.*'reward'"):
        GSM8KTask(cfg(reward="x"))
    with pytest.raises(PaperDataError, match="label_noise"):
        GSM8KTask(TaskConfig(label_noise=0.1))
    with pytest.raises(PaperDataError, match="n_val = 50.*only 12 distinct prompts"):
        math_task(tmp_path / "big", "unused", n_val=50).sft_pool()


def test_registry_and_get_task_route_paper_params(tmp_path):
    data = {
        "sft": str(gsm8k_generations(tmp_path / "gen")),
        "pref": str(gsm8k_preferences_lists(tmp_path / "p")),
    }
    params = load_params(
        "paper", "math", overrides={"task_options.data": data, "task_options.n_val": 2}
    )
    task = get_task(params)
    assert (
        isinstance(task, GSM8KTask)
        and task.data["test"] == "openai/gsm8k"
        and len(task.eval_split("val")) == 2
    )
    assert isinstance(get_paper_task("instruct"), IFEvalTask)
    with pytest.raises(ValueError, match="unknown task"):
        get_paper_task("poetry")


# ------------------------------------------------------------------ instruction following
def test_instruct_loaders_filter_long_pairs(tmp_path):
    ifeval_file = write_jsonl(
        tmp_path / "ifeval" / "ifeval_input_data.jsonl",
        [
            ifeval_row(
                1000,
                "List two fruits as bullets, no commas.",
                ["punctuation:no_comma", "detectable_format:number_bullet_lists"],
                [{}, {"num_bullets": 2}],
            ),
        ],
    )
    task = IFEvalTask(
        cfg(3, sft=tulu_sft(tmp_path / "sft"), pref=tulu_pref(tmp_path / "pref"), test=ifeval_file)
    )
    sft, pref, val = task.sft_pool(), task.pref_pool(), task.eval_split("val")
    assert len(sft) == 7 and sft[0]["response"] == "topic 0 is fine."
    # Prompts 7-9 are held out; of 0-6, the pairs 0 and 4 reach 1,024 words and are dropped.
    assert [r["chosen"] for r in pref] == [f"topic {i} is fine." for i in (1, 2, 3, 5, 6)]
    assert [r["reference"] for r in val] == [f"topic {i} is fine." for i in (7, 8, 9)]
    (row,) = task.eval_split("test")
    assert row["id"] == "ifeval-1000" and row["kwargs"][1]["num_bullets"] == 2
    assert set(row["kwargs"][0]) == set(IFEVAL_KWARGS) and row["kwargs"][0]["num_bullets"] is None


def test_ifeval_scoring_on_rows_in_the_hub_schema(tmp_path):
    rows = [
        ifeval_row(
            1,
            "List two fruits as bullets, no commas.",
            ["punctuation:no_comma", "detectable_format:number_bullet_lists"],
            [{}, {"num_bullets": 2}],
        ),
        ifeval_row(
            2,
            "Say hi. End with the exact phrase 'Any other questions?'",
            ["startend:end_checker"],
            [{"end_phrase": "Any other questions?"}],
        ),
        ifeval_row(
            3, "Mention the word banana.", ["keywords:existence"], [{"keywords": ["banana"]}]
        ),
    ]
    task = IFEvalTask(cfg(test=write_jsonl(tmp_path / "ifeval.jsonl", rows)))
    test = task.eval_split("test")
    good = ["* apple\n* pear", "Hi! Any other questions?", "I like banana bread."]
    assert task.score(test, good) == {
        "prompt_level_strict": 1.0,
        "inst_level_strict": 1.0,
        "prompt_level_loose": 1.0,
        "inst_level_loose": 1.0,
        "nonempty_rate": 1.0,
    }
    bad = ["* apple, pear", "Hi!", "I like banana bread."]  # comma + 1 bullet; no end phrase
    out = task.score(test, bad)
    assert out["prompt_level_strict"] == pytest.approx(1 / 3)
    assert out["inst_level_strict"] == pytest.approx(1 / 4)
    # Loose drops the first line of "Hi!\n..." style answers only; here nothing changes.
    assert out["prompt_level_loose"] == pytest.approx(1 / 3)
    # Validation rows have no instruction ids: nothing to check, NaN rather than a made-up number.
    val_like = [{"id": "v", "prompt": "p", "reference": "r"}]
    assert math.isnan(task.score(val_like, ["x"])["prompt_level_strict"])


# ------------------------------------------------------------------ summarization
def test_summarize_loaders_and_rouge(tmp_path):
    filtered = tldr_filtered(tmp_path / "tldr")
    task = TLDRTask(cfg(2, sft=filtered, pref=tldr_preferences(tmp_path / "prefs"), test=filtered))
    sft, pref, val, test = (
        task.sft_pool(),
        task.pref_pool(),
        task.eval_split("val"),
        task.eval_split("test"),
    )
    assert len(sft) == 8 and len(val) == 2 and len(test) == 4
    assert sft[0]["prompt"] == (
        "SUBREDDIT: r/relationships\nTITLE: My friend 0 forgot my birthday\n"
        "POST: Post train 0: my friend forgot my birthday again and I feel hurt."
    )
    assert (
        sft[0]["response"] == "friend 0 forgot my birthday, I feel hurt"
    )  # leading space stripped
    # 8 comparisons: the CNN/DM one is skipped; choice picks the chosen summary.
    assert len(pref) == 7
    assert pref[0]["chosen"] == "friend 0 forgot my birthday" and pref[1]["chosen"] == "birthday"
    assert task.score(test, [r["reference"] for r in test])["rouge_l"] == pytest.approx(1.0)
    assert task.score(test, ["completely unrelated words"] * 4)["rouge_l"] == 0.0


# ------------------------------------------------------------------ helpfulness
def tiny_reward_model(folder: Path) -> Path:
    """A random 2-layer GPT-2 sequence classifier and a byte-level BPE tokenizer, saved as safetensors."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2ForSequenceClassification, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    corpus = ["Human: what is the answer to question 3? Assistant: answer 1 to 3"] * 20
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<|endoftext|>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        ),
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>"
    )
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(fast),
        n_positions=128,
        n_embd=32,
        n_layer=2,
        n_head=2,
        num_labels=1,
        pad_token_id=fast.eos_token_id,
    )
    GPT2ForSequenceClassification(config).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


def test_helpful_pairs_sft_and_test_split(tmp_path):
    hs = helpsteer2(tmp_path / "hs")
    task = HelpSteerTask(cfg(2, sft=hs, pref=hs, test=hs, reward_model="unused"))
    sft, pref, val, test = (
        task.sft_pool(),
        task.pref_pool(),
        task.eval_split("val"),
        task.eval_split("test"),
    )
    # 8 prompts, the last 2 held out; helpfulness (i % 5, 2): prompt 2 ties, so it has no pair.
    assert len(sft) == 6 and len(val) == 2 and len(test) == 3
    assert [r["response"] for r in sft[:4]] == [
        "answer 1 to 0",
        "answer 1 to 1",
        "answer 0 to 2",
        "answer 0 to 3",
    ]
    assert [(r["chosen"], r["rejected"]) for r in pref] == [
        ("answer 1 to 0", "answer 0 to 0"),
        ("answer 1 to 1", "answer 0 to 1"),
        ("answer 0 to 3", "answer 1 to 3"),
        ("answer 0 to 4", "answer 1 to 4"),
        ("answer 1 to 5", "answer 0 to 5"),
    ]
    assert test[0]["prompt"] == "validation question 0?" and test[0]["reference"] == "answer 1 to 0"


def test_reward_scorer_on_a_tiny_gpt2(tmp_path):
    rm = tiny_reward_model(tmp_path / "rm")
    prompts = [
        "what is the answer to question 3?",
        "q?",
        "a much longer question about answers " * 3,
    ]
    responses = ["answer 1 to 3", "no", "answer"]
    one_by_one = RewardScorer(str(rm), device="cpu", batch_size=1).score(prompts, responses)
    batched = RewardScorer(str(rm), device="cpu", batch_size=3).score(prompts, responses)
    assert batched == pytest.approx(one_by_one, abs=1e-5)  # right padding does not move the scores
    assert len(set(one_by_one)) == 3

    hs = helpsteer2(tmp_path / "hs")
    task = HelpSteerTask(cfg(2, sft=hs, pref=hs, test=hs, reward_model=rm))
    test = task.eval_split("test")
    same = task.score(test, [r["reference"] for r in test])
    assert same["win_rate"] == 0.5 and same["reward"] == pytest.approx(same["reference_reward"])
    completions = ["answer 1 to 3", "no", "answer"]
    out = task.score(test, completions)
    ours = task.scorer.score([r["prompt"] for r in test], completions)
    refs = task.scorer.score([r["prompt"] for r in test], [r["reference"] for r in test])
    assert out["reward"] == pytest.approx(sum(ours) / 3)
    assert out["win_rate"] == pytest.approx(sum(a > b for a, b in zip(ours, refs, strict=True)) / 3)


def test_reward_scorer_refuses_pickle_weights(tmp_path):
    rm = tiny_reward_model(tmp_path / "rm")
    weights = rm / "model.safetensors"
    from safetensors.torch import load_file

    torch.save(load_file(str(weights)), rm / "pytorch_model.bin")
    weights.unlink()
    with pytest.raises(PaperDataError, match="reward_model.*safetensors"):
        RewardScorer(str(rm), device="cpu")


def test_local_gsm8k_folder_loads_without_the_card_notice(gsm8k_dir, capfd):
    # Its README has no YAML header; huggingface_hub's notice about it filled grid notebooks.
    assert load_split(str(gsm8k_dir), "test").num_rows == 1319
    assert "Repo card metadata" not in capfd.readouterr().err
