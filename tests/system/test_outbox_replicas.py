"""Replicas sharing one outbox: every card posted once.

On PostgreSQL against a slow Slack: a claimed batch waits in the dispatcher's memory for its
turn (one message a second per channel) longer than one lease; the holder renews the leases,
so no other replica takes a row it is about to send. Each replica is a process of its own
running the real Slack adapter. And in one process, on both databases: a dispatcher whose
lease ran out (its renewals failed) sends nothing more of what another one took over.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlmodel import select

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import RateLimit
from jobs.dispatcher import Dispatcher
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.conftest import (
    ROOT,
    FakeClock,
    postgres_database,
    postgres_url,
    throwaway_postgres_schema,
)
from tests.support.fake_slack import FakeSlack

CHANNELS = ["C0CCO", "C0SALES", "C0SUPPORT", "C0LOGISTICS", "C0FINANCE", "C0IT", "C0PRODUCT",
            "C0LEADERS"]
CARDS_PER_CHANNEL = 8
REPLICAS = 3
LEASE = 1.5  # seconds; a replica's share of the backlog takes several times as long
LATENCY = 0.4  # seconds chat.postMessage takes


class SlowSlack(FakeSlack):
    """The fake Slack, answering chat.postMessage after LATENCY (requests run in parallel)."""

    def api(self, method: str, args: dict[str, Any], authorized: bool
            ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if method == "chat.postMessage":
            time.sleep(LATENCY)  # the slowness is what this fake plays
        return super().api(method, args, authorized)


def queue_cards(db: Database) -> set[tuple[str, str]]:
    """Cards for every channel, interleaved, as a burst of reports would queue them."""
    now = datetime.now(UTC)
    messages = [outbox.NewMessage(f"card:{n}@slack:{channel}", f"slack:{channel}", "send",
                                  {"message": OutboundMessage(title=f"Card {n}").to_json()})
                for n in range(CARDS_PER_CHANNEL) for channel in CHANNELS]
    with db.write() as session:
        outbox.enqueue(session=session, messages=messages, now=now)
    return {(m.destination.removeprefix("slack:"), m.dedupe_key) for m in messages}


def start_replica(db_url: str, slack: FakeSlack) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.slack_replica", db_url, slack.api_url,
         "--lease", str(LEASE)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(replica: subprocess.Popen[str]) -> None:
    assert replica.stdout is not None
    timer = threading.Timer(20, replica.kill)  # a replica that never starts fails the test
    timer.start()
    try:
        line = replica.stdout.readline()
    finally:
        timer.cancel()
    assert line.strip() == "ready", (line, replica.stderr.read() if replica.stderr else "")


def statuses(db: Database) -> Counter[str]:
    with db.read() as session:
        return Counter(session.exec(select(Outbox.status)).all())


def test_replicas_post_each_card_once_when_slack_is_slow() -> None:
    with throwaway_postgres_schema("voc_replicas") as schema, \
            SlowSlack(CHANNELS) as slack:
        slack.server.socket.listen(64)  # the fake's backlog (5) would drop a burst of posts
        db = postgres_database(schema)
        db.upgrade()
        expected = queue_cards(db)
        replicas = [start_replica(postgres_url(schema), slack) for _ in range(REPLICAS)]
        try:
            for replica in replicas:
                wait_ready(replica)
            deadline = time.monotonic() + 25
            while statuses(db)[outbox.SENT] < len(expected):
                assert time.monotonic() < deadline, statuses(db)
                time.sleep(0.05)
            # The interval is the test: a replica that took a row over would post it again
            # within a lease; none may.
            time.sleep(LEASE + 0.5)
        finally:
            for replica in replicas:
                replica.terminate()
            errors = [replica.communicate(timeout=20)[1] for replica in replicas]
        db.dispose()

        posted = Counter((m.channel, (m.metadata or {})["event_payload"]["dedupe_key"])
                         for channel in CHANNELS for m in slack.in_channel(channel))
        duplicates = {key: n for key, n in posted.items() if n > 1}
        assert duplicates == {}, f"{sum(duplicates.values()) - len(duplicates)} duplicates"
        assert set(posted) == expected
        assert all(replica.returncode == 0 for replica in replicas), errors


class Channel:
    """One chat where a message may go every 0.5 s, with every post kept."""

    platforms = ("slack",)
    rate_limit = RateLimit(per_destination=(1, 0.5))

    def __init__(self) -> None:
        self.posted: list[str] = []  # dedupe keys, in order

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        self.posted.append(dedupe_key)
        return f"m{len(self.posted)}"

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        raise AssertionError("no edits here")

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        raise AssertionError("no files here")

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        return f"m{self.posted.index(dedupe_key) + 1}" if dedupe_key in self.posted else None


def test_a_dispatcher_whose_lease_ran_out_sends_nothing_another_took_over(
        db: Database, clock: FakeClock) -> None:
    keys = [f"card:{n}@slack:C0SALES" for n in range(3)]
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[
            outbox.NewMessage(key, "slack:C0SALES", "send",
                              {"message": OutboundMessage(key).to_json()}) for key in keys])
    chat = Channel()
    first, second = (Dispatcher(db, [chat], clock=clock) for _ in range(2))

    async def race() -> None:
        holding = asyncio.create_task(first.run_once())  # claims all three, posts the first
        while not chat.posted:
            await asyncio.sleep(0.01)
        # While the first waits its turn for the channel, its lease runs out unrenewed (the
        # database did not answer it) and the second dispatcher takes the rest over.
        clock.advance(seconds=61)
        await second.run_once()
        await holding

    asyncio.run(race())

    assert sorted(chat.posted) == keys, chat.posted  # each once
    with db.read() as session:
        assert {r.status for r in session.exec(select(Outbox)).all()} == {outbox.SENT}
