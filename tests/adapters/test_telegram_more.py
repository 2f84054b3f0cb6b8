"""More of the Telegram bot end to end: internal NPS pulses answered with buttons, department
groups that are forum topics, and what /digest shows to leadership, a head and anyone else.

Same setup as test_telegram_flows.py: the real python-telegram-bot client against the fake Bot
API server, the outbox dispatcher delivering through the port. Expected texts are computed with
the reader's translator (everyone here reads Russian), never written out in English.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlmodel import col, select

from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.departments import parse_company
from bot.sync import sync_company
from jobs.pulse import pulse_tick
from storage.db import Database
from storage.models import Score
from tests.adapters.test_telegram_flows import (
    ANNA,
    ELENA,
    LOGISTICS,
    OLGA,
    Bot,
    group,
    reported,
    running_bot,
)
from tests.conftest import EXAMPLE_COMPANY, FakeClock
from tests.support.fake_telegram import button


def company_with(old: str, new: str) -> Company:
    """The example company with the one occurrence of `old` replaced (as in
    test_departments_file.py)."""
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    assert text.count(old) == 1, old
    return parse_company(text.replace(old, new), source="departments.toml")


def service_for(db: Database, clock: FakeClock, company: Company) -> VocService:
    sync_company(db, company, now=clock())
    return VocService(db, company, clock=clock)


def pulse_scores(bot: Bot) -> list[Score]:
    with bot.service.db.read() as session:
        return list(session.exec(select(Score).where(Score.source == "pulse")
                                         .order_by(col(Score.id))))


# -- internal NPS pulses ---------------------------------------------------------------------
@pytest.fixture
def pulse_bot(db: Database, clock: FakeClock) -> Iterator[Bot]:
    """Anna's Telegram account listed first: her pulse questions come to Telegram (a pulse
    goes to the first identity the file lists for a person; the example lists Slack first)."""
    company = company_with('members = ["slack:U0SUP1", "telegram:2001"]',
                           'members = ["telegram:2001", "slack:U0SUP1"]')
    with running_bot(service_for(db, clock, company)) as running:
        yield running


def test_a_pulse_question_is_answered_once_with_a_button(pulse_bot: Bot) -> None:
    bot = pulse_bot
    t = bot.service.translator("ru")
    report = pulse_tick(bot.service, owner="test")
    assert report.round == "2026-11" and report.asked > 0
    question = bot.fake.expect(ANNA.id, re.escape(t.gettext(
        "How likely are you to recommend %(supplier)s's work to a colleague?") % {
        "supplier": "IT"}))
    labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [str(v) for v in range(11)]
    nine, three = button(question, "9"), button(question, "3")

    bot.fake.push(bot.fake.callback(ANNA, question, nine))
    thanks = bot.fake.expect(ANNA.id, re.escape(t.gettext("Thank you: %(supplier)s "
                                                          "%(value)d/10.") % {
        "supplier": "IT", "value": 9}))
    assert button(thanks, re.escape(t.gettext("Add a comment")))
    bot.fake.wait(lambda: "reply_markup" not in question)  # the keypad went away (in place)
    [score] = pulse_scores(bot)
    assert (score.kind, score.source, score.value, score.pulse_round) == (
        "internal", "pulse", 9, "2026-11")

    bot.fake.push(bot.fake.callback(ANNA, question, three))  # pressed again: refused
    bot.alert(re.escape(t.gettext("You have already answered the %(round)s pulse about "
                                  "%(supplier)s.") % {"round": "2026-11", "supplier": "IT"}))
    [score] = pulse_scores(bot)
    assert score.value == 9
    assert len([m for m in bot.fake.sent(ANNA.id) if m["text"] == thanks["text"]]) == 1


def test_a_pulse_comment_is_asked_for_and_added_to_the_answer(pulse_bot: Bot) -> None:
    bot = pulse_bot
    t = bot.service.translator("ru")
    pulse_tick(bot.service, owner="test")
    question = bot.fake.expect(ANNA.id, re.escape(t.gettext(
        "How likely are you to recommend %(supplier)s's work to a colleague?") % {
        "supplier": "Logistics"}))
    bot.press(ANNA, question, "6")
    thanks = bot.fake.expect(ANNA.id, re.escape(t.gettext("Thank you: %(supplier)s "
                                                          "%(value)d/10.") % {
        "supplier": "Logistics", "value": 6}))

    bot.press(ANNA, thanks, re.escape(t.gettext("Add a comment")))
    prompt = bot.fake.expect(ANNA.id, re.escape(f"2026-11:logistics · {t.gettext('Your comment: ')}"
                                                .strip()))
    assert prompt["force_reply"]["force_reply"] is True
    bot.say(ANNA, "Курьеры стали приезжать вовремя & вежливые", reply_to=prompt)
    bot.fake.expect(ANNA.id, re.escape(t.gettext("Thank you: %(supplier)s %(value)d/10, with "
                                                 "your comment.") % {
        "supplier": "Logistics", "value": 6}))
    [score] = pulse_scores(bot)
    assert (score.value, score.comment) == (6, "Курьеры стали приезжать вовремя & вежливые")
    assert bot.fake.alerts() == []


# -- forum topics ----------------------------------------------------------------------------
@pytest.fixture
def topic_bot(db: Database, clock: FakeClock) -> Iterator[Bot]:
    """Logistics' group is a forum: its cards go to topic 5."""
    company = company_with("telegram_chat = -1001001\n",
                           "telegram_chat = -1001001\ntelegram_topic = 5\n")
    with running_bot(service_for(db, clock, company)) as running:
        yield running


def test_cards_go_to_the_departments_forum_topic_and_are_edited_there(topic_bot: Bot) -> None:
    bot = topic_bot
    _answer, ref = reported(bot, ANNA, "Курьер опоздал на 3 часа")
    card = bot.fake.expect(LOGISTICS, ref)
    [post] = [c for c in bot.fake.calls_of("sendMessage")
              if c.params.get("chat_id") == LOGISTICS and ref in str(c.params.get("text"))]
    assert post.params["message_thread_id"] == 5
    assert card["message_thread_id"] == 5 and card["is_topic_message"] is True

    bot.press(OLGA, card, "Принять в работу")  # the card is edited in place, in its topic
    edited = bot.fake.wait(lambda: (c := bot.fake.find(LOGISTICS, ref)).get("edit_date") and c)
    assert edited["message_id"] == card["message_id"] and edited["message_thread_id"] == 5
    assert "Принять в работу" not in str(edited["reply_markup"])

    bot.press(OLGA, edited, "Решить")  # the question is asked in the topic too
    prompt = bot.fake.expect(LOGISTICS, rf"{ref} · ")
    assert prompt["message_thread_id"] == 5
    note = bot.fake.message(OLGA, "Заменили курьера", chat=group(LOGISTICS), reply_to=prompt)
    note["message"].update(message_thread_id=5, is_topic_message=True)
    bot.fake.push(note)
    bot.fake.wait(lambda: bot.signals()[0].status == "resolved")
    done = bot.fake.expect(LOGISTICS, ref)
    assert done["message_thread_id"] == 5
    bot.fake.expect(ANNA.id, r"Заменили курьера")
    assert all(c.params.get("message_thread_id") == 5 for c in bot.fake.calls_of("sendMessage")
               if c.params.get("chat_id") == LOGISTICS)


# -- /digest ---------------------------------------------------------------------------------
def test_digest_for_leadership_a_head_and_anyone_else(bot: Bot, clock: FakeClock) -> None:
    t = bot.service.translator("ru")  # Elena, Olga and Anna all read Russian
    clock.advance(days=-7)  # last week (2026-W47): what /digest shows by default
    for value in (10, 10, 9, 3):  # NPS +50 from 4 answers
        bot.service.record_score("telegram:2001", value)
    _answer, ref = reported(bot, ANNA, "Курьер опоздал на 3 часа")
    bot.fake.expect(LOGISTICS, ref)
    clock.advance(days=7)
    week = t.gettext("week %(week)s, %(start)s – %(end)s").split("%(start)s")[0] % {
        "week": "2026-W47"}

    bot.say(ELENA, "/digest")
    title = "📊 " + t.gettext("Weekly VoC digest, %(period)s").split("%(period)s")[0] + week
    digest = bot.fake.expect(ELENA.id, re.escape(title))
    assert digest["text"].startswith(title)
    assert f"{t.gettext('Customer NPS')}: +50 ±" in digest["text"] and "(n=4)" in digest["text"]
    assert f"{t.gettext('Complaints')}: " + t.gettext("%(count)d (last week %(previous)d)") % {
        "count": 1, "previous": 0} in digest["text"]
    assert "Customer NPS" not in digest["text"]  # nothing left in English

    bot.say(OLGA, "/digest")  # the head of Logistics: her department's digest
    head_title = "📊 " + t.gettext("%(department)s, %(period)s").split("%(period)s")[0] % {
        "department": "Logistics"} + week
    mine = bot.fake.expect(OLGA.id, re.escape(head_title))
    assert t.gettext("Open items, overdue first:") in mine["text"] and ref in mine["text"]
    assert t.gettext("Customer NPS") not in mine["text"]

    bot.say(ANNA, "/digest")  # a member, no head: refused
    refusal = bot.fake.expect(ANNA.id, r"⚠")
    assert refusal["text"] == "⚠ " + t.gettext(
        "Only leadership and admins can see the company digest.")
