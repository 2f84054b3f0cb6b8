"""Telegram's step-by-step report forgives mistakes (issue 12): a bad answer is refused with the
reason and the same question stays open, nothing typed before is lost; keeping the suggested
department keeps its reason; a command typed mid-report is not swallowed without a word.
The real python-telegram-bot client against the fake Bot API (see test_telegram_flows.py).
"""

from __future__ import annotations

from tests.test_telegram_flows import PAVEL, Bot


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
