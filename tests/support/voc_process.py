"""`voc` as a subprocess, as a person runs it from a folder: this tree's code, a SQLite file in
that folder, the example company, no chat tokens, and the language layer off unless the test
asks for it (loading the bundled model costs each process about a second of CPU; the tests
about meaning pass VOC_LANGUAGE=auto)."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import traceback
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


def voc_in_process(tmp_path: Path, *args: str, **extra: str
                   ) -> subprocess.CompletedProcess[str]:
    """`voc(tmp_path, *args)` run by Typer's runner in this process: the code a `voc` process
    runs, from the same folder and environment, without a process's start (0.8 s of CPU).
    An exception that escapes the command is on stderr as a traceback, as a process shows it."""
    from typer.testing import CliRunner

    from bot.cli import app

    env = voc_env(tmp_path, **extra)
    unset: dict[str, str | None] = {k: None for k in os.environ if k not in env}
    with contextlib.chdir(tmp_path):  # the files a command writes land there, as in a process
        result = CliRunner().invoke(app, list(args), env=unset | env)
    stderr = result.stderr
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        stderr += "Traceback (most recent call last):\n" + "".join(
            traceback.format_exception(result.exception))
    return subprocess.CompletedProcess(["voc", *args], result.exit_code, result.stdout, stderr)
