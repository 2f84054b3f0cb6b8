"""What a person can do to a case, as data: its button, its audit event, who may, in which state.

The use cases (cases.py) and the pre-check adapters make before asking for a note (`check`)
apply the same `allowed`, so a refusal is decided once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from bot.core import guards
from bot.core.context import Core
from bot.core.domain import Action
from bot.core.i18n import N_
from bot.core.lookups import person_of, signal_of
from storage.models import Person, Signal


@dataclass(frozen=True)
class Rule:
    """One action: the event it records (also its confirmation's key), its button's label,
    whose it is, the states it needs, and what the person must give first."""

    event: str
    label: str | None  # None: its buttons are values (the digits of a rating)
    by: Literal["head", "reporter"]
    states: tuple[Callable[[Signal], None], ...] = ()  # what the case must be
    once: Callable[[Session, Signal], None] | None = None  # what must not have happened yet
    needs_department: bool = False  # a department to move it to, chosen first
    note_prompt: str | None = None  # the question for a required note or reason

    @property
    def asks_first(self) -> bool:
        """Whether a person is asked something before it is done (so: refuse before)."""
        return self.needs_department or self.note_prompt is not None


def _not_resolved_yet(signal: Signal) -> None:
    guards.require_resolved(signal, N_("%(ref)s is not resolved, so it cannot be reopened."))


def _rated_once_resolved(signal: Signal) -> None:
    guards.require_resolved(signal, N_("%(ref)s can be rated once it is resolved."))


RULES: dict[Action, Rule] = {  # labels in the order cards show them
    Action.ACKNOWLEDGE: Rule("acknowledged", N_("Acknowledge"), "head",
                             (guards.require_not_merged, guards.require_not_acknowledged,
                              guards.require_open)),
    Action.RESOLVE: Rule("resolved", N_("Resolve"), "head",
                         (guards.require_not_merged, guards.require_open),
                         note_prompt=N_("Resolution note: ")),
    Action.REASSIGN: Rule("reassigned", N_("Reassign"), "head",
                          (guards.require_not_merged, guards.require_open),
                          needs_department=True, note_prompt=N_("Reason: ")),
    Action.ASK: Rule("asked", N_("Ask reporter"), "head",
                     (guards.require_not_merged, guards.require_open_to_ask),
                     note_prompt=N_("Your question to the reporter: ")),
    Action.MERGE: Rule("merged", N_("Merge into…"), "head",
                       (guards.require_open, guards.require_not_merged),
                       note_prompt=N_("Merge into which case? (a reference like VOC-12) ")),
    Action.CHANGE_DEPARTMENT: Rule("rerouted", N_("Change department"), "reporter",
                                   (guards.require_not_merged, guards.require_reroutable),
                                   needs_department=True),
    Action.REOPEN: Rule("reopened", N_("Not resolved"), "reporter",
                        (guards.require_not_merged, _not_resolved_yet),
                        note_prompt=N_("Why is it not resolved? ")),
    Action.RATE: Rule("rated", None, "reporter", (_rated_once_resolved,),
                      once=guards.require_not_rated),
    Action.ANSWER: Rule("answered", N_("Reply"), "reporter", (guards.require_open_to_answer,),
                        once=guards.require_open_question, note_prompt=N_("Your answer: ")),
    # "Same as VOC-12?" under a new report: its buttons name the case, so no label of its own.
    Action.JOIN: Rule("merged", None, "reporter", (guards.require_open, guards.require_not_merged)),
    Action.KEEP_APART: Rule("kept", None, "reporter", (guards.require_not_merged,)),
}


def allowed(session: Session, action: Action, person: Person | None, signal: Signal) -> None:
    """Raise the refusal `person` would get for `action` on `signal` now."""
    rule = RULES[action]
    if rule.by == "head":
        guards.require_head(session, person, signal)
    else:
        guards.require_reporter(person, signal)
    for state in rule.states:
        state(signal)
    if rule.once is not None:
        rule.once(session, signal)


def acting(core: Core, session: Session, actor: str, ref: str, action: Action
           ) -> tuple[Person, Signal]:
    """The actor and the signal (locked), once `action` is allowed."""
    person = person_of(core, session, actor)
    signal = signal_of(session, ref, lock=True)
    allowed(session, action, person, signal)
    return person, signal


def action_of(name: str) -> Action | None:
    """The action a button names; None for one this version does not know (an old card)."""
    try:
        return Action(name)
    except ValueError:
        return None


def label(action: Action) -> str:
    """The msgid of the action's button label."""
    text = RULES[action].label
    assert text is not None, f"{action} has no label of its own"
    return text
