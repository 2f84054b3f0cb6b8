"""Data functions for the core. Keyword-only; they flush but never commit (the core owns the
transaction, which is what keeps a state change and its outbox messages atomic)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, bindparam, case, delete, func, insert, update
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from storage.models import (
    Department,
    DepartmentHead,
    DepartmentSupplier,
    Event,
    Identity,
    Person,
    Score,
    Signal,
)


def person_by_identity(*, session: Session, identity: str) -> Person | None:
    """The person owning a platform identity."""
    return session.exec(
        select(Person).join(Identity, col(Identity.person_id) == col(Person.id))
        .where(Identity.identity == identity)
    ).first()


def create_person(*, session: Session, identity: str, display_name: str, now: datetime,
                  locale: str | None = None) -> Person:
    """A new person with one identity; if another transaction just created them, that one."""
    try:
        with session.begin_nested():  # a savepoint: losing the race must not end our transaction
            person = Person(display_name=display_name, locale=locale, created_at=now)
            session.add(person)
            session.flush()
            assert person.id is not None
            session.add(Identity(identity=identity, person_id=person.id))
            session.flush()
    except IntegrityError:
        existing = person_by_identity(session=session, identity=identity)
        if existing is None:
            raise
        return existing
    return person


def move_identity(*, session: Session, identity: str, to_person_id: int) -> bool:
    """Give an identity to another person, with what was reported through it.

    A person left with no identity is merged into the new owner entirely (their events,
    scores and head roles) and removed. Returns True if anything moved.
    """
    link = session.get(Identity, identity)
    if link is None or link.person_id == to_person_id:
        return False
    old_person_id = link.person_id
    link.person_id = to_person_id
    session.add(link)
    session.execute(update(Signal).where(col(Signal.reporter_identity) == identity)
                    .values(reporter_id=to_person_id))
    session.flush()
    if session.exec(select(Identity).where(Identity.person_id == old_person_id)).first():
        return True
    session.execute(update(Signal).where(col(Signal.reporter_id) == old_person_id)
                    .values(reporter_id=to_person_id))
    session.execute(update(Event).where(col(Event.actor_id) == old_person_id)
                    .values(actor_id=to_person_id))
    session.execute(update(Score).where(col(Score.person_id) == old_person_id)
                    .values(person_id=to_person_id))
    session.execute(delete(DepartmentHead).where(col(DepartmentHead.person_id) == old_person_id))
    old = session.get(Person, old_person_id)
    if old is not None:
        session.delete(old)
    session.flush()
    return True


def identities_of(*, session: Session, person_id: int) -> list[str]:
    """All platform identities of a person, sorted."""
    return sorted(session.exec(select(Identity.identity).where(Identity.person_id == person_id)))


def headed_departments(*, session: Session, person_id: int) -> list[Department]:
    """Active departments the person heads, in slug order."""
    return list(session.exec(
        select(Department).join(DepartmentHead,
                                col(DepartmentHead.department_id) == col(Department.id))
        .where(DepartmentHead.person_id == person_id, col(Department.archived_at).is_(None))
        .order_by(Department.slug)
    ))


def is_head(*, session: Session, person_id: int, department_id: int) -> bool:
    """Whether the person heads that department."""
    return session.get(DepartmentHead, (department_id, person_id)) is not None


def department_by_slug(*, session: Session, slug: str, active_only: bool = True
                       ) -> Department | None:
    """A department by slug; archived ones only when asked."""
    query = select(Department).where(Department.slug == slug)
    if active_only:
        query = query.where(col(Department.archived_at).is_(None))
    return session.exec(query).first()


def active_departments(*, session: Session) -> list[Department]:
    """Departments not archived, in slug order."""
    return list(session.exec(
        select(Department).where(col(Department.archived_at).is_(None)).order_by(Department.slug)
    ))


def signal_by_dedupe_key(*, session: Session, dedupe_key: str) -> Signal | None:
    """The signal stored for a platform event before, if any."""
    return session.exec(select(Signal).where(Signal.dedupe_key == dedupe_key)).first()


# -- the capture path, in SQLAlchemy Core -------------------------------------------------------
# Every chat request waits on capture, and there the ORM (flushes, identity map, instance state)
# cost more than the SQL itself. These read plain rows and insert without ORM instances, on the
# session's connection: in its transaction, but without the ORM execution layer, so they do not
# autoflush (capture has nothing pending when it calls them: create_person flushes itself).
_SIGNAL = Signal.__table__  # type: ignore[attr-defined]
_EVENT = Event.__table__  # type: ignore[attr-defined]
_SCORE = Score.__table__  # type: ignore[attr-defined]
_PERSON = Person.__table__  # type: ignore[attr-defined]
_IDENTITY = Identity.__table__  # type: ignore[attr-defined]
_DEPARTMENT = Department.__table__  # type: ignore[attr-defined]
# Built once, with bound parameters: building a statement costs about as much as running it.
# Capture writes many signals in one transaction (group commit): each query takes them all,
# on the transaction's connection (fetched once: through the session it costs each time).
_REPORTERS = (
    core_select(_IDENTITY.c.identity, _PERSON.c.id, _PERSON.c.display_name,
                _PERSON.c.department_id, _PERSON.c.chosen_department_id)
    .join(_IDENTITY, _IDENTITY.c.person_id == _PERSON.c.id))
_REPORTERS_BY_IDENTITY = {  # one name (the usual batch) needs no IN-list expansion
    False: _REPORTERS.where(_IDENTITY.c.identity.in_(bindparam("names", expanding=True))),
    True: _REPORTERS.where(_IDENTITY.c.identity == bindparam("name"))}
_ACTIVE_DEPARTMENT_IDS = core_select(_DEPARTMENT.c.id).where(
    _DEPARTMENT.c.archived_at.is_(None))
_INSERT_SIGNALS = insert(_SIGNAL).returning(_SIGNAL.c.id, sort_by_parameter_order=True)
_INSERT_EVENTS = insert(_EVENT).returning(_EVENT.c.id, sort_by_parameter_order=True)
_INSERT_SCORES = insert(_SCORE)


def _by_names(connection: Connection, statements: dict[bool, Any], names: Sequence[str]
              ) -> Any:
    single = len(names) == 1
    return connection.execute(statements[single],
                              {"name": names[0]} if single else {"names": list(names)})


def reporters_by_identity(*, connection: Connection, identities: Sequence[str]
                          ) -> dict[str, Row[Any]]:
    """id, display_name, department_id and chosen_department_id of each identity's person
    (identities nobody has yet are missing)."""
    return {row.identity: row for row in
            _by_names(connection, _REPORTERS_BY_IDENTITY, identities)}


def active_department_ids(*, connection: Connection) -> frozenset[int]:
    """The ids of the departments not archived (a cheap check that a cached list is current)."""
    return frozenset(connection.execute(_ACTIVE_DEPARTMENT_IDS).scalars())


def insert_signals(*, connection: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert signal rows in one statement; their ids in the order of `rows`."""
    return [int(i) for i in connection.execute(_INSERT_SIGNALS, list(rows)).scalars()]


def insert_events(*, connection: Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert audit events in one statement; their ids in the order of `rows`."""
    return [int(i) for i in connection.execute(_INSERT_EVENTS, list(rows)).scalars()]


def insert_scores(*, connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert score rows in one statement."""
    if rows:
        connection.execute(_INSERT_SCORES, list(rows))


def lock_signal(*, session: Session, signal_id: int) -> Signal | None:
    """The signal, locked for update where the database supports row locks."""
    return session.exec(select(Signal).where(Signal.id == signal_id).with_for_update()).first()


def add_event(*, session: Session, signal_id: int, actor_id: int | None, action: str,
              at: datetime, details: dict[str, Any] | None = None) -> Event:
    """Append one audit event."""
    event = Event(signal_id=signal_id, actor_id=actor_id, action=action, at=at,
                  details=details or {})
    session.add(event)
    session.flush()
    return event


def events_of(*, session: Session, signal_id: int) -> list[tuple[Event, str | None]]:
    """A signal's events in order, each with its actor's display name."""
    rows = session.exec(
        select(Event, Person.display_name)
        .join(Person, col(Person.id) == col(Event.actor_id), isouter=True)
        .where(Event.signal_id == signal_id).order_by(col(Event.at), col(Event.id))
    )
    return [(event, name) for event, name in rows]


def handling_rating(*, session: Session, signal_id: int) -> int | None:
    """The reporter's rating of how the signal was handled, if given."""
    return session.exec(
        select(Score.value).where(Score.signal_id == signal_id, Score.source == "handling")
    ).first()


def signals_of_reporter(*, session: Session, reporter_id: int, limit: int) -> Sequence[Signal]:
    """The reporter's newest signals."""
    return session.exec(
        select(Signal).where(Signal.reporter_id == reporter_id)
        .order_by(col(Signal.created_at).desc(), col(Signal.id).desc()).limit(limit)
    ).all()


def merged_count(*, session: Session, signal_id: int) -> int:
    """How many reports were merged into a case ("me too")."""
    return int(session.exec(select(func.count()).select_from(Signal)
                            .where(col(Signal.merged_into_id) == signal_id)).one())


def open_queue(*, session: Session, department_id: int, now: datetime, limit: int
               ) -> tuple[Sequence[Signal], int]:
    """Open cases of a department, overdue first, then the most reported ("me too"), then by
    due time; plus the overdue count. Reports merged into a case are not cases."""
    overdue = and_(col(Signal.status) == "routed", col(Signal.ack_due_at) < now)
    urgency = case((overdue, 0), (col(Signal.status) == "routed", 1), else_=2)
    open_ = and_(col(Signal.department_id) == department_id,
                 col(Signal.status).in_(("routed", "acknowledged")),
                 col(Signal.merged_into_id).is_(None))
    joined = aliased(Signal)
    reporters = (select(func.count()).select_from(joined)
                 .where(col(joined.merged_into_id) == col(Signal.id)).scalar_subquery())
    items = session.exec(
        select(Signal).where(open_)
        .order_by(urgency, reporters.desc(), col(Signal.ack_due_at), col(Signal.id))
        .limit(limit)
    ).all()
    count = session.exec(select(func.count()).select_from(Signal).where(open_, overdue)).one()
    return items, int(count)


def is_supplier(*, session: Session, customer_id: int, supplier_id: int) -> bool:
    """Whether `customer` rates `supplier` in internal NPS pulses."""
    return session.get(DepartmentSupplier, (customer_id, supplier_id)) is not None


def score_by_dedupe_key(*, session: Session, dedupe_key: str) -> Score | None:
    """The score stored under a dedupe key (a pulse answer, an imported row), if any."""
    return session.exec(select(Score).where(Score.dedupe_key == dedupe_key)).first()
