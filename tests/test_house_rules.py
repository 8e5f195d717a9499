"""The house rules of docs/architecture.md that a machine can check: small modules, small
classes, the core free of Qt (imports: tests/test_import_direction.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cliptagger"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 300
SOURCES = sorted(ROOT.rglob("*.py"))


def classes(tree: ast.AST) -> list[ast.ClassDef]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_and_classes_stay_small(path: Path):
    source = path.read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{path.name}: one job per module, split it"
    for node in classes(ast.parse(source)):
        size = (node.end_lineno or node.lineno) - node.lineno + 1
        assert size <= MAX_CLASS_LINES, f"{path.name}: class {node.name} has {size} lines"


def test_the_rule_sees_a_big_class():
    big = "class Big:\n" + "    x = 1\n" * MAX_CLASS_LINES
    [node] = classes(ast.parse(big))
    assert (node.end_lineno or 0) - node.lineno + 1 > MAX_CLASS_LINES
