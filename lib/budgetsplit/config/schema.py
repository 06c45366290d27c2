"""The builder behind `budgetsplit.config.params`: YAML mappings into frozen dataclasses, checked against
their type annotations. Unknown keys, wrong types, non-finite floats (NaN, inf) and missing keys raise
one `ConfigError` naming the file, the dotted key and the value; lists become tuples and nested
mappings nested dataclasses.

    from budgetsplit.config.schema import build, merge, nest, read_yaml
    cfg = build(SomeFrozenDataclass, merge(read_yaml(path), nest({"a.b": 1})), str(path))
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """Bad configuration; the message names the file, the key and the value."""

    def __init__(self, source: str, key: str, value: Any, problem: str):
        self.source, self.key, self.value = source, key, value
        super().__init__(f"{source}: key '{key}' = {value!r}: {problem}")


def coerce(tp: Any, value: Any, src: str, key: str) -> Any:
    """Check `value` against the annotation `tp`, converting lists to tuples and dicts to dataclasses."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(a, value, src, key)
            except ConfigError as e:
                errors.append(e)
        raise errors[0]
    if origin is Literal:
        if value not in typing.get_args(tp):
            choices = ", ".join(map(str, typing.get_args(tp)))
            raise ConfigError(src, key, value, f"must be one of: {choices}")
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        if not isinstance(value, dict):
            raise ConfigError(src, key, value, f"expected a mapping of {tp.__name__} settings")
        return build(tp, value, src, key + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(src, key, value, "expected a list")
        (inner, _ellipsis) = typing.get_args(tp)
        return tuple(coerce(inner, v, src, key) for v in value)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(src, key, value, "expected a mapping")
        kt, vt = typing.get_args(tp)
        return {coerce(kt, k, src, key): coerce(vt, v, src, f"{key}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(src, key, value, "expected a number")
        # No setting means anything at NaN or infinity (YAML's .nan, .inf): refused here, for all.
        if not math.isfinite(value):
            raise ConfigError(src, key, value, "expected a finite number")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(src, key, value, "expected an integer")
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise ConfigError(src, key, value, f"expected a {tp.__name__}")
        return value
    raise TypeError(f"unsupported config annotation {tp!r}")  # a bug in this module, not in input


def build(cls: type, data: dict, src: str, prefix: str = "") -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in data.items():
        if k not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(src, prefix + str(k), v, f"unknown key; known keys here: {known}")
        kwargs[k] = coerce(hints[k], v, src, prefix + k)
    try:
        return cls(**kwargs)
    except TypeError as e:  # a required key is missing
        raise ConfigError(src, prefix.rstrip(".") or "<top>", data, str(e)) from None


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for k, v in extra.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def nest(overrides: dict[str, Any]) -> dict:
    """{"pft.beta": 0.5} -> {"pft": {"beta": 0.5}}."""
    out: dict = {}
    for dotted, v in overrides.items():
        node = out
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = v
    return out


def read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(str(path), "<file>", None, f"not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(str(path), "<top>", data, "expected a mapping at the top level")
    return data


def to_dict(cfg: Any) -> dict:
    """A JSON-ready dict of a config (tuples become lists)."""
    return dataclasses.asdict(cfg)


def replace(cfg: Any, **changes: Any) -> Any:
    return dataclasses.replace(cfg, **changes)


def parse_overrides(pairs: list[str]) -> dict[str, Any]:
    """`--set key=value` arguments as a dict of dotted keys; values are read as YAML (0.5, [1, 2])."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ConfigError("--set", pair, None, "expected key=value")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            problem = " ".join(str(e).split())  # YAML's multi-line message on one line
            raise ConfigError("--set", key.strip(), value, f"not valid YAML: {problem}") from None
    return out
