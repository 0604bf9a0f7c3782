"""The layer rules of the design: imports go ui -> workers -> core -> config, config/ and core/
never touch Qt, and heavy ML libraries are imported inside functions so the window opens fast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "llamahome_gui"
QT = {"PyQt6", "pyqtgraph", "PySide6"}
HEAVY = {"torch", "transformers", "peft", "accelerate", "datasets"}
LAYER_RANK = {"config": 0, "core": 1, "workers": 2, "ui": 3}


def _modules(*layers: str) -> list[Path]:
    return sorted(p for layer in layers for p in (PKG / layer).rglob("*.py"))


def _imports(tree: ast.AST, top_level_only: bool) -> list[tuple[int, str]]:
    nodes = tree.body if top_level_only else list(ast.walk(tree))  # type: ignore[attr-defined]
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("path", _modules("config", "core"), ids=lambda p: str(p.relative_to(PKG)))
def test_config_and_core_never_import_qt(path):
    bad = [f"{path.name}:{line}: {name}" for line, name in _imports(ast.parse(path.read_text()), False)
           if name.split(".")[0] in QT]
    assert not bad, "Qt imported below the workers layer:\n" + "\n".join(bad)


@pytest.mark.parametrize("path", sorted(PKG.rglob("*.py")), ids=lambda p: str(p.relative_to(PKG)))
def test_no_module_level_heavy_imports(path):
    bad = [f"{path.name}:{line}: {name}" for line, name in _imports(ast.parse(path.read_text()), True)
           if name.split(".")[0] in HEAVY]
    assert not bad, "heavy import at module level (move it into the function):\n" + "\n".join(bad)


@pytest.mark.parametrize("path", _modules(*LAYER_RANK), ids=lambda p: str(p.relative_to(PKG)))
def test_imports_go_one_way(path):
    layer = path.relative_to(PKG).parts[0]
    bad = []
    for line, name in _imports(ast.parse(path.read_text()), False):
        parts = name.split(".")
        if parts[0] == "llamahome_gui" and len(parts) > 1 and parts[1] in LAYER_RANK:
            if LAYER_RANK[parts[1]] > LAYER_RANK[layer]:
                bad.append(f"{path.name}:{line}: {layer} imports {name}")
    assert not bad, "import against the layer direction:\n" + "\n".join(bad)
