"""The grpo method (training/grpo.py): RL prompts bought with the budget after SFT, TRL's real
GRPOTrainer rewarded by the task's gold scorer, and what the record keeps of it."""

from __future__ import annotations

import pytest
from tiny import FAST

from budgetsplit.config.params import (
    BudgetConfig,
    ConfigError,
    CostConfig,
    EvalConfig,
    ModelConfig,
    Params,
    PFTConfig,
    StageConfig,
    load_params,
    load_world,
)
from budgetsplit.core.budget import draw_subsets
from budgetsplit.core.registry import TASKS
from budgetsplit.run.runner import run_cell
from budgetsplit.study.cells import Cell, cell_costs, cell_sizes
from budgetsplit.tasks.toyworld import get_toy_task
from budgetsplit.training.grpo import gold_reward, grpo_diagnostics

pytestmark = pytest.mark.usefixtures("one_thread")


def params(out, base_folder, **kw) -> Params:
    pft = dict(learning_rate=1e-3, num_generations=2, max_completion_length=8)
    kw.setdefault("pft", PFTConfig(**FAST, **pft))
    return Params(
        task="math",
        profile="test",
        model=ModelConfig(name=base_folder),
        methods=("grpo",),
        device="cpu",
        cpu_threads=1,
        sft=StageConfig(**FAST, learning_rate=3e-3),
        eval=EvalConfig(n_examples=16, max_new_tokens=12, batch_size=16),
        output_dir=str(out),
        **kw,
    )


def test_a_grpo_cell_trains_on_rl_prompts_and_records_rewards_and_compute(
    tmp_path, base_folder, task
):
    p = params(tmp_path, base_folder)
    cell = Cell("math", "grpo", 20, 0.5, 0)
    rec = run_cell(p, cell, task)
    assert (rec["n_sft"], rec["n_pref"]) == (10, 10) and rec["costs"] == {"sft": 1.0, "rl": 1.0}
    stage = rec["diagnostics"]["stages"]["pft"]
    # 10 prompts at 8 per step: the last batch is filled by cycling the prompts, not dropped
    assert (stage["examples"], stage["prompts"], stage["steps"]) == (10, 10, 2)
    assert stage["weight_change"] > 0
    diag = rec["diagnostics"]["pft"]
    assert diag["n_logged_steps"] == 2
    for key in ("reward", "reward_std", "frac_reward_zero_std", "completion_length", "kl"):
        assert len(diag["per_step"][key]) == 2, key
    assert all(0 <= r <= 1 for r in diag["per_step"]["reward"])
    c, n = rec["compute"], rec["compute"]["n_params"]
    sampled = c["pft"]["sampled_tokens"]
    # 2 steps x 8 prompts x 2 samples, each at most max_completion_length tokens
    assert 0 < sampled <= 2 * 8 * 2 * 8 and c["pft"]["ref_tokens"] == c["pft"]["tokens"] > 0
    assert c["pft"]["flops"] == 6 * n * c["pft"]["tokens"] + 2 * n * (
        c["pft"]["ref_tokens"] + sampled
    )
    # fewer prompts than a batch: one step of them all; no KL term, no reference pass
    pft = PFTConfig(
        **FAST, learning_rate=1e-3, num_generations=2, max_completion_length=8, kl_beta=0.0
    )
    few = params(tmp_path / "few", base_folder, pft=pft)
    rec = run_cell(few, Cell("math", "grpo", 10, 0.5, 0), task)
    assert rec["diagnostics"]["stages"]["pft"]["steps"] == 1
    assert rec["compute"]["pft"]["ref_tokens"] == 0


def test_the_budget_buys_rl_prompts_at_c_rl_beside_pairs_and_demonstrations(tmp_path, base_folder):
    costs = CostConfig(sft=4.0, pref=2.0, rl=0.5)
    money = params(tmp_path, base_folder, budget=BudgetConfig(unit="money", costs=costs))
    assert cell_costs(money, Cell("math", "grpo", 10, 0.5, 0)) == (4.0, 0.5)
    assert cell_costs(money, Cell("math", "dpo", 10, 0.5, 0)) == (4.0, 2.0)
    assert cell_sizes(money, Cell("math", "grpo", 10, 0.6, 0)) == (1, 8)  # 4 + 8 x 0.5 <= 10
    assert cell_sizes(money, Cell("math", "dpo", 10, 0.6, 0)) == (1, 2)
    ratio = params(
        tmp_path, base_folder, budget=BudgetConfig(unit="money", costs=costs, cost_ratios=(3.0,))
    )
    assert cell_costs(ratio, Cell("math", "grpo", 10, 0.5, 0, cost_ratio=3.0)) == (1.5, 0.5)
    with pytest.raises(ConfigError, match=r"budget\.costs\.rl.*must be > 0"):
        load_params("smoke", "math", overrides={"budget.costs.rl": 0})
    with pytest.raises(ConfigError, match=r"pft\.num_generations"):
        load_params("smoke", "math", overrides={"pft.num_generations": 1})


@pytest.mark.parametrize("name", TASKS)
def test_every_toy_task_has_rl_prompts_its_gold_reward_scores(name):
    world = load_world("smoke")
    task = get_toy_task(name, world)
    rl, pref, sft = task.rl_pool(), task.pref_pool(), task.sft_pool()
    # one row per prompt of the preference pool, in its order, with the eval rows' fields
    assert [r["prompt_id"] for r in rl] == list(dict.fromkeys(r["prompt_id"] for r in pref))
    assert set(rl[0]) >= set(task.eval_split("val")[0]) - {"id"}
    reward = gold_reward(task, rl)
    done = [[{"role": "assistant", "content": r["reference"]}] for r in rl[:20]]
    assert reward(prompts=None, completions=done, rl_index=list(range(20))) == [1.0] * 20
    assert reward(prompts=None, completions=["no"] * 3, rl_index=[0, 1, 2]) == [0.0] * 3
    # drawn like pairs: from the back of one prompt order, apart from the demonstrations
    s, r = draw_subsets(sft, rl, 50, 50, seed=0, task=name)
    assert not {x["prompt_id"] for x in s} & {x["prompt_id"] for x in r}
    _, pairs = draw_subsets(sft, pref, 50, 200, seed=0, task=name)
    pair_prompts = list(dict.fromkeys(x["prompt_id"] for x in pairs))
    assert [x["prompt_id"] for x in r] == pair_prompts[:50]


def test_diagnostics_keep_the_reward_per_step_and_the_share_without_signal():
    log = [
        {"loss": 0.1, "reward": 0.2, "reward_std": 0.1, "frac_reward_zero_std": 0.5, "kl": 0.0},
        {"loss": 0.1, "reward": 0.4, "reward_std": 0.2, "frac_reward_zero_std": 0.25, "kl": 0.1},
        {"train_runtime": 1.0, "reward": 0.3},
    ]
    d = grpo_diagnostics(log)
    assert d["per_step"]["reward"] == [0.2, 0.4] and d["first_reward"] == 0.2
    assert d["final_reward"] == 0.4 and d["mean_frac_zero_std"] == pytest.approx(0.375)
    assert "completion_length" not in d["per_step"]
    assert grpo_diagnostics([]) == {"n_logged_steps": 0.0, "per_step": {}}
