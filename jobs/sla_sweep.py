"""The SLA sweep job: remind and escalate whatever is late now (rules:
bot/core/handling/reminders.py).

A case that was already late before the bot's first start on this database (a database filled
by `voc demo` or an import) is not chased: nobody was there to be reminded then."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import col, select

from bot.core.handling.reminders import SweepReport, chase, escalation_due, late_signals
from bot.core.service import VocService
from storage.models import Signal

log = logging.getLogger(__name__)
__all__ = ["SweepReport", "escalation_due", "sweep"]


def sweep(service: VocService, *, limit: int = 500,
          first_start: datetime | None = None) -> SweepReport:
    """Remind and escalate whatever is due now (and was not due before `first_start`)."""
    now = service.clock()
    report = SweepReport()
    late = (late_signals(service, now, limit) if first_start is None
            else _due_since(service, now, limit, first_start))
    for signal_id in late:
        reminded, escalated = chase(service, signal_id, now)
        report.reminded += reminded
        report.escalated += escalated
    if report.reminded or report.escalated:
        log.info("SLA sweep: %d reminded, %d escalated", report.reminded, report.escalated)
    if turned := service.tell_owners_at_risk():  # overdue cases turn customers at risk
        log.info("SLA sweep: %d customer(s) turned at risk", turned)
    return report


def _due_since(service: VocService, now: datetime, limit: int, first_start: datetime
               ) -> list[int]:
    """Up to `limit` late signals that were due at or after `first_start`. Late signals come
    oldest first, and the oldest may all predate it: look further until enough are found."""
    fetch = limit
    while True:
        late = late_signals(service, now, fetch)
        due_since: list[int] = []
        with service.db.read() as session:
            for start in range(0, len(late), limit):  # bounded IN lists
                chunk = late[start:start + limit]
                kept = set(session.exec(select(Signal.id).where(
                    col(Signal.id).in_(chunk), col(Signal.ack_due_at) >= first_start)))
                due_since += [signal_id for signal_id in chunk if signal_id in kept]
        if len(due_since) >= limit or len(late) < fetch:
            return due_since[:limit]
        fetch *= 4
