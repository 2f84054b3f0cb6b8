"""Finding the rows a use case works on, and the refusals when they are not there."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.presentation.views import format_ref
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.errors import InvalidInput, NotFound
from bot.core.shared.i18n import N_
from bot.core.shared.identity import is_valid_identity
from storage import queries as q
from storage.models import Department, Person, Signal


def row_id(row: Signal | Person | Department) -> int:
    """The id of a row that has been flushed."""
    assert row.id is not None
    return row.id


def require_identity(identity: str) -> None:
    """Refuse anything but `slack:<id>` or `telegram:<id>`."""
    if not is_valid_identity(identity):
        raise InvalidInput(N_("“%(value)s” is not a valid identity like slack:U0123 or "
                              "telegram:42."), value=identity[:64])


def person_of(core: Core, session: Session, identity: str, *,
              display_name: str | None = None) -> Person:
    """The person behind an identity, created on first contact."""
    require_identity(identity)
    person = q.person_by_identity(session=session, identity=identity)
    if person is None:
        person = q.create_person(session=session, identity=identity, now=core.clock(),
                                 display_name=(display_name or identity)[:200])
    return person


def own_department_id(person: Person) -> int | None:
    """The person's department: the file's, else the one they chose themselves."""
    return (person.department_id if person.department_id is not None
            else person.chosen_department_id)


def signal_of(session: Session, ref: str, *, lock: bool = False) -> Signal:
    """The signal `VOC-n` names (locked for update when it is about to change)."""
    signal_id = inputs.parse_ref(ref)
    signal = (q.lock_signal(session=session, signal_id=signal_id) if lock
              else session.get(Signal, signal_id))
    if signal is None:
        raise NotFound(N_("There is no %(ref)s."), ref=format_ref(signal_id))
    return signal


def department_of(session: Session, department_id: int) -> Department:
    """A department a stored row references (it always exists)."""
    department = session.get(Department, department_id)
    assert department is not None, "signals always reference an existing department"
    return department


def typed_slug(typed: str) -> str | None:
    """The slug to look up; None for one with control characters in it: not one we know (and
    PostgreSQL refuses NUL)."""
    clean = inputs.strip_controls(typed)
    return clean.lower() if clean == typed.strip() else None


def department_by_slug(session: Session, slug: str) -> Department:
    """The active department a person named, or a refusal listing the known ones."""
    wanted = typed_slug(slug)
    department = q.department_by_slug(session=session, slug=wanted) if wanted else None
    if department is None:
        raise unknown_department(session, slug)
    return department


def unknown_department(session: Session, typed: str) -> NotFound:
    """The refusal for a department nobody has: it lists the ones that exist."""
    known = ", ".join(d.slug for d in q.active_departments(session=session))
    return NotFound(N_("Unknown department “%(slug)s”. Known: %(known)s."),
                    slug=inputs.strip_controls(typed)[:40], known=known).at("department")
