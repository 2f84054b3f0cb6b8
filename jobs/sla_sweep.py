"""The SLA sweep: remind the heads once when the acknowledge SLA passes, escalate to leadership
once at twice the SLA (both in business hours). Both steps show on the card's history.

Each signal is handled in its own transaction under a row lock, and the step is recorded on the
signal (`reminded_at`, `escalated_at`, cleared by a new routing), so two sweeps running at once
(two replicas, or a sweep that overlaps the next) remind once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, or_, select

from bot.core import render
from bot.core.service import VocService
from bot.core.views import Status
from jobs.digest import leadership_destinations
from storage import queries as q
from storage.models import Department, DepartmentHead, Identity, Person, Signal
from storage.outbox import NewMessage, enqueue

log = logging.getLogger(__name__)


@dataclass
class SweepReport:
    """How many heads' reminders and leadership escalations this sweep queued."""

    reminded: int = 0
    escalated: int = 0


def sweep(service: VocService, *, limit: int = 500) -> SweepReport:
    """Remind and escalate whatever is due now."""
    now = service.clock()
    with service.db.read() as session:
        candidates = list(session.exec(
            select(Signal.id).where(
                Signal.status == Status.ROUTED, col(Signal.ack_due_at) <= now,
                or_(col(Signal.reminded_at).is_(None), col(Signal.escalated_at).is_(None)))
            .order_by(col(Signal.ack_due_at)).limit(limit)))
    report = SweepReport()
    for signal_id in candidates:
        assert signal_id is not None
        reminded, escalated = _step(service, signal_id, now)
        report.reminded += reminded
        report.escalated += escalated
    if report.reminded or report.escalated:
        log.info("SLA sweep: %d reminded, %d escalated", report.reminded, report.escalated)
    return report


def escalation_due(service: VocService, signal: Signal, department: Department) -> datetime:
    """When an unacknowledged signal goes to leadership: twice its SLA after routing."""
    return service.company.business_hours.add(signal.routed_at, 2 * department.ack_sla_hours)


def _step(service: VocService, signal_id: int, now: datetime) -> tuple[int, int]:
    with service.db.write() as session:
        signal = q.lock_signal(session=session, signal_id=signal_id)
        if signal is None or signal.status != Status.ROUTED or signal.ack_due_at > now:
            return 0, 0
        department = service._department(session, signal.department_id)
        reminded = escalated = 0
        if signal.reminded_at is None:
            signal.reminded_at = now
            event = service._event(session, signal, None, "reminded", {})
            view = service._view(session, signal, viewer=None)
            for person_id, identity, locale in _heads(service, session, department):
                message = render.sla_reminder(view, service.translator(locale))
                enqueue(session=session, now=now, messages=[NewMessage(
                    f"remind:{event.id}:{person_id}", identity, "send",
                    {"message": message.to_json()})])
            service._after_change(session, signal, event, notify_reporter=False)
            reminded = 1
        if signal.escalated_at is None and escalation_due(service, signal, department) <= now:
            signal.escalated_at = now
            event = service._event(session, signal, None, "escalated", {})
            view = service._view(session, signal, viewer=None)
            message = render.escalation(view, service.translator())
            enqueue(session=session, now=now, messages=[
                NewMessage(f"escalate:{event.id}@{destination}", destination, "send",
                           {"message": message.to_json()})
                for destination in leadership_destinations(service)])
            service._after_change(session, signal, event, notify_reporter=False)
            escalated = 1
        return reminded, escalated


def _heads(service: VocService, session: Session,
           department: Department) -> list[tuple[int, str, str]]:
    """(person id, DM identity, locale) of each head: one DM per person."""
    rows = session.exec(
        select(Person, Identity.identity)
        .join(DepartmentHead, col(DepartmentHead.person_id) == col(Person.id))
        .join(Identity, col(Identity.person_id) == col(Person.id))
        .where(DepartmentHead.department_id == department.id)
        .order_by(col(Person.id), col(Identity.identity)))
    heads: dict[int, tuple[int, str, str]] = {}
    for person, identity in rows:
        assert person.id is not None
        heads.setdefault(person.id, (person.id, identity, service._locale(person)))
    return list(heads.values())
