"""`voc` as a subprocess, as a person runs it from a folder: this tree's code, a SQLite file in
that folder, the example company, no chat tokens, and the language layer off unless the test
asks for it (loading the bundled model costs each process about a second of CPU; the tests
about meaning pass VOC_LANGUAGE=auto)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE_COMPANY, ROOT


def voc_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_",
                                                                     "VOC_", "DATABASE_"))}
    env |= {"DATABASE_URL": f"sqlite:///{tmp_path / 'voc.db'}",
            "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY), "PYTHONPATH": str(ROOT),
            "VOC_LANGUAGE": "off"}
    return env | extra


def voc(tmp_path: Path, *args: str, stdin: str = "", **extra: str
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], input=stdin, text=True,
                          capture_output=True, env=voc_env(tmp_path, **extra), cwd=tmp_path,
                          timeout=120)
