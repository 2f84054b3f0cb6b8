"""The dispatcher is woken by the commit that queues a message, not by a poll, and an idle bot
writes nothing to the database.

Every test here runs the dispatcher with its poll at an hour: a card that arrives arrived
because its commit woke the dispatcher (in this process), or because PostgreSQL told a replica
(LISTEN/NOTIFY).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, text

from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from bot.core.shared.company import Company
from jobs import dispatcher as dispatcher_module
from jobs.dispatcher import Dispatcher
from storage import outbox, outbox_wake
from storage.db import Database
from tests.conftest import FakeClock
from tests.support.fake_slack import running_workspace
from tests.unit.test_outbox import FakeChat, report

HOUR = 3600.0
SALES = "slack:C0SALES"
# What changes the database, or takes its write lock (SQLite's BEGIN IMMEDIATE, PostgreSQL's
# row locks), as the driver sees it.
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|BEGIN IMMEDIATE)\b|\bFOR UPDATE\b", re.I)


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """Every statement sent to `db` inside the block."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def writes(seen: list[str]) -> list[str]:
    return [s for s in seen if WRITES.search(s)]


# The last read of a dispatcher's look at the outbox (when does a row next fall due?): once it
# has answered, the dispatcher goes idle until a wake, or reads again at once if one came.
LOOK = re.compile(r"^\s*SELECT outbox\.lease_until\s+FROM outbox\b", re.I)


@contextmanager
def looks() -> Iterator[list[int]]:
    """How many looks at the outbox this process's dispatchers had answered inside the block
    (on any engine: `voc serve` opens its own): [count]."""
    answered = [0]

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if LOOK.search(statement):
            answered[0] += 1

    event.listen(Engine, "after_cursor_execute", record)
    try:
        yield answered
    finally:
        event.remove(Engine, "after_cursor_execute", record)


async def wait_until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"no {what} within {timeout:g} s")
        await asyncio.sleep(0.01)


def running(dispatcher: Dispatcher, scenario: Callable[[], Awaitable[None]], *,
            poll: float = HOUR) -> None:
    """Run the dispatcher (polling every `poll` s) while `scenario` plays, then stop it."""
    async def main() -> None:
        stop = asyncio.Event()
        with looks() as answered:
            task = asyncio.create_task(dispatcher.run(stop, idle_seconds=poll))
            try:
                # Its first look at the outbox is over: what comes next is a wake's doing.
                await wait_until(lambda: answered[0] >= 1, "first look at the outbox")
                assert not task.done()
                await scenario()
            finally:
                stop.set()
                await asyncio.wait_for(task, 10)

    asyncio.run(main())


# -- woken by the commit ---------------------------------------------------------------------
def test_a_card_is_delivered_at_once_with_the_poll_at_an_hour(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatcher = Dispatcher(db, [chat], clock=clock)

    async def scenario() -> None:
        started = time.monotonic()
        await asyncio.to_thread(report, service, "The sales manager was rude")  # commits
        await wait_until(lambda: bool(chat.shown(SALES)), "card in sales")
        assert time.monotonic() - started < 2.0

    running(dispatcher, scenario)
    assert [p.message.quote for p in chat.shown(SALES)] == [  # type: ignore[union-attr]
        "The sales manager was rude"]


def test_voc_serve_posts_the_card_without_a_poll(db: Database, company: Company) -> None:
    with looks() as answered, running_workspace(
            db, company, voc_outbox_poll_seconds=HOUR) as workspace:
        assert workspace.runtime.dispatcher is not None
        assert workspace.runtime.dispatcher.poll_seconds == HOUR
        asyncio.run(wait_until(lambda: answered[0] >= 1, "first look at the outbox"))
        said = time.monotonic()
        assert "went to Logistics" in workspace.user("U0SALES1").say(
            "complaint The courier was 3 hours late")
        card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
        assert "courier" in card.plain.lower()
        assert time.monotonic() - said < 2.0


def test_only_a_committed_transaction_that_queued_rows_wakes_once(db: Database) -> None:
    woken: list[outbox_wake.Queued | None] = []
    stop = outbox_wake.on_commit(db.engine.url, woken.append)
    now = datetime.now(UTC)
    card = {"message": OutboundMessage("Card").to_json()}
    try:
        with db.write() as session:  # two batches in one transaction: one wake
            for key, destination in (("a", SALES), ("pulse:r1:acme:7", "slack:U0ANN")):
                outbox.enqueue(session=session, now=now, messages=[
                    outbox.NewMessage(key, destination, "send", card)])
        # ... saying what it queued: a card, and a survey's question (bulk)
        queued = frozenset({(SALES, False, False), ("slack:U0ANN", True, False)})
        assert woken == [queued]

        with pytest.raises(RuntimeError), db.write() as session:
            outbox.enqueue(session=session, now=now, messages=[
                outbox.NewMessage("c", SALES, "send", card)])
            raise RuntimeError("the use case failed")
        with db.write() as session:  # nothing queued
            session.execute(text("SELECT 1"))
        assert woken == [queued]
    finally:
        stop()
    with db.write() as session:
        outbox.enqueue(session=session, now=now, messages=[
            outbox.NewMessage("d", SALES, "send", card)])
    assert woken == [queued]  # unsubscribed


def test_a_row_for_a_platform_without_a_port_here_does_not_wake_the_dispatcher(
        db: Database, db_url: str) -> None:
    """Only Slack runs in this process: a card to a department's Telegram group is another
    process's to deliver, and reading the outbox for it at every capture cost more CPU than
    the capture (bench/slack_capture.py)."""
    name = f"voc-slack-only-{time.monotonic_ns()}"
    here = Database.connect(f"{db_url}&application_name={name}" if db.dialect == "postgresql"
                            else db_url)
    dispatcher = Dispatcher(here, [FakeChat(platforms=("slack",))])
    card = {"message": OutboundMessage("Card").to_json()}

    async def scenario() -> None:
        if db.dialect == "postgresql":  # the look it takes on connecting for NOTIFY is over
            await wait_until(lambda: is_listening(db, name), "LISTEN connection")
            await wait_until(lambda: answered[0] >= 2, "look on connecting")
        before = answered[0]
        await asyncio.to_thread(queue, db, "tg", "telegram:-1001001", card)
        await asyncio.sleep(0.3)  # the interval is the test: no look may happen in it
        assert answered[0] == before
        await asyncio.to_thread(queue, db, "slack", SALES, card)
        await wait_until(lambda: answered[0] > before, "a look for the Slack card")

    try:
        with looks() as answered:
            running(dispatcher, scenario)
    finally:
        here.dispose()


def queue(db: Database, key: str, destination: str, payload: dict[str, Any]) -> None:
    with db.write() as session:
        outbox.enqueue(session=session, now=datetime.now(UTC), messages=[
            outbox.NewMessage(key, destination, "send", payload)])


def is_listening(db: Database, name: str) -> bool:
    """Whether the connection named `name` has run its LISTEN on the outbox channel."""
    with db.engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
            "AND query LIKE :listen"), {"name": name, "listen": 'LISTEN "voc_outbox_%'}
        ).scalar_one() > 0


def test_a_replica_is_woken_by_notify_when_another_process_commits(
        service: VocService, db: Database, db_url: str, clock: FakeClock) -> None:
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's; SQLite has no replicas")
    # Another engine, another URL: no hook of this process links it to the capture's commit.
    name = f"voc-replica-{time.monotonic_ns()}"
    replica_db = Database.connect(f"{db_url}&application_name={name}")
    chat = FakeChat()
    replica = Dispatcher(replica_db, [chat], clock=clock)

    def listening() -> bool:
        return is_listening(db, name)

    async def scenario() -> None:
        await wait_until(listening, "LISTEN connection")
        # The look it takes on connecting (after its first) is over: it is idle.
        await wait_until(lambda: answered[0] >= 2, "look on connecting")
        await asyncio.to_thread(report, service, "The sales manager was rude")
        await wait_until(lambda: bool(chat.shown(SALES)), "card delivered by the replica")

    try:
        with looks() as answered:
            running(replica, scenario)
    finally:
        replica_db.dispose()


def test_commits_in_another_schema_of_the_database_wake_nobody_here(
        db: Database, db_url: str, clock: FakeClock) -> None:
    """NOTIFY is database-wide: another install (schema) of the same database queuing rows
    must not wake this one's idle dispatcher (each wake is a read of the outbox)."""
    if db.dialect != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    from tests.conftest import postgres_database, throwaway_postgres_schema

    name = f"voc-here-{time.monotonic_ns()}"
    here = Database.connect(f"{db_url}&application_name={name}")
    dispatcher = Dispatcher(here, [FakeChat()], clock=clock)
    card = {"message": OutboundMessage("Card").to_json()}
    with throwaway_postgres_schema("voc_other") as schema:
        other = postgres_database(schema)
        other.upgrade()

        def listening() -> bool:
            return is_listening(db, name)

        async def scenario() -> None:
            await wait_until(listening, "LISTEN connection")
            await wait_until(lambda: answered[0] >= 2, "look on connecting")
            with statements(here) as seen:
                for n in range(5):
                    with other.write() as session:
                        outbox.enqueue(session=session, now=clock(), messages=[
                            outbox.NewMessage(f"other-{n}", SALES, "send", card)])
                # The sleep is the test: nothing is read here during it (the NOTIFYs of the
                # commits above would arrive within milliseconds if they woke anyone).
                await asyncio.sleep(0.5)
            assert seen == []

        try:
            with looks() as answered:
                running(dispatcher, scenario)
        finally:
            other.dispose()
            here.dispose()


# -- idle ------------------------------------------------------------------------------------
def test_an_idle_dispatcher_reads_but_never_writes(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatcher = Dispatcher(db, [chat], clock=clock)
    report(service, "The sales manager was rude")
    asyncio.run(dispatcher.run_once())  # delivered: history now
    report(service, "The sales manager forgot the discount")
    with db.write() as session:  # and one retry due in an hour
        [waiting] = outbox.claim_due(session=session, platforms=["slack"], now=clock(),
                                     limit=10, lease=timedelta(seconds=60))
        assert waiting.row.id is not None
        outbox.postpone(session=session, outbox_id=waiting.row.id,
                        not_before=clock() + timedelta(hours=1), error="later",
                        count_attempt=False)

    with statements(db) as seen, looks() as answered:
        async def idle() -> None:
            await wait_until(lambda: answered[0] >= 10, "ten polls of 0.05 s")

        running(dispatcher, idle, poll=0.05)

    assert writes(seen) == []
    assert len(seen) >= 5  # it did look, each time with a read
    assert len(chat.shown(SALES)) == 1


def test_an_idle_dispatcher_stays_alive_for_health_checks_without_the_database(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher_module, "HEARTBEAT_SECONDS", 0.05)
    dispatcher = Dispatcher(db, [FakeChat()])  # the real clock, as /healthz reads it
    beats: list[datetime] = []
    seen: list[str] = []

    async def idle() -> None:
        with statements(db) as after_first_look:
            for _ in range(3):
                assert dispatcher.alive_at is not None
                beats.append(dispatcher.alive_at)
                await wait_until(lambda: dispatcher.alive_at != beats[-1], "next heartbeat")
        seen.extend(after_first_look)

    running(dispatcher, idle)

    assert beats == sorted(set(beats))  # fresh at each look
    # The hour's poll never came. (On PostgreSQL another test's NOTIFY on the shared database
    # may wake it for a look: a read, never a write.)
    assert writes(seen) == []
    if db.dialect == "sqlite":
        assert seen == []
