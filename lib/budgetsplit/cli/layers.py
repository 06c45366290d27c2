"""`budgetsplit layers`: the package's layers, each module's, and every import that breaks the rule.

The package is cut into layers, each a subpackage, listed bottom first in `LAYERS`. A module may
import from its own layer and the layers below it, never from one above: so each layer can be read,
tested and changed from the bottom up, and none needs to hide an import inside a function to
avoid a cycle. The check reads the source (ast): every import, at module level or inside a
function, is held to the rule. The command prints each module's layer and exits 1 on a breach;
tests/test_imports.py runs the same check.
"""

from __future__ import annotations

import ast
from pathlib import Path

# Bottom first. `budgetsplit` itself (__init__, __main__) and `cli` stand above every layer.
LAYERS = ("core", "config", "tasks", "study", "training", "analysis", "run", "report", "cli")
PACKAGE = Path(__file__).resolve().parents[1]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The module's layer (index into LAYERS); the package's own __init__/__main__ stand on top."""
    parts = module.split(".")
    if len(parts) < 2 or parts[1] not in LAYERS:
        return len(LAYERS)
    return LAYERS.index(parts[1])


def imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported budgetsplit module, whether inside a function) of every import in `path`."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name == "budgetsplit" or name.startswith("budgetsplit."):
                found.append((node.lineno, name, id(node) not in top))
    return found


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def breaches() -> list[str]:
    """Every import of a higher layer, as 'module:line imports target (layer -> layer)'."""
    out = []
    for name, path in modules().items():
        mine = layer_of(name)
        for line, target, _ in imports(path):
            theirs = layer_of(target)
            if theirs > mine:
                out.append(f"{name}:{line} imports {target} ({_name(mine)} -> {_name(theirs)})")
    return out


def _name(layer: int) -> str:
    return LAYERS[layer] if layer < len(LAYERS) else "budgetsplit"


def add_parser(sub) -> None:
    p = sub.add_parser("layers", help="print each module's layer; fail on an upward import")
    p.set_defaults(run=main)


def main(args=None) -> int:
    for name in modules():
        print(f"{_name(layer_of(name)):<9} {name}")
    bad = breaches()
    for b in bad:
        print(f"upward import: {b}")
    print(f"{len(modules())} modules in {len(LAYERS)} layers; {len(bad)} upward imports")
    return 1 if bad else 0
