"""The PFT method table (budgetsplit.core.methods) is what the recipes' validation, the trainers and
the calibration read: every row's TRL config and swept settings, and a row added to the table
flowing into all three without another edit. Offline: the trainers are stood in for."""

from __future__ import annotations

import contextlib

import pytest
import torch
import trl

from budgetsplit.config import params, profiles
from budgetsplit.config.params import REGIMES, ConfigError, LoraConfig, PFTConfig, load_params
from budgetsplit.core import methods
from budgetsplit.core.methods import FAMILIES, TABLE, Method
from budgetsplit.run import calibrate, calibration_scope
from budgetsplit.training import train

RECORDS = [
    {
        "prompt": [{"role": "user", "content": f"question {i}"}],
        "chosen": [{"role": "assistant", "content": f"good {i}"}],
        "rejected": [{"role": "assistant", "content": f"bad {i}"}],
    }
    for i in range(6)
]
# A method the table does not ship: the DPO family's hinge loss plus the SFT term.
HINGE_SFT = Method("dpo", ("hinge", "sft"), swept=("pft.beta", "pft.sft_weight"))


@pytest.fixture
def build(monkeypatch):
    """train_pft with the TRL trainers stood in for: build(method) -> (family, config, training
    rows) as train_pft makes them for RECORDS, with no training."""
    made = []

    def stand_in(family):
        class Trainer:
            def __init__(self, *, args, train_dataset, **kwargs):
                made.append((family, args, train_dataset.to_list()))

        return Trainer

    monkeypatch.setattr(train, "dpo_trainer_class", lambda cache: stand_in("dpo"))
    monkeypatch.setattr(trl, "KTOTrainer", stand_in("kto"))
    monkeypatch.setattr(train, "logits_bytes", lambda *a: 0)  # the stand-in model has no vocab
    monkeypatch.setattr(train, "use_dense_lm_head", lambda *a: contextlib.nullcontext())
    done = train.StageOutcome(None, throughput={"train_runtime_s": 1.0})
    monkeypatch.setattr(train, "run_trainer", lambda *a: done)

    def build(method: str) -> tuple:
        pft = PFTConfig(batch_size=4, per_device_batch_size=2, sft_weight=3.0)
        model = torch.nn.Linear(2, 2)
        train.train_pft(model, None, RECORDS, method, pft, LoraConfig(), 0, "cpu")
        return made[-1]

    return build


def test_the_table_is_the_methods_config_names_and_checks():
    want = ("dpo", "ipo", "dpo_sft", "kto", "grpo")
    assert params.METHODS == methods.METHODS == tuple(TABLE) == want
    for m in TABLE:
        assert load_params("smoke", "math", overrides={"methods": [m]}).methods == (m,)
    with pytest.raises(
        ConfigError, match="unknown PFT method; known: dpo, ipo, dpo_sft, kto, grpo"
    ):
        load_params("smoke", "math", overrides={"methods": ["ppo"]})


def test_the_papers_methods_are_dpo_and_kto_and_its_profile_runs_no_other():
    assert [m for m, row in TABLE.items() if row.paper] == ["dpo", "kto"]
    for path in profiles.recipe_paths(profiles.profile_dir("paper")):
        assert all(TABLE[m].paper for m in load_params(path).methods), path.name


def test_every_family_has_trainer_glue():
    # pair-trained families here, the RL family in its own stage (training/grpo.py)
    assert set(train._TRAINERS) == set(FAMILIES) - set(methods.RL_FAMILIES) == {"dpo", "kto"}
    assert {row.buys for row in TABLE.values()} == {"pref", "rl"}
    assert [m for m, row in TABLE.items() if row.buys == "rl"] == ["grpo"]
    with pytest.raises(ValueError, match="RL prompts, not pairs"):
        train.train_pft(None, None, RECORDS, "grpo", PFTConfig(), LoraConfig(), 0, "cpu")


def test_each_row_builds_its_trl_config(build):
    built = {m: build(m) for m, row in TABLE.items() if row.buys == "pref"}
    # what TRL gets, per method: trainer family, loss types, loss weights, device batch, rows
    got = {
        m: (family, args.loss_type, getattr(args, "loss_weights", None))
        + (args.per_device_train_batch_size, len(rows))
        for m, (family, args, rows) in built.items()
    }
    assert got == {
        "dpo": ("dpo", ["sigmoid"], None, 2, 6),
        "ipo": ("dpo", ["ipo"], None, 2, 6),
        "dpo_sft": ("dpo", ["sigmoid", "sft"], [1.0, 3.0], 2, 6),
        "kto": ("kto", "kto", None, 4, 12),
    }
    for m, (family, args, rows) in built.items():
        assert isinstance(args, trl.KTOConfig if family == "kto" else trl.DPOConfig)
        assert len(rows) == TABLE[m].rows_per_pair * len(RECORDS)
    labels = [r["label"] for r in built["kto"][2]]
    assert sorted(labels) == [False] * 6 + [True] * 6  # each pair: one desirable, one not
    assert labels != [True] * 6 + [False] * 6  # shuffled, so that a batch holds both


def test_the_calibration_steps_of_each_method_name_exactly_its_swept_settings():
    for m, row in TABLE.items():
        steps = calibrate.sweep_steps((m,))
        assert [s.key for s in steps if s.stage == "sft"] == ["sft.learning_rate"]
        for regime in REGIMES:
            keys = [s.key for s in steps if (s.stage, s.regime) == (m, regime)]
            assert keys == ["pft.learning_rate", *row.swept]
        assert all(k in calibrate.GRIDS and k in calibrate.ANCHORS for k in row.swept)
    assert {m: row.swept for m, row in TABLE.items()} == {
        "dpo": ("pft.beta",),
        "ipo": ("pft.beta",),
        "dpo_sft": ("pft.sft_weight",),
        "kto": ("pft.beta",),
        "grpo": ("pft.kl_beta", "pft.num_generations"),
    }


def test_a_new_row_flows_into_validation_training_and_the_calibration_plan(
    params_dir, monkeypatch, build
):
    before = calibrate.plan("smoke", "math")
    recipe = params_dir / "smoke" / "math_hinge.yaml"
    recipe.write_text("task: math\nmethods: [hinge_sft]\n")
    with pytest.raises(ConfigError, match="unknown PFT method"):
        load_params("smoke", "math_hinge")

    monkeypatch.setitem(TABLE, "hinge_sft", HINGE_SFT)  # the one edit
    tuned = {"pft.tuned": {"hinge_sft": {"from_base": {"sft_weight": 2.0}}}}
    assert load_params("smoke", "math_hinge", overrides=tuned).methods == ("hinge_sft",)
    family, args, rows = build("hinge_sft")
    assert (family, args.loss_type, args.loss_weights) == ("dpo", ["hinge", "sft"], [1.0, 3.0])
    assert len(rows) == len(RECORDS)
    assert calibration_scope.task_methods("smoke", "math") == ("dpo", "dpo_sft", "hinge_sft")
    p = calibrate.plan("smoke", "math")
    assert [s.name for s in p.steps if s.stage == "hinge_sft"] == [
        f"hinge_sft/{r}/{k}" for r in REGIMES for k in ("learning_rate", "beta", "sft_weight")
    ]
    # one rung: 5 lrs, 3 betas and 3 weights per regime; beta and weight at the prior read back
    assert (p.points, p.repeats) == (before.points + 2 * (5 + 3 + 3), before.repeats + 2 * 2)
    assert p.sft_stages == before.sft_stages  # the after-SFT stage is shared


@pytest.mark.parametrize(
    "row, problem",
    [
        (dict(family="ppo", loss_types=("ppo",), swept=()), "unknown trainer family"),
        (dict(family="kto", loss_types=("kto", "sft"), swept=()), "one loss type"),
        (dict(family="dpo", loss_types=("sigmoid",), swept=("pft.learning_rate",)), "other than"),
        (dict(family="dpo", loss_types=("sigmoid",), swept=("sft.epochs",)), "pft.* keys"),
    ],
)
def test_a_row_the_code_could_not_use_is_refused(row, problem):
    with pytest.raises(ValueError, match=problem):
        Method(**row)
