"""Any action on a case by its name: `check` before asking anything, `perform` with what the
person gave. `USE_CASES` holds each action's use case (its rule is in rules.py), so an
adapter needs no list of actions of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.core.handling import customer_answers as customers
from bot.core.handling import merging as joining
from bot.core.handling import questions as conversation
from bot.core.handling import workflow as cases
from bot.core.handling.rules import action_of, allowed
from bot.core.presentation.views import SignalView
from bot.core.presentation.visibility import signal_view
from bot.core.shared.context import Core
from bot.core.shared.domain import Action
from bot.core.shared.errors import NotFound
from bot.core.shared.i18n import N_
from bot.core.shared.rows import signal_of
from storage import queries as q


@dataclass(frozen=True)
class Given:
    """What a person gave with an action: the note or reason (`text`), the department to move
    it to, or the value of the pressed button (a rating, a resolution code, a case)."""

    text: str = ""
    department: str = ""
    value: str = ""


UseCase = Callable[[Core, str, str, Given], SignalView]  # core, actor, ref, what was given

USE_CASES: dict[str, UseCase] = {
    Action.ACKNOWLEDGE: lambda core, actor, ref, _given: cases.acknowledge(core, actor, ref),
    Action.RESOLVE: lambda core, actor, ref, given: cases.resolve(core, actor, ref, given.text,
                                                                 code=given.value),
    Action.REASSIGN: lambda core, actor, ref, given: cases.reassign(
        core, actor, ref, given.department, given.text),
    Action.CHANGE_DEPARTMENT: lambda core, actor, ref, given: cases.change_department(
        core, actor, ref, given.department),
    Action.REOPEN: lambda core, actor, ref, given: cases.reopen(core, actor, ref, given.text),
    Action.RATE: lambda core, actor, ref, given: cases.rate(core, actor, ref, given.value),
    Action.ASK: lambda core, actor, ref, given: conversation.ask(core, actor, ref, given.text),
    Action.ANSWER: lambda core, actor, ref, given: conversation.answer(core, actor, ref,
                                                                      given.text),
    Action.JOIN: lambda core, actor, ref, given: joining.join(core, actor, ref, given.value),
    Action.KEEP_APART: lambda core, actor, ref, _given: joining.keep_apart(core, actor, ref),
    Action.MERGE: lambda core, actor, ref, given: joining.merge(core, actor, ref, given.text),
    Action.CUSTOMER_SAME: lambda core, actor, ref, given: customers.same_customer(
        core, actor, ref, given.value),
    Action.CUSTOMER_NEW: lambda core, actor, ref, _given: customers.new_customer(core, actor, ref),
}


def _known(action: str) -> str:
    known = action_of(action)
    if known is None or known not in USE_CASES:
        raise NotFound(N_("This button is no longer supported."))
    return known


def check(core: Core, actor: str, ref: str, action: str) -> SignalView:
    """Raise the refusal `action` would get on `ref` now, changing nothing (adapters ask
    before collecting a note or a reason, so nobody types one in vain)."""
    known = _known(action)
    with core.db.read() as session:
        person = q.person_by_identity(session=session, identity=actor)
        signal = signal_of(session, ref)
        allowed(session, known, person, signal)
        return signal_view(core, session, signal, viewer=person, history=False)


def perform(core: Core, actor: str, action: str, ref: str, *, text: str = "",
            department: str = "", value: str = "") -> SignalView:
    """Do `action` on `ref` with what the person gave: the note or reason (`text`), the
    department to move it to, or the value of the pressed button (a rating)."""
    return USE_CASES[_known(action)](core, actor, ref, Given(text, department, value))
