"""The base models shipped with the package: every shipped folder matches its world's cache key
(the stale-key test), `get_base_model` copies a shipped model instead of pretraining, a damaged
one is an error, and `budgetsplit toyworld build --ship | --rebuild` write and compare them.

One tiny world's model (tests/test_toyworld.py's TINY and SOURCES) is built once per module, a
second or two; every other test copies it around.
"""

import json
import shutil

import pytest
import yaml
from test_toyworld import SOURCES, TINY

from budgetsplit.cli import main as cli
from budgetsplit.config.params import load_world, profiles, sized_world, to_dict, world_path
from budgetsplit.core.store import DamagedFileError, read_saved_model
from budgetsplit.tasks.toyworld import pretrain as pretrain_module
from budgetsplit.tasks.toyworld import shipped
from budgetsplit.tasks.toyworld.pretrain import (
    cache_key,
    default_sources,
    find_base_model,
    get_base_model,
)
from budgetsplit.training.models import folder_fingerprint

REAL_ROOT = shipped.SHIPPED_ROOT
KEY = cache_key(TINY, SOURCES)
FIX = "budgetsplit toyworld build --profile {} --ship"


# ----------------------------------------------------------------------- what the package ships
def test_every_shipped_model_matches_its_worlds_cache_key():
    for folder in shipped.shipped_folders():
        name, size = shipped.world_and_size(folder.name)  # "toy@m3": the toy world's size m3
        assert world_path(name).is_file(), f"{folder}: no profile {name!r} with a world.yaml"
        info = read_saved_model(folder, "build_info.json", "shipped base model")
        key = cache_key(sized_world(load_world(name), size), default_sources())
        assert info.get("key") == key, (
            f"{folder} was built for key {info.get('key')}, but world {name!r} now has key {key} "
            f"(its corpus, recipe or CODE_VERSION changed): run `{FIX.format(name)}"
            + (f" --size {size}`" if size else "`")
        )


# The worlds whose base model must ship: smoke (the tests and CI train from it) and toy (the
# base-model sweep's chosen recipe, docs/toyworld.md "Choosing the base model": a fresh clone's
# `./run_all.sh` trains from these weights instead of pretraining its own for 40 minutes).
MUST_SHIP = ("smoke", "toy")


def test_the_worlds_that_must_ship_their_model_do():
    worlds = [p for p in profiles() if world_path(p).is_file()]
    assert {"toy", "smoke"} <= set(worlds) and set(MUST_SHIP) <= set(worlds)
    names = {f.name for f in shipped.shipped_folders()}
    for name in MUST_SHIP:
        assert name in names, f"no shipped base model for world {name!r}: run `{FIX.format(name)}`"


# ------------------------------------------------------------------ get_base_model uses them
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tiny world's model, built once into a cache of its own."""
    cache = tmp_path_factory.mktemp("built-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BUDGETSPLIT_CACHE", str(cache))
        mp.setattr(shipped, "SHIPPED_ROOT", cache / "no-shipped")
        folder, origin = find_base_model(TINY, progress=False, sources=SOURCES)
    assert origin == "built"
    return folder


@pytest.fixture
def ship_root(tmp_path, monkeypatch):
    root = tmp_path / "base_models"
    root.mkdir()
    monkeypatch.setattr(shipped, "SHIPPED_ROOT", root)
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(tmp_path / "cache"))
    return root


def _no_pretrain(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("pretrain called")

    monkeypatch.setattr(pretrain_module, "pretrain", fail)


def _files(folder):
    return {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("build", [True, False])
def test_a_shipped_model_is_copied_not_rebuilt(built, ship_root, tmp_path, monkeypatch, build):
    shutil.copytree(built, ship_root / "tiny")
    _no_pretrain(monkeypatch)
    folder, origin = find_base_model(TINY, progress=False, sources=SOURCES, build=build)
    assert origin == "shipped" and folder == tmp_path / "cache" / "base" / KEY
    assert _files(folder) == _files(built)
    assert folder_fingerprint(folder) == folder_fingerprint(ship_root / "tiny")
    assert f"{folder.name}:{folder_fingerprint(folder)}" == f"{KEY}:{folder_fingerprint(built)}"
    again = find_base_model(TINY, progress=False, sources=SOURCES, build=build)
    assert again == (folder, "cache")


def test_a_shipped_model_of_another_key_is_ignored(built, ship_root, monkeypatch):
    other = shutil.copytree(built, ship_root / "tiny")
    info = json.loads((other / "build_info.json").read_text())
    (other / "build_info.json").write_text(json.dumps(dict(info, key="0" * 16)))
    assert get_base_model(TINY, progress=False, sources=SOURCES, build=False) is None
    _no_pretrain(monkeypatch)
    with pytest.raises(AssertionError, match="pretrain called"):
        get_base_model(TINY, progress=False, sources=SOURCES)


@pytest.mark.parametrize("damage", ["model.safetensors", "build_info.json"])
def test_a_damaged_shipped_model_is_an_error_naming_the_file(
    built, ship_root, tmp_path, monkeypatch, damage
):
    bad = shutil.copytree(built, ship_root / "tiny") / damage
    bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    _no_pretrain(monkeypatch)
    for build in (True, False):
        with pytest.raises(DamagedFileError, match=str(bad)) as e:
            get_base_model(TINY, progress=False, sources=SOURCES, build=build)
        assert FIX.format("tiny") in str(e.value)
    assert not (tmp_path / "cache" / "base" / KEY).exists()


def test_ship_replaces_the_folder_whole(built, ship_root):
    (ship_root / "tiny").mkdir()
    (ship_root / "tiny" / "stale.bin").write_bytes(b"old")
    assert shipped.ship(built, "tiny") == ship_root / "tiny"
    assert _files(ship_root / "tiny") == _files(built)
    assert [p.name for p in ship_root.iterdir()] == ["tiny"]  # no copy left aside
    assert shipped.find_shipped(KEY) == ship_root / "tiny"
    with pytest.raises(ValueError, match="not a folder name"):
        shipped.ship(built, "../elsewhere")


# --------------------------------------------------------------------------------- the CLI
@pytest.fixture
def tiny_yaml(built, ship_root, tmp_path, monkeypatch):
    """A world.yaml of the tiny world; the CLI sees SOURCES as the corpus and `built`'s cache."""
    path = tmp_path / "world.yaml"
    sizes = {"n_sft_pool": 30, "n_pref_pool": 30, "n_val": 8, "n_test": 8}
    world = {"seed": TINY.seed, **sizes, "pretrain": to_dict(TINY.pretrain), "tasks": {}}
    path.write_text(yaml.safe_dump(world))
    monkeypatch.setattr(pretrain_module, "default_sources", lambda: SOURCES)
    monkeypatch.setenv("BUDGETSPLIT_CACHE", str(built.parent.parent))
    assert cache_key(load_world(path), SOURCES) == KEY
    return path


def test_cli_build_says_where_the_model_came_from(tiny_yaml, capsys):
    assert cli(["toyworld", "build", "--profile", str(tiny_yaml), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out.strip().endswith(KEY) and "from the cache" in err


def test_cli_build_ship(built, tiny_yaml, ship_root, capsys, monkeypatch):
    args = ["toyworld", "build", "--profile", str(tiny_yaml), "--quiet", "--ship"]
    assert cli(args) == 2
    assert "--ship-as NAME" in capsys.readouterr().err
    assert cli([*args, "--ship-as", "../up"]) == 2
    assert cli([*args, "--ship-as", "tiny"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == str(ship_root / "tiny") and "commit that folder" in err
    assert _files(ship_root / "tiny") == _files(built)
    assert cli([*args, "--ship-as", "tiny"]) == 0
    assert "already shipped" in capsys.readouterr().err
    # A profile's shipped model is named after it.
    assert cli(["toyworld", "build", "--profile", "smoke", "--ship", "--ship-as", "x"]) == 2


def test_cli_rebuild_compares_and_writes_nothing(built, tiny_yaml, ship_root, capsys):
    shipped.ship(built, "tiny")
    before = {f: f.stat().st_mtime_ns for d in (built, ship_root) for f in d.rglob("*")}
    args = ["toyworld", "build", "--profile", str(tiny_yaml), "--quiet", "--rebuild", "-n", "0"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    assert "held-out loss" in out and "shipped" in out
    # Same machine, same recipe: the build is deterministic here.
    assert "model.safetensors byte-identical: yes (max abs weight difference 0)" in out
    after = {f: f.stat().st_mtime_ns for d in (built, ship_root) for f in d.rglob("*")}
    assert after == before


def test_cli_probe_prints_a_score_per_task(tiny_yaml, capsys):
    pytest.importorskip("budgetsplit.training.probes")
    args = ["toyworld", "probe", "--profile", str(tiny_yaml), "--quiet", "-n", "2"]
    assert cli(args) == 0
    out = capsys.readouterr().out
    from budgetsplit.core.registry import TASKS

    for task in TASKS:
        assert any(line.split()[:1] == [task] for line in out.splitlines()), (task, out)
