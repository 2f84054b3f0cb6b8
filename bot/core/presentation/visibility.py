"""What a person sees of a signal, a person or a department (anonymity applied here)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.customers.linking import others_recent
from bot.core.handling.audit import history_of
from bot.core.presentation.views import (
    DepartmentView,
    EventView,
    PersonView,
    SignalView,
    format_ref,
)
from bot.core.shared.context import Core
from bot.core.shared.domain import Kind, Status
from bot.core.shared.rows import department_of, own_department_id, row_id
from storage import files
from storage import queries as q
from storage.models import Department, Person, Signal


def department_view(department: Department) -> DepartmentView:
    """A department as pickers and cards show it."""
    return DepartmentView(department.slug, department.name, department.description,
                          department.ack_sla_hours)


def person_view(core: Core, session: Session, person: Person) -> PersonView:
    """A person with their identities, language, department and the departments they head."""
    person_id = row_id(person)
    own = own_department_id(person)
    department = department_of(session, own).slug if own is not None else None
    return PersonView(
        id=person_id, display_name=person.display_name,
        identities=tuple(q.identities_of(session=session, person_id=person_id)),
        locale=core.locale_of(person), department=department,
        heads=tuple(d.slug for d in q.headed_departments(session=session, person_id=person_id)),
        is_leadership=person.is_leadership, is_admin=person.is_admin)


def seen_by(core: Core, session: Session, signal: Signal, viewer: Person,
            public: SignalView) -> SignalView:
    """The signal as `viewer` sees it, given `public`, its view with the history as the
    department sees it: only the reporter sees a case differently (an anonymous one)."""
    if viewer.id != signal.reporter_id:
        return public
    return signal_view(core, session, signal, viewer=viewer)


def signal_view(core: Core, session: Session, signal: Signal, *, viewer: Person | None,
                history: bool = True) -> SignalView:
    """The signal as `viewer` may see it: an anonymous reporter is named only to themself."""
    reveal = not signal.anonymous or (viewer is not None and viewer.id == signal.reporter_id)
    # An anonymous reporter is asked by the department, not by a named head (unless allowed).
    hide_askers = (signal.anonymous and viewer is not None and viewer.id == signal.reporter_id
                   and not core.company.anonymous_see_askers)
    reporter = session.get(Person, signal.reporter_id)
    events: tuple[EventView, ...] = ()
    company = core.company
    if history:
        events = tuple(
            EventView(e.action, e.at,
                      None if ((e.actor_id == signal.reporter_id and not reveal)
                               or (hide_askers and e.action == "asked")) else name,
                      _labelled(core, e.details))
            for e, name in history_of(session, signal))
    routing = signal.routing or {}
    return SignalView(
        id=row_id(signal), kind=Kind(signal.kind), status=Status(signal.status),
        text=signal.text,
        department=department_view(department_of(session, signal.department_id)),
        reporter=reporter.display_name if (reveal and reporter) else None,
        anonymous=signal.anonymous, created_at=signal.created_at,
        routed_at=signal.routed_at, ack_due_at=signal.ack_due_at,
        overdue=signal.status == Status.ROUTED and core.clock() > signal.ack_due_at,
        customer=signal.customer, score=signal.score, source_link=signal.source_link,
        acknowledged_at=signal.acknowledged_at, resolved_at=signal.resolved_at,
        routed_by_keywords=tuple(routing.get("matched", ())),
        routed_by_similar=tuple(routing.get("similar", ())),
        routed_by_fallback=bool(routing.get("fallback")),
        routed_by_meaning=bool(routing.get("meaning")),
        rating=(q.handling_rating(session=session, signal_id=row_id(signal))
                if signal.status == Status.RESOLVED else None),  # rated only once resolved
        history=events,
        attachments=files.names_of(session=session, signal_id=row_id(signal)),
        resolution=(company.resolution_label(signal.resolution_code, company.locale)
                    if signal.resolution_code else None),
        reporters=1 + q.merged_count(session=session, signal_id=row_id(signal)),
        merged_into=format_ref(signal.merged_into_id) if signal.merged_into_id else None,
        account_id=signal.account_id,
        customer_others=(others_recent(session, signal.account_id, row_id(signal), core.clock())
                         if signal.account_id is not None else 0))


def _labelled(core: Core, details: dict[str, Any]) -> dict[str, object]:
    """An event's details, with its resolution code's label when it has one."""
    copy: dict[str, object] = dict(details)
    if isinstance(code := details.get("code"), str):
        copy["code_label"] = core.company.resolution_label(code, core.company.locale)
    return copy


def signal_view_for(core: Core, session: Session, signal: Signal, identity: str
                    ) -> SignalView:
    """The signal as the person behind `identity` sees it."""
    return signal_view(core, session, signal,
                       viewer=q.person_by_identity(session=session, identity=identity))


def event_view(view: SignalView, event: Any) -> EventView:
    """The view's copy of `event` (actor already hidden if the reporter is anonymous)."""
    return next((e for e in reversed(view.history) if e.action == event.action),
                EventView(event.action, event.at, None, dict(event.details)))
