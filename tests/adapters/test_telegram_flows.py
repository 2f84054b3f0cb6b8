"""The Telegram bot end to end, in-process: the real python-telegram-bot client long-polls the
fake Bot API server over HTTP; the outbox dispatcher delivers cards and notes through the port.

People come from departments.example.toml: Anna (telegram:2001, support member, Russian), Olga
(telegram:1001, head of Logistics, group -1001001), Dmitry (telegram:1004, head of Finance,
group -1001004), Elena (telegram:1000, leadership). Cards are in the company language (Russian).
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from bot.config import Settings
from bot.core.service import VocService
from handlers.telegram.adapter import TelegramAdapter
from jobs.dispatcher import Dispatcher
from storage.models import Outbox, Score, Signal
from tests.conftest import FakeClock
from tests.support.fake_telegram import TOKEN, FakeTelegram, User, button

ANNA = User(2001, "Анна", "Смирнова", language_code="ru")
OLGA = User(1001, "Ольга", "Петрова", language_code="ru")
DMITRY = User(1004, "Дмитрий", "Орлов", language_code="ru")
ELENA = User(1000, "Елена", "Соколова", language_code="ru")
PAVEL = User(777, "Pavel", "Newman", language_code="en")  # not in the departments file
LOGISTICS, FINANCE, SUPPORT = -1001001, -1001004, -1001002
SECRET = "webhook-secret-for-tests"


def group(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "title": f"group {chat_id}", "type": "supergroup"}


@dataclass
class Bot:
    """The bot under test, running in its own thread and event loop."""

    fake: FakeTelegram
    service: VocService
    adapter: TelegramAdapter
    loop: asyncio.AbstractEventLoop

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    # -- people talk -----------------------------------------------------------------------
    def say(self, user: User, text: str, *, chat: int | None = None,
            reply_to: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.fake.push(self.fake.message(user, text, chat=group(chat) if chat else None,
                                                reply_to=reply_to))

    def press(self, user: User, message: dict[str, Any], label: str) -> dict[str, Any]:
        return self.fake.push(self.fake.callback(user, message, button(message, label)))

    def signals(self) -> list[Signal]:
        with self.service.db.read() as session:
            return list(session.exec(select(Signal).order_by(Signal.id)))

    def outbox(self) -> list[Outbox]:
        with self.service.db.read() as session:
            return list(session.exec(select(Outbox).order_by(Outbox.id)))

    def alert(self, pattern: str) -> dict[str, Any]:
        return self.fake.wait(lambda: next((a for a in self.fake.alerts()
                                            if re.search(pattern, a.get("text", ""))), None),
                              what=f"an alert matching {pattern!r}")


def settings_for(fake: FakeTelegram, **extra: Any) -> Settings:
    return Settings(_env_file=None, telegram_bot_token=TOKEN, telegram_api_url=fake.url,
                    telegram_webhook_secret=SECRET, **extra)


@contextmanager
def running_bot(service: VocService, *, http_mode: bool = False,
                idle: float = 0.05) -> Iterator[Bot]:
    """The adapter plus a brisk dispatcher, started in a thread, stopped cleanly."""
    fake = FakeTelegram().start()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    adapter = TelegramAdapter(settings_for(fake), service, http_mode=http_mode, poll_timeout=1)
    stop = asyncio.Event()
    dispatcher = Dispatcher(service.db, [adapter.port], clock=service.clock)

    async def start() -> asyncio.Task[None]:
        await adapter.start()
        return asyncio.create_task(dispatcher.run(stop, idle_seconds=idle))

    async def finish(task: asyncio.Task[None]) -> None:
        stop.set()
        await task
        await adapter.stop()

    bot = Bot(fake, service, adapter, loop)
    task = bot.run(start())
    try:
        yield bot
    finally:
        bot.run(finish(task))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        fake.stop()


def reported(bot: Bot, user: User, text: str) -> tuple[dict[str, Any], str]:
    """`user` reports a complaint at once; (the bot's answer, the reference)."""
    bot.say(user, f"/complaint {text}")
    answer = bot.fake.expect(user.id, r"VOC-\d+")
    ref = re.search(r"VOC-\d+", answer["text"])
    assert ref is not None
    return answer, ref.group(0)


# -- capture ---------------------------------------------------------------------------------
def test_complaint_at_once_reaches_the_department_group_in_russian(bot: Bot) -> None:
    bot.say(ANNA, "/complaint Курьер опоздал на 3 часа & диван <b>поцарапан</b>")
    answer = bot.fake.expect(ANNA.id, r"Спасибо! Жалоба VOC-1 передана в отдел «Logistics»")
    assert "курьер" in answer["text"].lower() and "опоздал" in answer["text"]  # why
    assert "&amp;" in answer["html"] and "&lt;b&gt;поцарапан&lt;/b&gt;" in answer["html"]
    assert "<b>поцарапан</b>" in answer["text"]  # shown literally, never as formatting
    assert button(answer, ".+")  # "Change department", localized
    card = bot.fake.expect(LOGISTICS, r"VOC-1")
    assert "Жалоба" in card["text"] and "&lt;b&gt;" in card["html"]
    labels = [b["text"] for row in card["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Принять в работу", "Решить", "Передать", "Спросить автора", "Объединить с…"]
    assert len(bot.signals()) == 1


def test_the_whole_loop_from_group_buttons_to_the_rating(bot: Bot) -> None:
    _answer, ref = reported(bot, ANNA, "Курьер опоздал и нагрубил")
    card = bot.fake.expect(LOGISTICS, ref)

    bot.press(ANNA, card, "Принять в работу")  # Anna is no head of Logistics
    alert = bot.alert("руководителям отдела «Logistics»")
    assert alert["show_alert"] in (True, "true", "True")
    assert bot.signals()[0].status == "routed"

    bot.press(OLGA, card, "Принять в работу")
    bot.fake.expect(ANNA.id, rf"{ref} принята в работу: Ольга Петрова|{ref}.*Olga")
    edited = bot.fake.wait(lambda: (c := bot.fake.find(LOGISTICS, ref)).get("edit_date") and c)
    assert edited["message_id"] == card["message_id"]  # edited in place
    assert "Принять в работу" not in str(edited["reply_markup"])

    bot.press(OLGA, edited, "Решить")
    prompt = bot.fake.expect(LOGISTICS, rf"{ref} · ")
    assert prompt["force_reply"]["force_reply"] is True
    assert f"tg://user?id={OLGA.id}" in prompt["html"]
    bot.say(OLGA, "Заменили курьера, извинились", chat=LOGISTICS, reply_to=prompt)
    bot.fake.expect(LOGISTICS, rf"{ref}")  # the done reply
    note = bot.fake.expect(ANNA.id, r"Заменили курьера")
    labels = [b["text"] for row in note["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == [*map(str, range(11)), "Не решено"]

    bot.press(ANNA, note, "9")
    bot.fake.wait(lambda: "reply_markup" not in bot.fake.find(ANNA.id, r"Заменили курьера"))
    with bot.service.db.read() as session:
        rating = session.exec(select(Score).where(Score.kind == "internal")).one()
    assert rating.value == 9


def test_reassign_picks_the_department_from_buttons_and_asks_the_reason(bot: Bot) -> None:
    _answer, ref = reported(bot, ANNA, "Курьер опоздал")
    card = bot.fake.expect(LOGISTICS, ref)
    bot.press(ANNA, card, "Передать")
    bot.alert("руководителям")  # refused before any question is asked

    bot.press(OLGA, card, "Передать")
    picker = bot.fake.expect(LOGISTICS, ref)
    assert "Logistics" not in str(picker["reply_markup"])
    bot.press(OLGA, picker, "Finance")
    prompt = bot.fake.expect(LOGISTICS, rf"{ref} · ")
    bot.say(OLGA, "Это про возврат денег", chat=LOGISTICS, reply_to=prompt)
    bot.fake.expect(FINANCE, ref)  # a new card for Finance
    bot.fake.expect(ANNA.id, r"Это про возврат денег|Finance")
    moved = bot.fake.wait(lambda: (c := bot.fake.find(LOGISTICS, rf"{ref}.*Finance")) and c)
    assert "reply_markup" not in moved
    assert bot.signals()[0].status == "routed"
    answered = [c.params["callback_query_id"] for c in bot.fake.calls_of("answerCallbackQuery")]
    assert len(answered) == 3 == len(set(answered))  # each of the three presses, once


def test_not_resolved_reopens_with_a_reason(bot: Bot, service: VocService) -> None:
    _answer, ref = reported(bot, ANNA, "Курьер опоздал")
    service.resolve("telegram:1001", ref, "Поговорили с курьером")
    note = bot.fake.expect(ANNA.id, r"Поговорили с курьером")
    bot.press(OLGA, note, "Не решено")  # not Olga's report
    bot.alert(r"только автор|Only the person")
    bot.press(ANNA, note, "Не решено")
    prompt = bot.fake.expect(ANNA.id, rf"{ref} · ")
    bot.say(ANNA, "Курьер так и не приехал")
    bot.fake.expect(LOGISTICS, r"Курьер так и не приехал")  # the department is told
    bot.fake.wait(lambda: bot.signals()[0].status == "routed")
    assert prompt["force_reply"]["force_reply"] is True


def test_change_department_before_anyone_acknowledged(bot: Bot) -> None:
    answer, ref = reported(bot, ANNA, "Курьер опоздал")
    bot.press(ANNA, answer, ".+")
    picker = bot.fake.expect(ANNA.id, ref)
    bot.press(ANNA, picker, "Finance")
    bot.fake.expect(FINANCE, ref)
    assert bot.signals()[0].department_id != bot.signals()[0].reporter_department_id


def test_step_by_step_report_in_english_after_start(bot: Bot) -> None:
    bot.say(PAVEL, "/start")
    welcome = bot.fake.expect(PAVEL.id, r"Hello, Pavel Newman! Which department")
    bot.press(PAVEL, welcome, "Customer support")
    bot.fake.expect(PAVEL.id, r"Your department: support")

    bot.say(PAVEL, "/complaint")
    bot.fake.expect(PAVEL.id, r"What did the customer say\?")
    bot.say(PAVEL, "The courier was late & rude")
    customer = bot.fake.expect(PAVEL.id, r"Customer \(optional\)")
    bot.press(PAVEL, customer, "Skip")
    keypad = bot.fake.expect(PAVEL.id, r"score 0-10")
    bot.press(PAVEL, keypad, "3")
    departments = bot.fake.expect(PAVEL.id, r"Which department should handle it\?")
    first = departments["reply_markup"]["inline_keyboard"][0][0]["text"]
    assert first == "✓ Logistics"  # the suggestion comes first
    bot.press(PAVEL, departments, "✓ Logistics")
    confirm = bot.fake.expect(PAVEL.id, r"Send this Complaint\?")
    assert "3/10" in confirm["text"] and "late &amp; rude" in confirm["html"]
    send = button(confirm, "Send")
    bot.fake.push(bot.fake.callback(PAVEL, confirm, send))
    bot.fake.expect(PAVEL.id, r"Thank you! Complaint VOC-1 went to Logistics\.")
    bot.fake.push(bot.fake.callback(PAVEL, confirm, send))  # a second press: stored once
    bot.alert(r"no longer works")
    [signal] = bot.signals()
    assert signal.score == 3 and signal.reporter_department_id is not None


def test_cancel_drops_the_draft(bot: Bot) -> None:
    bot.say(PAVEL, "/praise")
    bot.fake.expect(PAVEL.id, r"What did the customer say\?")
    bot.say(PAVEL, "/cancel")
    bot.fake.expect(PAVEL.id, r"Cancelled\.")
    bot.say(PAVEL, "Some text after cancelling")
    bot.say(PAVEL, "/help")
    bot.fake.expect(PAVEL.id, r"/complaint TEXT")
    assert bot.signals() == []


def test_forwarded_message_asks_the_kind_and_keeps_text_and_origin(bot: Bot) -> None:
    origin = {"type": "channel", "date": 1764000000, "message_id": 42,
              "chat": {"id": -1009999, "title": "Northwind news", "type": "channel",
                       "username": "northwind_news"}}
    bot.fake.push(bot.fake.message(PAVEL, "Great assembly team, thank you!",
                                   forward_origin=origin))
    question = bot.fake.expect(PAVEL.id, r"complaint, praise or an idea\?")
    bot.press(PAVEL, question, "Praise")
    bot.fake.expect(PAVEL.id, r"Praise VOC-1 went to")
    [signal] = bot.signals()
    assert signal.text == "Great assembly team, thank you!"
    assert signal.source_link == "https://t.me/northwind_news/42"

    person = {"type": "user", "date": 1764000000,
              "sender_user": {"id": 5555, "is_bot": False, "first_name": "Irina",
                              "last_name": "Client"}}
    bot.fake.push(bot.fake.message(PAVEL, "Your site keeps logging me out", forward_origin=person))
    question = bot.fake.expect(PAVEL.id, r"complaint, praise or an idea\?")
    bot.press(PAVEL, question, "Complaint")
    bot.fake.expect(PAVEL.id, r"Complaint VOC-2 went to")
    assert bot.signals()[1].customer == "Irina Client"


# -- commands ------------------------------------------------------------------------------
def test_score_mine_queue_lang_help_and_digest(bot: Bot) -> None:
    bot.say(PAVEL, "/score 9 loved the showroom")
    bot.fake.expect(PAVEL.id, r"Recorded a customer score of 9/10\.")
    bot.say(PAVEL, "/score")
    keypad = bot.fake.expect(PAVEL.id, r"score 0-10")
    bot.press(PAVEL, keypad, "10")
    bot.fake.expect(PAVEL.id, r"Recorded a customer score of 10/10\.")
    bot.say(PAVEL, "/score eleven")
    bot.fake.expect(PAVEL.id, r"⚠")

    bot.say(PAVEL, "/mine")
    bot.fake.expect(PAVEL.id, r"You have not reported anything yet\.")
    _answer, ref = reported(bot, PAVEL, "The courier was late")
    bot.say(PAVEL, "/mine")
    bot.fake.expect(PAVEL.id, rf"Your reports, newest first:[\s\S]*{ref} · Logistics")

    bot.say(PAVEL, "/queue")  # not in any department
    bot.fake.expect(PAVEL.id, r"⚠ You are not in any department")
    bot.say(OLGA, "/queue")
    queue = bot.fake.expect(OLGA.id, r"Logistics — ")
    bot.press(OLGA, queue, rf".*{ref}")  # the first button: acknowledge from the queue
    bot.fake.expect(OLGA.id, rf"{ref}")

    bot.say(PAVEL, "/lang ru")
    bot.fake.expect(PAVEL.id, r"Язык|Language")
    bot.say(PAVEL, "/lang")
    # (Not just the next message: Olga's acknowledgement may reach Pavel meanwhile.)
    languages = bot.fake.expect(PAVEL.id, r"Выберите язык:")
    bot.press(PAVEL, languages, "English")
    bot.fake.expect(PAVEL.id, r"Language set\.")

    bot.say(PAVEL, "/digest")
    bot.fake.expect(PAVEL.id, r"⚠")  # leadership (or heads) only: the core refuses
    bot.say(ELENA, "/digest")
    digest = bot.fake.expect(ELENA.id, r"📊|⚠")
    assert digest["text"].startswith("📊 Еженедельная сводка VoC")


# -- reliability ---------------------------------------------------------------------------
def test_a_repeated_update_is_processed_once(bot: Bot) -> None:
    update = bot.fake.message(ANNA, "/complaint Курьер опоздал")
    bot.fake.push(update)
    bot.fake.expect(ANNA.id, r"VOC-1")
    bot.fake.push(update)  # Telegram delivers the same update again
    bot.say(ANNA, "/mine")
    bot.fake.expect(ANNA.id, r"VOC-1")
    assert len(bot.signals()) == 1
    replies = [m for m in bot.fake.sent(ANNA.id) if "Спасибо" in m["text"]]
    assert len(replies) == 1


def test_flood_control_postpones_without_spending_an_attempt(service: VocService,
                                                              clock: FakeClock) -> None:
    with running_bot(service) as bot:
        bot.fake.fail("sendMessage", 429, "Too Many Requests", chat_id=LOGISTICS,
                      retry_after=30)
        _answer, ref = reported(bot, ANNA, "Курьер опоздал")
        card_row = bot.fake.wait(lambda: next(
            (r for r in bot.outbox() if r.destination == f"telegram:{LOGISTICS}"
             and r.last_error and "flood" in r.last_error.lower()), None))
        assert card_row.attempts == 0 and card_row.status == "pending"
        assert (card_row.not_before - clock()).total_seconds() == pytest.approx(30, abs=1)
        clock.advance(seconds=31)
        bot.fake.expect(LOGISTICS, ref)


def test_a_blocked_user_and_a_kicked_bot_go_to_the_dead_letters(bot: Bot) -> None:
    bot.fake.fail("sendMessage", 403, "Forbidden: bot was kicked from the supergroup chat",
                  chat_id=LOGISTICS)
    _answer, ref = reported(bot, ANNA, "Курьер опоздал")
    bot.fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user",
                  chat_id=ANNA.id, times=5)
    bot.service.acknowledge("telegram:1001", ref)
    wanted = {f"telegram:{LOGISTICS}", f"telegram:{ANNA.id}"}

    def dead_sends() -> dict[str, str]:
        return {r.destination: r.last_error or "" for r in bot.outbox()
                if r.status == "dead" and r.operation == "send"}

    # Wait for both sends: the card's update dies too (its card never arrived), so counting
    # dead rows alone could stop before Anna's note has failed.
    errors = bot.fake.wait(lambda: wanted <= set(dead_sends()) and dead_sends())
    dead = [r for r in bot.outbox() if r.status == "dead"]
    assert "add the bot to the group" in errors[f"telegram:{LOGISTICS}"]
    assert "blocked the bot" in errors[f"telegram:{ANNA.id}"]
    assert all(r.attempts <= 1 for r in dead)  # no retries wasted on them


def test_cross_platform_a_telegram_report_for_a_slack_only_department(bot: Bot) -> None:
    _answer, ref = reported(bot, ANNA, "Менеджер обещал скидку и отказал")
    assert f"{ref} передана в отдел «Sales»" in bot.fake.find(ANNA.id, ref)["text"]
    rows = [r for r in bot.outbox() if r.operation == "send"]
    assert [r.destination for r in rows] == ["slack:C0SALES"]  # the core routes to Slack
    # The Sales head acknowledges in Slack; Anna hears it on Telegram.
    bot.service.acknowledge("slack:U0SALESHEAD", ref)
    bot.fake.expect(ANNA.id, rf"{ref} принята в работу: John Carter")
