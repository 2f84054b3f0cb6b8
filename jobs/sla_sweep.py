"""The SLA sweep job: remind and escalate whatever is late now (rules:
bot/core/handling/reminders.py)."""

from __future__ import annotations

import logging

from bot.core.handling.reminders import SweepReport, chase, escalation_due, late_signals
from bot.core.service import VocService

log = logging.getLogger(__name__)
__all__ = ["SweepReport", "escalation_due", "sweep"]


def sweep(service: VocService, *, limit: int = 500) -> SweepReport:
    """Remind and escalate whatever is due now."""
    now = service.clock()
    report = SweepReport()
    for signal_id in late_signals(service, now, limit):
        reminded, escalated = chase(service, signal_id, now)
        report.reminded += reminded
        report.escalated += escalated
    if report.reminded or report.escalated:
        log.info("SLA sweep: %d reminded, %d escalated", report.reminded, report.escalated)
    return report
