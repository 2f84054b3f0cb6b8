"""Chasing late cases: remind the heads once when the acknowledge SLA passes, escalate to
leadership once at twice the SLA (both in business hours). Both show on the card's history.

Each signal is handled in its own transaction under a row lock, and the step is recorded on the
signal (`reminded_at`, `escalated_at`, cleared by a new routing), so two sweeps running at once
(two replicas, or a sweep that overlaps the next) remind once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from bot.core.handling.audit import record_event
from bot.core.handling.outgoing import update_cards
from bot.core.people.directory import heads_of
from bot.core.presentation import render
from bot.core.presentation.visibility import signal_view
from bot.core.shared import platforms
from bot.core.shared.context import Core
from bot.core.shared.domain import Status
from bot.core.shared.rows import department_of, row_id
from storage import queries as q
from storage.models import Department, Signal
from storage.outbox import NewMessage, enqueue


@dataclass
class SweepReport:
    """How many heads' reminders and leadership escalations a sweep queued."""

    reminded: int = 0
    escalated: int = 0


def late_signals(core: Core, now: datetime, limit: int) -> list[int]:
    """Routed signals past their acknowledge SLA that still owe a reminder or an escalation."""
    with core.db.read() as session:
        return [signal_id for signal_id in session.exec(
            select(Signal.id).where(
                Signal.status == Status.ROUTED, col(Signal.ack_due_at) <= now,
                col(Signal.merged_into_id).is_(None),  # merged reports are chased as their case
                or_(col(Signal.reminded_at).is_(None), col(Signal.escalated_at).is_(None)))
            .order_by(col(Signal.ack_due_at)).limit(limit)) if signal_id is not None]


def chase(core: Core, signal_id: int, now: datetime) -> tuple[int, int]:
    """Remind and/or escalate one late signal: (reminded, escalated), each 0 or 1."""
    with core.db.write() as session:
        signal = q.lock_signal(session=session, signal_id=signal_id)
        if (signal is None or signal.status != Status.ROUTED or signal.ack_due_at > now
                or signal.merged_into_id is not None):
            return 0, 0
        department = department_of(session, signal.department_id)
        reminded = escalated = 0
        if signal.reminded_at is None:
            signal.reminded_at = now
            _remind(core, session, signal, department, now)
            reminded = 1
        if signal.escalated_at is None and escalation_due(core, signal, department) <= now:
            signal.escalated_at = now
            _escalate(core, session, signal, now)
            escalated = 1
        return reminded, escalated


def escalation_due(core: Core, signal: Signal, department: Department) -> datetime:
    """When an unacknowledged signal goes to leadership: twice its SLA after routing."""
    return core.company.business_hours.add(signal.routed_at, 2 * department.ack_sla_hours)


def leadership_destinations(core: Core) -> list[str]:
    """Where the company digest and escalations go."""
    return platforms.leadership_destinations(core.company)


def _remind(core: Core, session: Session, signal: Signal, department: Department,
            now: datetime) -> None:
    event = record_event(core, session, signal, None, "reminded", {})
    view = signal_view(core, session, signal, viewer=None)
    for head in heads_of(core, session, row_id(department)):
        message = render.sla_reminder(view, core.translator(head.locale))
        enqueue(session=session, now=now, messages=[NewMessage(
            f"remind:{event.id}:{head.person_id}", head.identity, "send",
            {"message": message.to_json()})])
    update_cards(core, session, signal, event, notify_reporter=False)


def _escalate(core: Core, session: Session, signal: Signal, now: datetime) -> None:
    event = record_event(core, session, signal, None, "escalated", {})
    view = signal_view(core, session, signal, viewer=None)
    message = render.escalation(view, core.translator())
    enqueue(session=session, now=now, messages=[
        NewMessage(f"escalate:{event.id}@{destination}", destination, "send",
                   {"message": message.to_json()})
        for destination in leadership_destinations(core)])
    update_cards(core, session, signal, event, notify_reporter=False)


