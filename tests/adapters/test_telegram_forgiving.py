"""Telegram's step-by-step report forgives mistakes: a bad answer is refused with the
reason and the same question stays open, nothing typed before is lost; keeping the suggested
department keeps its reason; a command typed mid-report is not swallowed without a word.
The real python-telegram-bot client against the fake Bot API (see test_telegram_flows.py).
"""

from __future__ import annotations

import pytest

from bot.core.service import VocService
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, OLGA, PAVEL, Bot, reported


def start_report(running: Bot) -> None:
    running.say(PAVEL, "/start")
    welcome = running.fake.expect(PAVEL.id, r"Which department")
    running.press(PAVEL, welcome, "Customer support")
    running.fake.expect(PAVEL.id, r"Your department: support")
    running.say(PAVEL, "/complaint")
    running.fake.expect(PAVEL.id, r"What did the customer say\?")


def test_a_bad_answer_is_asked_again_and_nothing_is_lost(bot: Bot) -> None:
    start_report(bot)
    bot.say(PAVEL, "   ")
    bot.fake.expect(PAVEL.id, r"⚠ The text is empty")
    bot.say(PAVEL, "The courier was late")
    bot.fake.expect(PAVEL.id, r"Customer \(optional\)")
    bot.say(PAVEL, "x" * 201)
    bot.fake.expect(PAVEL.id, r"⚠ That is 201 characters long; the limit is 200\.")
    bot.say(PAVEL, "Blue Sky Hotels")
    keypad = bot.fake.expect(PAVEL.id, r"score 0-10")
    bot.press(PAVEL, keypad, "4")
    departments = bot.fake.expect(PAVEL.id, r"Which department should handle it\?")
    bot.press(PAVEL, departments, "✓ Logistics")  # the suggestion, kept
    confirm = bot.fake.expect(PAVEL.id, r"Send this Complaint\?")
    bot.press(PAVEL, confirm, "Send")
    answer = bot.fake.expect(PAVEL.id, r"Thank you! Complaint VOC-1 went to Logistics\.")
    assert "matched" in answer["text"]  # its reason, not "chosen by the reporter"
    [signal] = bot.signals()
    assert (signal.text, signal.customer, signal.score) == (
        "The courier was late", "Blue Sky Hotels", 4)


def test_a_command_mid_report_is_not_swallowed_silently(bot: Bot) -> None:
    start_report(bot)
    bot.say(PAVEL, "/mine")
    bot.fake.expect(PAVEL.id, r"Cancelled the report\. Send /mine again to run it\.")
    bot.say(PAVEL, "/mine")
    bot.fake.expect(PAVEL.id, r"You have not reported anything yet")
    assert bot.signals() == []


# The step-by-step report's questions, in order, and a good answer to each (typed or pressed).
STEPS = (r"What did the customer say\?", r"Customer \(optional\)", r"score 0-10",
         r"Which department should handle it\?", r"Send this Complaint\?")


def answer_step(running: Bot, step: int, asked: dict) -> None:  # type: ignore[type-arg]
    """The good answer to STEPS[step], whose question is `asked`."""
    if step == 0:
        running.say(PAVEL, "The courier was late")
    elif step == 1:
        running.say(PAVEL, "Blue Sky Hotels")
    else:
        running.press(PAVEL, asked, ("4", "✓ Logistics", "Send")[step - 2])


OLD_BUTTON = (None, "Skip", "4", "✓ Logistics", "Send")  # a button of each step's question


@pytest.mark.parametrize("step", range(len(STEPS)))
def test_cancel_ends_the_report_at_any_step(bot: Bot, step: int) -> None:
    start_report(bot)
    asked: dict = {}  # type: ignore[type-arg]
    for current in range(step + 1):
        if current:
            asked = bot.fake.expect(PAVEL.id, STEPS[current])
        if current < step:
            answer_step(bot, current, asked)
    bot.say(PAVEL, "/cancel")
    bot.fake.expect(PAVEL.id, r"^Cancelled\.$")
    if (button := OLD_BUTTON[step]) is not None:
        bot.press(PAVEL, asked, button)  # a button of the cancelled report changes nothing
    bot.say(PAVEL, "/mine")
    bot.fake.expect(PAVEL.id, r"You have not reported anything yet")
    assert bot.signals() == []


WRONG = (("   ", r"⚠ The text is empty"),
         ("x" * 201, r"⚠ That is 201 characters long; the limit is 200\."),
         ("11", r"⚠ A score is a whole number from 0 to 10"),
         ("nosuchdept", r"Please press one of the buttons above"),
         ("yes", r"Please press one of the buttons above"))


@pytest.mark.parametrize("step", range(len(STEPS)))
def test_a_wrong_answer_at_any_step_is_asked_again_and_nothing_is_lost(bot: Bot,
                                                                      step: int) -> None:
    start_report(bot)
    asked: dict = {}  # type: ignore[type-arg]
    for current in range(len(STEPS)):
        if current:
            asked = bot.fake.expect(PAVEL.id, STEPS[current])
        if current == step:
            typed, refusal = WRONG[step]
            bot.say(PAVEL, typed)
            bot.fake.expect(PAVEL.id, refusal)
            assert bot.signals() == []
        answer_step(bot, current, asked)
    bot.fake.expect(PAVEL.id, r"Thank you! Complaint VOC-1 went to Logistics\.")
    [signal] = bot.signals()
    assert (signal.text, signal.customer, signal.score) == (
        "The courier was late", "Blue Sky Hotels", 4)


def test_a_score_may_be_typed_instead_of_pressed(bot: Bot) -> None:
    start_report(bot)
    bot.say(PAVEL, "The courier was late")
    bot.fake.expect(PAVEL.id, STEPS[1])
    bot.say(PAVEL, "Blue Sky Hotels")
    bot.fake.expect(PAVEL.id, STEPS[2])
    bot.say(PAVEL, "7")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, STEPS[3]), "✓ Logistics")
    bot.press(PAVEL, bot.fake.expect(PAVEL.id, STEPS[4]), "Send")
    bot.fake.expect(PAVEL.id, r"Thank you! Complaint VOC-1")
    assert [s.score for s in bot.signals()] == [7]


@pytest.mark.parametrize(("button", "alert"), [("Решить", "руководителям"),
                                               ("Передать", "руководителям")])
def test_a_card_button_refuses_before_it_asks_anything(bot: Bot, button: str,
                                                       alert: str) -> None:
    _answer, ref = reported(bot, ANNA, "Курьер опоздал")
    card = bot.fake.expect(LOGISTICS, ref)
    before = len(bot.fake.sent(LOGISTICS)), len(bot.fake.sent(ANNA.id))
    bot.press(ANNA, card, button)  # Anna reported it; she is no head of Logistics
    bot.alert(alert)
    bot.say(ANNA, "/mine")  # a round trip: everything the press caused has been sent
    bot.fake.expect(ANNA.id, ref)
    assert (len(bot.fake.sent(LOGISTICS)), len(bot.fake.sent(ANNA.id)) - 1) == before
    assert bot.signals()[0].status == "routed"


def test_not_resolved_refuses_someone_else_before_asking_why(bot: Bot,
                                                             service: VocService) -> None:
    _answer, ref = reported(bot, ANNA, "Курьер опоздал")
    service.resolve("telegram:1001", ref, "Поговорили с курьером")
    note = bot.fake.expect(ANNA.id, r"Поговорили с курьером")
    before = len(bot.fake.sent(OLGA.id))
    bot.press(OLGA, note, "Не решено")
    bot.alert(r"только автор")
    bot.say(OLGA, "/mine")
    bot.fake.expect(OLGA.id, r".")
    assert len(bot.fake.sent(OLGA.id)) == before + 1  # the /mine answer, no question
    assert bot.signals()[0].status == "resolved"
