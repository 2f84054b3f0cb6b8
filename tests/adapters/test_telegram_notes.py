"""Telegram questions for a note or a reason are answered where they were asked.

A head asked in several chats at once (two department groups, her private chat) must have each
answer applied to the case asked about in that chat: the prompt she replies to, else the newest
question of that chat, never a question from another chat. Same harness as
test_telegram_flows.py: the real python-telegram-bot client against the fake Bot API server.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from bot.core.service import VocService
from bot.departments import parse_company
from bot.sync import sync_company
from storage.db import Database
from tests.adapters.test_telegram_flows import (
    ANNA,
    FINANCE,
    LOGISTICS,
    OLGA,
    PAVEL,
    Bot,
    reported,
    running_bot,
)
from tests.conftest import EXAMPLE_COMPANY, FakeClock

FINANCE_HEADS = 'heads = ["slack:U0FINHEAD", "telegram:1004"]'


@pytest.fixture
def two_hats(db: Database, clock: FakeClock) -> Iterator[Bot]:
    """The example company where Olga (telegram:1001) heads Finance as well as Logistics."""
    text = EXAMPLE_COMPANY.read_text(encoding="utf-8")
    assert text.count(FINANCE_HEADS) == 1
    company = parse_company(
        text.replace(FINANCE_HEADS, FINANCE_HEADS[:-1] + ', "telegram:1001"]'),
        source="departments.toml")
    sync_company(db, company, now=clock())
    with running_bot(VocService(db, company, clock=clock)) as running:
        yield running


def statuses(bot: Bot) -> dict[str, str]:
    return {f"VOC-{s.id}": s.status for s in bot.signals()}


def done(bot: Bot, action: str, ref: str) -> str:
    """The presser's confirmation, as Olga reads it (Russian), as a pattern."""
    templates = {"resolved": "You resolved %(ref)s; the reporter has been told.",
                 "reopened": "%(ref)s is open again; %(department)s has been told."}
    text = bot.service.translator("ru").gettext(templates[action])
    return re.escape(text).replace(re.escape("%(ref)s"), re.escape(ref)).replace(
        re.escape("%(department)s"), ".+")


def asked(bot: Bot, chat: int, card: dict[str, Any], label: str, ref: str) -> dict[str, Any]:
    """Olga presses `label` on `card`; the question the bot asks her in `chat`."""
    bot.press(OLGA, card, label)
    return bot.fake.expect(chat, rf"{ref} · ")


def test_a_head_of_two_departments_answers_each_group_for_its_own_case(two_hats: Bot) -> None:
    bot = two_hats
    _answer, logistics_ref = reported(bot, ANNA, "Курьер опоздал на три часа")
    _answer, finance_ref = reported(bot, PAVEL, "Дважды списали деньги за заказ")
    logistics_card = bot.fake.expect(LOGISTICS, logistics_ref)
    finance_card = bot.fake.expect(FINANCE, finance_ref)

    in_logistics = asked(bot, LOGISTICS, logistics_card, "Решить", logistics_ref)
    in_finance = asked(bot, FINANCE, finance_card, "Решить", finance_ref)
    bot.say(OLGA, "Заменили курьера, извинились", chat=LOGISTICS, reply_to=in_logistics)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", logistics_ref))
    bot.fake.expect(ANNA.id, rf"{logistics_ref}[\s\S]*Заменили курьера")
    assert statuses(bot) == {logistics_ref: "resolved", finance_ref: "routed"}

    bot.say(OLGA, "Вернули лишнее списание", chat=FINANCE, reply_to=in_finance)
    bot.fake.expect(FINANCE, done(bot, "resolved", finance_ref))
    bot.fake.expect(PAVEL.id, rf"{finance_ref}[\s\S]*Вернули лишнее списание")
    assert statuses(bot) == {logistics_ref: "resolved", finance_ref: "resolved"}
    assert not any("Заменили курьера" in m["text"] for m in bot.fake.sent(PAVEL.id))
    assert not any("Вернули лишнее" in m["text"] for m in bot.fake.sent(ANNA.id))


def test_two_questions_in_one_group_each_reply_goes_to_its_own_case(bot: Bot) -> None:
    _answer, first = reported(bot, ANNA, "Курьер опоздал на три часа")
    _answer, second = reported(bot, ANNA, "Водитель не помог занести шкаф")
    first_card = bot.fake.expect(LOGISTICS, first)
    second_card = bot.fake.expect(LOGISTICS, second)
    first_prompt = asked(bot, LOGISTICS, first_card, "Решить", first)
    second_prompt = asked(bot, LOGISTICS, second_card, "Решить", second)

    bot.say(OLGA, "Заменили курьера", chat=LOGISTICS, reply_to=first_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", first))
    bot.fake.expect(ANNA.id, rf"{first}[\s\S]*Заменили курьера")
    assert statuses(bot) == {first: "resolved", second: "routed"}

    # The second question is still open: a refused answer keeps it, the next one completes it.
    bot.say(OLGA, "x" * 2001, chat=LOGISTICS, reply_to=second_prompt)
    bot.fake.expect(LOGISTICS, r"⚠")
    bot.say(OLGA, "Водителя проинструктировали", chat=LOGISTICS, reply_to=second_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", second))
    bot.fake.expect(ANNA.id, rf"{second}[\s\S]*Водителя проинструктировали")
    assert statuses(bot) == {first: "resolved", second: "resolved"}


def own_resolved_report_and_a_group_question(bot: Bot) -> tuple[str, str, dict[str, Any]]:
    """Olga's own report (Finance) resolved and its "Не решено" pressed in her private chat,
    then Resolve pressed on Anna's case in Logistics: (her ref, Anna's ref, the group prompt)."""
    _answer, own = reported(bot, OLGA, "Дважды списали деньги за заказ")
    bot.service.resolve("telegram:1004", own, "Вернули деньги")
    note = bot.fake.expect(OLGA.id, r"Вернули деньги")
    _answer, annas = reported(bot, ANNA, "Курьер опоздал на три часа")
    card = bot.fake.expect(LOGISTICS, annas)
    bot.press(OLGA, note, "Не решено")
    bot.fake.expect(OLGA.id, rf"{own} · ")
    return own, annas, asked(bot, LOGISTICS, card, "Решить", annas)


def test_typing_in_the_private_chat_answers_the_private_question_only(bot: Bot) -> None:
    own, annas, group_prompt = own_resolved_report_and_a_group_question(bot)

    bot.say(OLGA, "Деньги так и не вернулись")  # people just type in a private chat
    bot.fake.expect(OLGA.id, done(bot, "reopened", own))
    bot.fake.expect(FINANCE, r"Деньги так и не вернулись")  # the department is told
    assert statuses(bot) == {own: "routed", annas: "routed"}
    assert not any("Деньги так и не" in m["text"] for m in bot.fake.sent(ANNA.id))

    bot.say(OLGA, "Заменили курьера", chat=LOGISTICS, reply_to=group_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", annas))
    bot.fake.expect(ANNA.id, rf"{annas}[\s\S]*Заменили курьера")
    assert statuses(bot) == {own: "routed", annas: "resolved"}


def test_cancel_in_the_private_chat_keeps_the_group_question(bot: Bot) -> None:
    own, annas, group_prompt = own_resolved_report_and_a_group_question(bot)

    bot.say(OLGA, "/cancel")
    bot.fake.expect(OLGA.id, re.escape(bot.service.translator("ru").gettext("Cancelled.")))
    bot.say(OLGA, "Передумала")  # no question is open in the private chat any more
    bot.say(OLGA, "Заменили курьера", chat=LOGISTICS, reply_to=group_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", annas))
    bot.fake.expect(ANNA.id, rf"{annas}[\s\S]*Заменили курьера")
    assert statuses(bot) == {own: "resolved", annas: "resolved"}


def test_a_reply_to_a_question_already_answered_goes_to_no_other_case(bot: Bot) -> None:
    _answer, first = reported(bot, ANNA, "Курьер опоздал на три часа")
    _answer, second = reported(bot, ANNA, "Водитель не помог занести шкаф")
    first_card = bot.fake.expect(LOGISTICS, first)
    second_card = bot.fake.expect(LOGISTICS, second)
    first_prompt = asked(bot, LOGISTICS, first_card, "Решить", first)
    bot.say(OLGA, "Заменили курьера", chat=LOGISTICS, reply_to=first_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", first))
    second_prompt = asked(bot, LOGISTICS, second_card, "Решить", second)

    bot.say(OLGA, "Ещё раз про курьера", chat=LOGISTICS, reply_to=first_prompt)
    closed = bot.service.translator("ru").gettext(
        "That question is no longer open: reply to the bot's latest question.")
    bot.fake.expect(LOGISTICS, re.escape(closed))
    assert statuses(bot) == {first: "resolved", second: "routed"}
    bot.say(OLGA, "Водителя проинструктировали", chat=LOGISTICS, reply_to=second_prompt)
    bot.fake.expect(LOGISTICS, done(bot, "resolved", second))
    assert not any("Ещё раз про курьера" in m["text"] for m in bot.fake.sent(ANNA.id))
