"""The delivery guarantee, shown with a real process killed between sending and marking sent.

What a user sees after the crash and a restart: every message arrives; where the platform can
be asked what it already has (find_sent), nothing is posted twice; card edits are repeated
harmlessly (same content, same message).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from bot.core.service import Draft
from storage.models import Outbox
from tests.conftest import ROOT
from tests.support.file_platform import FilePlatform

LEASE = 0.5


@pytest.fixture(autouse=True)
def real_time(clock):
    """The dispatcher runs in another process on the real clock: queue rows in real time."""
    clock.now = datetime.now(UTC)


def dispatch(db_url: str, state: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tests.support.file_platform", db_url, str(state),
         "--lease", str(LEASE), *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=60)


def outbox_rows(db) -> list[Outbox]:
    with db.read() as session:
        return list(session.exec(select(Outbox).order_by(Outbox.id)))


def test_killed_after_send_restart_posts_nothing_twice(service, db, db_url, tmp_path):
    state = tmp_path / "platform.json"
    service.capture("slack:U0LOG1", Draft("complaint", "Courier was late again"))  # 2 cards

    crashed = dispatch(db_url, state, "--crash-after-send")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    platform = FilePlatform(state)
    assert len(platform.load()["messages"]) == 1  # the platform has it...
    # ...we never learnt it: both rows of the batch are still leased to the dead process.
    assert [r.status for r in outbox_rows(db)] == ["sending", "sending"]

    time.sleep(LEASE + 0.2)  # the dead process's lease runs out
    restarted = dispatch(db_url, state)
    assert restarted.returncode == 0, restarted.stderr

    messages = platform.load()["messages"]
    assert sorted(m["destination"] for m in messages.values()) == [
        "slack:C0LOGISTICS", "telegram:-1001001"]  # one card each: no loss, no duplicate
    rows = outbox_rows(db)
    assert [r.status for r in rows] == ["sent", "sent"]
    assert {r.message_id for r in rows} == set(messages)


def test_without_lookup_a_crash_can_repeat_a_message_but_loses_none(service, db, db_url,
                                                                     tmp_path):
    state = tmp_path / "platform.json"
    service.capture("slack:U0LOG1", Draft("complaint", "Courier was late again"))

    assert dispatch(db_url, state, "--crash-after-send").returncode == -signal.SIGKILL
    time.sleep(LEASE + 0.2)  # the lease is wall-clock time: its running out is the wait
    assert dispatch(db_url, state, "--no-lookup").returncode == 0

    posted = [m["destination"] for m in FilePlatform(state).load()["messages"].values()]
    # At least once: the message in flight during the crash arrives twice, nothing is lost.
    assert sorted(posted) == ["slack:C0LOGISTICS", "slack:C0LOGISTICS", "telegram:-1001001"]


def test_killed_after_card_edit_user_sees_one_card_with_the_latest_state(service, db, db_url,
                                                                          tmp_path):
    state = tmp_path / "platform.json"
    captured = service.capture("slack:U0LOG1", Draft("complaint", "Courier was late again"))
    assert dispatch(db_url, state).returncode == 0  # both cards posted
    service.acknowledge("slack:U0LOGHEAD", captured.signal.ref)

    assert dispatch(db_url, state, "--crash-after-update").returncode == -signal.SIGKILL
    time.sleep(LEASE + 0.2)  # the lease is wall-clock time: its running out is the wait
    assert dispatch(db_url, state).returncode == 0

    platform = FilePlatform(state).load()
    cards = [m for m in platform["messages"].values() if m["key"].startswith("card:")]
    assert len(cards) == 2
    for card in cards:  # the second footer line is the acknowledgement, by Olga
        assert len(card["footer"]) == 2 and "Olga Petrova" in card["footer"][1]
    edits = [entry for entry in platform["log"] if entry[0] == "update"]
    assert len(edits) == 3  # one edit repeated after the crash, invisible: same content
    assert all(r.status in ("sent", "superseded") for r in outbox_rows(db))
