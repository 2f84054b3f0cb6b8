"""The bot's first start on a database, and what it says at every start about what comes next.

The first start is recorded once, durably, as a claim (`job_claim`: first-start, "database"):
every replica and every later start reads the same instant. Nothing is sent for periods before
it: not the digest of a week that ended before it, not the pulse round that opened before it,
no reminder of a case that was due before it (a database filled by `voc demo` or an import
holds such cases). A database a bot already ran on (it holds claims of earlier runs) counts
from its earliest claim, so an upgrade changes nothing about what is caught up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.core.reporting.periods import Week, pulse_round, round_bounds
from bot.core.reporting.pulses import asks
from bot.core.service import VocService
from jobs.pulse import pulse_opening
from storage import claims
from storage.models import JobClaim

log = logging.getLogger(__name__)
FIRST_START = ("first-start", "database")  # the claim that records it


@dataclass(frozen=True)
class FirstStart:
    """When the bot first started on this database; `now`: this start is that one."""

    at: datetime
    now: bool

    def reports(self, week: Week, timezone: str) -> bool:
        """Whether the digest of `week` may go out: the bot ran during some of it."""
        return week.bounds(timezone)[1] > self.at



def record_first_start(service: VocService, *, owner: str) -> FirstStart:
    """The first start of a bot on this database: recorded now if no bot started before."""
    now = service.clock()
    job, period = FIRST_START
    with service.db.write() as session:
        if (recorded := claims.claimed_at(session=session, job=job, period=period)) is not None:
            return FirstStart(recorded, now=False)
        earliest = session.exec(select(JobClaim.claimed_at).order_by(
            col(JobClaim.claimed_at)).limit(1)).first()
        at = min(earliest, now) if earliest is not None else now
        won = claims.claim(session=session, job=job, period=period, owner=owner, now=at)
        recorded = claims.claimed_at(session=session, job=job, period=period) or at
    return FirstStart(recorded, now=won and earliest is None)


def next_pulse_round(service: VocService, first: FirstStart) -> tuple[str, datetime]:
    """The next round that will be asked, and when: the current one if it has yet to open,
    else the one after (a round open now was asked already, or opened before the first
    start and is never asked)."""
    company, now = service.company, service.clock()
    round_id = pulse_round(now, company.pulse, company.timezone)
    opens = pulse_opening(round_id, company.timezone)
    if opens < max(now, first.at):
        _, end = round_bounds(round_id, company.timezone)
        round_id = pulse_round(end + timedelta(hours=1), company.pulse, company.timezone)
        opens = pulse_opening(round_id, company.timezone)
    return round_id, opens


def announce(service: VocService, first: FirstStart, *, digest_at: datetime,
             digest_week: Week, audiences: set[str], sweep_minutes: float) -> list[str]:
    """The start-up lines: what is scheduled next and for how many people (also logged)."""
    company = service.company
    tz = ZoneInfo(company.timezone)

    def when(moment: datetime) -> str:
        return f"{moment.astimezone(tz):%a %Y-%m-%d %H:%M} {company.timezone}"

    lines = []
    if first.now:
        lines.append(f"first start on this database ({when(first.at)}): nothing is sent for "
                     "earlier periods (no digest of a past week, no pulse round already open, "
                     "no reminder of a case due before now)")
    heads = sum(1 for audience in audiences if audience.startswith("head:"))
    leadership = "leadership and " if "leadership" in audiences else ""
    lines.append(f"next weekly digest: {when(digest_at)} (week {digest_week}), to "
                 f"{leadership}{heads} department head(s)")
    if company.pulse != "off":
        round_id, opens = next_pulse_round(service, first)
        questions = asks(service)
        people = len({ask.person_id for ask in questions})
        lines.append(f"next internal NPS pulse: round {round_id} opens {when(opens)}, asking "
                     f"{people} people ({len(questions)} questions)")
    lines.append(f"SLA reminders: checked every {sweep_minutes:g} min, to the heads of the "
                 "department whose case is late")
    for line in lines:
        log.info("%s", line)
    return lines
