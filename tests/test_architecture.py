"""The import contract of DESIGN 4/4.1: the core knows no platform, no job and no entry point.

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
