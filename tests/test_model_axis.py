"""The model axis (`models:` in params): one grid per model, cells and tables keyed by model,
verdicts never pooling models, report files per model. On the smoke world with made-up records
(test_grid._fake_record), and one real base-model cell per model."""

import pandas as pd
import pytest
from test_grid import _fake_record

from budgetsplit.analysis import claims, verdicts
from budgetsplit.cli import main
from budgetsplit.config.params import (
    ConfigError,
    for_model,
    load_params,
    model_params,
)
from budgetsplit.core.layout import RunLayout
from budgetsplit.run import grid
from budgetsplit.run.estimate import plan
from budgetsplit.run.runner import run_cell
from budgetsplit.study import results
from budgetsplit.study.cells import BASE, expand, sft_stage
from budgetsplit.study.records import StaleRecordError, review_records

# two models: the smoke world's base model finetuned in full and with LoRA (other result settings)
TWO = {"small": {"name": "toy"}, "half": {"name": "toy", "lora": {"enabled": True, "r": 4}}}


def _params(tmp_path, **over):
    return load_params(
        "smoke", "math", overrides={"output_dir": str(tmp_path), "models": TWO, **over}
    )


def test_each_model_is_the_recipe_with_its_settings_over_model():
    p = load_params("smoke", "math", overrides={"models": TWO})
    small, half = model_params(p)
    assert [small.model_label, half.model_label] == ["small", "half"]
    assert half.model.lora.enabled and half.model.lora.r == 4 and not small.model.lora.enabled
    assert half.model.name == "toy" and half.models == p.models  # the axis stays known
    assert for_model(p, "half") == half and model_params(half) == [half]
    with pytest.raises(ConfigError, match="unknown model label; known: small, half"):
        for_model(p, "big")
    with pytest.raises(ConfigError, match="these params are of several models"):
        for_model(p, None)
    one = load_params("smoke", "math")
    assert model_params(one) == [one] and for_model(one, None) is one


def test_bad_models_are_named_with_their_key_and_a_later_empty_layer_clears_the_axis():
    for models, key in (
        ({"big-one": {"name": "toy"}}, "'models.big-one'"),
        ({"m": {"nme": "toy"}}, "'models.m.nme'"),
        ({"m": {"dtype": "float8"}}, "'models.m.dtype'"),
        ({"m": "toy"}, "'models.m'"),
    ):
        with pytest.raises(ConfigError, match=key):
            load_params("smoke", "math", overrides={"models": models})
    with pytest.raises(ConfigError, match="model_label"):
        load_params("smoke", "math", overrides={"models": TWO, "model_label": "big"})
    paper = load_params("paper", "math")
    assert len(paper.models) == 7 and "qwen2_5_14b" in paper.models
    assert load_params("paper", "math", overrides={"models": {}}).models == {}


def test_cells_stages_and_plans_are_per_model(tmp_path):
    p = _params(tmp_path)
    one = expand(load_params("smoke", "math"))
    cells = expand(p)
    assert len(cells) == 2 * len(one) and len({c.cell_id for c in cells}) == len(cells)
    assert [c.model for c in cells] == ["small"] * len(one) + ["half"] * len(one)
    assert cells[len(one)].cell_id == one[0].cell_id + "-on_half"
    trains = [c for c in cells if sft_stage(p, c)]
    assert len({sft_stage(p, c) for c in trains}) == 2 * len(
        {sft_stage(p, c) for c in one if sft_stage(p, c)}
    )
    whole = plan(p)
    assert (
        len(whole.cells) == len(cells)
        and whole.sft_stages == 2 * plan(model_params(p)[0]).sft_stages
    )


def test_grid_tables_and_verdicts_per_model(tmp_path, capsys):
    p = _params(tmp_path)
    for mp in model_params(p):
        for c in expand(mp):
            score = c.sft_fraction / 4 + (0.1 if mp.model_label == "half" else 0.0)
            _fake_record(tmp_path, mp, c, score=score)
    table = grid.run_grid(p, progress=False)  # every cell recorded: nothing trains
    assert results.models_in(table) == ["half", "small"]  # in table order, by label
    assert table["model"].value_counts().to_dict() == {
        "small": len(table) // 2,
        "half": len(table) // 2,
    }
    scores = results.row_scores_table(str(tmp_path), "smoke")
    floor = scores[scores["method"] == "floor"]
    assert len(floor) and floor["model"].isna().all()  # the floor is every model's
    with pytest.raises(ValueError, match="several models"):
        verdicts.verdicts(table, scores)  # never pooled
    half = results.model_rows(table, "half")
    assert set(half["model"]) == {"half"} and len(half) == len(table) // 2
    found = {
        m: claims.evaluate(results.model_rows(scores, m), results.model_rows(table, m))
        for m in ("small", "half")
    }
    assert set(found) == {"small", "half"}
    # the claims CLI judges each model on its own, its claims.md in models/<model>/
    assert main(["claims", "--profile", "smoke", "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for m in ("small", "half"):
        path = RunLayout(tmp_path, "smoke", m).claims_md
        assert path == tmp_path / "smoke" / "models" / m / "claims.md"
        assert f"claims (model {m}): {path}" in out
        assert path.read_text().startswith(f"# The paper's claims on the smoke profile, model {m}")
    # and the best splits side by side, model by model
    md = (tmp_path / "smoke" / "models.md").read_text()
    assert "| task | method | budget | half | small |" in md and "\n| math | dpo_sft | 40 | " in md
    by_model = verdicts.by_model(table, scores)
    assert set(by_model["model"]) == {"half", "small"}
    alone = verdicts.summary(verdicts.verdicts(half, results.model_rows(scores, "half"))[1])
    mine = by_model[by_model["model"] == "half"].drop(columns="model").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, alone)  # judged as if it were alone
    assert (
        main(["claims", "--profile", "smoke", "--output-dir", str(tmp_path), "--model", "x"]) == 2
    )
    # a table written before the model axis reads as one model, None
    old = table.drop(columns="model")
    assert results.models_in(old) == [None] and results.model_rows(old, None)["model"].isna().all()


def test_each_model_is_checked_against_its_own_settings(tmp_path):
    p = _params(tmp_path)
    base = {
        mp.model_label: next(c for c in expand(mp) if c.method == BASE) for mp in model_params(p)
    }
    for mp in model_params(p):
        _fake_record(tmp_path, mp, base[mp.model_label], score=0.5)
    assert set(review_records(p, expand(p))) == {c.cell_id for c in base.values()}
    # the half model's settings change: its record is stale, the small model's is not
    changed = _params(tmp_path, models={**TWO, "half": {"name": "toy", "lora": {"r": 8}}})
    with pytest.raises(StaleRecordError, match=r"model.lora.r: 4 -> 8") as err:
        review_records(changed, expand(changed))
    assert base["small"].cell_id not in str(err.value)
    assert list(review_records(changed, expand(model_params(changed)[0]))) == [
        base["small"].cell_id
    ]


def test_a_real_base_cell_trains_on_its_own_model(tmp_path):
    p = _params(tmp_path, **{"eval.n_examples": 8})
    base = [c for c in expand(p) if c.method == BASE]
    recs = [run_cell(p, c) for c in base]  # the profile's params: each cell picks its model
    assert [r.params["model"]["lora"]["enabled"] for r in recs] == [False, True]
    assert [r.params["model_label"] for r in recs] == ["small", "half"]
    # an untrained LoRA adapter changes nothing: the same base model scores the same
    assert recs[0].metrics == recs[1].metrics and recs[0].cell_id != recs[1].cell_id
    table = results.results_table(str(tmp_path), "smoke")
    assert list(table["model"]) == ["half", "small"]


# ----------------------------------------------------------------------- toy sizes: toy:<size>
def test_toy_names_and_sizes_of_a_world():
    from budgetsplit.config.params import load_world, sized_world, toy_size
    from budgetsplit.tasks.toyworld import shipped

    assert [toy_size(n) for n in ("toy", "toy:m3", "Qwen/Qwen2.5-1.5B", "toys")] == [
        (True, None),
        (True, "m3"),
        (False, None),
        (False, None),
    ]
    world = load_world("smoke", overrides={"sizes": {"wide": {"hidden_size": 192}}})
    wide = sized_world(world, "wide")
    assert (
        wide.pretrain.hidden_size == 192 and wide.pretrain.num_layers == world.pretrain.num_layers
    )
    assert wide.sizes == {} and wide.tasks == world.tasks and sized_world(world, None) is world
    with pytest.raises(ConfigError, match="unknown size; known: wide"):
        sized_world(world, "tall")
    for sizes, key in (
        ({"wide": {"hiden_size": 64}}, "'sizes.wide.hiden_size'"),
        ({"wide": {"hidden_size": 90}}, "'sizes.wide.num_heads'"),  # 4 heads do not divide 90
        ({"wide": {"steps": 0}}, "'sizes.wide.steps'"),
        ({"w-1": {"steps": 5}}, "'sizes.w-1'"),
    ):
        with pytest.raises(ConfigError, match=key):
            load_world("smoke", overrides={"sizes": sizes})
    assert shipped.folder_name("toy", "m3") == "toy@m3" and shipped.folder_name("smoke") == "smoke"
    assert shipped.world_and_size("toy@m3") == ("toy", "m3")
    assert shipped.world_and_size("smoke") == ("smoke", None)


def test_a_recipe_names_a_size_of_its_world(tmp_path, monkeypatch):
    """model.name toy:<size> is the base model of that size: its own cache key, found or built on
    first use like the world's own; an unknown size is an error naming the world file."""
    import shutil

    from budgetsplit.config.params import (
        PARAMS_DIR,
        PARAMS_ENV,
        ModelConfig,
        load_world,
        sized_world,
    )
    from budgetsplit.config.profiles import use_params_dir
    from budgetsplit.tasks.toyworld.pretrain import cache_key, default_sources
    from budgetsplit.training.models import model_source

    monkeypatch.delenv(PARAMS_ENV, raising=False)
    folder = tmp_path / "params" / "sized"
    folder.mkdir(parents=True)
    (folder / "_defaults.yaml").write_text("inherit: smoke\n")
    (folder / "math.yaml").write_text("task: math\n")
    world = (PARAMS_DIR / "smoke" / "world.yaml").read_text()
    (folder / "world.yaml").write_text(world + "sizes:\n  deep: {num_layers: 4}\n")
    use_params_dir(tmp_path / "params")
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path / "cache"))
    sized = load_world("sized")
    deep = sized_world(sized, "deep")
    assert cache_key(deep, default_sources()) != cache_key(sized, default_sources())
    # the world's own model is the shipped smoke model (same key); the size is not built yet
    assert model_source(ModelConfig(name="toy"), "sized", build=False) is not None
    assert model_source(ModelConfig(name="toy:deep"), "sized", build=False) is None
    with pytest.raises(ConfigError, match=r"world.yaml.*'toy:tall'.*unknown size; known: deep"):
        model_source(ModelConfig(name="toy:tall"), "sized", build=False)
    p = load_params(
        "sized", "math", overrides={"models": {"s": {"name": "toy"}, "d": {"name": "toy:deep"}}}
    )
    assert [mp.model.name for mp in model_params(p)] == ["toy", "toy:deep"]
    shutil.rmtree(tmp_path / "cache")
