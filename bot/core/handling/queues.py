"""What people look at: their own reports, a department's queue, one signal with its history."""

from __future__ import annotations

from dataclasses import replace

from bot.core.handling.guards import open_question, require_can_view
from bot.core.presentation.views import QueueView, SignalView
from bot.core.presentation.visibility import department_view, signal_view
from bot.core.shared.context import Core
from bot.core.shared.domain import OPEN_STATUSES
from bot.core.shared.errors import InvalidInput
from bot.core.shared.i18n import N_
from bot.core.shared.rows import (
    department_by_slug,
    department_of,
    own_department_id,
    row_id,
    signal_of,
)
from storage import queries as q


def mine(core: Core, actor: str) -> list[SignalView]:
    """The actor's newest reports."""
    with core.db.read() as session:
        person = q.person_by_identity(session=session, identity=actor)
        if person is None:
            return []
        rows = q.signals_of_reporter(session=session, reporter_id=row_id(person),
                                     limit=core.list_limit)
        views = []
        for s in rows:  # an open case may wait for the reporter's answer (one query each)
            asked = open_question(session, s) if s.status in OPEN_STATUSES else None
            view = signal_view(core, session, s, viewer=person, history=False)
            views.append(replace(view, question=str(asked.details.get("question", "")))
                         if asked else view)
        return views


def queue(core: Core, actor: str, department: str | None = None) -> QueueView:
    """A department's open signals, overdue first: the actor's own unless one is named."""
    with core.db.read() as session:
        person = q.person_by_identity(session=session, identity=actor)
        headed = q.headed_departments(session=session, person_id=person.id) if (
            person and person.id) else []
        if department:
            chosen = department_by_slug(session, department)
        elif headed:
            chosen = headed[0]
        elif person is not None and (own := own_department_id(person)) is not None:
            chosen = department_of(session, own)
        else:
            raise InvalidInput(N_("You are not in any department: name one, e.g. "
                                  "/voc queue logistics."))
        require_can_view(session, person, chosen)
        rows, overdue = q.open_queue(session=session, department_id=row_id(chosen),
                                     now=core.clock(), limit=core.list_limit)
        others = tuple(d.slug for d in headed if d.id != chosen.id)
        return QueueView(department_view(chosen),
                         tuple(signal_view(core, session, s, viewer=person, history=False)
                               for s in rows), overdue, others)


def show(core: Core, actor: str, ref: str) -> SignalView:
    """One signal with its history, for those allowed to see it."""
    with core.db.read() as session:
        person = q.person_by_identity(session=session, identity=actor)
        signal = signal_of(session, ref)
        if person is None or signal.reporter_id != person.id:
            require_can_view(session, person, department_of(session, signal.department_id))
        return signal_view(core, session, signal, viewer=person)
