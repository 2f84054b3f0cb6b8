"""The loop through VocService: every transition, every refusal, its audit events and outbox.

People of the example company (departments.example.toml):
Ivan (slack:U0LOG1) is a logistics member; Olga heads logistics as slack:U0LOGHEAD and
telegram:1001; John heads sales; Sam is an admin; Elena is leadership; Anna is in support.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event as sa_event
from sqlmodel import col, func, select

from bot.core.presentation import render
from bot.core.presentation.views import SignalView
from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.core.shared.domain import Kind, Status
from bot.core.shared.errors import Forbidden, InvalidInput, InvalidTransition, NotFound, VocError
from storage.db import Database
from storage.models import Department, Event, Outbox, Score, Signal
from tests.conftest import FakeClock

IVAN = "slack:U0LOG1"
OLGA = "slack:U0LOGHEAD"
OLGA_TELEGRAM = "telegram:1001"
JOHN_SALES_HEAD = "slack:U0SALESHEAD"
SAM_ADMIN = "slack:U0ADMIN"
ELENA_CEO = "slack:U0CEO"
ANNA_SUPPORT = "slack:U0SUP1"
CCO_HEAD = "slack:U0CCOHEAD"  # heads cco and marketing

LATE_COURIER = "The courier was late again and the sofa arrived scratched"
LOGISTICS_CARDS = {"slack:C0LOGISTICS", "telegram:-1001001"}
MSK = ZoneInfo("Europe/Moscow")
MONDAY_10 = datetime(2026, 11, 23, 10, 0, tzinfo=MSK)  # a Monday inside business hours


# -- helpers ---------------------------------------------------------------------------------
def report(service: VocService, text: str = LATE_COURIER, actor: str = IVAN,
           **draft: Any) -> SignalView:
    """Capture a complaint and return its view as the reporter sees it."""
    return service.capture(actor, Draft(kind=draft.pop("kind", "complaint"), text=text,
                                        **draft)).signal


def person_id(service: VocService, identity: str) -> int:
    person = service.person(identity)
    assert person is not None, identity
    return person.id


def events(db: Database, signal_id: int) -> list[tuple[str, int | None]]:
    """(action, actor id) of a signal's audit trail, in order."""
    with db.read() as session:
        rows = session.exec(select(Event).where(Event.signal_id == signal_id)
                            .order_by(col(Event.at), col(Event.id))).all()
        return [(e.action, e.actor_id) for e in rows]


def event_details(db: Database, signal_id: int, action: str) -> dict[str, Any]:
    with db.read() as session:
        row = session.exec(select(Event).where(Event.signal_id == signal_id,
                                               Event.action == action)
                           .order_by(col(Event.id).desc())).first()
        assert row is not None, action
        return dict(row.details)


def outbox_rows(db: Database, after: int = 0) -> list[Outbox]:
    with db.read() as session:
        return list(session.exec(select(Outbox).where(col(Outbox.id) > after)
                                 .order_by(col(Outbox.id))).all())


def last_outbox_id(db: Database) -> int:
    with db.read() as session:
        return session.exec(select(func.coalesce(func.max(Outbox.id), 0))).one()


def signal_row(db: Database, signal_id: int) -> Signal:
    with db.read() as session:
        row = session.get(Signal, signal_id)
        assert row is not None
        return row


def department_id(db: Database, slug: str) -> int:
    with db.read() as session:
        row = session.exec(select(Department).where(Department.slug == slug)).one()
        assert row.id is not None
        return row.id


def snapshot(db: Database) -> tuple[Any, ...]:
    """Everything a refusal must leave untouched."""
    with db.read() as session:
        signals = [(s.id, s.status, s.department_id, s.acknowledged_at, s.resolved_at,
                    s.ack_due_at, s.updated_at, s.routing)
                   for s in session.exec(select(Signal).order_by(col(Signal.id)))]
        counts = tuple(session.exec(select(func.count()).select_from(model)).one()
                       for model in (Event, Outbox, Score))
    return signals, counts


def refused(db: Database, error: type[VocError], action: Callable[[], object]) -> VocError:
    """Run an action that must be refused with `error` and change nothing at all."""
    before = snapshot(db)
    with pytest.raises(error) as caught:
        action()
    assert snapshot(db) == before
    return caught.value


def card_json(row: Outbox) -> str:
    return json.dumps(row.payload, ensure_ascii=False)


def title(row: Outbox) -> str:
    return str(row.payload["message"]["title"])


def button_actions(row: Outbox) -> list[str]:
    return [b["action"] for b in row.payload["message"]["buttons"]]


def in_language_of(service: VocService, identity: str, msgid: str, **params: object) -> str:
    """`msgid` as `identity` reads it (their own language), filled in."""
    person = service.person(identity)
    assert person is not None
    t = service.translator(person.locale)
    return t.gettext(msgid) % {"kind": render.kind_label(Kind.COMPLAINT, t), **params}


def company_says(service: VocService, msgid: str) -> str:
    """`msgid` in the company language, as cards are written."""
    return service.translator().gettext(msgid)


@contextmanager
def failing_outbox_insert(db: Database, destination: str) -> Iterator[None]:
    """Make the database refuse the INSERT of an outbox row for `destination`."""

    def refuse(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX") and destination in str(
                parameters):
            raise RuntimeError("simulated database failure while queuing a message")

    sa_event.listen(db.engine, "before_cursor_execute", refuse)
    try:
        yield
    finally:
        sa_event.remove(db.engine, "before_cursor_execute", refuse)


def in_threads(count: int, work: Callable[[int], object]
               ) -> tuple[list[object], list[BaseException]]:
    """Run `work(i)` in `count` threads released at the same moment."""
    barrier = threading.Barrier(count)
    results: list[object] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcome = work(index)
        except BaseException as exc:
            with lock:
                errors.append(exc)
        else:
            with lock:
                results.append(outcome)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results, errors


# -- capture and routing ---------------------------------------------------------------------
def test_capture_routes_by_keywords_and_queues_a_card_per_destination(
        service: VocService, db: Database, clock: FakeClock) -> None:
    signal = report(service)

    assert signal.ref == "VOC-1"
    assert signal.status == Status.ROUTED
    assert signal.department.slug == "logistics"
    assert set(signal.routed_by_keywords) >= {"courier", "late"}
    assert not signal.routed_by_fallback
    assert signal.reporter == "Ivan Kuznetsov"
    assert signal.created_at == signal.routed_at == clock()
    assert events(db, signal.id) == [("captured", person_id(service, IVAN)), ("routed", None)]
    cards = outbox_rows(db)
    assert {row.destination for row in cards} == LOGISTICS_CARDS
    assert len(cards) == 2
    for row in cards:
        assert row.operation == "send" and row.status == "pending"
        assert "VOC-1" in title(row) and "Logistics" in title(row)
        assert row.payload["message"]["quote"] == LATE_COURIER
        assert button_actions(row) == ["ack", "resolve", "reassign", "ask", "merge"]


def test_department_with_only_a_slack_channel_gets_one_card(
        service: VocService, db: Database) -> None:
    signal = report(service, "The sales manager promised a discount and forgot")

    assert signal.department.slug == "sales"
    assert [row.destination for row in outbox_rows(db)] == ["slack:C0SALES"]


def test_reporter_may_choose_the_department(service: VocService, db: Database) -> None:
    signal = report(service, department="it")

    assert signal.department.slug == "it"
    assert signal.routed_by_keywords == ()
    assert not signal.routed_by_fallback
    assert [row.destination for row in outbox_rows(db)] == ["slack:C0IT"]


def test_text_nobody_claims_goes_to_triage(service: VocService) -> None:
    signal = report(service, "Hello there, nothing in particular")

    assert signal.department.slug == "cco"
    assert signal.routed_by_fallback


def test_capture_to_unknown_department_lists_the_known_ones(
        service: VocService, db: Database) -> None:
    error = refused(db, NotFound, lambda: report(service, department="logistix"))

    message = str(error)
    assert "logistix" in message
    for slug in ("cco", "finance", "it", "logistics", "marketing", "product", "sales", "support"):
        assert slug in message
    assert outbox_rows(db) == []


# -- acknowledge -----------------------------------------------------------------------------
def test_head_acknowledges_and_the_reporter_is_told(
        service: VocService, db: Database, clock: FakeClock) -> None:
    signal = report(service)
    mark = last_outbox_id(db)
    clock.advance(hours=1)

    acked = service.acknowledge(OLGA, signal.ref)

    assert acked.status == Status.ACKNOWLEDGED
    assert acked.acknowledged_at == clock()
    assert not acked.overdue
    assert events(db, signal.id)[-1] == ("acknowledged", person_id(service, OLGA))
    rows = outbox_rows(db, after=mark)
    updates = [r for r in rows if r.operation == "update"]
    notes = [r for r in rows if r.operation == "send"]
    assert {r.destination for r in updates} == LOGISTICS_CARDS
    cards = {r.destination: r.card_key for r in outbox_rows(db) if r.id <= mark}
    assert all(r.card_key == cards[r.destination] for r in updates)
    assert all(button_actions(r) == ["resolve", "reassign", "ask", "merge"] for r in updates)
    assert len(notes) == 1 and notes[0].destination == IVAN
    assert title(notes[0]) == in_language_of(
        service, IVAN, "Your %(kind)s %(ref)s was acknowledged by %(who)s (%(department)s).",
        ref="VOC-1", who="Olga Petrova", department="Logistics")
    assert button_actions(notes[0]) == []


def test_acknowledging_twice_is_refused(service: VocService, db: Database) -> None:
    signal = report(service)
    service.acknowledge(OLGA, signal.ref)

    error = refused(db, InvalidTransition, lambda: service.acknowledge(OLGA, signal.ref))
    assert "VOC-1" in str(error)


def test_member_who_is_not_a_head_cannot_acknowledge(service: VocService, db: Database) -> None:
    signal = report(service)

    refused(db, Forbidden, lambda: service.acknowledge(IVAN, signal.ref))


def test_head_of_another_department_is_forbidden(service: VocService, db: Database) -> None:
    signal = report(service)

    error = refused(db, Forbidden, lambda: service.acknowledge(JOHN_SALES_HEAD, signal.ref))
    assert "Logistics" in str(error)
    refused(db, Forbidden, lambda: service.resolve(JOHN_SALES_HEAD, signal.ref, "done"))
    refused(db, Forbidden,
            lambda: service.reassign(JOHN_SALES_HEAD, signal.ref, "sales", "mine now"))


def test_stranger_is_forbidden(service: VocService, db: Database) -> None:
    signal = report(service)

    refused(db, Forbidden, lambda: service.acknowledge("telegram:987654", signal.ref))


def test_head_may_act_through_their_second_identity(service: VocService, db: Database) -> None:
    signal = report(service)

    service.acknowledge(OLGA_TELEGRAM, signal.ref)
    service.resolve(OLGA, signal.ref, "Courier replaced, discount given")

    olga = person_id(service, OLGA)
    assert olga == person_id(service, OLGA_TELEGRAM)
    assert events(db, signal.id)[-2:] == [("acknowledged", olga), ("resolved", olga)]


def test_admin_may_act_on_any_department(service: VocService, db: Database) -> None:
    logistics = report(service)
    sales = report(service, "The sales manager was rude about the discount")

    service.acknowledge(SAM_ADMIN, logistics.ref)
    service.resolve(SAM_ADMIN, sales.ref, "Apologised to the customer")

    sam = person_id(service, SAM_ADMIN)
    assert events(db, logistics.id)[-1] == ("acknowledged", sam)
    assert events(db, sales.id)[-1] == ("resolved", sam)


def test_unknown_reference_is_not_found(service: VocService, db: Database) -> None:
    report(service)

    error = refused(db, NotFound, lambda: service.acknowledge(OLGA, "VOC-999"))
    assert "VOC-999" in str(error)


def test_malformed_reference_is_invalid_input(service: VocService, db: Database) -> None:
    report(service)

    for ref in ("VOC-abc", "", "   ", "VOC-1-2", "#1", "VOC-"):
        error = refused(db, InvalidInput, lambda ref=ref: service.acknowledge(OLGA, ref))
        assert "VOC-12" in str(error)  # the message shows what a reference looks like


def test_reference_spellings_people_type_are_understood(service: VocService) -> None:
    spellings = ["VOC-1", "voc-2", "VOC3", "4", " VOC-5 "]
    for _ in spellings:
        report(service)

    for number, ref in enumerate(spellings, start=1):
        acked = service.acknowledge(OLGA, ref)
        assert (acked.id, acked.status) == (number, Status.ACKNOWLEDGED)


# -- resolve ---------------------------------------------------------------------------------
def test_resolving_needs_a_note(service: VocService, db: Database) -> None:
    signal = report(service)

    for note in ("", "   ", "\n\t", "\x00"):
        error = refused(db, InvalidInput, lambda note=note: service.resolve(OLGA, signal.ref, note))
        assert "note" in str(error)


def test_resolve_after_acknowledge_tells_the_reporter_and_offers_rating(
        service: VocService, db: Database, clock: FakeClock) -> None:
    signal = report(service)
    clock.advance(hours=1)
    acked_at = service.acknowledge(OLGA, signal.ref).acknowledged_at
    mark = last_outbox_id(db)
    clock.advance(hours=2)

    resolved = service.resolve(OLGA, signal.ref, "Courier replaced, 10% refund")

    assert resolved.status == Status.RESOLVED
    assert resolved.resolved_at == clock()
    assert resolved.acknowledged_at == acked_at
    assert event_details(db, signal.id, "resolved") == {"note": "Courier replaced, 10% refund"}
    rows = outbox_rows(db, after=mark)
    assert {r.destination for r in rows if r.operation == "update"} == LOGISTICS_CARDS
    assert all(button_actions(r) == [] for r in rows if r.operation == "update")
    [note] = [r for r in rows if r.operation == "send"]
    assert note.destination == IVAN
    assert title(note) == in_language_of(
        service, IVAN, "Your %(kind)s %(ref)s was resolved by %(who)s (%(department)s).",
        ref="VOC-1", who="Olga Petrova", department="Logistics")
    assert button_actions(note) == ["rate"] * 11 + ["reopen"]
    assert "Courier replaced, 10% refund" in card_json(note)


def test_resolve_without_acknowledge_sets_acknowledged_at(
        service: VocService, clock: FakeClock) -> None:
    signal = report(service)
    clock.advance(hours=3)

    resolved = service.resolve(OLGA, signal.ref, "Done")

    assert resolved.acknowledged_at == resolved.resolved_at == clock()


def test_resolved_signal_cannot_be_handled_again(service: VocService, db: Database) -> None:
    signal = report(service)
    service.resolve(OLGA, signal.ref, "Done")

    for again in (lambda: service.acknowledge(OLGA, signal.ref),
                  lambda: service.resolve(OLGA, signal.ref, "Done again"),
                  lambda: service.reassign(OLGA, signal.ref, "sales", "not ours"),
                  lambda: service.reassign(SAM_ADMIN, signal.ref, "sales", "not ours")):
        error = refused(db, InvalidTransition, again)
        assert "VOC-1" in str(error) and "resolved" in str(error)


# -- rate ------------------------------------------------------------------------------------
def test_reporter_rates_once_and_it_becomes_an_internal_score(
        service: VocService, db: Database) -> None:
    signal = report(service, "The sales manager was rude about the discount")
    assert signal.department.slug == "sales"
    service.resolve(JOHN_SALES_HEAD, signal.ref, "Talked to the manager")

    rated = service.rate(IVAN, signal.ref, "9")

    assert rated.rating == 9
    with db.read() as session:
        [score] = session.exec(select(Score)).all()
    assert (score.kind, score.source, score.value) == ("internal", "handling", 9)
    assert score.rated_department_id == department_id(db, "sales")
    assert score.rater_department_id == department_id(db, "logistics")
    assert score.signal_id == signal.id
    assert events(db, signal.id)[-1] == ("rated", person_id(service, IVAN))
    assert event_details(db, signal.id, "rated") == {"value": 9}

    refused(db, InvalidTransition, lambda: service.rate(IVAN, signal.ref, 3))
    assert service.show(IVAN, signal.ref).rating == 9


@pytest.mark.parametrize("state", ["routed", "acknowledged"])
def test_rating_before_resolution_is_refused(
        service: VocService, db: Database, state: str) -> None:
    signal = report(service)
    if state == "acknowledged":
        service.acknowledge(OLGA, signal.ref)

    refused(db, InvalidTransition, lambda: service.rate(IVAN, signal.ref, 8))


def test_only_the_reporter_may_rate(service: VocService, db: Database) -> None:
    signal = report(service)
    service.resolve(OLGA, signal.ref, "Done")

    for rater in (OLGA, SAM_ADMIN, ANNA_SUPPORT, "telegram:555"):
        refused(db, Forbidden, lambda rater=rater: service.rate(rater, signal.ref, 10))


# -- reopen ----------------------------------------------------------------------------------
def test_reporter_reopens_and_the_department_is_told(
        service: VocService, db: Database, clock: FakeClock, company: Company) -> None:
    signal = report(service)
    service.acknowledge(OLGA, signal.ref)
    service.resolve(OLGA, signal.ref, "Done")
    first_due = signal.ack_due_at
    clock.advance(days=2)
    mark = last_outbox_id(db)

    reopened = service.reopen(IVAN, signal.ref, "The sofa is still scratched")

    assert reopened.status == Status.ROUTED
    assert reopened.department.slug == "logistics"
    assert reopened.acknowledged_at is None and reopened.resolved_at is None
    assert reopened.ack_due_at == company.business_hours.add(clock(), 24)
    assert reopened.ack_due_at > first_due
    assert events(db, signal.id)[-1] == ("reopened", person_id(service, IVAN))
    assert event_details(db, signal.id, "reopened") == {"reason": "The sofa is still scratched"}
    rows = outbox_rows(db, after=mark)
    assert {r.destination for r in rows if r.operation == "update"} == LOGISTICS_CARDS
    notices = [r for r in rows if r.operation == "send"]
    assert {r.destination for r in notices} == LOGISTICS_CARDS  # no note to the reporter
    back = company_says(service, "%(ref)s is back: the reporter says it is not resolved.")
    assert all(title(r) == back % {"ref": "VOC-1"} for r in notices)
    assert all("The sofa is still scratched" in card_json(r) for r in notices)
    # The loop starts again: the head can acknowledge it.
    assert service.acknowledge(OLGA, signal.ref).status == Status.ACKNOWLEDGED


def test_reopening_needs_a_reason(service: VocService, db: Database) -> None:
    signal = report(service)
    service.resolve(OLGA, signal.ref, "Done")

    for reason in ("", "  "):
        error = refused(db, InvalidInput,
                        lambda reason=reason: service.reopen(IVAN, signal.ref, reason))
        assert "reason" in str(error)


def test_only_the_reporter_may_reopen(service: VocService, db: Database) -> None:
    signal = report(service)
    service.resolve(OLGA, signal.ref, "Done")

    for actor in (OLGA, SAM_ADMIN, ANNA_SUPPORT):
        refused(db, Forbidden, lambda actor=actor: service.reopen(actor, signal.ref, "no"))


@pytest.mark.parametrize("state", ["routed", "acknowledged"])
def test_only_a_resolved_signal_can_be_reopened(
        service: VocService, db: Database, state: str) -> None:
    signal = report(service)
    if state == "acknowledged":
        service.acknowledge(OLGA, signal.ref)

    refused(db, InvalidTransition, lambda: service.reopen(IVAN, signal.ref, "not fixed"))


# -- reassign --------------------------------------------------------------------------------
def test_head_reassigns_with_a_reason(
        service: VocService, db: Database, clock: FakeClock, company: Company) -> None:
    signal = report(service)
    service.acknowledge(OLGA, signal.ref)
    clock.advance(hours=1)
    mark = last_outbox_id(db)
    old_cards = {r.destination: r.card_key for r in outbox_rows(db) if r.operation == "send"
                 and r.card_key}

    moved = service.reassign(OLGA, signal.ref, "sales", "The salesman promised the date")

    assert moved.status == Status.ROUTED
    assert moved.department.slug == "sales"
    assert moved.acknowledged_at is None
    assert moved.ack_due_at == company.business_hours.add(clock(), 16)
    assert events(db, signal.id)[-1] == ("reassigned", person_id(service, OLGA))
    details = event_details(db, signal.id, "reassigned")
    assert (details["from"], details["to"], details["reason"]) == (
        "logistics", "sales", "The salesman promised the date")
    rows = outbox_rows(db, after=mark)
    updates = [r for r in rows if r.operation == "update"]
    assert {(r.destination, r.card_key) for r in updates} == set(old_cards.items())
    # The card left behind now names the new department and offers nothing to press.
    assert all("Sales" in title(r) and "Logistics" not in title(r) for r in updates)
    assert all(button_actions(r) == [] for r in updates)
    new_cards = [r for r in rows if r.operation == "send" and r.card_key]
    assert [r.destination for r in new_cards] == ["slack:C0SALES"]
    assert button_actions(new_cards[0]) == ["ack", "resolve", "reassign", "ask", "merge"]
    [note] = [r for r in rows if r.operation == "send" and not r.card_key]
    assert note.destination == IVAN and "Sales" in title(note)
    # The right to act moved with it.
    refused(db, Forbidden, lambda: service.acknowledge(OLGA, signal.ref))
    assert service.acknowledge(JOHN_SALES_HEAD, signal.ref).status == Status.ACKNOWLEDGED


def test_reassigning_needs_a_reason(service: VocService, db: Database) -> None:
    signal = report(service)

    for reason in ("", " \n "):
        refused(db, InvalidInput,
                lambda reason=reason: service.reassign(OLGA, signal.ref, "sales", reason))


def test_reassigning_to_an_unknown_department_lists_the_known_ones(
        service: VocService, db: Database) -> None:
    signal = report(service)

    error = refused(db, NotFound,
                    lambda: service.reassign(OLGA, signal.ref, "warehouse", "theirs"))
    assert "warehouse" in str(error) and "logistics, marketing" in str(error)


def test_reassigning_to_the_same_department_is_refused(
        service: VocService, db: Database) -> None:
    signal = report(service)

    error = refused(db, InvalidInput,
                    lambda: service.reassign(OLGA, signal.ref, "logistics", "ours"))
    assert "Logistics" in str(error)


def test_only_heads_and_admins_may_reassign(service: VocService, db: Database) -> None:
    signal = report(service)

    for actor in (IVAN, JOHN_SALES_HEAD, ELENA_CEO):
        refused(db, Forbidden,
                lambda actor=actor: service.reassign(actor, signal.ref, "sales", "theirs"))


def test_admin_may_reassign(service: VocService, db: Database) -> None:
    signal = report(service)

    moved = service.reassign(SAM_ADMIN, signal.ref, "it", "It is the tracking page")

    assert moved.department.slug == "it"
    assert events(db, signal.id)[-1] == ("reassigned", person_id(service, SAM_ADMIN))


# -- change department -----------------------------------------------------------------------
def test_reporter_changes_department_before_acknowledgement(
        service: VocService, db: Database) -> None:
    signal = report(service)
    mark = last_outbox_id(db)

    moved = service.change_department(IVAN, signal.ref, "Product ")

    assert moved.department.slug == "product"
    assert moved.status == Status.ROUTED
    assert moved.routed_by_keywords == () and not moved.routed_by_fallback
    assert events(db, signal.id)[-1] == ("rerouted", person_id(service, IVAN))
    rows = outbox_rows(db, after=mark)
    assert {r.destination for r in rows if r.operation == "update"} == LOGISTICS_CARDS
    assert [r.destination for r in rows if r.operation == "send"] == ["slack:C0PRODUCT"]
    assert all(r.destination != IVAN for r in rows)  # nobody tells Ivan what Ivan did


def test_changing_department_after_acknowledgement_is_refused(
        service: VocService, db: Database) -> None:
    signal = report(service)
    service.acknowledge(OLGA, signal.ref)

    refused(db, InvalidTransition, lambda: service.change_department(IVAN, signal.ref, "sales"))


def test_changing_department_of_a_resolved_signal_is_refused(
        service: VocService, db: Database) -> None:
    signal = report(service)
    service.resolve(OLGA, signal.ref, "Done")

    refused(db, InvalidTransition, lambda: service.change_department(IVAN, signal.ref, "sales"))


def test_only_the_reporter_may_change_department(service: VocService, db: Database) -> None:
    signal = report(service)

    for actor in (OLGA, SAM_ADMIN):
        refused(db, Forbidden,
                lambda actor=actor: service.change_department(actor, signal.ref, "sales"))


def test_changing_to_an_unknown_or_the_same_department_is_refused(
        service: VocService, db: Database) -> None:
    signal = report(service)

    error = refused(db, NotFound, lambda: service.change_department(IVAN, signal.ref, "nope"))
    assert "Known:" in str(error) and "sales" in str(error)
    refused(db, InvalidInput, lambda: service.change_department(IVAN, signal.ref, "logistics"))


# -- notes and atomicity ---------------------------------------------------------------------
def test_head_acting_on_their_own_report_gets_no_note(
        service: VocService, db: Database) -> None:
    signal = report(service, actor=OLGA)
    mark = last_outbox_id(db)

    service.acknowledge(OLGA_TELEGRAM, signal.ref)
    service.resolve(OLGA, signal.ref, "Handled it myself")

    rows = outbox_rows(db, after=mark)
    assert {r.operation for r in rows} == {"update"}
    assert all(r.destination in LOGISTICS_CARDS for r in rows)


def test_refused_reassign_queues_nothing(service: VocService, db: Database) -> None:
    signal = report(service)
    service.acknowledge(OLGA, signal.ref)
    rows_before = [r.id for r in outbox_rows(db)]

    refused(db, NotFound, lambda: service.reassign(OLGA, signal.ref, "no-such", "why"))

    assert [r.id for r in outbox_rows(db)] == rows_before
    assert service.show(OLGA, signal.ref).status == Status.ACKNOWLEDGED


def test_database_failure_while_queuing_rolls_the_whole_change_back(
        service: VocService, db: Database) -> None:
    """The card updates are queued before the reporter's note; failing the note undoes all."""
    signal = report(service)
    before = snapshot(db)

    with failing_outbox_insert(db, IVAN), pytest.raises(Exception, match="simulated"):
        service.acknowledge(OLGA, signal.ref)

    assert snapshot(db) == before
    assert service.show(OLGA, signal.ref).status == Status.ROUTED
    # Once the database works again the same action goes through in full.
    service.acknowledge(OLGA, signal.ref)
    assert len(outbox_rows(db)) == 2 + 2 + 1


# -- anonymous reports -----------------------------------------------------------------------
def test_anonymous_report_hides_the_reporter_from_the_department(
        service: VocService, db: Database) -> None:
    signal = report(service, anonymous=True)

    cards = outbox_rows(db)
    assert len(cards) == 2
    for row in cards:
        assert "Ivan" not in card_json(row) and "Kuznetsov" not in card_json(row)
        assert "U0LOG1" not in card_json(row)
        assert company_says(service, "anonymous") in card_json(row)
    seen_by_head = service.show(OLGA, signal.ref)
    assert seen_by_head.reporter is None
    assert all(e.actor is None for e in seen_by_head.history)
    assert service.show(IVAN, signal.ref).reporter == "Ivan Kuznetsov"
    assert [s.reporter for s in service.mine(IVAN)] == ["Ivan Kuznetsov"]


def test_named_report_shows_the_reporter_on_the_card(service: VocService, db: Database) -> None:
    report(service)

    assert all("Ivan Kuznetsov" in card_json(row) for row in outbox_rows(db))


def test_anonymous_reporters_own_actions_read_as_the_reporter(
        service: VocService, db: Database) -> None:
    signal = report(service, anonymous=True)
    service.acknowledge(OLGA, signal.ref)
    service.resolve(OLGA, signal.ref, "Done")
    service.rate(IVAN, signal.ref, 2)
    service.reopen(IVAN, signal.ref, "Still scratched")

    for row in outbox_rows(db):
        if row.destination in LOGISTICS_CARDS:
            assert "Ivan" not in card_json(row), row.dedupe_key
    history = service.show(OLGA, signal.ref).history
    reopened = next(e for e in history if e.action == "reopened")
    assert reopened.actor is None
    t = service.translator("en")
    assert render.history_line(reopened, t).startswith("Reopened by the reporter")
    acked = next(e for e in history if e.action == "acknowledged")
    assert acked.actor == "Olga Petrova"  # only the reporter is hidden
    notices = [r for r in outbox_rows(db) if r.dedupe_key.startswith("reopened:")]
    the_reporter = company_says(service, "the reporter")
    assert notices and all(the_reporter in card_json(r) for r in notices)
    own_view = service.show(IVAN, signal.ref).history
    assert next(e for e in own_view if e.action == "reopened").actor == "Ivan Kuznetsov"


# -- dedupe ----------------------------------------------------------------------------------
def test_same_platform_event_twice_stores_one_signal(service: VocService, db: Database) -> None:
    first = service.capture(IVAN, Draft("complaint", LATE_COURIER, dedupe_key="Ev123"))
    rows_after_first = len(outbox_rows(db))

    again = service.capture(IVAN, Draft("complaint", LATE_COURIER, dedupe_key="Ev123"))

    assert not first.duplicate and again.duplicate
    assert again.signal.id == first.signal.id
    assert len(service.mine(IVAN)) == 1
    assert len(outbox_rows(db)) == rows_after_first == 2


def test_different_platform_events_store_different_signals(service: VocService) -> None:
    first = service.capture(IVAN, Draft("complaint", LATE_COURIER, dedupe_key="Ev1"))
    second = service.capture(IVAN, Draft("complaint", LATE_COURIER, dedupe_key="Ev2"))

    assert first.signal.id != second.signal.id
    assert not second.duplicate


def test_concurrent_redeliveries_store_one_signal(service: VocService, db: Database) -> None:
    results, errors = in_threads(8, lambda _: service.capture(
        IVAN, Draft("complaint", LATE_COURIER, dedupe_key="Ev-race")))

    assert errors == []
    ids = {r.signal.id for r in results}  # type: ignore[attr-defined]
    assert len(ids) == 1
    assert sum(not r.duplicate for r in results) == 1  # type: ignore[attr-defined]
    with db.read() as session:
        assert session.exec(select(func.count()).select_from(Signal)).one() == 1
    assert len(outbox_rows(db)) == 2


def test_first_reports_from_a_new_person_at_once_are_all_stored(
        service: VocService, db: Database) -> None:

    results, errors = in_threads(4, lambda i: service.capture(
        "slack:U0NEWBIE", Draft("complaint", f"{LATE_COURIER} #{i}", dedupe_key=f"Ev-new-{i}")))

    assert errors == []
    assert len(results) == 4
    assert len(service.mine("slack:U0NEWBIE")) == 4


# -- lists -----------------------------------------------------------------------------------
def test_queue_puts_overdue_first_then_waiting_then_acknowledged(
        service: VocService, clock: FakeClock) -> None:
    clock.now = MONDAY_10.astimezone(UTC)
    taken = report(service, "Courier late with the wardrobe")  # due Wed 16:00, acknowledged
    service.acknowledge(OLGA, taken.ref)
    oldest = report(service, "Courier late with the table")  # due Wed 16:00, will be overdue
    clock.advance(days=1)
    newer = report(service, "Courier late with the chairs")  # due Thu 16:00
    done = report(service, "Courier late with the lamp")
    service.resolve(OLGA, done.ref, "Done")
    clock.now = datetime(2026, 11, 25, 17, 0, tzinfo=MSK).astimezone(UTC)  # Wed 17:00

    queue = service.queue(OLGA)

    assert queue.department.slug == "logistics"
    assert [s.ref for s in queue.items] == [oldest.ref, newer.ref, taken.ref]
    assert [s.overdue for s in queue.items] == [True, False, False]
    assert queue.overdue == 1
    assert queue.other_departments == ()


def test_member_sees_their_departments_queue(service: VocService) -> None:
    signal = report(service, actor=ANNA_SUPPORT)  # Anna reports a logistics problem

    queue = service.queue(IVAN)

    assert queue.department.slug == "logistics"
    assert [s.ref for s in queue.items] == [signal.ref]
    assert service.queue(ANNA_SUPPORT).department.slug == "support"
    assert service.queue(ANNA_SUPPORT).items == ()


def test_someone_in_no_department_must_name_one(service: VocService) -> None:
    with pytest.raises(InvalidInput):
        service.queue("slack:U0NOBODY")
    service.identify("telegram:424242", display_name="Visitor")
    with pytest.raises(InvalidInput):
        service.queue("telegram:424242")


def test_outsiders_cannot_see_another_departments_queue(service: VocService) -> None:
    report(service)

    for actor in (ANNA_SUPPORT, JOHN_SALES_HEAD, "slack:U0NOBODY"):
        with pytest.raises(Forbidden, match="Logistics"):
            service.queue(actor, "logistics")


def test_admins_and_leadership_may_view_any_queue(service: VocService) -> None:
    signal = report(service)

    for actor in (SAM_ADMIN, ELENA_CEO, "telegram:1000"):
        queue = service.queue(actor, "logistics")
        assert [s.ref for s in queue.items] == [signal.ref]


def test_head_of_two_departments_is_told_about_the_other(service: VocService) -> None:
    queue = service.queue(CCO_HEAD)

    assert queue.department.slug == "cco"
    assert queue.other_departments == ("marketing",)
    assert service.queue(CCO_HEAD, "marketing").department.slug == "marketing"


def test_queue_of_unknown_department_is_not_found(service: VocService) -> None:
    with pytest.raises(NotFound, match="Known:"):
        service.queue(SAM_ADMIN, "warehouse")


def test_mine_lists_newest_first(service: VocService, clock: FakeClock) -> None:
    refs = []
    for text in ("Courier late", "Great sofa quality", "Website login error"):
        refs.append(report(service, text).ref)
        clock.advance(minutes=5)
    report(service, "Someone else's report", actor=ANNA_SUPPORT)

    assert [s.ref for s in service.mine(IVAN)] == list(reversed(refs))
    assert service.mine("slack:U0NOBODY") == []


def test_show_is_for_the_department_and_the_reporter(service: VocService) -> None:
    signal = report(service)
    service.reassign(OLGA, signal.ref, "sales", "Salesman promised the date")

    assert service.show(IVAN, signal.ref).department.slug == "sales"  # own report, anywhere
    assert service.show(JOHN_SALES_HEAD, signal.ref).reporter == "Ivan Kuznetsov"
    with pytest.raises(Forbidden):
        service.show(ANNA_SUPPORT, signal.ref)
    with pytest.raises(Forbidden):
        service.show(OLGA, signal.ref)  # it left her department


# -- the whole loop's audit trail ------------------------------------------------------------
def test_every_change_is_an_event_in_order(service: VocService, db: Database) -> None:
    signal = report(service)
    service.acknowledge(OLGA_TELEGRAM, signal.ref)
    service.resolve(OLGA, signal.ref, "Courier replaced")
    service.rate(IVAN, signal.ref, 6)
    service.reopen(IVAN, signal.ref, "Sofa still scratched")
    service.reassign(SAM_ADMIN, signal.ref, "product", "A factory defect")
    service.acknowledge("slack:U0PRODHEAD", signal.ref)

    ivan, olga, sam = (person_id(service, i) for i in (IVAN, OLGA, SAM_ADMIN))
    assert events(db, signal.id) == [
        ("captured", ivan), ("routed", None), ("acknowledged", olga), ("resolved", olga),
        ("rated", ivan), ("reopened", ivan), ("reassigned", sam),
        ("acknowledged", person_id(service, "slack:U0PRODHEAD")),
    ]
    lines = [render.history_line(e, service.translator("en"))
             for e in service.show(SAM_ADMIN, signal.ref).history]
    assert lines[0].startswith("Reported by Ivan Kuznetsov")
    assert any(line.startswith("Reassigned from Logistics to Product by Sam Admin")
               and line.endswith("A factory defect") for line in lines)


# -- SLA in business hours -------------------------------------------------------------------
@pytest.mark.parametrize(("captured", "due"), [
    # Monday 10:00 + 24 business hours (8 + 9 + 7) = Wednesday 16:00.
    (datetime(2026, 11, 23, 10, 0, tzinfo=MSK), datetime(2026, 11, 25, 16, 0, tzinfo=MSK)),
    # Friday 17:00: 1 h on Friday, the weekend does not count, 9 + 9 + 5 = Wednesday 14:00.
    (datetime(2026, 11, 27, 17, 0, tzinfo=MSK), datetime(2026, 12, 2, 14, 0, tzinfo=MSK)),
    # Saturday: nothing counts until Monday 09:00.
    (datetime(2026, 11, 28, 12, 0, tzinfo=MSK), datetime(2026, 12, 2, 15, 0, tzinfo=MSK)),
    # Wednesday 30 Dec 10:00: 31 Dec and 1 Jan are holidays: 8 + 9 (Mon 4 Jan) + 7 = Tue 16:00.
    (datetime(2026, 12, 30, 10, 0, tzinfo=MSK), datetime(2027, 1, 5, 16, 0, tzinfo=MSK)),
])
def test_acknowledge_deadline_counts_business_hours_only(
        service: VocService, clock: FakeClock, captured: datetime, due: datetime) -> None:
    clock.now = captured.astimezone(UTC)

    signal = report(service)

    assert signal.department.ack_sla_hours == 24
    assert signal.ack_due_at == due


def test_overdue_flips_when_the_clock_passes_the_deadline(
        service: VocService, clock: FakeClock) -> None:
    clock.now = MONDAY_10.astimezone(UTC)
    signal = report(service)
    due = datetime(2026, 11, 25, 16, 0, tzinfo=MSK)

    clock.now = due - timedelta(minutes=1)
    assert not service.show(OLGA, signal.ref).overdue
    assert service.queue(OLGA).overdue == 0
    clock.now = due + timedelta(minutes=1)
    assert service.show(OLGA, signal.ref).overdue
    assert service.queue(OLGA).overdue == 1
    # Acknowledging late clears the flag: it is about waiting for acknowledgement.
    assert not service.acknowledge(OLGA, signal.ref).overdue
    assert service.queue(OLGA).overdue == 0
