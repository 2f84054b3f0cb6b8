"""A card action is one entry in the action table: every adapter reads it.

"Snooze" (heads only, asks a note) is registered the way a new action is added: its rule in
`bot.core.handling.rules.RULES`, its use case in `bot.core.handling.actions.USE_CASES`, its
event's words in `bot.core.presentation.event_words.EVENTS`. Nothing in the adapters names it,
yet Slack and Telegram show its button on the department's card, refuse a reporter before
asking anything, ask a head for the
note (Telegram's callback patterns come from the rules) and confirm in the head's words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.handling.actions import USE_CASES, Given
from bot.core.handling.audit import record_event
from bot.core.handling.guards import require_not_merged, require_open
from bot.core.handling.outgoing import update_cards
from bot.core.handling.rules import RULES, Rule, acting
from bot.core.presentation.event_words import EVENTS, EventWords
from bot.core.presentation.views import SignalView
from bot.core.presentation.visibility import seen_by
from bot.core.service import VocService
from bot.core.shared import inputs
from bot.core.shared.context import Core
from bot.core.shared.domain import Status
from handlers.slack import blocks as bk
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, OLGA, Bot, reported, running_bot
from tests.support.fake_slack import (  # noqa: F401 (slack_workspace: a fixture)
    Workspace,
    slack_workspace,
)

SNOOZE = "snooze"


def snooze(core: Core, actor: str, ref: str, given: Given) -> SignalView:
    """The use case: a head puts the case aside, saying until when and why."""
    note = inputs.required_note(given.text, what="note")
    with core.db.write() as session:
        person, signal = acting(core, session, actor, ref, SNOOZE)
        event = record_event(core, session, signal, person, "snoozed", {"note": note})
        view = update_cards(core, session, signal, event, notify_reporter=False)
        return seen_by(core, session, signal, person, view)


@pytest.fixture
def snoozing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Snooze registered in the three tables (for this test only)."""
    monkeypatch.setitem(RULES, SNOOZE, Rule(
        "snoozed", "Snooze", "head", "You snoozed %(ref)s.", (require_not_merged, require_open),
        note_prompt="Snooze until when, and why? ",
        form=("Snooze %(ref)s", "Snooze", "Until when, and why?"),
        on_card=(Status.ROUTED, Status.ACKNOWLEDGED)))
    monkeypatch.setitem(USE_CASES, SNOOZE, snooze)
    monkeypatch.setitem(EVENTS, "snoozed", EventWords("Snoozed by %(who)s, %(when)s: %(text)s",
                                                      "snoozed"))


@pytest.fixture
def telegram(snoozing: None, service: VocService) -> Iterator[Bot]:
    with running_bot(service) as running:
        yield running


def labels(message: dict[str, Any]) -> list[str]:
    return [b["text"] for row in message["reply_markup"]["inline_keyboard"] for b in row]


def test_a_new_action_is_on_telegram_cards_and_asks_its_note(telegram: Bot) -> None:
    bot = telegram
    _answer, ref = reported(bot, ANNA, "Курьер опоздал на три часа")
    card = bot.fake.expect(LOGISTICS, ref)
    assert labels(card)[-1] == "Snooze"

    bot.press(ANNA, card, "Snooze")  # Anna reported it; she heads nothing
    bot.alert("руководителям отдела «Logistics»")

    bot.press(OLGA, card, "Snooze")
    prompt = bot.fake.expect(LOGISTICS, rf"{ref} · Snooze until when, and why\?")
    bot.say(OLGA, "Until Monday: the courier is on leave", chat=LOGISTICS, reply_to=prompt)
    bot.fake.expect(LOGISTICS, rf"You snoozed {ref}\.")
    edited = bot.fake.wait(lambda: next((m for m in bot.fake.sent(LOGISTICS)
                                         if m["message_id"] == card["message_id"]
                                         and "Until Monday" in m["text"]), None))
    assert re.search(r"Snoozed by Olga Petrova, .*: Until Monday", edited["text"])
    assert "Snooze" in labels(edited)  # still open: the head may snooze again


def test_a_new_action_is_on_slack_cards_with_its_form(snoozing: None,
                                                      workspace: Workspace) -> None:
    slack = workspace.slack
    kate, olga = workspace.user("U0SALES1"), workspace.user("U0LOGHEAD")
    assert "went to Logistics" in kate.say("complaint The courier was 3 hours late")
    card = slack.wait_for_message("C0LOGISTICS", "VOC-1")
    assert [b["text"]["text"] for b in card.buttons()][-1] == "Snooze"

    olga.press(card, "Snooze")
    form = slack.wait_for_view(olga.last_trigger or "")
    assert form["title"]["text"] == "Snooze VOC-1"
    assert [b["label"]["text"] for b in form["blocks"]] == ["Until when, and why?"]
    assert olga.submit(form, {"note": " "}).json()["response_action"] == "errors"
    assert olga.submit(form, {"note": "Until Monday"}).status_code == 200
    edited = slack.wait_for_edit(card, "Until Monday")
    assert "Snoozed by Olga Petrova" in edited.plain


def test_a_pulse_comment_form_says_what_it_asks(service: VocService) -> None:
    """What is not an action on a case has a form of its own (it was "Reopen ...")."""
    form = bk.note_modal(service.translator("ru"), "pulse_comment", "pulse:7")
    assert form["title"]["text"] == service.translator("ru").gettext("Add a comment")
    assert [b["label"]["text"] for b in form["blocks"]] == [
        service.translator("ru").gettext("Comment")]
    assert "Reopen" not in str(form) and "Открыть заново" not in str(form)
