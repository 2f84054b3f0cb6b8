"""A safe first start: on a new database the bot sends nothing for periods before it started
(no digest of a past week, no pulse round already open, no reminder of a case late before),
says what comes next and for how many people, and then sends each on time. On both databases.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import pytest
from sqlmodel import select

from bot.core.service import Draft, VocService
from jobs.scheduler import Scheduler, digest_audiences
from jobs.sla_sweep import sweep
from jobs.startup import FIRST_START
from storage import claims
from storage.db import Database
from storage.models import JobClaim, Outbox, Signal
from tests.conftest import FakeClock

IVAN = "slack:U0LOG1"  # Logistics: a late case reminds its heads


def bot_ran_since(db: Database, moment: datetime) -> None:
    """As if a bot had first started on this database at `moment`."""
    with db.write() as session:
        claims.claim(session=session, job=FIRST_START[0], period=FIRST_START[1],
                     owner="earlier", now=moment)


def started(service: VocService) -> Scheduler:
    """A replica's scheduler started (its catch-up done) and stopped."""
    scheduler = Scheduler(service, owner="replica")

    async def start_and_stop() -> None:
        await scheduler.start()
        await scheduler.stop()

    asyncio.run(start_and_stop())
    return scheduler


def queued(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(row.dedupe_key for row in session.exec(select(Outbox)).all())


def test_the_first_start_sends_nothing_for_past_periods_and_says_what_comes_next(
        service: VocService, db: Database, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    # Tuesday 24 Nov 10:00 Moscow: Monday's digest (week 47) and November's pulse round
    # (opened 1 Nov) are both behind us; a running bot would catch them up.
    with caplog.at_level(logging.INFO, logger="jobs.startup"):
        started(service)

    assert queued(db) == []
    said = [r.getMessage() for r in caplog.records if r.name == "jobs.startup"]
    heads = sum(1 for a in digest_audiences(service) if a.startswith("head:"))
    assert said[0].startswith("first start on this database (Tue 2026-11-24 10:00 "
                              "Europe/Moscow): nothing is sent for earlier periods")
    assert said[1] == ("next weekly digest: Mon 2026-11-30 09:00 Europe/Moscow (week "
                       f"2026-W48), to leadership and {heads} department head(s)")
    assert said[2].startswith("next internal NPS pulse: round 2026-12 opens Tue 2026-12-01 "
                              "10:00 Europe/Moscow, asking ")
    assert heads > 0

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="jobs.startup"):
        started(service)  # a restart is not the first start, and says so by saying nothing
    said = [r.getMessage() for r in caplog.records if r.name == "jobs.startup"]
    assert said[0].startswith("next weekly digest: Mon 2026-11-30 09:00")
    assert queued(db) == []

    # Then each comes when it is due: the week the bot ran in, the round that opens after.
    clock.now = datetime(2026, 11, 30, 6, 0, tzinfo=clock.now.tzinfo)  # Mon 09:00 Moscow
    scheduler = started(service)
    assert any(key.startswith("digest:2026-W48:leadership:text@") for key in queued(db))
    assert not any(key.startswith("pulse:") for key in queued(db))
    clock.now = datetime(2026, 12, 1, 7, 0, tzinfo=clock.now.tzinfo)  # Tue 1 Dec 10:00
    assert asyncio.run(scheduler.pulse()).asked > 0


def test_a_case_late_before_the_first_start_is_not_chased_one_late_after_is(
        service: VocService, db: Database, clock: FakeClock) -> None:
    # A database filled before the bot ever ran (as `voc demo` does): a case already late.
    old = service.capture(IVAN, Draft("complaint", "The courier was late again")).signal.ref
    clock.advance(days=7)
    started(service)
    assert not any(key.startswith("remind:") for key in queued(db))

    new = service.capture(IVAN, Draft("complaint", "The courier lost a parcel")).signal.ref
    clock.advance(days=7)
    asyncio.run(started(service).sweep())

    with db.read() as session:
        reminded = {f"VOC-{s.id}" for s in session.exec(select(Signal)).all()
                    if s.reminded_at is not None}
    assert reminded == {new} and old not in reminded


def test_a_database_a_bot_ran_on_still_catches_up_what_it_missed(
        service: VocService, db: Database, clock: FakeClock) -> None:
    # An upgrade: an earlier version posted digests (claims) but recorded no first start.
    with db.write() as session:
        claims.claim(session=session, job="digest", period="2026-W45:leadership",
                     owner="old version", now=clock.now - timedelta(days=14))
    started(service)  # down on Monday: week 47's digest is caught up

    assert any(key.startswith("digest:2026-W47:leadership:text@") for key in queued(db))
    with db.read() as session:
        first = session.exec(select(JobClaim).where(JobClaim.job == FIRST_START[0])).one()
    assert first.claimed_at == clock.now - timedelta(days=14)  # from the earliest claim


def test_a_later_start_or_another_replica_keeps_the_first_start(
        service: VocService, db: Database, clock: FakeClock) -> None:
    first = started(service).first_start
    clock.advance(minutes=5)
    second = started(service).first_start
    assert first is not None and second is not None
    assert first.now and not second.now and first.at == second.at
    with db.read() as session:
        assert len(session.exec(select(JobClaim).where(
            JobClaim.job == FIRST_START[0])).all()) == 1


def test_cases_late_before_the_first_start_do_not_crowd_out_one_late_after(
        service: VocService, db: Database, clock: FakeClock) -> None:
    for n in range(3):  # older than anything the bot could have chased
        service.capture(IVAN, Draft("complaint", f"The courier was late, order {n}"))
    clock.advance(days=7)
    first = clock.now
    new = service.capture(IVAN, Draft("complaint", "The courier lost a parcel")).signal.ref
    clock.advance(days=7)

    report = sweep(service, limit=2, first_start=first)  # the oldest two are pre-start

    assert report.reminded == 1
    with db.read() as session:
        reminded = [f"VOC-{s.id}" for s in session.exec(select(Signal)).all()
                    if s.reminded_at is not None]
    assert reminded == [new]
