""""Me too": a report joins the open case it repeats, and a case follows its reporters.

A report is merged into a case by its reporter ("Add me to VOC-12" under a new report that
resembles an open case, similar.py) or by a head ("Merge into..." on its card). The merged
report keeps its reporter, text and reference, leaves the queues and the reminders, and its
card says where it went; the case counts its reporters. When the case is acknowledged or
resolved, every merged report follows with an event of its own, so each reporter is told in
their language and may rate the handling once (a rating is per report).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from sqlmodel import Session, col, select

from bot.core.capture import similar
from bot.core.handling.audit import record_event
from bot.core.handling.outgoing import current_card_key, destinations, note_reporter, update_cards
from bot.core.handling.rules import acting
from bot.core.presentation import render
from bot.core.presentation.views import SignalView, format_ref
from bot.core.presentation.visibility import signal_view
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import Action, Status
from bot.core.shared.errors import InvalidInput, InvalidTransition
from bot.core.shared.i18n import N_, DepartmentName
from bot.core.shared.rows import department_of, row_id
from storage import queries as q
from storage.models import Event, Person, Signal
from storage.outbox import NewMessage, enqueue


def join(core: Core, actor: str, ref: str, case: str) -> SignalView:
    """The reporter adds their report `ref` to the open case `case` ("Add me to VOC-12")."""
    with core.db.write() as session:
        _lock_both(session, ref, case)
        person, signal = acting(core, session, actor, ref, Action.JOIN)
        target = _target(session, signal, case)
        # Not what the offer would name (by its own rule): a forged or altered button.
        if not similar.could_offer(session, signal, target, core.meaning.model):
            raise InvalidTransition(N_("“Add me to %(case)s” is not available for %(ref)s: "
                                       "it was never offered."), case=format_ref(row_id(target)),
                                    ref=format_ref(row_id(signal)))
        merge_into(core, session, signal, target, person)
        return signal_view(core, session, signal, viewer=person)


def keep_apart(core: Core, actor: str, ref: str) -> SignalView:
    """The reporter says their report is new ("It is new"): nothing changes."""
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.KEEP_APART)
        return signal_view(core, session, signal, viewer=person, history=False)


def merge(core: Core, actor: str, ref: str, case: str) -> SignalView:
    """A head of the owning department merges the case `ref` into the case `case`."""
    typed = inputs.strip_controls(case or "")
    if not typed:
        raise InvalidInput(N_("Give the reference of the case to merge into, like VOC-12."
                              )).at("note")
    with core.db.write() as session:
        _lock_both(session, ref, typed)
        person, signal = acting(core, session, actor, ref, Action.MERGE)
        merge_into(core, session, signal, _target(session, signal, typed), person)
        return signal_view(core, session, signal, viewer=person)


def _lock_both(session: Session, ref: str, typed: str) -> None:
    """Lock the report and the case in the order of their ids, whichever way the merge goes:
    "A into B" and "B into A" at once on two replicas then wait for each other instead of
    deadlocking (the second one is told the first already merged them)."""
    ids = set()
    for reference in (ref, typed):
        with suppress(InvalidInput):  # refused with its reason once the merge reads it
            ids.add(inputs.parse_ref(reference))
    for signal_id in sorted(ids):
        q.lock_signal(session=session, signal_id=signal_id)


def _target(session: Session, signal: Signal, typed: str) -> Signal:
    """The open case of the same department that `typed` names."""
    try:
        target_id = inputs.parse_ref(typed)
    except InvalidInput as error:
        raise error.at("note") from None
    target = session.exec(select(Signal).where(Signal.id == target_id).with_for_update()
                          ).first()
    ref, case = format_ref(row_id(signal)), format_ref(target_id)
    if target is None:
        raise InvalidInput(N_("There is no %(ref)s."), ref=case).at("note")
    if target.id == signal.id:
        raise InvalidInput(N_("%(ref)s cannot be merged into itself."), ref=ref).at("note")
    if target.merged_into_id == signal.id:
        raise InvalidTransition(N_("%(case)s has just been merged into %(ref)s: they are one "
                                   "case already."), case=case, ref=ref)
    if target.merged_into_id is not None:
        raise InvalidInput(N_("%(case)s was itself merged into %(other)s: merge into that "
                              "one."), case=case, other=format_ref(target.merged_into_id)
                           ).at("note")
    if target.status == Status.RESOLVED:
        raise InvalidTransition(N_("%(case)s is already resolved: %(ref)s stays a case of "
                                   "its own."), case=case, ref=ref)
    if target.department_id != signal.department_id:
        owner = DepartmentName.of(department_of(session, target.department_id))
        raise InvalidInput(N_("%(case)s belongs to %(department)s: reassign %(ref)s there "
                              "first, then merge."), case=case, ref=ref, department=owner
                           ).at("note")
    return target


def merge_into(core: Core, session: Session, signal: Signal, target: Signal,
               person: Person) -> None:
    """Merge `signal` (and what was merged into it) into `target`: events on both, the
    merged report's cards say where it went, the case's cards count its reporters."""
    now = core.clock()
    case, ref = format_ref(row_id(target)), format_ref(row_id(signal))
    by_reporter = person.id == signal.reporter_id
    for earlier in merged_into(session, signal):  # a case merged with its own joiners
        earlier.merged_into_id = target.id
        session.add(earlier)
    signal.merged_into_id = target.id
    signal.status, signal.updated_at = target.status, now
    signal.acknowledged_at = target.acknowledged_at
    event = record_event(core, session, signal, person, "merged",
                         {"into": case, "by": "reporter" if by_reporter else "head"})
    # Who joined is told on the case; an anonymous reporter stays unnamed there.
    joiner = None if (signal.anonymous and by_reporter) else person
    joined = record_event(core, session, target, joiner, "joined", {"from": ref})
    department = department_of(session, signal.department_id)
    view = signal_view(core, session, signal, viewer=None)
    message = render.merged_card(view, case, core.translator()).to_json()
    enqueue(session=session, now=now, messages=[NewMessage(
        dedupe_key=f"card-update:{event.id}@{destination}", destination=destination,
        operation="update", card_key=current_card_key(signal, department, destination),
        payload={"message": message}) for destination in destinations(department)])
    update_cards(core, session, target, joined, notify_reporter=False)


def merged_into(session: Session, case: Signal) -> list[Signal]:
    """The reports merged into `case`, oldest first."""
    return list(session.exec(select(Signal).where(Signal.merged_into_id == case.id)
                             .order_by(col(Signal.id))))


def follow(core: Core, session: Session, case: Signal, person: Person, event: Event) -> None:
    """The reports merged into `case` take its new state (acknowledged, resolved or moved)
    with an event of their own, and their reporters are told (acknowledged and resolved)."""
    for report in merged_into(session, case):
        report.status, report.updated_at = case.status, case.updated_at
        report.acknowledged_at, report.resolved_at = case.acknowledged_at, case.resolved_at
        report.department_id, report.resolution_code = case.department_id, case.resolution_code
        if event.action not in ("acknowledged", "resolved"):
            session.add(report)
            continue
        details: dict[str, Any] = {**event.details, "case": format_ref(row_id(case))}
        own = record_event(core, session, report, person, event.action, details)
        note_reporter(core, session, report, signal_view(core, session, report, viewer=None),
                      own)
