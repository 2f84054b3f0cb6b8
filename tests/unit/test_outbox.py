"""The dispatcher against a fake chat platform: posting, editing, retries, limits, races."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from sqlmodel import col, select

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.service import Draft, VocService
from bot.core.shared.delivery_port import PermanentDeliveryError, RateLimit, RetryAfter
from jobs.dispatcher import Dispatcher, RetryPolicy, file_payload
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.conftest import FakeClock

IVAN = "slack:U0LOG1"
OLGA = "slack:U0LOGHEAD"
SALES_HEAD = "slack:U0SALESHEAD"
LOGISTICS_SLACK, LOGISTICS_TELEGRAM = "slack:C0LOGISTICS", "telegram:-1001001"
SALES_SLACK = "slack:C0SALES"
NO_LIMIT = RateLimit(per_destination=(1000, 1.0))


# -- a fake chat platform --------------------------------------------------------------------
@dataclass
class Posted:
    """One message as the platform shows it: edits replace its content."""

    destination: str
    message: OutboundMessage | OutboundFile
    dedupe_key: str
    edits: int = 0


@dataclass
class FakeChat:
    """Slack and Telegram in memory, with a transcript of every call and injectable failures."""

    rate_limit: RateLimit = NO_LIMIT
    platforms: tuple[str, ...] = ("slack", "telegram")
    messages: dict[str, Posted] = field(default_factory=dict)
    transcript: list[tuple[str, str, str]] = field(default_factory=list)  # call, dest, id
    sent_at: list[tuple[str, float]] = field(default_factory=list)  # dest, monotonic time
    lookups: list[tuple[str, str]] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    down: set[str] = field(default_factory=set)  # destinations failing every call
    _next_failures: dict[str, list[Exception]] = field(
        default_factory=lambda: defaultdict(list))

    def fail_next(self, destination: str, *errors: Exception) -> None:
        """The next calls to `destination` raise these, in order."""
        self._next_failures[destination].extend(errors)

    def _call(self, destination: str) -> None:
        self.attempts[destination] += 1
        if destination in self.down:
            raise ConnectionError(f"{destination} is unreachable")
        if self._next_failures[destination]:
            raise self._next_failures[destination].pop(0)

    def _post(self, destination: str, message: OutboundMessage | OutboundFile,
              dedupe_key: str) -> str:
        message_id = f"{destination}#{len(self.messages) + 1}"
        self.messages[message_id] = Posted(destination, message, dedupe_key)
        self.transcript.append(("send", destination, message_id))
        self.sent_at.append((destination, time.monotonic()))
        return message_id

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        self._call(destination)
        return self._post(destination, message, dedupe_key)

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        self._call(destination)
        posted = self.messages.get(message_id)
        if posted is None or posted.destination != destination:
            raise PermanentDeliveryError(f"message_not_found: {message_id}")
        posted.message, posted.edits = message, posted.edits + 1
        self.transcript.append(("update", destination, message_id))

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        self._call(destination)
        return self._post(destination, file, dedupe_key)

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        self.lookups.append((destination, dedupe_key))
        return next((message_id for message_id, posted in self.messages.items()
                     if posted.destination == destination and posted.dedupe_key == dedupe_key),
                    None)

    def shown(self, destination: str) -> list[Posted]:
        """What people in `destination` see, oldest first."""
        return [p for p in self.messages.values() if p.destination == destination]

    def calls(self, destination: str) -> list[str]:
        return [call for call, dest, _ in self.transcript if dest == destination]


# -- helpers ---------------------------------------------------------------------------------
def dispatcher(db: Database, chat: FakeChat, clock: FakeClock, *, max_attempts: int = 8,
               batch: int = 50) -> Dispatcher:
    return Dispatcher(db, [chat], clock=clock, policy=RetryPolicy(max_attempts=max_attempts),
                      batch=batch)


def run_once(dispatch: Dispatcher) -> int:
    return asyncio.run(dispatch.run_once())


def drain(dispatch: Dispatcher, clock: FakeClock, rounds: int = 30) -> None:
    """Dispatch like the real loop: straight on while there is work, time passes when idle."""
    idle = 0
    for _ in range(rounds):
        if run_once(dispatch):
            idle = 0
            continue
        idle += 1
        if idle == 3:
            return
        clock.advance(seconds=2)  # lets short waits (an update waiting for its card) pass
    raise AssertionError("the outbox never drained")


def rows(db: Database) -> list[Outbox]:
    with db.read() as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def row(db: Database, dedupe_prefix: str, destination: str) -> Outbox:
    matching = [r for r in rows(db) if r.dedupe_key.startswith(dedupe_prefix)
                and r.destination == destination]
    assert len(matching) == 1, [r.dedupe_key for r in rows(db)]
    return matching[0]


def report(service: VocService, text: str = "The courier was late") -> str:
    return service.capture(IVAN, Draft("complaint", text)).signal.ref


def latest_card(db: Database, destination: str) -> OutboundMessage:
    """The newest card content queued for `destination` (send or update)."""
    last = [r for r in rows(db) if r.destination == destination and r.card_key][-1]
    return OutboundMessage.from_json(last.payload["message"])


def dead(db: Database) -> list[Outbox]:
    with db.read() as session:
        return list(outbox.list_by_status(session=session, status=outbox.DEAD))


# -- cards and updates -----------------------------------------------------------------------
def test_cards_are_posted_once_and_then_edited_in_place(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    ref = report(service)
    drain(dispatch, clock)
    assert [len(chat.shown(d)) for d in (LOGISTICS_SLACK, LOGISTICS_TELEGRAM)] == [1, 1]

    service.acknowledge(OLGA, ref)
    drain(dispatch, clock)
    service.resolve(OLGA, ref, "Courier replaced")
    drain(dispatch, clock)

    for destination in (LOGISTICS_SLACK, LOGISTICS_TELEGRAM):
        [card] = chat.shown(destination)
        assert card.message == latest_card(db, destination)
        assert card.message.buttons == ()  # resolved: nothing left to press
        assert card.edits == 2
        assert chat.calls(destination) == ["send", "update", "update"]
    acked, resolved = (n.message for n in chat.shown(IVAN))
    assert isinstance(acked, OutboundMessage) and isinstance(resolved, OutboundMessage)
    assert "VOC-1" in acked.title and "Olga Petrova" in acked.title and not acked.buttons
    assert [b.action for b in resolved.buttons] == ["rate"] * 11 + ["reopen"]
    assert {r.status for r in rows(db)} == {outbox.SENT}


def test_update_waits_for_its_card(service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    chat.fail_next(LOGISTICS_SLACK, ConnectionError("timeout"))
    ref = report(service)
    run_once(dispatch)  # the Slack card fails and backs off; the Telegram one is posted
    service.acknowledge(OLGA, ref)

    run_once(dispatch)

    assert chat.shown(LOGISTICS_SLACK) == []
    assert chat.calls(LOGISTICS_SLACK) == []
    assert chat.calls(LOGISTICS_TELEGRAM) == ["send", "update"]
    assert row(db, "card-update:", LOGISTICS_SLACK).status == outbox.PENDING

    clock.advance(seconds=30)
    drain(dispatch, clock)

    assert chat.calls(LOGISTICS_SLACK) == ["send", "update"]
    [card] = chat.shown(LOGISTICS_SLACK)
    assert card.message == latest_card(db, LOGISTICS_SLACK)
    assert [b.action for b in card.message.buttons] == ["resolve", "reassign", "ask", "merge"]  # type: ignore[union-attr]


def test_superseded_updates_are_skipped(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    ref = report(service)
    drain(dispatch, clock)
    service.acknowledge(OLGA, ref)
    service.resolve(OLGA, ref, "Courier replaced")

    drain(dispatch, clock)

    for destination in (LOGISTICS_SLACK, LOGISTICS_TELEGRAM):
        assert chat.calls(destination) == ["send", "update"]
        [card] = chat.shown(destination)
        assert card.message == latest_card(db, destination)
        statuses = [r.status for r in rows(db) if r.destination == destination
                    and r.operation == "update"]
        assert statuses == [outbox.SUPERSEDED, outbox.SENT]
    assert len(chat.shown(IVAN)) == 2  # notes are messages of their own, never skipped


def test_an_edit_that_waited_behind_a_rate_limit_rereads_its_card(
        service: VocService, db: Database, clock: FakeClock) -> None:
    """A batch reads its edits' cards once, with the claim; an edit whose turn comes after a
    wait reads again, so a later edit queued meanwhile still supersedes it (no stale card)."""
    chat = FakeChat(rate_limit=RateLimit(per_destination=(1, 1.0)))
    now = [0.0]
    later_edit: list[str] = []

    async def sleep(seconds: float) -> None:  # the rate limit's wait, in a clock of our own
        now[0] += seconds
        if later_edit:  # meanwhile, the head resolves the third case
            service.resolve(OLGA, later_edit.pop(), "Courier replaced")

    dispatch = Dispatcher(db, [chat], clock=clock, monotonic=lambda: now[0], sleep=sleep)
    refs = [report(service, f"Courier number {n} was late") for n in (1, 2, 3)]
    drain(dispatch, clock)  # the three cards
    for ref in refs:
        service.acknowledge(OLGA, ref)
    later_edit.append(refs[2])
    now[0] += 1.0  # one token in the channel's bucket: the batch takes all three edits

    run_once(dispatch)  # the 1st edit goes, the 2nd waits a second, then the 3rd's turn
    now[0] += 5.0  # the bucket refills: whatever is left goes
    drain(dispatch, clock)

    cards = chat.shown(LOGISTICS_SLACK)
    assert [card.edits for card in cards] == [1, 1, 1]  # the 3rd: its resolution only
    assert cards[2].message == latest_card(db, LOGISTICS_SLACK)
    edits = [r.status for r in rows(db) if r.destination == LOGISTICS_SLACK
             and r.operation == "update"]
    assert edits == [outbox.SENT, outbox.SENT, outbox.SUPERSEDED, outbox.SENT]


# -- failures --------------------------------------------------------------------------------
def test_failing_platform_is_retried_with_backoff_then_dead_then_retried_by_hand(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock, max_attempts=3)
    report(service, "The sales manager was rude")
    chat.down.add(SALES_SLACK)

    run_once(dispatch)
    card = row(db, "card:", SALES_SLACK)
    assert (card.status, card.attempts) == (outbox.PENDING, 1)
    assert card.not_before > clock()
    assert "ConnectionError" in (card.last_error or "")
    run_once(dispatch)  # not due yet: nobody hammers a platform that is down
    assert chat.attempts[SALES_SLACK] == 1

    clock.advance(seconds=700)
    run_once(dispatch)
    clock.advance(hours=24, seconds=1)  # dead only once it has also been failing for a day
    run_once(dispatch)

    assert chat.attempts[SALES_SLACK] == 3
    [gone] = dead(db)
    assert gone.destination == SALES_SLACK and gone.attempts == 3
    assert "unreachable" in (gone.last_error or "")
    clock.advance(hours=1)
    run_once(dispatch)
    assert chat.attempts[SALES_SLACK] == 3  # dead stays dead

    chat.down.clear()
    with db.write() as session:
        assert outbox.retry_dead(session=session, ids=None, now=clock()) == 1
    run_once(dispatch)

    assert dead(db) == []
    assert len(chat.shown(SALES_SLACK)) == 1
    assert row(db, "card:", SALES_SLACK).status == outbox.SENT


def test_retry_after_waits_as_told_without_spending_attempts(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock, max_attempts=1)  # one real failure would kill it
    report(service, "The sales manager was rude")
    chat.fail_next(SALES_SLACK, RetryAfter(30), RetryAfter(30))
    start = clock()

    run_once(dispatch)
    card = row(db, "card:", SALES_SLACK)
    assert (card.status, card.attempts) == (outbox.PENDING, 0)
    assert card.not_before == start + timedelta(seconds=30)

    clock.advance(seconds=29)
    run_once(dispatch)
    assert chat.attempts[SALES_SLACK] == 1
    clock.advance(seconds=2)
    run_once(dispatch)  # told to wait again
    clock.advance(seconds=31)
    run_once(dispatch)

    assert chat.attempts[SALES_SLACK] == 3
    assert len(chat.shown(SALES_SLACK)) == 1
    assert row(db, "card:", SALES_SLACK).status == outbox.SENT


def test_permanent_error_is_dead_at_once_and_the_next_message_still_goes(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    report(service, "The sales manager was rude")
    report(service, "The sales manager forgot the discount")
    chat.fail_next(SALES_SLACK, PermanentDeliveryError("channel_not_found"))

    run_once(dispatch)

    [gone] = dead(db)
    assert gone.attempts == 1
    assert gone.last_error == "channel_not_found"
    assert chat.attempts[SALES_SLACK] == 2
    [posted] = chat.shown(SALES_SLACK)
    assert posted.message.quote == "The sales manager forgot the discount"  # type: ignore[union-attr]


# -- rate limits -----------------------------------------------------------------------------
def test_messages_to_one_channel_are_spaced_by_its_rate_limit(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat(rate_limit=RateLimit(per_destination=(1, 1.0)))
    dispatch = dispatcher(db, chat, clock)
    report(service, "The sales manager was rude")
    report(service, "The sales manager forgot the discount")
    report(service, "The website login page shows an error")  # another channel: not held up

    run_once(dispatch)

    order = [destination for destination, _ in chat.sent_at]
    assert order.count(SALES_SLACK) == 2
    assert order.index("slack:C0IT") < len(order) - 1  # IT did not queue behind sales
    sales = [at for destination, at in chat.sent_at if destination == SALES_SLACK]
    assert sales[1] - sales[0] >= 0.5
    assert [p.message.quote for p in chat.shown(SALES_SLACK)] == [  # type: ignore[union-attr]
        "The sales manager was rude", "The sales manager forgot the discount"]


def test_a_backlog_waiting_for_its_rate_limit_is_left_alone_until_a_slot_frees(
        service: VocService, db: Database, clock: FakeClock) -> None:
    # Telegram allows a group 20 messages a minute: a burst of reports leaves a backlog that
    # must wait, not be claimed and handed back in a loop (CPU and writes all the while).
    chat = FakeChat(rate_limit=RateLimit(per_destination=(3, 1.0)), platforms=("slack",))
    ticks = [1000.0]  # the rate limiter's clock, moved by hand
    dispatch = Dispatcher(db, [chat], clock=clock, max_inline_wait=0.05,
                          monotonic=lambda: ticks[0])
    for n in range(12):
        report(service, f"The sales manager was rude #{n}")  # one card each, to sales

    assert run_once(dispatch) > 0
    assert len(chat.shown(SALES_SLACK)) == 3
    pending = [(r.id, r.status, r.attempts) for r in rows(db)]

    assert run_once(dispatch) == 0  # the channel's window is full: nothing claimed
    assert run_once(dispatch) == 0
    assert [(r.id, r.status, r.attempts) for r in rows(db)] == pending  # rows untouched

    ticks[0] += 1.05  # the window frees
    clock.advance(seconds=2)  # and so does the one held back in the first round
    run_once(dispatch)
    assert len(chat.shown(SALES_SLACK)) == 6
    assert all(r.attempts <= 1 for r in rows(db))  # waiting spent no attempt


# -- crashes and races -----------------------------------------------------------------------
def claim_and_die(db: Database, clock: FakeClock) -> list[Outbox]:
    """A dispatcher takes rows and dies before recording the outcome."""
    with db.write() as session:
        return [c.row for c in outbox.claim_due(session=session, platforms=["slack"],
                                                now=clock(), limit=10,
                                                lease=timedelta(seconds=60))]


def test_uncertain_row_is_looked_up_and_not_posted_twice(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    report(service, "The sales manager was rude")
    [claimed] = claim_and_die(db, clock)
    # The platform did receive it before the crash.
    posted_id = asyncio.run(chat.send(
        claimed.destination, OutboundMessage.from_json(claimed.payload["message"]),
        dedupe_key=claimed.dedupe_key))
    dispatch = dispatcher(db, chat, clock)

    run_once(dispatch)  # the lease has not expired: someone may still be at it
    assert chat.lookups == []

    clock.advance(seconds=61)
    run_once(dispatch)

    assert chat.lookups == [(SALES_SLACK, claimed.dedupe_key)]
    assert len(chat.shown(SALES_SLACK)) == 1
    card = row(db, "card:", SALES_SLACK)
    assert (card.status, card.message_id) == (outbox.SENT, posted_id)


def test_uncertain_row_the_platform_never_got_is_posted_once(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    report(service, "The sales manager was rude")
    claim_and_die(db, clock)
    clock.advance(seconds=61)

    run_once(dispatcher(db, chat, clock))

    assert len(chat.lookups) == 1
    assert len(chat.shown(SALES_SLACK)) == 1
    assert row(db, "card:", SALES_SLACK).status == outbox.SENT


def test_two_dispatchers_deliver_every_row_exactly_once(
        service: VocService, db: Database, clock: FakeClock) -> None:
    texts = ["The courier was late", "The sales manager was rude", "Website login error",
             "The sofa fabric tore", "Invoice charged twice", "Operator hung up on me"]
    refs = [report(service, f"{text} #{n}") for n in range(3) for text in texts]
    for ref in refs[::3]:
        service.acknowledge("slack:U0ADMIN", ref)
    chat = FakeChat()
    first, second = (dispatcher(db, chat, clock, batch=4) for _ in range(2))
    handled_by = [0, 0]

    async def race() -> None:
        for _ in range(40):
            handled = await asyncio.gather(first.run_once(), second.run_once())
            handled_by[0] += handled[0]
            handled_by[1] += handled[1]
            if sum(handled) == 0 and all(r.status != outbox.PENDING for r in rows(db)):
                return
            clock.advance(seconds=2)
        raise AssertionError("the outbox never drained")

    asyncio.run(race())

    assert all(handled_by), handled_by  # both really took part
    sends = [r for r in rows(db) if r.operation == "send"]
    assert len(sends) > 20
    posted_keys = [p.dedupe_key for p in chat.messages.values()]
    assert sorted(posted_keys) == sorted(r.dedupe_key for r in sends)
    assert {r.status for r in rows(db)} <= {outbox.SENT, outbox.SUPERSEDED}
    updated = [r for r in rows(db) if r.operation == "update" and r.status == outbox.SENT]
    assert len(updated) == sum(1 for call, _, _ in chat.transcript if call == "update")
    for destination in {r.destination for r in sends if r.card_key}:
        for posted in chat.shown(destination):
            card_key = next(r.card_key for r in sends if r.dedupe_key == posted.dedupe_key)
            newest = [r for r in rows(db) if r.card_key == card_key][-1]
            assert posted.message == OutboundMessage.from_json(newest.payload["message"])


def test_dispatcher_leaves_other_platforms_rows_alone(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat(platforms=("telegram",))

    report(service)
    drain(dispatcher(db, chat, clock), clock)

    assert [d for _, d, _ in chat.transcript] == [LOGISTICS_TELEGRAM]
    assert row(db, "card:", LOGISTICS_SLACK).status == outbox.PENDING


def test_a_retried_older_update_never_overwrites_a_newer_one(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    ref = report(service)
    drain(dispatch, clock)
    service.acknowledge(OLGA, ref)
    chat.fail_next(LOGISTICS_SLACK, ConnectionError("timeout"))
    run_once(dispatch)  # the "acknowledged" edit fails and backs off
    service.resolve(OLGA, ref, "Courier replaced")
    run_once(dispatch)  # the "resolved" edit is due first and goes out

    clock.advance(seconds=30)
    drain(dispatch, clock)  # then the older edit comes due again

    [card] = chat.shown(LOGISTICS_SLACK)
    assert card.message == latest_card(db, LOGISTICS_SLACK)
    assert card.message.buttons == ()  # type: ignore[union-attr]


def test_signal_moved_away_and_back_keeps_a_live_card(
        service: VocService, db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    dispatch = dispatcher(db, chat, clock)
    ref = report(service)
    service.reassign(OLGA, ref, "sales", "The salesman promised the date")
    service.reassign(SALES_HEAD, ref, "logistics", "No, the courier was late")

    drain(dispatch, clock)

    assert {r.status for r in rows(db)} <= {outbox.SENT, outbox.SUPERSEDED}
    live = chat.shown(LOGISTICS_SLACK)[-1].message
    assert isinstance(live, OutboundMessage)
    assert [b.action for b in live.buttons] == ["ack", "resolve", "reassign", "ask", "merge"]
    sales = chat.shown(SALES_SLACK)[-1].message
    assert isinstance(sales, OutboundMessage) and sales.buttons == ()


def test_files_are_delivered_byte_for_byte(db: Database, clock: FakeClock) -> None:
    chat = FakeChat()
    workbook = OutboundFile("digest-2026-W48.xlsx", bytes(range(256)) * 40, title="Digest",
                            caption="Week 48")
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[outbox.NewMessage(
            "digest:2026-W48@slack:C0LEADERS", "slack:C0LEADERS", "send_file",
            file_payload(workbook))])

    drain(dispatcher(db, chat, clock), clock)

    [posted] = chat.shown("slack:C0LEADERS")
    assert posted.message == workbook
    assert [r.status for r in rows(db)] == [outbox.SENT]
