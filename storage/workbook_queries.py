"""The Excel workbook's queries (jobs/excel.py writes the sheets): the rows of signals, events
and scores created in [start, end), streamed, and the totals it needs before writing them.

Pulse answers are never read one by one here: only their totals per round and rated
department (`pulse_totals`), which the workbook shows from the digest's floor of people up.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select
from sqlalchemy import Table as SATable
from sqlmodel import Session, col

from storage.digest_queries import person_t, score_t, signal_t
from storage.models import Attachment, Event

event_t: SATable = Event.__table__  # type: ignore[attr-defined]
PulseTotal = tuple[str | None, int | None, int, int, int, int]


def is_pulse() -> ColumnElement[bool]:
    """A score that is a pulse answer."""
    sc = score_t.c
    return or_(sc.source == "pulse", sc.pulse_round.is_not(None))


def first_recorded(*, session: Session) -> datetime | None:
    """When the first signal or score was recorded (None: nothing yet)."""
    first = session.execute(select(func.min(signal_t.c.created_at))).scalar()
    first_score = session.execute(select(func.min(score_t.c.at))).scalar()
    found = [d for d in (first, first_score) if d is not None]
    return min(found) if found else None


def pulse_totals(*, session: Session, start: datetime, end: datetime) -> list[PulseTotal]:
    """(round, rated department, promoters, passives, detractors, distinct people) of every
    pulse round answered in [start, end), over the whole round: totals that a narrower date
    range cannot split into the answers of fewer people."""
    sc = score_t.c
    in_range = and_(sc.at >= start, sc.at < end)
    rounds = select(sc.pulse_round).where(is_pulse(), in_range, sc.pulse_round.is_not(None))
    value = sc.value
    rows = session.execute(
        select(sc.pulse_round, sc.rated_department_id,
               func.sum(case((value >= 9, 1), else_=0)),
               func.sum(case((and_(value >= 7, value <= 8), 1), else_=0)),
               func.sum(case((value <= 6, 1), else_=0)),
               func.count(func.distinct(sc.person_id)))
        .where(is_pulse(), or_(sc.pulse_round.in_(rounds),
                               and_(sc.pulse_round.is_(None), in_range)))
        .group_by(sc.pulse_round, sc.rated_department_id))
    return [(r[0], None if r[1] is None else int(r[1]), int(r[2]), int(r[3]), int(r[4]),
             int(r[5])) for r in rows]


def _signals_in(start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    s = signal_t.c
    return (s.created_at >= start, s.created_at < end)


def _scores_in(start: datetime, end: datetime) -> tuple[ColumnElement[bool], ...]:
    sc = score_t.c
    return (sc.at >= start, sc.at < end, ~is_pulse())


def _events_joined() -> Any:
    s, p, e = signal_t.c, person_t.c, event_t.c
    return event_t.join(signal_t, s.id == e.signal_id).outerjoin(person_t, p.id == e.actor_id)


def signal_count(*, session: Session, start: datetime, end: datetime) -> int:
    """Signals created in [start, end)."""
    return int(session.execute(select(func.count()).where(*_signals_in(start, end))
                               ).scalar_one())


def event_count(*, session: Session, start: datetime, end: datetime) -> int:
    """Events of the signals created in [start, end)."""
    return int(session.execute(select(func.count()).select_from(_events_joined())
                               .where(*_signals_in(start, end))).scalar_one())


def score_count(*, session: Session, start: datetime, end: datetime) -> int:
    """Scores given in [start, end), pulse answers aside."""
    return int(session.execute(select(func.count()).where(*_scores_in(start, end))
                               ).scalar_one())


def kinds_by_department(*, session: Session, start: datetime, end: datetime
                        ) -> dict[int, dict[str, int]]:
    """department id -> kind -> signals created in [start, end)."""
    s = signal_t.c
    found: dict[int, dict[str, int]] = {}
    for department, kind, count in session.execute(
            select(s.department_id, s.kind, func.count()).where(*_signals_in(start, end))
            .group_by(s.department_id, s.kind)):
        found.setdefault(int(department), {})[str(kind)] = int(count)
    return found


def signal_rows(start: datetime, end: datetime) -> Select[Any]:
    """The Signals sheet's rows: id, created, kind, status, department id, text, customer,
    score, anonymous, reporter's name, due, acknowledged, resolved, files, resolution code."""
    s, p = signal_t.c, person_t.c
    files = (select(func.count()).select_from(Attachment)
             .where(col(Attachment.signal_id) == s.id).scalar_subquery())
    return (select(s.id, s.created_at, s.kind, s.status, s.department_id, s.text, s.customer,
                   s.score, s.anonymous, p.display_name, s.ack_due_at, s.acknowledged_at,
                   s.resolved_at, files, s.resolution_code)
            .join(person_t, p.id == s.reporter_id).where(*_signals_in(start, end))
            .order_by(s.id))


def event_rows(start: datetime, end: datetime) -> Select[Any]:
    """The Events sheet's rows: signal id, at, action, actor's name, actor id, reporter id,
    anonymous, details."""
    s, p, e = signal_t.c, person_t.c, event_t.c
    return (select(e.signal_id, e.at, e.action, p.display_name, e.actor_id, s.reporter_id,
                   s.anonymous, e.details)
            .select_from(_events_joined()).where(*_signals_in(start, end))
            .order_by(e.signal_id, e.at, e.id))


def score_rows(start: datetime, end: datetime) -> Select[Any]:
    """The Scores sheet's one-by-one rows (customer scores and handling ratings, never pulse
    answers): at, kind, source, value, customer, segment, comment, rater department, rated
    department, pulse round, signal id, the signal's anonymity."""
    sc, s = score_t.c, signal_t.c
    return (select(sc.at, sc.kind, sc.source, sc.value, sc.customer, sc.segment, sc.comment,
                   sc.rater_department_id, sc.rated_department_id, sc.pulse_round,
                   sc.signal_id, s.anonymous)
            .select_from(score_t.outerjoin(signal_t, s.id == sc.signal_id))
            .where(*_scores_in(start, end)).order_by(sc.at, sc.id))
