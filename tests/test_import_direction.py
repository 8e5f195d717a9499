"""The layers of the house, checked on the source: imports point only down.

core (no Qt, no front end) <- cli, gui; inside core:
errors <- storage <- media, model <- tagging <- learning, metadata <- session.
A module may import its own package and the layers below it, never beside or above.
Imports under ``if TYPE_CHECKING:`` count too: a type that needs an upward import is a
design smell just the same.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "cliptagger"
CORE_LAYERS = {
    "errors": 0,
    "storage": 1,
    "media": 2, "model": 2,
    "tagging": 3,
    "learning": 4, "metadata": 4,
    "session": 5,
}
FRONT_ENDS = ("cliptagger.gui", "cliptagger.cli", "cliptagger.settings", "cliptagger.selftest")


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found.append((node.lineno, base))
            # `from cliptagger.core import storage` imports the package storage
            found += [(node.lineno, f"{base}.{alias.name}") for alias in node.names if base == "cliptagger.core"]
    return found


def core_layer(dotted: str) -> "str | None":
    parts = dotted.split(".")
    if parts[:2] != ["cliptagger", "core"] or len(parts) < 3:
        return None
    return parts[2]


def core_modules() -> list[Path]:
    return sorted((ROOT / "core").rglob("*.py"))


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_imports_point_only_down(path: Path):
    own = path.relative_to(ROOT / "core").parts[0].removesuffix(".py")
    if own == "__init__":
        return
    assert own in CORE_LAYERS, f"{own}: a new core package must be given a layer here"
    wrong = []
    for line, name in imported_modules(path):
        if name.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "shiboken6") or name.startswith(FRONT_ENDS):
            wrong.append(f"line {line}: {name} (core never imports Qt or a front end)")
            continue
        target = core_layer(name)
        if target is None or target == own:
            continue
        if target not in CORE_LAYERS:
            wrong.append(f"line {line}: {name} (not a known core package)")
        elif CORE_LAYERS[target] >= CORE_LAYERS[own]:
            wrong.append(f"line {line}: {name} ({own} is layer {CORE_LAYERS[own]}, {target} is {CORE_LAYERS[target]})")
    assert not wrong, f"{path.relative_to(ROOT)} imports up or sideways:\n" + "\n".join(wrong)


def test_the_check_sees_a_planted_upward_import(tmp_path, monkeypatch):
    """The rule is not vacuous: an upward import in a core module is found."""
    planted = ROOT / "core" / "storage" / "fileio.py"
    source = planted.read_text(encoding="utf-8") + "\nfrom cliptagger.core.session import Session\n"
    fake = tmp_path / "cliptagger" / "core" / "storage" / "fileio.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source, encoding="utf-8")
    monkeypatch.setattr(__import__(__name__, fromlist=["ROOT"]), "ROOT", tmp_path / "cliptagger")
    with pytest.raises(AssertionError, match="session is 5"):
        test_core_imports_point_only_down(fake)


def test_front_ends_do_not_import_each_other():
    wrong = []
    for path in sorted((ROOT / "gui").rglob("*.py")):
        wrong += [f"{path.name}:{line} {name}" for line, name in imported_modules(path)
                  if name.startswith("cliptagger.cli")]
    cli = [ROOT / "cli.py"] if (ROOT / "cli.py").exists() else sorted((ROOT / "cli").rglob("*.py"))
    for path in cli:
        wrong += [f"{path.name}:{line} {name}" for line, name in imported_modules(path)
                  if name.startswith("cliptagger.gui") or name.split(".")[0] == "PySide6"]
    assert not wrong, wrong


def test_ray_stays_behind_the_cluster_extra():
    """Only cliptagger.cluster may import Ray (the optional extra), and only its pipeline module
    at import time; the cluster package imports no front end, and the core never imports it."""
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        inside = path.relative_to(ROOT).parts[0] == "cluster"
        for line, name in imported_modules(path):
            if name.split(".")[0] == "ray" and not inside:
                wrong.append(f"{path.relative_to(ROOT)}:{line} {name} (Ray only in cliptagger/cluster)")
            if inside and name.startswith(FRONT_ENDS):
                wrong.append(f"{path.relative_to(ROOT)}:{line} {name} (the cluster code is below the front ends)")
            if path.relative_to(ROOT).parts[0] == "core" and name.startswith("cliptagger.cluster"):
                wrong.append(f"{path.relative_to(ROOT)}:{line} {name} (the core never imports the cluster)")
    assert not wrong, wrong
    top_level = [name for node in ast.parse((ROOT / "cluster" / "runner.py").read_text(encoding="utf-8")).body
                 if isinstance(node, (ast.Import, ast.ImportFrom))
                 for name in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])]
    assert not [n for n in top_level if n.startswith(("ray", "cliptagger.cluster.pipeline"))], top_level
