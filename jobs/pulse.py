"""Internal NPS pulses: on the company's cadence each person of a department with suppliers is
asked, in a private message and per supplier, how likely they are to recommend its work; those
who have not answered are reminded once before the round closes.

Opening a round and reminding are claimed (`job_claim`: pulse / pulse-reminder, "<round>") in the
transaction that queues the messages, so replicas and restarts send each once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.core.reporting.periods import pulse_round, reminder_lead, round_bounds
from bot.core.reporting.pulses import asks, question, unanswered
from bot.core.service import VocService
from storage import claims
from storage.outbox import enqueue

log = logging.getLogger(__name__)
PULSE_TIME = (10, 0)  # rounds open and remind at 10:00 company time (checked daily)


@dataclass
class PulseReport:
    """What one tick did."""

    round: str | None = None
    asked: int = 0
    reminded: int = 0


def pulse_tick(service: VocService, *, owner: str = "voc",
               first_start: datetime | None = None) -> PulseReport:
    """Open the current round if nobody has; remind non-responders when it nears its end.
    A round that opened before the bot's `first_start` on this database is never asked (nor
    reminded): the first round people hear of is one that opens while the bot runs."""
    company = service.company
    report = PulseReport()
    if company.pulse == "off":
        return report
    now = service.clock()
    round_id = pulse_round(now, company.pulse, company.timezone)
    report.round = round_id
    if first_start is not None and pulse_opening(round_id, company.timezone) < first_start:
        return report
    _, end = round_bounds(round_id, company.timezone)
    questions = asks(service)
    with service.db.write() as session:
        if questions and claims.claim(session=session, job="pulse", period=round_id,
                                      owner=owner, now=now):
            enqueue(session=session, now=now, messages=[
                question(service, a, round_id, reminder=False) for a in questions])
            report.asked = len(questions)
    if now < end - reminder_lead(company.pulse):
        return report
    with service.db.write() as session:
        opened = claims.claimed_at(session=session, job="pulse", period=round_id)
        if opened is None or now - opened < timedelta(days=1):
            return report  # opened just now: a reminder on top of the question would nag
        missing = unanswered(session, round_id, questions)
        if missing and claims.claim(session=session, job="pulse-reminder", period=round_id,
                                    owner=owner, now=now):
            enqueue(session=session, now=now, messages=[
                question(service, a, round_id, reminder=True) for a in missing])
            report.reminded = len(missing)
    if report.asked or report.reminded:
        log.info("pulse %s: %d asked, %d reminded", round_id, report.asked, report.reminded)
    return report


def pulse_opening(round_id: str, timezone: str) -> datetime:
    """When a round is asked: its first day at PULSE_TIME, company time."""
    start, _ = round_bounds(round_id, timezone)
    tz = ZoneInfo(timezone)
    return datetime.combine(start.astimezone(tz).date(), time(*PULSE_TIME),
                            tzinfo=tz).astimezone(UTC)
