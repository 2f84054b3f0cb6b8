"""The import contract of docs/core.md: the core knows no platform, no job and no entry point.

`bot/core/` is the platform-free core: it may import the standard library, storage/, the
libraries of its domain (SQLAlchemy/SQLModel, Babel, the stemmer) and itself. The composition
root (`bot/cli.py`, `runtime.py`, `server.py`, `demo.py`) wires it to adapters and jobs.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CORE = ROOT / "bot" / "core"
# Third-party packages the core may use: storage and maths, words and languages.
CORE_LIBRARIES = {"sqlalchemy", "sqlmodel", "pydantic", "babel", "Stemmer", "jieba",
                  "numpy", "rapidfuzz"}
OURS = {"bot", "handlers", "jobs", "storage", "tests", "bench"}


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, absolute names."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_the_core_exists_and_has_modules() -> None:
    assert len(core_files()) > 10


@pytest.mark.parametrize("path", core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_core_module_imports_only_the_core_storage_and_its_libraries(path: Path) -> None:
    refused = set()
    for name in imported_modules(path):
        top = name.split(".")[0]
        if top in OURS:
            allowed = name.startswith(("bot.core", "storage"))
        else:
            allowed = top in sys.stdlib_module_names or top in CORE_LIBRARIES
        if not allowed:
            refused.add(name)
    assert not refused, f"{path.relative_to(ROOT)} imports {sorted(refused)}"


def test_the_check_catches_a_forbidden_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("from handlers.slack.app import build_app\nimport starlette\n"
                      "from bot.core import render\n", encoding="utf-8")
    assert imported_modules(sample) >= {"handlers.slack.app", "starlette", "bot.core.render"}


# -- no import cycle -------------------------------------------------------------------------
PACKAGES = ("bot", "handlers", "jobs", "storage")


def our_modules() -> dict[str, Path]:
    """Every module of the application (migrations aside), by dotted name."""
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


def _typing_only(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:` (never run, so never part of a cycle)."""
    return {id(inner) for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for statement in node.body for inner in ast.walk(statement)}


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Which of our modules each one imports, wherever the import is (top, function, class).
    `from package import module` is an edge to the module: its package runs first anyway."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        skipped = _typing_only(tree)
        targets: set[str] = set()
        for node in ast.walk(tree):
            if id(node) in skipped:
                continue
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets.update(f"{node.module}.{alias.name}"
                               if f"{node.module}.{alias.name}" in modules else node.module
                               for alias in node.names)
        graph[name] = set()
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while (member := stack.pop()) != module:
                group.append(member)
            if group:
                found.append(sorted([module, *group]))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_counting_imports_inside_functions() -> None:
    assert cycles(import_graph(our_modules())) == []


def test_the_cycle_check_finds_a_cycle_through_a_function(tmp_path: Path) -> None:
    files = {"pkg.a": "from pkg import b\n",
             "pkg.b": "def later():\n    from pkg.c import thing\n",
             "pkg.c": "import pkg.a\n",
             "pkg.d": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n"}
    modules = {}
    for name, text in files.items():
        modules[name] = tmp_path / f"{name}.py"
        modules[name].write_text(text, encoding="utf-8")
    modules["pkg.e"] = tmp_path / "pkg.e.py"
    modules["pkg.e"].write_text("import pkg.d\n", encoding="utf-8")
    modules["pkg.d"].write_text(files["pkg.d"] + "import pkg.e\n", encoding="utf-8")
    assert cycles(import_graph(modules)) == [["pkg.a", "pkg.b", "pkg.c"], ["pkg.d", "pkg.e"]]
