"""What a person can do to a case, as data: its button, its audit event, who may, in which
state, what is asked first, the confirmation, and where its button shows.

The use cases (those of `actions.USE_CASES`) and the pre-check adapters make before asking for
a note (`check`) apply the same `allowed`, so a refusal is decided once. Every adapter, the
card, the confirmation and the workbook read `RULES`: an action is added here, not in them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlmodel import Session

from bot.core.handling import guards
from bot.core.shared.context import Core
from bot.core.shared.domain import Action, Status
from bot.core.shared.i18n import N_
from bot.core.shared.rows import person_of, signal_of
from storage.models import Person, Signal


@dataclass(frozen=True)
class Rule:
    """One action: the event it records, its button's label, whose it is, the states it
    needs, what the person must give first (a department, a resolution code, a note), the
    confirmation they get, and where its button shows."""

    event: str
    label: str | None  # None: its buttons are values (the digits of a rating)
    by: Literal["head", "reporter"]
    done: str  # the confirmation to the person who did it: %(ref)s, %(department)s, %(case)s
    states: tuple[Callable[[Signal], None], ...] = ()  # what the case must be
    once: Callable[[Session, Signal], None] | None = None  # what must not have happened yet
    department_prompt: str | None = None  # a department to move it to is chosen first
    asks_code: bool = False  # one of the company's resolution codes, when it keeps any
    note_prompt: str | None = None  # the question for a required note or reason
    form: tuple[str, str, str] | None = None  # the note form's title, submit, field label
    one_line: bool = False  # the note is a reference, not prose
    on_card: tuple[Status, ...] = ()  # the states in which the department's card shows it
    style: str = "default"  # "primary": the card's main button

    @property
    def needs_department(self) -> bool:
        """Whether a department is chosen before it is done."""
        return self.department_prompt is not None

    @property
    def asks_first(self) -> bool:
        """Whether a person is asked something before it is done (so: refuse before)."""
        return self.needs_department or self.asks_code or self.note_prompt is not None


def _not_resolved_yet(signal: Signal) -> None:
    guards.require_resolved(signal, N_("%(ref)s is not resolved, so it cannot be reopened."))


def _rated_once_resolved(signal: Signal) -> None:
    guards.require_resolved(signal, N_("%(ref)s can be rated once it is resolved."))


_OPEN = (Status.ROUTED, Status.ACKNOWLEDGED)
# Every action on a case, in the order cards show their buttons. Keyed by the button's name
# (an `Action`), so adapters find an action's rule by what the button carries.
RULES: dict[str, Rule] = {
    Action.ACKNOWLEDGE: Rule(
        "acknowledged", N_("Acknowledge"), "head", N_("You acknowledged %(ref)s."),
        (guards.require_not_merged, guards.require_not_acknowledged, guards.require_open),
        on_card=(Status.ROUTED,), style="primary"),
    Action.RESOLVE: Rule(
        "resolved", N_("Resolve"), "head",
        N_("You resolved %(ref)s; the reporter has been told."),
        (guards.require_not_merged, guards.require_open), asks_code=True,
        note_prompt=N_("Resolution note: "),
        form=(N_("Resolve %(ref)s"), N_("Resolve"), N_("Resolution note: what was done?")),
        on_card=_OPEN),
    Action.REASSIGN: Rule(
        "reassigned", N_("Reassign"), "head", N_("%(ref)s now belongs to %(department)s."),
        (guards.require_not_merged, guards.require_open),
        department_prompt=N_("Pass %(ref)s to which department?"), note_prompt=N_("Reason: "),
        form=(N_("Reassign %(ref)s"), N_("Reassign"), N_("Reason")), on_card=_OPEN),
    Action.ASK: Rule(
        "asked", N_("Ask reporter"), "head",
        N_("Your question about %(ref)s was sent to the reporter."),
        (guards.require_not_merged, guards.require_open_to_ask),
        note_prompt=N_("Your question to the reporter: "),
        form=(N_("Ask about %(ref)s"), N_("Send question"),
              N_("Your question to the reporter")), on_card=_OPEN),
    Action.MERGE: Rule(
        "merged", N_("Merge into…"), "head",
        N_("%(ref)s is now part of %(case)s: everyone who reported it is told when it is "
           "acknowledged and resolved."),
        (guards.require_open, guards.require_not_merged),
        note_prompt=N_("Merge into which case? (a reference like VOC-12) "),
        form=(N_("Merge %(ref)s"), N_("Merge"),
              N_("Merge into which case? (a reference like VOC-12)")),
        one_line=True, on_card=_OPEN),
    Action.CHANGE_DEPARTMENT: Rule(
        "rerouted", N_("Change department"), "reporter",
        N_("%(ref)s now goes to %(department)s."),
        (guards.require_not_merged, guards.require_reroutable),
        department_prompt=N_("Which department should %(ref)s go to?")),
    Action.REOPEN: Rule(
        "reopened", N_("Not resolved"), "reporter",
        N_("%(ref)s is open again; %(department)s has been told."),
        (guards.require_not_merged, _not_resolved_yet),
        note_prompt=N_("Why is it not resolved? "),
        form=(N_("Reopen %(ref)s"), N_("Reopen"), N_("Why is it not resolved?"))),
    Action.RATE: Rule("rated", None, "reporter",
                      N_("Thank you for rating how %(ref)s was handled."),
                      (_rated_once_resolved,), once=guards.require_not_rated),
    Action.ANSWER: Rule(
        "answered", N_("Reply"), "reporter",
        N_("Thank you: your answer was posted to %(ref)s."), (guards.require_open_to_answer,),
        once=guards.require_open_question, note_prompt=N_("Your answer: "),
        form=(N_("Answer about %(ref)s"), N_("Send answer"), N_("Your answer"))),
    # "Same as VOC-12?" under a new report: its buttons name the case, so no label of its own.
    Action.JOIN: Rule(
        "merged", None, "reporter",
        N_("%(ref)s is now part of %(case)s: everyone who reported it is told when it is "
           "acknowledged and resolved."), (guards.require_open, guards.require_not_merged)),
    Action.KEEP_APART: Rule("kept", None, "reporter", N_("%(ref)s stays a case of its own."),
                            (guards.require_not_merged,)),
    # "Pied Piper (5 reports): the same customer?" under a new report: buttons name the account.
    Action.CUSTOMER_SAME: Rule(
        "customer_same", None, "reporter",
        N_("Thank you: %(ref)s is filed under its customer's account."),
        (guards.require_customer_unanswered,)),
    Action.CUSTOMER_NEW: Rule(
        "customer_new", None, "reporter",
        N_("Thank you: %(ref)s is filed under a new customer account."),
        (guards.require_customer_unanswered,)),
}


def rule_of(name: str) -> Rule | None:
    """The rule of the action a button names; None for one this version does not know."""
    return RULES.get(name)


def allowed(session: Session, action: str, person: Person | None, signal: Signal) -> None:
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


def acting(core: Core, session: Session, actor: str, ref: str, action: str
           ) -> tuple[Person, Signal]:
    """The actor and the signal (locked), once `action` is allowed."""
    person = person_of(core, session, actor)
    signal = signal_of(session, ref, lock=True)
    allowed(session, action, person, signal)
    return person, signal


def action_of(name: str) -> str | None:
    """The action a button names; None for one this version does not know (an old card)."""
    if name == "acknowledge":  # the use case's name
        return Action.ACKNOWLEDGE
    return name if name in RULES else None


def label(action: str) -> str:
    """The msgid of the action's button label."""
    text = RULES[action].label
    assert text is not None, f"{action} has no label of its own"
    return text
