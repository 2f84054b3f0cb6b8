"""Telegram HTML, callback data and the delivery port (against the fake Bot API server)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from telegram import Bot

from bot.core.presentation.messages import Button, OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import PermanentDeliveryError, RetryAfter
from handlers.telegram import html
from handlers.telegram.buttons import decode, encode, keyboard
from handlers.telegram.port import TelegramPort, parse_destination
from tests.support.fake_telegram import TOKEN, FakeTelegram, parse_html


def visible(text: str) -> str:
    shown, error = parse_html(text)
    assert error is None, error
    return shown


def test_every_string_is_escaped() -> None:
    message = OutboundMessage(title="<b>A & B</b>", quote="<script>&amp;",
                              fields=(("<i>", "x > y"),), footer=("<a href='x'>",),
                              link="https://t.me/x?a=1&b=<2>")
    text = html.fit(message)
    assert "<b>&lt;b&gt;A &amp; B&lt;/b&gt;</b>" in text
    assert "&lt;script&gt;&amp;amp;" in text
    assert 'href="https://t.me/x?a=1&amp;b=&lt;2&gt;"' in text
    assert "<script>&amp;" in visible(text)


def test_a_link_that_is_not_http_is_plain_text() -> None:
    assert "<a" not in html.fit(OutboundMessage(title="t", link="javascript:alert(1)"))


def test_a_card_is_trimmed_to_one_message_quote_first() -> None:
    card = OutboundMessage(title="🔴 Complaint VOC-1", quote="&" * 4000,  # 20,000 escaped
                           fields=(("Status", "new"),), footer=("Reported by Anna",),
                           buttons=(Button("ack", "VOC-1", "Acknowledge"),))
    text = html.fit(card)
    assert len(text) <= html.LIMIT and visible(text).count("…") == 1
    assert "Reported by Anna" in text and "Status" in text


def test_a_long_history_loses_its_oldest_lines_first() -> None:
    footer = tuple(f"line {n} " + "x" * 190 for n in range(40))
    text = html.fit(OutboundMessage(title="t", footer=footer))
    assert len(text) <= html.LIMIT and "line 39" in text and "line 0 " not in text


def test_a_long_list_is_split_between_lines() -> None:
    lines = tuple(f"🔴 VOC-{n} · Logistics · open · " + "y" * 80 for n in range(120))
    chunks = html.split(OutboundMessage(title="Your reports", footer=lines))
    assert len(chunks) >= 3 and all(len(c) <= html.LIMIT for c in chunks)
    joined = "\n".join(chunks)
    assert all(f"VOC-{n} " in joined for n in range(120))


def test_callback_data_is_compact_and_round_trips() -> None:
    for original in (Button("ack", "VOC-123456", "Acknowledge"),
                     Button("rate", "VOC-7", "9", value="9"),
                     Button("reassign", "VOC-99999", "Logistics", value="x" * 40),
                     Button("pulse", "P-2026-W48-it", "10", value="10")):
        data = encode(original)
        assert len(data.encode()) <= 64
        back = decode(data)
        assert (back.action, back.ref, back.value) == (original.action, original.ref,
                                                         original.value)
    assert encode(Button("ack", "VOC-12", "x")) == "a|12|"
    with pytest.raises(ValueError, match="64-byte"):
        encode(Button("reassign", "VOC-1", "x", value="y" * 70))


def test_keyboards_group_a_keypad_and_each_reference() -> None:
    keypad = [Button("rate", "VOC-1", str(v), value=str(v)) for v in range(11)]
    markup = keyboard([*keypad, Button("reopen", "VOC-1", "Not resolved")])
    assert markup is not None
    assert [len(row) for row in markup.inline_keyboard] == [6, 5, 1]
    queue = keyboard([Button("ack", "VOC-1", "A1"), Button("resolve", "VOC-1", "R1"),
                      Button("resolve", "VOC-2", "R2")])
    assert queue is not None and [len(r) for r in queue.inline_keyboard] == [2, 1]
    assert keyboard([]) is None


def test_destinations() -> None:
    assert parse_destination("telegram:-1001001") == (-1001001, None)
    assert parse_destination("telegram:-1001001/7") == (-1001001, 7)
    assert parse_destination("telegram:42") == (42, None)
    with pytest.raises(PermanentDeliveryError):
        parse_destination("slack:C0LOG")


# -- the port against the fake server ------------------------------------------------------
@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def with_port(fake: FakeTelegram, scenario: Any) -> Any:
    async def run() -> Any:
        async with Bot(TOKEN, base_url=fake.url) as bot:
            return await scenario(TelegramPort(bot))
    return asyncio.run(run())


def test_port_posts_into_a_forum_topic_and_edits_in_place(fake: FakeTelegram) -> None:
    card = OutboundMessage(title="Card", buttons=(Button("ack", "VOC-1", "Acknowledge"),))

    async def scenario(port: TelegramPort) -> None:
        message_id = await port.send("telegram:-1001001/7", card, dedupe_key="k")
        await port.update("telegram:-1001001/7", message_id, OutboundMessage(title="Done"))
        await port.update("telegram:-1001001/7", message_id, OutboundMessage(title="Done"))
        assert await port.find_sent("telegram:-1001001/7", "k") is None

    with_port(fake, scenario)
    [message] = fake.sent(-1001001)
    assert message["message_thread_id"] == 7 and message["text"] == "Done"
    assert "reply_markup" not in message


def test_port_splits_a_long_note_and_trims_a_long_card(fake: FakeTelegram) -> None:
    note = OutboundMessage(title="Digest", footer=tuple("z" * 300 for _ in range(40)))
    card = OutboundMessage(title="Card", quote="<" * 4000,
                           buttons=(Button("ack", "VOC-1", "Acknowledge"),))

    async def scenario(port: TelegramPort) -> None:
        await port.send("telegram:42", note, dedupe_key="n")
        await port.send("telegram:-1001001", card, dedupe_key="c")

    with_port(fake, scenario)
    assert len(fake.sent(42)) == 4  # 12,000 characters in 4 messages, none refused
    [posted] = fake.sent(-1001001)
    assert len(posted["text"]) <= 4096 and posted["reply_markup"]


def test_port_translates_telegram_refusals(fake: FakeTelegram) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests", retry_after=17)
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=42)
    fake.fail("sendMessage", 400, "Bad Request: chat not found", chat_id=-5)
    fake.fail("sendMessage", 400, "Bad Request: group chat was upgraded to a supergroup chat",
              chat_id=-6)
    message = OutboundMessage(title="hello")

    async def scenario(port: TelegramPort) -> list[Exception]:
        errors: list[Exception] = []
        for destination in ("telegram:1", "telegram:42", "telegram:-5"):
            try:
                await port.send(destination, message, dedupe_key="x")
            except (RetryAfter, PermanentDeliveryError) as error:
                errors.append(error)
        return errors

    flood, blocked, missing = with_port(fake, scenario)
    assert isinstance(flood, RetryAfter) and flood.seconds == 17
    assert isinstance(blocked, PermanentDeliveryError) and "press Start" in str(blocked)
    assert isinstance(missing, PermanentDeliveryError) and "add the bot" in str(missing)


def test_port_uploads_charts_as_photos_and_workbooks_as_documents(fake: FakeTelegram) -> None:
    async def scenario(port: TelegramPort) -> None:
        await port.send_file("telegram:-1001000", OutboundFile("nps.png", b"\x89PNG...",
                                                               caption="NPS <week>"),
                             dedupe_key="p")
        await port.send_file("telegram:-1001000", OutboundFile("voc.xlsx", b"PK..."),
                             dedupe_key="d")

    with_port(fake, scenario)
    assert [c.method for c in fake.calls if c.method.startswith("send")] == [
        "sendPhoto", "sendDocument"]
    assert fake.sent(-1001000)[0]["caption"] == "NPS <week>"
