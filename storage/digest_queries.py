"""The digest's figures, aggregated in SQL (indexes in migration 0003), never by loading rows.

Weeks are passed in as UTC boundaries computed in company time, so grouping by week is a
`CASE` over those instants: the same SQL on SQLite and PostgreSQL, daylight saving included.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, literal, select
from sqlalchemy import Table as SATable
from sqlmodel import Session

from bot.core.shared.business_hours import BusinessHours
from bot.core.shared.domain import OPEN_STATUSES, ScoreKind, Status
from storage.models import Department, Person, Score, Signal

signal_t: SATable = Signal.__table__  # type: ignore[attr-defined]
score_t: SATable = Score.__table__  # type: ignore[attr-defined]
department_t: SATable = Department.__table__  # type: ignore[attr-defined]
person_t: SATable = Person.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Counts:
    """Promoters, passives and detractors (and distinct respondents, for internal NPS)."""

    promoters: int = 0
    passives: int = 0
    detractors: int = 0
    respondents: int = 0


@dataclass(frozen=True)
class LoopRow:
    """One department's loop health for a week."""

    department_id: int
    routed: int = 0  # signals created in the week that belong to the department now
    due: int = 0  # of those, acknowledged or past their acknowledge deadline
    within_sla: int = 0  # acknowledged by the deadline
    median_ack_hours: float | None = None
    resolved: int = 0  # resolved during the week (any signal of the department)
    open: int = 0  # open now (routed or acknowledged)
    open_overdue: int = 0  # waiting for acknowledgement past the deadline


@dataclass(frozen=True)
class VerbatimRow:
    """One signal quoted in the digest."""

    id: int
    kind: str
    text: str
    department_id: int
    reporter: str | None  # None when anonymous
    customer: str | None
    score: int | None
    created_at: datetime
    reporters: int = 1  # the reporter and those of the reports merged into it


def _bucket(column: Any, bounds: Sequence[datetime]) -> ColumnElement[int]:
    """Index of the week [bounds[i], bounds[i+1]) the column falls in (callers filter range)."""
    whens = [(column < bound, literal(i)) for i, bound in enumerate(bounds[1:-1])]
    return case(*whens, else_=literal(len(bounds) - 2)) if whens else literal(0)


def _nps_sums(value: Any) -> list[ColumnElement[Any]]:
    return [func.sum(case((value >= 9, 1), else_=0)),
            func.sum(case((and_(value >= 7, value <= 8), 1), else_=0)),
            func.sum(case((value <= 6, 1), else_=0))]


def signals_by_week_and_kind(*, session: Session, bounds: Sequence[datetime]
                             ) -> list[dict[str, int]]:
    """Signals created per week and kind: one dict per week of `bounds`."""
    created = signal_t.c.created_at
    inner = select(_bucket(created, bounds).label("week"), signal_t.c.kind).where(
        created >= bounds[0], created < bounds[-1]).subquery()
    rows = session.execute(select(inner.c.week, inner.c.kind, func.count())
                           .group_by(inner.c.week, inner.c.kind))
    weeks: list[dict[str, int]] = [{} for _ in bounds[1:]]
    for week, kind, count in rows:
        weeks[int(week)][str(kind)] = int(count)
    return weeks


def customer_nps_by_week(*, session: Session, bounds: Sequence[datetime]) -> list[Counts]:
    """Customer NPS answers per week, as promoter/passive/detractor counts."""
    at = score_t.c.at
    inner = select(_bucket(at, bounds).label("week"), score_t.c.value).where(
        score_t.c.kind == ScoreKind.CUSTOMER, at >= bounds[0], at < bounds[-1]).subquery()
    rows = session.execute(select(inner.c.week, *_nps_sums(inner.c.value))
                           .group_by(inner.c.week))
    weeks = [Counts() for _ in bounds[1:]]
    for week, promoters, passives, detractors in rows:
        weeks[int(week)] = Counts(int(promoters), int(passives), int(detractors))
    return weeks


def loop_health(*, session: Session, start: datetime, end: datetime, as_of: datetime,
                business_hours: BusinessHours, department_id: int | None = None
                ) -> dict[int, LoopRow]:
    """Per department: routed, due, acknowledged within SLA, median business hours to
    acknowledge (signals created in [start, end)); resolved in [start, end); open and overdue
    at `as_of`. The median counts the hours the SLA counts, so the two figures compare."""
    s = signal_t.c
    one = [] if department_id is None else [s.department_id == department_id]
    in_week = and_(s.created_at >= start, s.created_at < end, *one)
    acked = s.acknowledged_at.is_not(None)
    rows: dict[int, dict[str, Any]] = {}

    def put(department: int, **values: Any) -> None:
        rows.setdefault(int(department), {}).update(values)

    for dept, routed, due, within in session.execute(
            select(s.department_id, func.count(),
                   func.sum(case((acked | (s.ack_due_at < as_of), 1), else_=0)),
                   func.sum(case((and_(acked, s.acknowledged_at <= s.ack_due_at), 1), else_=0)))
            .where(in_week).group_by(s.department_id)):
        put(dept, routed=int(routed), due=int(due or 0), within_sla=int(within or 0))

    spans: dict[int, list[float]] = {}
    for dept, routed_at, acknowledged_at in session.execute(
            select(s.department_id, s.routed_at, s.acknowledged_at).where(in_week, acked)):
        elapsed = business_hours.elapsed(routed_at, acknowledged_at)
        spans.setdefault(int(dept), []).append(elapsed.total_seconds() / 3600)
    for dept, hours in spans.items():
        put(dept, median_ack_hours=statistics.median(hours))

    for dept, resolved in session.execute(
            select(s.department_id, func.count())
            .where(s.resolved_at >= start, s.resolved_at < end, *one).group_by(s.department_id)):
        put(dept, resolved=int(resolved))

    for dept, open_, overdue in session.execute(
            select(s.department_id, func.count(),
                   func.sum(case((and_(s.status == Status.ROUTED, s.ack_due_at < as_of), 1),
                                 else_=0)))
            .where(s.status.in_(OPEN_STATUSES), s.merged_into_id.is_(None), *one)
            .group_by(s.department_id)):
        put(dept, open=int(open_), open_overdue=int(overdue or 0))
    return {dept: LoopRow(department_id=dept, **values) for dept, values in rows.items()}


def internal_nps(*, session: Session, start: datetime, end: datetime) -> dict[int, Counts]:
    """Internal NPS answers (pulses and handling ratings) per rated department in [start, end),
    with the number of distinct people who answered."""
    sc = score_t.c
    rows = session.execute(
        select(sc.rated_department_id, *_nps_sums(sc.value),
               func.count(func.distinct(sc.person_id)))
        .where(sc.kind == ScoreKind.INTERNAL, sc.at >= start, sc.at < end,
               sc.rated_department_id.is_not(None))
        .group_by(sc.rated_department_id))
    return {int(dept): Counts(int(p), int(pa), int(d), int(people))
            for dept, p, pa, d, people in rows}


def verbatims(*, session: Session, start: datetime, end: datetime, kind: str, limit: int = 3,
              department_id: int | None = None) -> list[VerbatimRow]:
    """The week's most telling signals of a kind: the most reported first ("me too": a case
    weighs as many as its reporters), then praise with the highest customer scores, complaints
    with the lowest, then the newest. Reports merged into a case are counted in it; none whose
    text retention removed; a text reported again in other reports (the same words) is shown
    once: leadership reads distinct stories."""
    s = signal_t.c
    joined = signal_t.alias("joined")
    reporters = (select(func.count()).select_from(joined)
                 .where(joined.c.merged_into_id == s.id).scalar_subquery() + 1)
    has_score = case((s.score.is_(None), 1), else_=0)
    by_score = s.score.desc() if kind == "praise" else s.score.asc()
    one = [] if department_id is None else [s.department_id == department_id]
    rows = session.execute(
        select(s.id, s.kind, s.text, s.department_id, s.anonymous, person_t.c.display_name,
               s.customer, s.score, s.created_at, reporters.label("reporters"))
        .join(person_t, person_t.c.id == s.reporter_id)
        .where(s.created_at >= start, s.created_at < end, s.kind == kind,
               s.merged_into_id.is_(None), s.erased_at.is_(None), *one)
        .order_by(reporters.desc(), has_score, by_score, s.created_at.desc(), s.id.desc())
        .limit(limit * 8))
    seen: set[str] = set()
    distinct: list[VerbatimRow] = []
    for r in rows:
        words = " ".join(str(r.text).casefold().split())
        if words in seen:
            continue
        seen.add(words)
        distinct.append(VerbatimRow(int(r.id), str(r.kind), str(r.text), int(r.department_id),
                                    None if r.anonymous else str(r.display_name), r.customer,
                                    r.score, r.created_at, int(r.reporters)))
        if len(distinct) == limit:
            break
    return distinct


def department_names(*, session: Session) -> dict[int, tuple[str, str, float]]:
    """id -> (slug, name, acknowledge SLA hours) for every department, archived ones too."""
    d = department_t.c
    return {int(i): (str(slug), str(name), float(sla)) for i, slug, name, sla in session.execute(
        select(d.id, d.slug, d.name, d.ack_sla_hours))}


def complaints(*, session: Session, start: datetime, end: datetime
               ) -> list[tuple[int, str, int, datetime]]:
    """(id, text, department id, created at) of the complaints between `start` and `end`, for
    the digest's rising themes. Every report counts; one merged into a case ("me too") is
    named by that case, the one its readers can open."""
    s = signal_t.c
    rows = session.execute(select(func.coalesce(s.merged_into_id, s.id).label("id"), s.text,
                                  s.department_id, s.created_at).where(
        s.created_at >= start, s.created_at < end, s.kind == "complaint"))
    return [(int(r.id), str(r.text), int(r.department_id), r.created_at) for r in rows]


def resolution_codes(*, session: Session, start: datetime, end: datetime
                     ) -> dict[int, list[tuple[str, int]]]:
    """Resolution codes of the cases resolved in [start, end), per department, most frequent
    first (ix_signal_resolved_department serves the range)."""
    s = signal_t.c
    count = func.count().label("n")
    rows = session.execute(
        select(s.department_id, s.resolution_code, count)
        .where(s.resolved_at >= start, s.resolved_at < end, s.resolution_code.is_not(None))
        .group_by(s.department_id, s.resolution_code)
        .order_by(s.department_id, count.desc(), s.resolution_code)).all()
    found: dict[int, list[tuple[str, int]]] = {}
    for department_id, code, n in rows:
        found.setdefault(int(department_id), []).append((str(code), int(n)))
    return found
