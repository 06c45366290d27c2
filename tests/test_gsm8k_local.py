"""GSM8K's own files as the paper's math data (tasks/paper/gsm8k_local.py): demonstrations in the
paper's format that the GSM8K scorer marks right, rejected responses it marks wrong, read back by
the paper's math task. On the real GSM8K files (skipped where they are absent)."""

import json
import random

import pytest

from budgetsplit.config.params import TaskConfig
from budgetsplit.tasks.metrics import answers_match, extract_strict
from budgetsplit.tasks.paper.gsm8k import GSM8KTask, gold_answer
from budgetsplit.tasks.paper.gsm8k_local import paper_steps, slipped, write_paper_data

NATALIA = (
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n"
    "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"
)


def test_a_solution_in_the_papers_format_and_one_with_a_slip():
    assert paper_steps(NATALIA) == (
        "Step 1: Natalia sold 48/2 = 24 clips in May.\n"
        "Step 2: Natalia sold 48+24 = 72 clips altogether in April and May.\n\n#### 72"
    )
    bad = slipped(NATALIA, random.Random(0))
    good_lines, bad_lines = paper_steps(NATALIA).splitlines(), bad.splitlines()
    assert bad_lines[0] == good_lines[0] and bad_lines[2] == ""  # only the last step slips
    wrong = extract_strict(bad)
    assert wrong != "72" and f"= {wrong} clips altogether" in bad_lines[1]
    assert slipped("No numbers here.\n#### many", random.Random(0)) is None
    with pytest.raises(ValueError, match="no '####'"):
        paper_steps("Natalia sold 72 clips.")


def test_every_real_train_solution_rewrites_right_and_slips_wrong(gsm8k_dir):
    rng = random.Random(0)
    rows = [json.loads(line) for line in (gsm8k_dir / "train.jsonl").open()]
    slips = 0
    for row in rows:
        gold = gold_answer(row["answer"])
        good = paper_steps(row["answer"])
        assert good.startswith("Step 1: ") and "<<" not in good
        assert answers_match(extract_strict(good), gold), row["answer"]
        bad = slipped(row["answer"], rng)
        if bad is not None:
            slips += 1
            assert extract_strict(bad) is not None  # in the format
            assert not answers_match(extract_strict(bad), gold), (row["answer"], bad)
            assert len(bad.splitlines()) == len(good.splitlines())
    assert slips > 0.99 * len(rows)


def _small_copy(tmp_path, gsm8k_dir):
    """The first 30 train and 5 test problems of the real GSM8K files, in a folder of their own."""
    src = tmp_path / "gsm8k"
    src.mkdir()
    for split, n in (("train", 30), ("test", 5)):
        lines = (gsm8k_dir / f"{split}.jsonl").read_text().splitlines()[:n]
        (src / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return src


def test_the_papers_math_task_reads_the_written_files(tmp_path, gsm8k_dir):
    src = _small_copy(tmp_path, gsm8k_dir)
    data = write_paper_data(src, tmp_path / "paper")
    assert data == {
        "sft": str(tmp_path / "paper" / "sft"),
        "pref": str(tmp_path / "paper" / "pref"),
        "test": str(src),
    }
    task = GSM8KTask(TaskConfig(n_val=5, data=data))
    sft, pref, val = task.sft_pool(), task.pref_pool(), task.eval_split("val")
    assert len(sft) == 25 and len(val) == 5 and len(pref) >= 24
    assert all(
        r["prompt"].startswith("Question: ") and r["prompt"].endswith("Answer:") for r in sft
    )
    answers = {r["prompt_id"]: r["answer"] for r in task.eval_split("test")} | {
        r["prompt_id"]: r["answer"] for r in val
    }
    assert len(task.eval_split("test")) == 5 and not answers.keys() & {r["prompt_id"] for r in sft}
    for r in pref:
        assert extract_strict(r["chosen"]) != extract_strict(r["rejected"])
    again = write_paper_data(src, tmp_path / "again")  # the same seed: the same slips
    for role in ("sft", "pref"):
        first = (tmp_path / "paper" / role / "train.jsonl").read_text()
        assert first == (tmp_path / "again" / role / "train.jsonl").read_text()
    assert again["test"] == str(src)


def test_a_gsm8k_steps_data_id_makes_the_rows_in_memory(tmp_path, gsm8k_dir):
    from budgetsplit.tasks.paper.gsm8k import STEPS

    src = _small_copy(tmp_path, gsm8k_dir)
    steps = f"{STEPS}{src}"
    task = GSM8KTask(TaskConfig(n_val=5, data={"sft": steps, "pref": steps, "test": str(src)}))
    files = GSM8KTask(TaskConfig(n_val=5, data=write_paper_data(src, tmp_path / "files")))
    assert task.sft_pool() == files.sft_pool() and task.pref_pool() == files.pref_pool()
    assert task.eval_split("val") == files.eval_split("val")
    # what preflight checks is here: GSM8K train, config main
    assert GSM8KTask.source("sft", steps) == (str(src), "main")
    assert GSM8KTask.source("test", str(src)) == (str(src), "main")


def test_the_papers_math_task_has_rl_prompts_scored_by_their_answers(tmp_path, gsm8k_dir):
    """grpo on the paper path: GSM8K's preference prompts with their answer keys, the strict
    scorer their reward; the paper's instruct data carry no checkers, so it has none."""
    from budgetsplit.tasks.paper.gsm8k import STEPS
    from budgetsplit.tasks.paper.instruct import IFEvalTask
    from budgetsplit.training.grpo import gold_reward

    src = _small_copy(tmp_path, gsm8k_dir)
    steps = f"{STEPS}{src}"
    task = GSM8KTask(TaskConfig(n_val=5, data={"sft": steps, "pref": steps, "test": str(src)}))
    rl, pref = task.rl_pool(), task.pref_pool()
    assert [r["prompt_id"] for r in rl] == list(dict.fromkeys(r["prompt_id"] for r in pref))
    held = {r["prompt_id"] for r in task.eval_split("val")}
    assert not held & {r["prompt_id"] for r in rl}  # validation questions stay out
    reward = gold_reward(task, rl)
    keys = [f"Step 1: done.\n#### {r['answer']}" for r in rl[:5]]
    assert reward(prompts=None, completions=keys, rl_index=range(5)) == [1.0] * 5
    wrong = [f"#### {int(float(r['answer'])) + 1}" for r in rl[:5]]
    assert reward(prompts=None, completions=wrong, rl_index=range(5)) == [0.0] * 5
    with pytest.raises(NotImplementedError, match="no RL pool"):
        IFEvalTask().rl_pool()
