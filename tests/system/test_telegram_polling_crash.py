"""`voc run` killed while working through a backlog of Telegram updates loses none of them.

Telegram forgets an update once a later getUpdates names an offset past it; the bot must name
such an offset only for updates it has processed. The real process long-polls the fake Bot API
server, is SIGKILLed mid-backlog, and a restarted one finishes the rest.
"""

from __future__ import annotations

import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.adapters.test_telegram_flows import ANNA
from tests.support.fake_telegram import TOKEN, FakeTelegram
from tests.support.voc_process import voc_env

pytestmark = pytest.mark.slow
BACKLOG = 300


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def stored(tmp_path: Path) -> list[str]:
    """The dedupe keys of the signals in the bot's database (read while it runs)."""
    with sqlite3.connect(tmp_path / "voc.db", timeout=10) as connection:
        return [key for (key,) in connection.execute("SELECT dedupe_key FROM signal")]


def wait_for(check, timeout: float, what: str, process: subprocess.Popen[bytes] | None = None):
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if process is not None and process.poll() is not None:
            raise AssertionError(f"voc run exited with {process.returncode} before {what}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return result


def start(tmp_path: Path, fake: FakeTelegram) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                            env=voc_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN,
                                        TELEGRAM_API_URL=fake.url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


@pytest.mark.usefixtures("migrated")
def test_killed_mid_backlog_every_update_is_stored_once_and_answered(tmp_path: Path,
                                                                     fake: FakeTelegram) -> None:
    updates = [fake.push(fake.message(ANNA, f"/complaint Курьер опоздал, заказ {n}"))
               for n in range(BACKLOG)]
    keys = {f"telegram:{ANNA.id}:{u['message']['message_id']}" for u in updates}

    first = start(tmp_path, fake)
    try:
        wait_for(lambda: len(stored(tmp_path)) >= 10, 30, "the first captures", first)
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=30)
    assert first.returncode == -signal.SIGKILL
    before = len(stored(tmp_path))
    assert before < BACKLOG, "killed too late to mean anything"

    second = start(tmp_path, fake)
    try:
        wait_for(lambda: len(stored(tmp_path)) >= BACKLOG, 30,
                 f"all {BACKLOG} captures (had {before} at the kill)", second)
        # Every reporter was answered with the reference of their complaint.
        wait_for(lambda: len(answered(fake)) >= BACKLOG, 15, "an answer to every complaint")
    finally:
        second.send_signal(signal.SIGTERM)
        output = second.communicate(timeout=30)[0].decode()
    assert second.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output, output
    assert sorted(stored(tmp_path)) == sorted(keys)  # each stored exactly once
    assert answered(fake) == {f"VOC-{n}" for n in range(1, BACKLOG + 1)}
    assert fake.updates == []  # everything processed was confirmed at the graceful stop


def answered(fake: FakeTelegram) -> set[str]:
    return {ref for message in fake.sent(ANNA.id)
            for ref in re.findall(r"VOC-\d+", message.get("text", ""))}
