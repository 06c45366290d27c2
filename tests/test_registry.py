"""The task registry: every row imports and builds, and no other module names the tasks' classes
or lists the task names (so a task is added in one place)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from budgetsplit.config.params import TaskConfig
from budgetsplit.core import registry
from budgetsplit.core.registry import (
    REGISTRY,
    TASKS,
    UnknownTask,
    corpus_source,
    paper_class,
    toy_class,
)
from budgetsplit.tasks.paper.data import PaperTask
from budgetsplit.tasks.toyworld.common import ToyTask

PACKAGE = Path(registry.__file__).parent


def test_every_row_imports_and_builds():
    assert TASKS == tuple(REGISTRY) == ("math", "instruct", "summarize", "helpful")
    for name in TASKS:
        toy = toy_class(name)(n_sft_pool=3, n_pref_pool=3, n_val=2, n_test=2)
        assert isinstance(toy, ToyTask) and toy.name == name
        assert len(toy.sft_pool()) == 3 and len(toy.eval_split("test")) == 2
        docs = corpus_source(name)(0, 2)
        assert len(docs) == 2 and all(isinstance(d, str) and d for d in docs)
        paper = paper_class(name)(TaskConfig())  # reads nothing until a pool is asked for
        assert isinstance(paper, PaperTask) and paper.name == name and paper.default_data
        # The toy and paper classes of a task are told apart by name.
        assert type(toy).__name__ != type(paper).__name__
    with pytest.raises(UnknownTask, match="unknown task 'poetry'; known: math, instruct"):
        toy_class("poetry")


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text())


def test_no_other_module_lists_the_tasks():
    names = set(TASKS)
    for rel, tree in _modules():
        if rel == "registry.py":
            continue
        for node in ast.walk(tree):
            items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
            if isinstance(node, ast.Dict | ast.Tuple | ast.List | ast.Set) and items:
                found = {i.value for i in items if isinstance(i, ast.Constant)} & names
                assert len(found) < 2, f"{rel}:{node.lineno} lists tasks {sorted(found)}"
            # Import paths in strings (import_module(f"budgetsplit.tasks.toyworld.task_{name}")).
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                path = node.value.startswith(
                    ("budgetsplit.tasks.toyworld.", "budgetsplit.tasks.paper.")
                )
                assert not path, f"{rel}:{node.lineno} names {node.value!r}"


def test_task_classes_are_named_only_where_defined_and_re_exported():
    classes = {}
    for entry in REGISTRY.values():
        for ref in (entry.toy, entry.paper):
            module, cls = ref.split(":")
            classes[cls] = module.removeprefix("budgetsplit.").replace(".", "/") + ".py"
    for rel, tree in _modules():
        used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
        used |= {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) for a in n.names}
        for cls in used & set(classes):
            assert rel in (classes[cls], "paper/__init__.py"), f"{rel} names {cls}"
