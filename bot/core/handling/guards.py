"""Who may do what, in which state: each rule once, used by the use cases and by `check`."""

from __future__ import annotations

from sqlmodel import Session

from bot.core.handling.audit import history_of
from bot.core.presentation.views import format_ref
from bot.core.shared.domain import Status
from bot.core.shared.errors import Forbidden, InvalidTransition
from bot.core.shared.i18n import N_, DepartmentName
from bot.core.shared.rows import department_of, row_id
from storage import queries as q
from storage.models import Department, Event, Person, Signal


def require_head(session: Session, person: Person | None, signal: Signal) -> None:
    """Only a head of the owning department, or an admin."""
    if person is None or (not person.is_admin and not q.is_head(
            session=session, person_id=row_id(person), department_id=signal.department_id)):
        department = department_of(session, signal.department_id)
        raise Forbidden(N_("Only the heads of %(department)s (or an admin) can act on %(ref)s."),
                        department=DepartmentName.of(department),
                        ref=format_ref(row_id(signal)))


def require_reporter(person: Person | None, signal: Signal) -> None:
    """Only the person who reported it."""
    if person is None or signal.reporter_id != person.id:
        raise Forbidden(N_("Only the person who reported %(ref)s can do that."),
                        ref=format_ref(row_id(signal)))


def require_reroutable(signal: Signal) -> None:
    """The reporter may move it only before anyone acted, and never undo a head's move."""
    if signal.status != Status.ROUTED or (signal.routing or {}).get("by") == "head":
        raise InvalidTransition(
            N_("%(ref)s is already being handled; ask its department to reassign it."),
            ref=format_ref(row_id(signal)))


def require_open(signal: Signal) -> None:
    """Not resolved yet."""
    if signal.status == Status.RESOLVED:
        raise InvalidTransition(N_("%(ref)s is already resolved."),
                                ref=format_ref(row_id(signal)))


def require_open_to_ask(signal: Signal) -> None:
    """Questions are asked about open cases only."""
    if signal.status == Status.RESOLVED:
        raise InvalidTransition(N_("%(ref)s is resolved, so its reporter can no longer be "
                                   "asked about it."), ref=format_ref(row_id(signal)))


def require_open_to_answer(signal: Signal) -> None:
    """Answers go to open cases only."""
    if signal.status == Status.RESOLVED:
        raise InvalidTransition(N_("%(ref)s is already resolved: your answer was not sent."),
                                ref=format_ref(row_id(signal)))


def open_question(session: Session, signal: Signal) -> Event | None:
    """The case's newest question if it has no answer yet."""
    for event, _name in reversed(history_of(session, signal)):
        if event.action == "answered":
            return None
        if event.action == "asked":
            return event
    return None


def require_open_question(session: Session, signal: Signal) -> None:
    """An answer needs a question waiting for it."""
    if open_question(session, signal) is None:
        raise InvalidTransition(N_("Nobody is waiting for an answer on %(ref)s: there is no "
                                   "open question."), ref=format_ref(row_id(signal)))


def require_not_merged(signal: Signal) -> None:
    """A report merged into a case is worked on there."""
    if signal.merged_into_id is not None:
        raise InvalidTransition(N_("%(ref)s was merged into %(case)s: it is handled there."),
                                ref=format_ref(row_id(signal)),
                                case=format_ref(signal.merged_into_id))


def require_not_acknowledged(signal: Signal) -> None:
    """Not acknowledged already."""
    if signal.status == Status.ACKNOWLEDGED:
        raise InvalidTransition(N_("%(ref)s is already acknowledged."),
                                ref=format_ref(row_id(signal)))


def require_resolved(signal: Signal, refusal: str) -> None:
    """Resolved (to reopen or rate it); `refusal` says why it matters."""
    if signal.status != Status.RESOLVED:
        raise InvalidTransition(refusal, ref=format_ref(row_id(signal)))


def require_can_view(session: Session, person: Person | None, department: Department) -> None:
    """Members and heads of the department, leadership and admins."""
    # Membership by the departments file only: a department chosen by the person themself
    # (Telegram /start) attributes their reports but opens no one's queue.
    allowed = person is not None and (
        person.is_admin or person.is_leadership
        or person.department_id == department.id
        or q.is_head(session=session, person_id=row_id(person),
                     department_id=row_id(department)))
    if not allowed:
        raise Forbidden(N_("Only members and heads of %(department)s can see its signals."),
                        department=DepartmentName.of(department))


def require_not_rated(session: Session, signal: Signal) -> None:
    """Rated at most once."""
    if q.handling_rating(session=session, signal_id=row_id(signal)) is not None:
        raise InvalidTransition(N_("You have already rated %(ref)s."),
                                ref=format_ref(row_id(signal)))


def require_customer_unanswered(signal: Signal) -> None:
    """A report's customer is asked about once, while it names no account yet."""
    if not signal.customer or signal.account_id is not None:
        raise InvalidTransition(N_("The customer of %(ref)s is already settled."),
                                ref=format_ref(row_id(signal)))
