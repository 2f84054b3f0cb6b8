"""The case as a conversation: a head asks the reporter, the reporter answers.

The question goes to the reporter by DM with a "Reply" button; the answer goes to the case's
cards (a reply in the card's Slack thread and to the card in the Telegram group or topic).
Each is an audit event, written with its messages in one transaction. An anonymous reporter
stays anonymous both ways: the department sees "the reporter", and the reporter sees the
department, not the head's name (unless `[company] anonymous_see_askers = true`).
"""

from __future__ import annotations

from sqlmodel import Session

from bot.core.handling.audit import record_event
from bot.core.handling.guards import open_question
from bot.core.handling.outgoing import reply_to_cards, update_cards
from bot.core.handling.rules import acting
from bot.core.presentation import render
from bot.core.presentation.views import SignalView, format_ref
from bot.core.presentation.visibility import seen_by, signal_view
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import Action
from bot.core.shared.errors import InvalidInput, InvalidTransition
from bot.core.shared.i18n import N_
from bot.core.shared.rows import department_of, signal_of
from storage import outbox
from storage.models import Event, Person, Signal
from storage.outbox import NewMessage, enqueue

QUESTION_KEY = "question:"  # dedupe keys of the questions' DMs: "question:<event id>"


def ask(core: Core, actor: str, ref: str, question: str) -> SignalView:
    """A head of the owning department (or an admin) asks the reporter a question."""
    text = inputs.required_note(question, what="question")
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.ASK)
        department = department_of(session, signal.department_id)
        event = _record(core, session, signal, person, "asked",
                        {"question": text, "department": department.name,
                         "department_slug": department.slug})
        update_cards(core, session, signal, event, notify_reporter=False)
        reporter = session.get(Person, signal.reporter_id)
        assert reporter is not None
        t = core.translator(core.locale_of(reporter))
        view = signal_view(core, session, signal, viewer=reporter)
        asker = (person.display_name if not signal.anonymous or core.company.anonymous_see_askers
                 else None)
        enqueue(session=session, now=core.clock(), messages=[NewMessage(
            dedupe_key=f"{QUESTION_KEY}{event.id}", destination=signal.reporter_identity,
            operation="send",
            payload={"message": render.question_note(view, text, asker, t).to_json()})])
        return signal_view(core, session, signal, viewer=person)


def answer(core: Core, actor: str, ref: str, text: str) -> SignalView:
    """The reporter answers the case's open question; the answer goes to every card."""
    said = inputs.required_note(text, what="answer")
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, Action.ANSWER)
        question = open_question(session, signal)
        assert question is not None  # the rule checked it
        event = _record(core, session, signal, person, "answered",
                        {"answer": said, "question": question.details.get("question", ""),
                         "question_event": question.id})
        view = update_cards(core, session, signal, event, notify_reporter=False)
        post = render.answer_post(view, said, str(question.details.get("question", "")),
                                  core.translator())
        reply_to_cards(core, session, signal, f"answer:{event.id}", post)
        return seen_by(core, session, signal, person, view)


def answer_message(core: Core, actor: str, destination: str, message_id: str, text: str
                   ) -> SignalView:
    """A reply to one of the bot's messages in a private chat (Telegram): the answer to the
    question that message asked, or a refusal if it asked none."""
    with core.db.read() as session:
        key = outbox.sent_with_prefix(session=session, destination=destination,
                                      message_id=message_id, prefix=QUESTION_KEY)
        event = (session.get(Event, int(key.removeprefix(QUESTION_KEY)))
                 if key and key.removeprefix(QUESTION_KEY).isdecimal() else None)
        if event is None and outbox.in_flight_with_prefix(
                session=session, destination=destination, prefix=QUESTION_KEY):
            raise InvalidTransition(N_("That question is still being delivered: send your "
                                       "answer again in a moment."))
        if event is None:
            raise InvalidInput(N_("That message is not a question from a department: to "
                                  "answer one, reply to the question itself or press its "
                                  "“Reply” button."))
        signal = signal_of(session, format_ref(event.signal_id))
        ref = format_ref(event.signal_id)
        latest = open_question(session, signal)
        if latest is not None and latest.id != event.id:
            raise InvalidInput(N_("%(ref)s has a newer question: reply to that one."), ref=ref)
    return answer(core, actor, ref, text)


def _record(core: Core, session: Session, signal: Signal, person: Person, action: str,
            details: dict[str, object]) -> Event:
    now = core.clock()
    signal.updated_at = now
    return record_event(core, session, signal, person, action, details)
