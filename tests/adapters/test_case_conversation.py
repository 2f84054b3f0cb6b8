"""The case as a conversation: a head asks the reporter, the reporter
answers, the answer reaches every card of the case.

End to end on `voc serve`'s app (Slack events and the Telegram webhook on one loopback server),
with the real slack_sdk and python-telegram-bot clients against the fake servers, on SQLite and
PostgreSQL. Olga Petrova heads Logistics (Slack U0LOGHEAD, reads Russian); Anna Smirnova
(telegram:2001, Support) reports from Telegram; Kate Brown (Slack, Sales) reports from Slack;
Ivan Kuznetsov is a Logistics member without the right to act. Cards speak Russian.
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook
from sqlmodel import col, select

from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.core.shared.errors import VocError
from bot.sync import sync_company
from jobs.excel import export_workbook
from storage.db import Database
from storage.models import Event, Outbox
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS, SECRET
from tests.support.fake_slack import (
    Message,
    SlackUser,
    Workspace,
    block_texts,
)
from tests.support.fake_telegram import FakeTelegram, User, button
from tests.support.workbook import SHEETS

OLGA, IVAN, KATE = "U0LOGHEAD", "U0LOG1", "U0SALES1"
RU = "ru"


def ru(service: VocService, msgid: str) -> str:
    return service.translator(RU).gettext(msgid)


def webhook(workspace: Workspace, update: dict[str, Any]) -> None:
    response = httpx.post(f"{workspace.url}/telegram/webhook", json=update, timeout=10,
                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert response.status_code == 200, response.text


def events(service: VocService, action: str) -> list[Event]:
    with service.db.read() as session:
        return list(session.exec(select(Event).where(Event.action == action)
                                         .order_by(col(Event.id))))


def outbox_rows(service: VocService) -> int:
    with service.db.read() as session:
        return len(session.exec(select(Outbox)).all())


def questions_delivered(service: VocService) -> bool:
    """Every question's DM is recorded as sent (with its message id): a reply to it can be
    matched. A person needs longer than the dispatcher's commit to read and reply."""
    with service.db.read() as session:
        rows = session.exec(select(Outbox).where(
            Outbox.dedupe_key.startswith("question:"))).all()  # type: ignore[union-attr]
    return bool(rows) and all(r.status == "sent" and r.message_id for r in rows)


def ask_in_slack(workspace: Workspace, card: Message, question: str) -> None:
    olga = workspace.user(OLGA)
    olga.press(card, ru(workspace.service, "Ask reporter"))
    form = workspace.slack.wait_for_view(olga.last_trigger or "")
    response = olga.submit(form, {"note": question})
    assert response.status_code == 200 and not response.content.strip(b"{}"), response.text


def thread_of(workspace: Workspace, card: Message, containing: str) -> Message:
    return workspace.slack.wait(lambda: next(
        (m for m in workspace.slack.in_channel("C0LOGISTICS")
         if m.thread_ts == card.ts and containing in m.plain), None),
        what=f"a reply in the card's thread containing {containing!r}")


def card_now(workspace: Workspace, card: Message, containing: str) -> Message:
    """The card itself (not a reply under it) once an edit put `containing` into it."""
    return workspace.slack.wait(lambda: next(
        (m for m in workspace.slack.in_channel(card.channel)
         if m.ts == card.ts and containing in m.plain), None),
        what=f"the card edited to contain {containing!r}")


def test_a_head_asks_in_slack_the_reporter_answers_in_telegram_and_both_cards_hear_it(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, telegram = served
    service = workspace.service
    webhook(workspace, telegram.message(ANNA, "/complaint Курьер опоздал на три часа"))
    telegram.expect(ANNA.id, r"VOC-1")
    slack_card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    telegram_card = telegram.expect(LOGISTICS, r"VOC-1")
    assert ru(service, "Ask reporter") in [b["text"]["text"] for b in slack_card.buttons()]

    # Round one: Olga asks in Slack; Anna gets a DM with the question and answers by replying.
    ask_in_slack(workspace, slack_card, "Какой номер заказа?")
    question = telegram.expect(ANNA.id, r"Какой номер заказа\?")
    assert "Olga Petrova (Logistics)" in question["text"] and "VOC-1" in question["text"]
    telegram.wait(lambda: questions_delivered(service))
    webhook(workspace, telegram.message(ANNA, "Заказ 4711", reply_to=question))
    telegram.expect(ANNA.id, r"Спасибо: ваш ответ добавлен к VOC-1\.")
    in_thread = thread_of(workspace, slack_card, "Заказ 4711")
    assert "Какой номер заказа?" in in_thread.plain  # the question, for context
    group_reply = telegram.expect(LOGISTICS, r"Заказ 4711")
    assert group_reply["reply_to_message"]["message_id"] == telegram_card["message_id"]

    # Round two: she uses the Reply button this time (a reply prompt, then her answer).
    ask_in_slack(workspace, slack_card, "Когда удобно привезти замену?")
    second = telegram.expect(ANNA.id, r"Когда удобно привезти замену\?")
    webhook(workspace, telegram.callback(ANNA, second, button(second, ru(service, "Reply"))))
    prompt = telegram.expect(ANNA.id, r"VOC-1 · Ваш ответ:")
    webhook(workspace, telegram.message(ANNA, "В субботу утром", reply_to=prompt))
    thread_of(workspace, slack_card, "В субботу утром")
    assert telegram.expect(LOGISTICS, r"В субботу утром")["reply_to_message"][
        "message_id"] == telegram_card["message_id"]

    # Every question and answer is in the audit trail and in /voc show.
    assert [e.details["question"] for e in events(service, "asked")] == [
        "Какой номер заказа?", "Когда удобно привезти замену?"]
    assert [e.details["answer"] for e in events(service, "answered")] == [
        "Заказ 4711", "В субботу утром"]
    shown = service.show("slack:U0LOGHEAD", "VOC-1")
    lines = [e.action for e in shown.history]
    assert lines.count("asked") == 2 and lines.count("answered") == 2
    assert "Ответ от Anna Smirnova" in card_now(workspace, slack_card, "В субботу утром").plain


def test_someone_without_the_right_is_refused_before_any_form(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, _telegram = served
    assert "went to Logistics" in workspace.user(KATE).say("complaint The courier was late")
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    opened = len(workspace.slack.calls_of("views.open"))
    for user in (IVAN, KATE):  # a member of Logistics, and the reporter herself
        person = workspace.user(user)
        person.press(card, ru(workspace.service, "Ask reporter"))
        response = workspace.slack.wait_for_response(
            SlackUser.token_of(person.last_response_url or ""), "VOC-1")
        assert "VOC-1" in response["text"] and "⚠" in response["text"]
    assert len(workspace.slack.calls_of("views.open")) == opened
    assert events(workspace.service, "asked") == []


def test_an_anonymous_reporter_stays_anonymous_both_ways(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, _telegram = served
    service = workspace.service
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was rude",
                                            department="logistics", anonymous=True))
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    ask_in_slack(workspace, card, "Which day was it?")
    question = workspace.slack.wait_for_message("D" + KATE, "Which day was it?")
    assert "Logistics asks about your Complaint VOC-1" in question.plain
    assert "Olga" not in question.plain  # the department asks, not a named head
    kate = workspace.user(KATE)
    kate.press(question, "Reply")
    kate.submit(workspace.slack.wait_for_view(kate.last_trigger or ""), {"note": "Monday"})
    answer = thread_of(workspace, card, "Monday")
    assert "Kate" not in answer.plain and ru(service, "The reporter") in answer.plain
    assert "Kate" not in card_now(workspace, card, "Monday").plain
    history = service.show("slack:U0SALES1", "VOC-1").history
    assert [e.actor for e in history if e.action == "asked"] == [None]


def test_bad_questions_and_answers_are_refused_and_change_nothing(
        service: VocService) -> None:
    kate, olga, ivan = "slack:U0SALES1", "slack:U0LOGHEAD", "slack:U0LOG1"
    service.capture(kate, Draft("complaint", "The courier was late", department="logistics"))
    before = outbox_rows(service)

    def refusal(call: Any, *args: Any, locale: str = "en") -> str:
        with pytest.raises(VocError) as caught:
            call(*args)
        return caught.value.render(service.translator(locale))

    assert refusal(service.ask, olga, "VOC-1", "  ") == (
        "The question is empty: write what you want to ask the reporter.")
    assert refusal(service.ask, ivan, "VOC-1", "Which order?") == (
        "Only the heads of Logistics (or an admin) can act on VOC-1.")
    assert refusal(service.answer, kate, "VOC-1", "Order 1") == (
        "Nobody is waiting for an answer on VOC-1: there is no open question.")
    assert refusal(service.answer_message, kate, "slack:U0SALES1", "nope", "Order 1") == (
        "That message is not a question from a department: to answer one, reply to the "
        "question itself or press its “Reply” button.")
    service.ask(olga, "VOC-1", "Which order?")
    asked = outbox_rows(service)
    assert refusal(service.answer, kate, "VOC-1", "x" * 10_000) == (
        "That is 10000 characters long; the limit is 2000.")
    assert refusal(service.answer, kate, "VOC-1", "x" * 10_000, locale="ru") == (
        "Слишком длинно: 10000 симв. при лимите 2000.")
    assert refusal(service.answer, olga, "VOC-1", "Order 1") == (
        "Only the person who reported VOC-1 can do that.")
    assert refusal(service.answer, kate, "VOC-99", "Order 1") == "There is no VOC-99."
    # A reply to a question whose DM is still on its way (its message id not recorded yet).
    assert refusal(service.answer_message, kate, "slack:U0SALES1", "nope", "Order 1") == (
        "That question is still being delivered: send your answer again in a moment.")
    assert outbox_rows(service) == asked and events(service, "answered") == []
    service.answer(kate, "VOC-1", "Order 4711")
    service.resolve(olga, "VOC-1", "Replaced the sofa")
    assert refusal(service.ask, olga, "VOC-1", "One more thing?") == (
        "VOC-1 is resolved, so its reporter can no longer be asked about it.")
    assert refusal(service.ask, olga, "VOC-1", "Ещё вопрос?", locale="ru") == (
        "VOC-1 уже решено, поэтому задать автору вопрос по нему больше нельзя.")
    assert before < asked


def test_telegram_refuses_a_forged_button_and_a_reply_to_no_question(bot: Any) -> None:
    bot.say(ANNA, "/complaint Курьер опоздал")
    answer = bot.fake.expect(ANNA.id, r"VOC-1")
    card = bot.fake.expect(LOGISTICS, r"VOC-1")
    pavel = User(777, "Pavel", "Newman", language_code="en")
    bot.fake.push(bot.fake.callback(pavel, card, "ask|1|"))  # not a head: no prompt
    bot.alert(r"Only the heads of Logistics")
    bot.fake.push(bot.fake.callback(ANNA, answer, "answer|1|"))  # nothing was asked
    bot.alert(r"По VOC-1 никто не ждёт ответа")
    bot.say(ANNA, "Вот ответ", reply_to=answer)  # a reply to the bot's thanks
    bot.fake.expect(ANNA.id, r"Это сообщение — не вопрос от отдела")
    assert events(bot.service, "answered") == [] and events(bot.service, "asked") == []
    assert not [m for m in bot.fake.sent(pavel.id) if "VOC-1" in m.get("text", "")]


def test_the_open_question_waits_in_app_home_and_the_export_tells_it_as_sentences(
        served: tuple[Workspace, FakeTelegram]) -> None:
    workspace, _telegram = served
    service = workspace.service
    assert "went to Logistics" in workspace.user(KATE).say("complaint The courier was late")
    card = workspace.slack.wait_for_message("C0LOGISTICS", "VOC-1")
    ask_in_slack(workspace, card, "Which order was it?")
    kate = workspace.user(KATE)
    kate.open_home()
    home = workspace.slack.wait(lambda: workspace.slack.homes.get(KATE) if any(
        "Which order was it?" in text for text in block_texts(
            workspace.slack.homes.get(KATE, {}).get("blocks", []))) else None,
        what="Kate's home with the question")
    assert "❓ Logistics asks about VOC-1: Which order was it?" in block_texts(home["blocks"])
    kate.press_home("Reply about VOC-1")
    kate.submit(workspace.slack.wait_for_view(kate.last_trigger or ""), {"note": "Order 4711"})
    thread_of(workspace, card, "Order 4711")

    book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("en"))))
    rows = list(book.worksheets[SHEETS.index("Events")].iter_rows(values_only=True))
    said = {(r[2], r[4]) for r in rows}
    assert ("asked the reporter", "question: Which order was it?") in said
    assert ("answered", "answer to “Which order was it?”: Order 4711") in said
    ru_book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("ru"))))
    ru_rows = list(ru_book.worksheets[SHEETS.index("Events")].iter_rows(values_only=True))
    assert ("задан вопрос автору", "вопрос: Which order was it?") in {(r[2], r[4])
                                                                    for r in ru_rows}


def test_a_company_may_let_anonymous_reporters_see_who_asks(
        db: Database, company: Company, clock: Any) -> None:
    def question_title(settings: Company) -> str:
        service = VocService(db, settings, clock=clock)
        ref = service.capture("slack:U0SALES1", Draft(
            "complaint", "The courier was rude", department="logistics", anonymous=True)
                              ).signal.ref
        service.ask("slack:U0LOGHEAD", ref, "Which day?")
        with db.read() as session:
            row = session.exec(select(Outbox).where(
                Outbox.dedupe_key.startswith("question:"))  # type: ignore[union-attr]
                .order_by(Outbox.id.desc())).first()  # type: ignore[union-attr]
        assert row is not None
        return str(row.payload["message"]["title"])

    sync_company(db, company, now=clock())
    assert question_title(company).startswith("❓ Logistics asks about")
    allowed = replace(company, anonymous_see_askers=True)
    assert question_title(allowed).startswith("❓ Olga Petrova (Logistics) asks about")


def test_in_telegram_the_head_is_asked_with_a_reply_prompt_and_the_answer_replies_to_the_card(
        bot: Any) -> None:
    """`voc run`'s long polling: the head presses in the group, answers the prompt there; the
    reporter answers by replying to the question; the answer is a reply to the group's card."""
    olga = User(1001, "Ольга", "Петрова", language_code="ru")
    bot.say(ANNA, "/complaint Курьер опоздал на три часа")
    card = bot.fake.expect(LOGISTICS, r"VOC-1")
    bot.press(olga, card, "Спросить автора")
    prompt = bot.fake.expect(LOGISTICS, r"VOC-1 · Ваш вопрос автору:")
    assert prompt["force_reply"]["selective"] is True
    bot.say(olga, "   ", chat=LOGISTICS, reply_to=prompt)  # empty: asked again, nothing sent
    bot.fake.expect(LOGISTICS, r"Вопрос пустой")
    bot.say(olga, "Какой номер заказа?", chat=LOGISTICS, reply_to=prompt)
    bot.fake.expect(LOGISTICS, r"Ваш вопрос по VOC-1 отправлен автору\.")
    question = bot.fake.expect(ANNA.id, r"Какой номер заказа\?")
    bot.fake.wait(lambda: questions_delivered(bot.service))
    bot.say(ANNA, "x" * 2001, reply_to=question)
    bot.fake.expect(ANNA.id, r"Слишком длинно: 2001 симв\. при лимите 2000\.")
    bot.say(ANNA, "Заказ 4711", reply_to=question)
    answer = bot.fake.expect(LOGISTICS, r"Заказ 4711")
    assert answer["reply_to_message"]["message_id"] == card["message_id"]
    assert [e.details["answer"] for e in events(bot.service, "answered")] == ["Заказ 4711"]


def test_in_telegram_a_head_merges_from_the_card_with_a_reply_prompt(bot: Any) -> None:
    olga = User(1001, "Ольга", "Петрова", language_code="ru")
    bot.say(ANNA, "/complaint Курьер опоздал на три часа")
    bot.fake.expect(LOGISTICS, r"VOC-1")
    bot.say(ANNA, "/complaint Курьер не позвонил перед приездом")
    second = bot.fake.expect(LOGISTICS, r"VOC-2")
    bot.press(olga, second, "Объединить с…")
    prompt = bot.fake.expect(LOGISTICS, r"VOC-2 · С каким обращением объединить\?")
    bot.say(olga, "VOC-2", chat=LOGISTICS, reply_to=prompt)  # itself: refused, asked again
    bot.fake.expect(LOGISTICS, r"VOC-2 нельзя объединить с самим собой")
    bot.say(olga, "VOC-1", chat=LOGISTICS, reply_to=prompt)
    bot.fake.wait(lambda: bot.signals()[1].merged_into_id == 1)
    merged = bot.fake.wait(lambda: next(
        (m for m in bot.fake.sent(LOGISTICS) if m["message_id"] == second["message_id"]
         and "объединено с VOC-1" in m["text"]), None))
    assert "reply_markup" not in merged
