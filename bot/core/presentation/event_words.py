"""What each audit event is called, once: its line in a case's history, the note telling the
reporter, its word on the workbook's Events sheet and its details there as a short phrase.

The card, the reporter's note, the history line and the workbook all read `EVENTS`; an event
kind missing from it is still shown (a plain history line, its code and raw details).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.core.shared.domain import EventAction
from bot.core.shared.i18n import N_, Translator

Say = Callable[[str], str]  # a msgid in the reader's language
Details = Mapping[str, Any]


# Where an event keeps a department: (the key of its slug, the key of its name at the time).
# An event stored before its slug was kept has the name only.
DEPARTMENT_KEYS = (("to", "to_name"), ("from", "from_name"), ("department_slug", "department"))


def department_named(details: Details, slug_key: str, name_key: str, t: Translator) -> str:
    """The department an event names, in the reader's language when the event keeps its slug
    (the departments file may give it a name in that language), else as the event stored it."""
    name = str(details.get(name_key, ""))
    slug = details.get(slug_key)
    return t.department(slug, name) if isinstance(slug, str) and name else name


def in_reader_language(details: Details, t: Translator) -> Details:
    """`details` with the department names it keeps in the reader's language."""
    names = {name_key: department_named(details, slug_key, name_key, t)
             for slug_key, name_key in DEPARTMENT_KEYS if details.get(name_key)}
    return {**details, **names} if names else details


def raw_details(details: Details) -> str | None:
    """Details of an event this version has no phrase for, as `key: value` pairs."""
    parts = [f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
             for key, value in details.items() if key not in ("card",)]
    return "; ".join(parts) or None


@dataclass(frozen=True)
class EventWords:
    """One event kind's words (msgids)."""

    history: str  # its line in a case's history: %(who)s, %(when)s, %(text)s, ...
    word: str  # its name on the workbook's Events sheet (lower case: a value in a table)
    phrase: Callable[[Details, Say], str | None] = (
        lambda d, _say: raw_details(d))  # its details on the Events sheet: raw by default
    unnamed: str | None = None  # the history line when its actor is not named
    coded: str | None = None  # the history line when a resolution code is given
    told_reporter: str | None = None  # the title of the note telling the reporter


def _nothing(_d: Details, _say: Say) -> None:
    return None


def _fixed(msgid: str) -> Callable[[Details, Say], str]:
    return lambda _d, say: say(msgid)


def _moved(d: Details, say: Say) -> str:
    why = d.get("reason")
    text = say(N_("from %(from)s to %(to)s: %(text)s")) if why else say(
        N_("from %(from)s to %(to)s"))
    return text % {"from": d.get("from_name", d.get("from", "")),
                   "to": d.get("to_name", d.get("to", "")), "text": why}


def _routed(d: Details, say: Say) -> str:
    department = d.get("to_name", d.get("to", ""))
    if d.get("matched"):
        reason: str | None = say(N_("matched: %(words)s")) % {
            "words": ", ".join(map(str, d["matched"]))}
    elif d.get("fallback"):
        reason = say(N_("no department matched the text, so it went to triage"))
    else:
        reason = {"reporter": say(N_("chosen by the reporter"))}.get(str(d.get("by")))
    if reason is None:
        return say(N_("to %(department)s")) % {"department": department}
    return say(N_("to %(department)s (%(reason)s)")) % {"department": department,
                                                        "reason": reason}


def _resolved(d: Details, say: Say) -> str | None:
    if not d.get("note"):
        return raw_details(d)
    if d.get("code"):
        return say(N_("code: %(code)s; note: %(text)s")) % {"text": d["note"], "code": d["code"]}
    return say(N_("note: %(text)s")) % {"text": d["note"]}


def _given(key: str, msgid: str, param: str = "text") -> Callable[[Details, Say], str | None]:
    """The phrase `msgid` around the detail `key`, when the event has it."""
    def phrase(d: Details, say: Say) -> str | None:
        return say(msgid) % {param: d[key]} if d.get(key) else raw_details(d)
    return phrase


def _answered(d: Details, say: Say) -> str | None:
    if not d.get("answer"):
        return raw_details(d)
    return say(N_("answer to “%(question)s”: %(text)s")) % {
        "text": d["answer"], "question": d.get("question", "")}


def _rated(d: Details, _say: Say) -> str | None:
    return f"{d['value']}/10" if "value" in d else raw_details(d)


EVENTS: dict[str, EventWords] = {
    EventAction.CAPTURED: EventWords(
        N_("Reported by %(who)s, %(when)s"), N_("captured"), _nothing,
        unnamed=N_("Reported anonymously, %(when)s")),
    EventAction.ROUTED: EventWords(N_("%(who)s, %(when)s"), N_("routed"), _routed),
    EventAction.ACKNOWLEDGED: EventWords(
        N_("Acknowledged by %(who)s, %(when)s"), N_("acknowledged"), _nothing,
        told_reporter=N_("Your %(kind)s %(ref)s was acknowledged by %(who)s (%(department)s).")),
    EventAction.RESOLVED: EventWords(
        N_("Resolved by %(who)s, %(when)s: %(text)s"), N_("resolved"), _resolved,
        coded=N_("Resolved by %(who)s, %(when)s (%(code)s): %(text)s"),
        told_reporter=N_("Your %(kind)s %(ref)s was resolved by %(who)s (%(department)s).")),
    EventAction.REASSIGNED: EventWords(
        N_("Reassigned from %(from)s to %(to)s by %(who)s, %(when)s: %(text)s"),
        N_("reassigned"), _moved,
        told_reporter=N_("Your %(kind)s %(ref)s was passed to %(department)s by %(who)s.")),
    EventAction.REROUTED: EventWords(N_("Moved from %(from)s to %(to)s by %(who)s, %(when)s"),
                                     N_("rerouted"), _moved),
    EventAction.REOPENED: EventWords(N_("Reopened by %(who)s, %(when)s: %(text)s"),
                                     N_("reopened"),
                                     _given("reason", N_("reason: %(text)s"))),
    EventAction.RATED: EventWords(N_("Handling rated %(value)s/10 by %(who)s, %(when)s"),
                                  N_("rated"), _rated),
    EventAction.REMINDED: EventWords(N_("Overdue: the heads were reminded, %(when)s"),
                                     N_("reminded"),
                                     _fixed(N_("overdue: the heads were reminded"))),
    EventAction.ESCALATED: EventWords(
        N_("Escalated to leadership (twice the SLA), %(when)s"), N_("escalated"),
        _fixed(N_("overdue for twice the SLA: leadership was told"))),
    EventAction.ATTACHED: EventWords(N_("Files added by %(who)s, %(when)s"),
                                     N_("files added")),
    EventAction.ASKED: EventWords(
        N_("Question from %(who)s, %(when)s: %(text)s"), N_("asked the reporter"),
        _given("question", N_("question: %(text)s")),
        unnamed=N_("Question from %(department)s, %(when)s: %(text)s")),
    EventAction.ANSWERED: EventWords(N_("Answer from %(who)s, %(when)s: %(text)s"),
                                     N_("answered"), _answered),
    EventAction.MERGED: EventWords(N_("Merged into %(case)s by %(who)s, %(when)s"),
                                   N_("merged"),
                                   _given("into", N_("merged into %(case)s"), "case")),
    EventAction.JOINED: EventWords(
        N_("%(case)s joined this case (%(who)s), %(when)s"), N_("joined"),
        _given("from", N_("%(case)s was merged into this case"), "case")),
}
UNKNOWN = EventWords(N_("%(who)s, %(when)s"), "")  # an event kind this version does not know


def words_of(action: str) -> EventWords:
    """The words of the event kind `action` (a plain line for one this version lacks)."""
    return EVENTS.get(action, UNKNOWN)
