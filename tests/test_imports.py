"""The package's import graph (module-level imports of lib/budgetsplit, read with ast) has no cycle,
and every import keeps the layer rule (`budgetsplit layers`): each module can be read and tested
from the bottom up."""

from __future__ import annotations

import ast
from pathlib import Path

from budgetsplit.cli import main

PACKAGE = Path(__file__).resolve().parents[1] / "lib" / "budgetsplit"


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the package modules it imports at module level (not inside functions or
    `if TYPE_CHECKING:`)."""
    modules = {_module(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            deps |= {t for t in targets if t in modules and t != name}
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep) :] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_import_graph_has_no_cycle():
    graph = import_graph()
    assert (
        "budgetsplit.study.cells" in graph["budgetsplit.study.records"]
    )  # the graph is really read
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_cycles():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_store_is_the_bottom():
    assert import_graph()["budgetsplit.core.store"] == set()


# ----------------------------------------------------------------------------------- the layers
def test_every_module_imports_only_from_its_layer_and_below():
    from budgetsplit.cli import layers

    found = layers.modules()
    assert {layers.layer_of(m) for m in found} >= set(range(len(layers.LAYERS)))  # all in use
    assert layers.breaches() == []
    assert main(["layers"]) == 0


def test_the_layer_check_catches_an_upward_import_even_inside_a_function(tmp_path, monkeypatch):
    from budgetsplit.cli import layers

    pkg = tmp_path / "budgetsplit"
    for sub in ("core", "run"):
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    (pkg / "run" / "grid.py").write_text("from budgetsplit.core import store\n")
    (pkg / "core" / "store.py").write_text("def f():\n    from budgetsplit.run import grid\n")
    monkeypatch.setattr(layers, "PACKAGE", pkg)
    assert layers.breaches() == [
        "budgetsplit.core.store:2 imports budgetsplit.run.grid (core -> run)"
    ]


def test_function_level_imports_of_the_package_say_why():
    """An import of the package's own modules inside a function is there for a reason (torch kept
    out of a light command, a cycle within one layer): a comment on it, or on the line above its
    block of imports, says which."""
    from budgetsplit.cli import layers

    silent = []
    for name, path in layers.modules().items():
        lines = path.read_text().splitlines()
        for line, target, inner in layers.imports(path):
            if not inner:
                continue
            i = line - 1
            while i > 0 and ("import " in lines[i - 1] or not lines[i - 1].strip()):
                if "#" in lines[i]:
                    break
                i -= 1  # up to the first import of its block (blank lines within it too)
            if "#" not in lines[i] and "#" not in lines[i - 1] and "#" not in lines[line - 1]:
                silent.append(f"{name}:{line} {target}")
    assert silent == []
