"""The YAML-to-dataclass builder on a small schema of its own (config's recipes: test_config.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

from budgetsplit.config.schema import ConfigError, build, merge, nest, read_yaml


@dataclass(frozen=True)
class Inner:
    rate: float = 0.1
    kind: Literal["a", "b"] = "a"


@dataclass(frozen=True)
class Outer:
    name: str
    sizes: tuple[int, ...] = ()
    inner: Inner = Inner()
    limit: int | None = None
    flags: dict[str, bool] | None = None


def test_builds_nested_frozen_dataclasses_with_tuples():
    cfg = build(Outer, {"name": "x", "sizes": [1, 2], "inner": {"rate": 1}, "limit": None}, "f")
    assert cfg == Outer("x", (1, 2), Inner(rate=1.0), None)
    assert isinstance(cfg.inner.rate, float) and isinstance(cfg.sizes, tuple)
    assert build(Outer, {"name": "y", "flags": {"on": True}}, "f").flags == {"on": True}


@pytest.mark.parametrize(
    "data, key, problem",
    [
        ({"name": "x", "colour": 1}, "colour", "unknown key; known keys here: flags, inner"),
        ({"name": "x", "inner": {"rat": 1}}, "inner.rat", "unknown key"),
        ({"name": 3}, "name", "expected a str"),
        ({"name": "x", "sizes": 4}, "sizes", "expected a list"),
        ({"name": "x", "sizes": [True]}, "sizes", "expected an integer"),  # a bool is no int
        ({"name": "x", "inner": {"rate": "fast"}}, "inner.rate", "expected a number"),
        ({"name": "x", "inner": {"rate": float("nan")}}, "inner.rate", "expected a finite number"),
        ({"name": "x", "inner": {"rate": float("-inf")}}, "inner.rate", "expected a finite number"),
        ({"name": "x", "inner": {"kind": "c"}}, "inner.kind", "must be one of: a, b"),
        ({"name": "x", "inner": 5}, "inner", "expected a mapping of Inner settings"),
        ({"name": "x", "limit": 1.5}, "limit", "expected an integer"),
        ({"name": "x", "flags": {"on": "yes"}}, "flags.on", "expected a bool"),
        ({}, "<top>", "missing 1 required positional argument: 'name'"),
    ],
)
def test_bad_input_names_source_key_and_value(data, key, problem):
    with pytest.raises(ConfigError, match="^src.yaml: key ") as e:
        build(Outer, data, "src.yaml")
    assert e.value.key == key and problem in str(e.value)


def test_merge_is_deep_and_nest_expands_dotted_keys():
    base = {"a": {"b": 1, "c": 2}, "d": [1]}
    assert merge(base, nest({"a.c": 3, "d": [2]})) == {"a": {"b": 1, "c": 3}, "d": [2]}
    assert base == {"a": {"b": 1, "c": 2}, "d": [1]}  # not changed in place


def test_read_yaml_rejects_what_is_not_a_mapping(tmp_path):
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    (tmp_path / "bad.yaml").write_text("a: [1,\n")
    (tmp_path / "empty.yaml").write_text("")
    assert read_yaml(tmp_path / "empty.yaml") == {}
    with pytest.raises(ConfigError, match="expected a mapping at the top level"):
        read_yaml(tmp_path / "list.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(tmp_path / "bad.yaml")
