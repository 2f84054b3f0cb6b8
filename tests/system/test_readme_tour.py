"""The README's tour, typed exactly as written into `voc run` on a fresh database."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.voc_process import voc_env

pytestmark = pytest.mark.slow


def tour_lines(part: str = "tour:input") -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(rf"<!-- {part}[ >][^>]*-->\s*```text\n(.*?)```", readme, re.DOTALL)
    assert block, f"README.md lost its tour block {part}"
    return block.group(1).splitlines()


def typed(tmp_path: Path, lines: list[str]) -> str:
    """`voc run` on a freshly migrated database with `lines` typed into it; what it printed."""
    env = voc_env(tmp_path)
    env.pop("VOC_DEPARTMENTS")  # a fresh clone has no departments.toml: the example is used
    env.pop("VOC_LANGUAGE")  # and the default language layer: the bundled model
    result = subprocess.run([sys.executable, "-m", "bot", "run"],
                            input="\n".join(lines) + "\n", text=True,
                            capture_output=True, env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "⚠" not in result.stdout, result.stdout
    return result.stdout


def test_the_readme_tour_works_as_written(migrated: Path):
    out = typed(migrated, tour_lines())
    # What the README promises, step by step.
    assert "Thank you! Complaint VOC-1 went to Logistics." in out
    assert "matched: courier, late" in out and "[1] Change department" in out
    assert "── Logistics · slack ──" in out and "[2] Принять в работу" in out
    assert "[5] Спросить автора  [6] Объединить с…" in out
    assert "[12] Принять VOC-1" in out
    assert "Your Complaint VOC-1 was acknowledged by Olga Petrova (Logistics)." in out
    assert "[14] Решить" in out
    assert "[22] 0-10  [23] Not resolved" in out
    assert "9/10: Kate Brown" in out
    assert "VOC-1 · Logistics · resolved" in out


def test_the_second_part_asks_answers_and_joins_as_written(migrated: Path):
    out = typed(migrated, tour_lines("tour:input-2"))
    assert "[5] Спросить автора" in out
    assert "❓ Olga Petrova (Logistics) asks about your Complaint VOC-1:" in out
    assert "[22] Reply" in out
    assert "── Logistics · slack (reply to the card) ──" in out
    assert "── Logistics · telegram (reply to the card) ──" in out
    assert "💬 Kate Brown ответил(а) по VOC-1:\n  > Order 4711, delivered on Monday" in out
    assert "Same as VOC-1? “The courier was 3 hours late and the sofa arrived scratched”" in out
    assert "[34] Add me to VOC-1  [35] It is new" in out
    assert ("VOC-2 is now part of VOC-1: everyone who reported it is told when it is "
            "acknowledged and resolved.") in out
    assert "объединено с VOC-1" in out and "Сообщили об этом (человек): 2" in out
    shown = out[out.rindex("/voc show VOC-1"):]
    assert "Which order was it, and which day?" in shown and "Order 4711" in shown
    assert "VOC-2 присоединено к этому обращению (John Carter)" in shown
