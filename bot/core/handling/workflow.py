"""Working a case: acknowledge, resolve, reassign, change department, reopen, rate; `check`
(asking the reporter and answering: conversation.py).

Each is one transaction: the state change, its audit event and the messages it causes.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.handling import merging as joining
from bot.core.handling.audit import record_event
from bot.core.handling.outgoing import (
    mark_moved,
    note_reporter,
    post_cards,
    react_at_source,
    to_department,
    update_cards,
)
from bot.core.handling.rules import acting
from bot.core.presentation import render
from bot.core.presentation.views import SignalView, format_ref
from bot.core.presentation.visibility import event_view, seen_by, signal_view
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import Action, Status
from bot.core.shared.errors import InvalidInput
from bot.core.shared.i18n import N_, DepartmentName
from bot.core.shared.rows import department_by_slug, department_of, row_id
from storage.models import Department, Person, Score, Signal


def acknowledge(core: Core, actor: str, ref: str) -> SignalView:
    """A head of the owning department takes the signal on."""
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.ACKNOWLEDGE)
        now = core.clock()
        signal.status, signal.acknowledged_at, signal.updated_at = Status.ACKNOWLEDGED, now, now
        event = record_event(core, session, signal, person, "acknowledged", {})
        public = update_cards(core, session, signal, event, notify_reporter=True)
        react_at_source(core, session, signal, event, "acknowledged")
        joining.follow(core, session, signal, person, event)
        return seen_by(core, session, signal, person, public)


def resolve(core: Core, actor: str, ref: str, note: str, *, code: str = "") -> SignalView:
    """A head closes the signal with a note saying what was done (and, when the company keeps
    resolution codes, one of them: why it happened)."""
    text = inputs.required_note(note, what="note")
    chosen = resolution_code(core, code)
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.RESOLVE)
        now = core.clock()
        signal.status, signal.resolved_at, signal.updated_at = Status.RESOLVED, now, now
        signal.acknowledged_at = signal.acknowledged_at or now
        signal.resolution_code = chosen
        details: dict[str, Any] = {"note": text}
        if chosen is not None:
            details["code"] = chosen
        event = record_event(core, session, signal, person, "resolved", details)
        public = update_cards(core, session, signal, event, notify_reporter=True)
        react_at_source(core, session, signal, event, "resolved")
        joining.follow(core, session, signal, person, event)
        return seen_by(core, session, signal, person, public)


def resolution_code(core: Core, typed: str) -> str | None:
    """One of the company's resolution codes (a code, its label in any language, or its
    number in the list); None when the company keeps none."""
    codes = core.company.resolution_codes
    if not codes:
        return None
    wanted = inputs.strip_controls(typed or "").casefold()
    for number, code in enumerate(codes, 1):
        labels = {code.casefold(), str(number)} | {
            named[code].casefold() for named in core.company.resolution_labels.values()
            if code in named}
        if wanted in labels:
            return code
    t = core.translator()
    known = ", ".join(core.company.resolution_label(c, t.locale) for c in codes)
    if not wanted:
        raise InvalidInput(N_("Choose what caused it: %(codes)s."), codes=known).at("code")
    raise InvalidInput(N_("“%(value)s” is not one of the resolution codes: %(codes)s."),
                       value=typed.strip()[:40], codes=known).at("code")


def reassign(core: Core, actor: str, ref: str, department: str, reason: str) -> SignalView:
    """A head passes the signal to another department, saying why."""
    why = inputs.required_note(reason, what="reason")
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.REASSIGN)
        move(core, session, signal, person, department, "reassigned", {"reason": why})
        return signal_view(core, session, signal, viewer=person)


def change_department(core: Core, actor: str, ref: str, department: str) -> SignalView:
    """The reporter corrects the suggested department, before anyone acknowledged it."""
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.CHANGE_DEPARTMENT)
        move(core, session, signal, person, department, "rerouted", {})
        return signal_view(core, session, signal, viewer=person)


def reopen(core: Core, actor: str, ref: str, reason: str) -> SignalView:
    """The reporter says it is not resolved: back to the same department, which is told."""
    why = inputs.required_note(reason, what="reason")
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.REOPEN)
        department = department_of(session, signal.department_id)
        route(core, signal, department)
        signal.resolved_at = None
        event = record_event(core, session, signal, person, "reopened", {"reason": why})
        view = update_cards(core, session, signal, event, notify_reporter=False)
        notice = render.reopened_notice(view, event_view(view, event), core.translator())
        to_department(core, session, department, f"reopened:{event.id}", notice)
        return seen_by(core, session, signal, person, view)


def rate(core: Core, actor: str, ref: str, value: int | str) -> SignalView:
    """The reporter rates the handling once: an internal NPS answer for the department."""
    score_value = inputs.parse_score(value)
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.RATE)
        session.add(Score(kind="internal", source="handling", value=score_value,
                          at=core.clock(), signal_id=signal.id, person_id=person.id,
                          rater_department_id=signal.reporter_department_id,
                          rated_department_id=signal.department_id,
                          dedupe_key=f"handling:{signal.id}"))
        event = record_event(core, session, signal, person, "rated", {"value": score_value})
        public = update_cards(core, session, signal, event, notify_reporter=False)
        return seen_by(core, session, signal, person, public)


def route(core: Core, signal: Signal, department: Department) -> None:
    """Give the signal to `department`, due within its acknowledge SLA in business hours."""
    now = core.clock()
    signal.department_id = row_id(department)
    signal.status, signal.routed_at, signal.updated_at = Status.ROUTED, now, now
    signal.acknowledged_at = None
    signal.ack_due_at = core.company.business_hours.add(now, department.ack_sla_hours)
    signal.reminded_at = signal.escalated_at = None  # a new routing gets its own chasing


def move(core: Core, session: Session, signal: Signal, person: Person, slug: str, action: str,
         details: dict[str, Any]) -> None:
    """Route the signal to the department `slug` names: the old cards say where it went,
    the new department gets cards of its own."""
    target = department_by_slug(session, slug)
    source = department_of(session, signal.department_id)
    if target.id == source.id:
        raise InvalidInput(N_("%(ref)s already belongs to %(department)s."),
                           ref=format_ref(row_id(signal)), department=DepartmentName.of(source)
                           ).at("department")
    ended_routing = (signal.routing or {}).get("card", 0)
    route(core, signal, target)
    event = record_event(core, session, signal, person, action, {
        "from": source.slug, "from_name": source.name, "to": target.slug,
        "to_name": target.name, **details})
    # Each routing gets cards of its own, so a signal moved away and back never has two
    # routings editing one card.
    signal.routing = {"by": "reporter" if action == "rerouted" else "head", "card": event.id}
    view = signal_view(core, session, signal, viewer=None)
    mark_moved(core, session, view, source, ended_routing, event)
    post_cards(core, session, signal, target, event.id)
    joining.follow(core, session, signal, person, event)
    if action == "reassigned":
        note_reporter(core, session, signal, view, event)
