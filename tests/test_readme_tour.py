"""The README's tour, typed exactly as written into `voc run` on a fresh database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_console_e2e import voc, voc_env

pytestmark = pytest.mark.slow


def tour_lines() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"<!-- tour:input[^>]*-->\s*```text\n(.*?)```", readme, re.DOTALL)
    assert block, "README.md lost its tour block"
    return block.group(1).splitlines()


def test_the_readme_tour_works_as_written(tmp_path: Path):
    assert voc(tmp_path, "db", "upgrade").returncode == 0
    env = voc_env(tmp_path)
    env.pop("VOC_DEPARTMENTS")  # a fresh clone has no departments.toml: the example is used
    result = subprocess.run([sys.executable, "-m", "bot", "run"],
                            input="\n".join(tour_lines()) + "\n", text=True,
                            capture_output=True, env=env, cwd=tmp_path, timeout=120)
    out = result.stdout
    assert result.returncode == 0, result.stderr
    assert "⚠" not in out, out
    # What the README promises, step by step.
    assert "Thank you! Complaint VOC-1 went to Logistics." in out
    assert "matched: courier, late" in out and "[1] Change department" in out
    assert "── Logistics · slack ──" in out and "[2] Принять в работу" in out
    assert "[5] Спросить автора" in out
    assert "[10] Принять VOC-1" in out
    assert "Your Complaint VOC-1 was acknowledged by Olga Petrova (Logistics)." in out
    assert "[12] Решить" in out
    assert "[18] 0-10  [19] Not resolved" in out
    assert "9/10: Kate Brown" in out
    assert "VOC-1 · Logistics · resolved" in out
