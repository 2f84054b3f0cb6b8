"""Group-committed capture: many reporters in one transaction, each answered on its own."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from dataclasses import replace

import pytest
from sqlmodel import col, select

from bot.core.capture.group_commit import GroupCommit
from bot.core.presentation.views import CaptureResult
from bot.core.service import Draft, VocService
from bot.core.shared.company import Company, DepartmentSpec
from bot.core.shared.context import DEPARTMENTS_TTL
from bot.core.shared.errors import InvalidInput, NotFound
from bot.sync import sync_company
from storage.db import Database
from storage.models import Event, Outbox, Score, Signal
from tests.conftest import FakeClock

IVAN, SUP1, SALES1 = "slack:U0LOG1", "slack:U0SUP1", "slack:U0SALES1"
NEWCOMER = "telegram:777001"  # nobody the file names: first contact happens inside the batch


def stored(db: Database) -> list[Signal]:
    with db.read() as session:
        return list(session.exec(select(Signal).order_by(col(Signal.id))).all())


def outbox_destinations(db: Database) -> list[str]:
    with db.read() as session:
        return sorted(row.destination for row in session.exec(select(Outbox)).all())


def test_a_batch_stores_each_signal_with_its_own_routing_events_score_and_cards(
        service: VocService, db: Database) -> None:
    outcomes = service.capture_many([
        (IVAN, Draft("complaint", "The courier was three hours late", dedupe_key="k1")),
        (SUP1, Draft("praise", "Support answered quickly and politely", score="10",
                     dedupe_key="k2")),
        (NEWCOMER, Draft("idea", "Курьер мог бы звонить заранее", anonymous=True,
                         dedupe_key="k3")),
        (SALES1, Draft("complaint", "Price is wrong", department="finance", dedupe_key="k4")),
    ])

    assert all(isinstance(o, CaptureResult) and not o.duplicate for o in outcomes)
    views = [o.signal for o in outcomes if isinstance(o, CaptureResult)]
    assert [v.ref for v in views] == ["VOC-1", "VOC-2", "VOC-3", "VOC-4"]
    assert [v.department.slug for v in views] == ["logistics", "support", "logistics",
                                                  "finance"]
    assert "courier" in views[0].routed_by_keywords
    assert views[3].routed_by_keywords == () and not views[3].routed_by_fallback
    assert views[2].reporter == "telegram:777001"  # the reporter sees their own name
    rows = stored(db)
    assert [(r.reporter_identity, r.kind, r.dedupe_key) for r in rows] == [
        (IVAN, "complaint", "k1"), (SUP1, "praise", "k2"), (NEWCOMER, "idea", "k3"),
        (SALES1, "complaint", "k4")]
    with db.read() as session:
        events = session.exec(select(Event.signal_id, Event.action).order_by(col(Event.id)))
        assert list(events) == [(i, action) for i in (1, 2, 3, 4)
                                for action in ("captured", "routed")]
        scores = session.exec(select(Score.signal_id, Score.value)).all()
        assert list(scores) == [(2, 10)]
        cards = session.exec(select(Outbox).order_by(col(Outbox.id))).all()
    # Logistics has a channel and a group, support too, finance a channel and a group.
    by_signal = [(row.card_key or "").split(":")[1] for row in cards]
    assert by_signal == ["1", "1", "2", "2", "3", "3", "4", "4"]
    anonymous_card = next(row for row in cards if (row.card_key or "").startswith("card:3:"))
    assert "777001" not in str(anonymous_card.payload)  # the department never sees who


def test_one_bad_request_is_refused_alone_and_the_others_are_stored(
        service: VocService, db: Database) -> None:
    outcomes = service.capture_many([
        (IVAN, Draft("complaint", "The courier was late", dedupe_key="a")),
        (IVAN, Draft("complaint", "The courier was late", score="11", dedupe_key="b")),
        (SUP1, Draft("complaint", "Wrong invoice", department="logistix", dedupe_key="c")),
        ("slak:U1", Draft("complaint", "Courier late", dedupe_key="d")),
        (SUP1, Draft("rant", "Courier late", dedupe_key="e")),
        (SUP1, Draft("idea", "Deliver on Sundays", dedupe_key="f")),
    ])

    kinds = [type(o).__name__ for o in outcomes]
    assert kinds == ["CaptureResult", "InvalidInput", "NotFound", "InvalidInput",
                     "InvalidInput", "CaptureResult"]
    assert isinstance(outcomes[1], InvalidInput) and "11" in str(outcomes[1])
    assert isinstance(outcomes[2], NotFound) and "logistix" in str(outcomes[2])
    assert [r.dedupe_key for r in stored(db)] == ["a", "f"]
    assert len(outbox_destinations(db)) == 4  # two cards each, none for the refused ones


def test_a_redelivered_event_in_a_batch_answers_with_the_stored_signal(
        service: VocService, db: Database) -> None:
    first = service.capture(IVAN, Draft("complaint", "The courier was late", dedupe_key="x"))

    outcomes = service.capture_many([
        (SUP1, Draft("praise", "Quick and polite support", dedupe_key="y")),
        (IVAN, Draft("complaint", "The courier was late", dedupe_key="x")),  # re-delivered
        (SUP1, Draft("praise", "Quick and polite support", dedupe_key="y")),  # twice in one
    ])

    assert all(isinstance(o, CaptureResult) for o in outcomes)
    results = [o for o in outcomes if isinstance(o, CaptureResult)]
    new = results[0].signal.ref  # PostgreSQL may skip numbers the failed attempt drew
    assert [(r.signal.ref, r.duplicate) for r in results] == [
        (new, False), (first.signal.ref, True), (new, True)]
    assert [(r.dedupe_key, r.text) for r in stored(db)] == [
        ("x", "The courier was late"), ("y", "Quick and polite support")]
    assert len(outbox_destinations(db)) == 4


def test_concurrent_submits_share_batches_and_each_caller_gets_its_own_signal(
        service: VocService, db: Database) -> None:
    async def burst() -> list[CaptureResult]:
        return await asyncio.gather(*(
            service.submit_capture(IVAN if n % 2 else SUP1,
                                   Draft("complaint", f"The courier was late #{n}",
                                         dedupe_key=f"burst:{n}"))
            for n in range(40)))

    results = asyncio.run(burst())

    assert sorted(r.signal.id for r in results) == list(range(1, 41))
    for n, result in enumerate(results):  # each answer is the caller's own signal
        assert result.signal.text == f"The courier was late #{n}"
    assert service.captures.items == 40
    # The first arrives alone; the rest queue behind it and go together.
    assert service.captures.batches <= 4
    assert len(stored(db)) == 40


def test_a_lone_submit_is_written_at_once_and_refusals_reach_their_caller(
        service: VocService) -> None:
    async def one() -> None:
        result = await service.submit_capture(IVAN, Draft("complaint", "Courier late"))
        assert result.signal.ref == "VOC-1"
        with pytest.raises(InvalidInput):
            await service.submit_capture(IVAN, Draft("complaint", "   "))

    asyncio.run(one())
    assert (service.captures.batches, service.captures.items) == (2, 2)


# -- the group commit mechanism on its own -----------------------------------------------------
def test_a_failing_batch_fails_each_of_its_callers_and_the_next_batch_works() -> None:
    release, writing = threading.Event(), threading.Event()
    seen: list[list[int]] = []

    def write(items: Sequence[int]) -> list[int | Exception]:
        seen.append(list(items))
        if len(seen) == 1:
            writing.set()
            release.wait(5)  # hold the first batch so the next ones queue up behind it
            return [n * 10 for n in items]
        if 13 in items:
            raise ConnectionError("database went away")
        return [n * 10 if n != 4 else ValueError("four") for n in items]

    async def scenario() -> None:
        group: GroupCommit[int, int] = GroupCommit(write, max_batch=3)
        first = asyncio.ensure_future(group.submit(1))
        await asyncio.to_thread(writing.wait, 5)  # the first batch is being written
        queued = [asyncio.ensure_future(group.submit(n)) for n in (2, 3, 4, 13, 6)]
        await asyncio.sleep(0)  # one turn of the loop: the five submissions queue up
        release.set()
        assert await first == 10
        outcomes = await asyncio.gather(*queued, return_exceptions=True)
        assert outcomes[:2] == [20, 30]
        assert isinstance(outcomes[2], ValueError)  # its own failure only
        assert all(isinstance(o, ConnectionError) for o in outcomes[3:])  # its whole batch
        assert await group.submit(7) == 70  # the next batch goes through
        assert seen == [[1], [2, 3, 4], [13, 6], [7]]

    asyncio.run(scenario())


def test_a_caller_that_gives_up_does_not_disturb_the_batch() -> None:
    release, writing = threading.Event(), threading.Event()

    def write(items: Sequence[int]) -> list[int | Exception]:
        writing.set()
        release.wait(5)
        return list(items)

    async def scenario() -> None:
        group: GroupCommit[int, int] = GroupCommit(write)
        impatient = asyncio.ensure_future(group.submit(1))
        patient = asyncio.ensure_future(group.submit(2))
        await asyncio.to_thread(writing.wait, 5)  # their batch is being written
        impatient.cancel()
        release.set()
        assert await patient == 2
        assert impatient.cancelled()

    asyncio.run(scenario())


# -- department rows: archived or added at once, other changes within DEPARTMENTS_TTL ---------
def test_a_departments_sync_reaches_a_running_bot_within_the_ttl(
        service: VocService, db: Database, company: Company, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("bot.core.shared.context.time.monotonic", lambda: now[0])
    first = service.capture(IVAN, Draft("complaint", "The courier was late"))
    assert first.signal.ack_due_at == service.company.business_hours.add(clock(), 24)

    # An admin moves Logistics to a 4-hour SLA and a new channel.
    moved = replace(company, departments=tuple(
        replace(d, ack_sla_hours=4.0,
                addresses={**d.addresses, "slack": {"slack_channel": "C0LOGNEW"}})
        if d.slug == "logistics" else d for d in company.departments))
    sync_company(db, moved, now=clock())
    now[0] += DEPARTMENTS_TTL / 2  # read a moment ago: still the rows from before
    stale = service.capture(IVAN, Draft("complaint", "The courier was late again"))
    assert stale.signal.ack_due_at == service.company.business_hours.add(clock(), 24)

    # A department added (or archived) is seen at once, and with it the other changes.
    legal = DepartmentSpec(slug="legal", name="Legal",
                           addresses={"slack": {"slack_channel": "C0LEGAL"}})
    sync_company(db, replace(moved, departments=(*moved.departments, legal)), now=clock())
    chosen = service.capture(IVAN, Draft("complaint", "A contract question", department="legal"))
    assert chosen.signal.department.slug == "legal"
    fresh = service.capture(IVAN, Draft("complaint", "The courier was late once more"))
    assert fresh.signal.ack_due_at == service.company.business_hours.add(clock(), 4)
    assert "slack:C0LOGNEW" in outbox_destinations(db)


def test_an_archived_department_gets_no_new_signal_even_from_a_warm_cache(
        service: VocService, db: Database, company: Company, clock: FakeClock) -> None:
    warm = service.capture(IVAN, Draft("complaint", "The courier was late"))
    assert warm.signal.department.slug == "logistics"
    without = replace(company, departments=tuple(
        replace(d, suppliers=tuple(s for s in d.suppliers if s != "logistics"))
        for d in company.departments if d.slug != "logistics"))
    sync_company(db, without, now=clock())  # archives Logistics
    routed = service.capture(IVAN, Draft("complaint", "The courier was late again"))
    assert routed.signal.department.slug == company.triage
    with pytest.raises(NotFound):
        service.capture(IVAN, Draft("complaint", "Late", department="logistics"))
