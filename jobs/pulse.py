"""Internal NPS pulses: on the company's cadence each person of a department with suppliers is
asked, in a private message and per supplier, how likely they are to recommend its work; those
who have not answered are reminded once before the round closes.

Opening a round and reminding are claimed (`job_claim`: pulse / pulse-reminder, "<round>") in the
transaction that queues the messages, so replicas and restarts send each once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, select

from bot.core import render
from bot.core.cadence import pulse_round, reminder_lead, round_bounds
from bot.core.service import VocService
from storage import claims
from storage import queries as q
from storage.models import Score
from storage.outbox import NewMessage, enqueue

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ask:
    """One question of a round: a person about one supplier of their department."""

    person_id: int
    destination: str
    locale: str
    supplier: str
    supplier_name: str

    def key(self, round_id: str) -> str:
        """The answer's dedupe key (as `VocService.answer_pulse` stores it)."""
        return f"pulse:{round_id}:{self.supplier}:{self.person_id}"


@dataclass
class PulseReport:
    """What one tick did."""

    round: str | None = None
    asked: int = 0
    reminded: int = 0


def asks(service: VocService) -> list[Ask]:
    """Every question of a round: each person (heads and members) of each department that has
    suppliers, once per supplier, to the first identity the file lists for them."""
    company = service.company
    result = []
    with service.db.read() as session:
        for spec in company.departments:
            if not spec.suppliers:
                continue
            seen: set[int] = set()
            for identity in (*spec.heads, *spec.members):
                person = q.person_by_identity(session=session, identity=identity)
                if person is None or person.id is None or person.id in seen:
                    continue
                seen.add(person.id)
                for slug in spec.suppliers:
                    supplier = company.department(slug)
                    result.append(Ask(person.id, identity, service.locale_of(person), slug,
                                      supplier.name if supplier else slug))
    return result


def pulse_tick(service: VocService, *, owner: str = "voc") -> PulseReport:
    """Open the current round if nobody has; remind non-responders when it nears its end."""
    company = service.company
    report = PulseReport()
    if company.pulse == "off":
        return report
    now = service.clock()
    round_id = pulse_round(now, company.pulse, company.timezone)
    report.round = round_id
    _, end = round_bounds(round_id, company.timezone)
    questions = asks(service)
    with service.db.write() as session:
        if questions and claims.claim(session=session, job="pulse", period=round_id,
                                      owner=owner, now=now):
            enqueue(session=session, now=now, messages=[_message(service, a, round_id, False)
                                                        for a in questions])
            report.asked = len(questions)
    if now < end - reminder_lead(company.pulse):
        return report
    with service.db.write() as session:
        opened = claims.claimed_at(session=session, job="pulse", period=round_id)
        if opened is None or now - opened < timedelta(days=1):
            return report  # opened just now: a reminder on top of the question would nag
        answered = set(session.exec(select(Score.dedupe_key).where(
            Score.pulse_round == round_id, col(Score.source) == "pulse")))
        missing = [a for a in questions if a.key(round_id) not in answered]
        if missing and claims.claim(session=session, job="pulse-reminder", period=round_id,
                                    owner=owner, now=now):
            enqueue(session=session, now=now, messages=[_message(service, a, round_id, True)
                                                        for a in missing])
            report.reminded = len(missing)
    if report.asked or report.reminded:
        log.info("pulse %s: %d asked, %d reminded", round_id, report.asked, report.reminded)
    return report


def _message(service: VocService, ask: Ask, round_id: str, reminder: bool) -> NewMessage:
    t = service.translator(ask.locale)
    ref = f"{round_id}:{ask.supplier}"
    message = render.pulse_question(ref, ask.supplier_name, round_id, t, reminder=reminder)
    kind = "pulse-reminder" if reminder else "pulse"
    return NewMessage(f"{kind}:{round_id}:{ask.supplier}:{ask.person_id}", ask.destination,
                      "send", {"message": message.to_json()})
