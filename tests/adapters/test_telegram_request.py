"""The aiohttp transport of python-telegram-bot (handlers/telegram/request.py), over real HTTP.

A `telegram.Bot` on `AiohttpRequest` talks to the fake Bot API server: messages, edits and
uploads arrive as Telegram would read them, Telegram's refusals become PTB's exceptions, and
transport failures (a server that never answers, a full pool, a closed port) become `TimedOut`
and `NetworkError` in bounded time, with messages and tracebacks that never show the token.
"""

from __future__ import annotations

import asyncio
import socket
import time
import traceback
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from telegram import Bot, InputFile
from telegram.constants import ParseMode
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot.core.service import VocService
from handlers.telegram.app import build_application
from handlers.telegram.request import AiohttpRequest
from tests.support.fake_telegram import TOKEN, FakeTelegram, User

ANNA = User(2001, "Анна", language_code="ru")
CHAT = ANNA.id
SECRET_PART = TOKEN.split(":")[1]


class UploadsKept(FakeTelegram):
    """The fake server, also keeping every uploaded file as it arrived: (name, type, bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploads: dict[str, tuple[str | None, str, bytes]] = {}

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type.startswith("multipart/"):
            for key, value in (await request.post()).items():  # aiohttp caches the form
                if isinstance(value, web.FileField):
                    self.uploads[key] = (value.filename, value.content_type, value.file.read())
                    value.file.seek(0)
        return await super()._params(request)


@pytest.fixture
def fake() -> Iterator[UploadsKept]:
    server = UploadsKept()
    server.start()
    yield server
    server.stop()


@asynccontextmanager
async def bot_on(url: str, **timeouts: Any) -> AsyncIterator[Bot]:
    """A Bot whose two request objects are AiohttpRequest, open for the block (getMe not
    called: a dead server must fail the call under test, not the start)."""
    request = AiohttpRequest(**timeouts)
    polling = AiohttpRequest(**{**timeouts, "connection_pool_size": 1})
    async with request, polling:
        yield Bot(TOKEN, base_url=url, request=request, get_updates_request=polling)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def assert_token_hidden(error: BaseException) -> None:
    shown = str(error) + "".join(traceback.format_exception(error))
    assert TOKEN not in shown and SECRET_PART not in shown, shown


# -- what Telegram receives ----------------------------------------------------------------
def test_a_message_arrives_with_its_html_and_is_then_edited_in_place(fake: UploadsKept) -> None:
    async def scenario() -> tuple[int, int]:
        async with bot_on(fake.url) as bot:
            me = await bot.get_me()
            sent = await bot.send_message(CHAT, "Курьер <b>опоздал</b> &amp; нагрубил",
                                          parse_mode=ParseMode.HTML)
            edited = await bot.edit_message_text("Решено: <i>заменили курьера</i>",
                                                 chat_id=CHAT, message_id=sent.message_id,
                                                 parse_mode=ParseMode.HTML)
            assert me.username == "voc_test_bot"
            assert not isinstance(edited, bool)
            return sent.message_id, edited.message_id

    sent_id, edited_id = run(scenario())
    call = fake.calls_of("sendMessage")[0]
    assert call.params["parse_mode"] == "HTML"
    assert call.params["text"] == "Курьер <b>опоздал</b> &amp; нагрубил"
    [message] = fake.sent(CHAT)  # one message, edited: not a second one
    assert sent_id == edited_id == message["message_id"]
    assert message["text"] == "Решено: заменили курьера"  # as Telegram shows it
    assert message["edit_date"]
    assert fake.calls_of("editMessageText")[0].params["parse_mode"] == "HTML"


def test_an_upload_arrives_byte_for_byte_with_its_name_and_caption(fake: UploadsKept) -> None:
    # Bytes that a wrong encoding would mangle: NUL, 0xFF, CRLF, something like a boundary.
    content = bytes(range(256)) * 64 + b"\r\n--boundary--\r\n" + "ё".encode() + b"\x00"

    async def scenario() -> Any:
        async with bot_on(fake.url) as bot:
            return await bot.send_document(
                CHAT, InputFile(content, filename="Дайджест 2026-W48.xlsx"),
                caption="Неделя <b>48</b>", parse_mode=ParseMode.HTML)

    message = run(scenario())
    filename, mimetype, received = fake.uploads["document"]
    assert received == content
    assert filename == "Дайджест 2026-W48.xlsx"
    assert mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert fake.sent(CHAT)[0]["caption"] == "Неделя 48"  # the caption's HTML was parsed
    assert message.document.file_size == len(content)


def test_a_chart_goes_up_as_a_photo(fake: UploadsKept) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16

    async def scenario() -> None:
        async with bot_on(fake.url) as bot:
            await bot.send_photo(CHAT, InputFile(png, filename="chart.png"), caption="NPS")

    run(scenario())
    assert fake.uploads["photo"] == ("chart.png", "image/png", png)
    assert fake.calls_of("sendPhoto")[0].params["chat_id"] == CHAT


def test_long_polling_waits_past_the_read_timeout_for_a_late_update(fake: UploadsKept) -> None:
    """getUpdates reads for poll timeout + read timeout: an update arriving after the read
    timeout (0.5 s) but inside the poll (3 s) is delivered, not a TimedOut."""
    late = fake.message(ANNA, "/mine")

    async def scenario() -> tuple[list[Any], float]:
        async with bot_on(fake.url, read_timeout=0.5) as bot:
            asyncio.get_running_loop().call_later(1.2, fake.push, late)
            started = time.monotonic()
            updates = await bot.get_updates(timeout=3)
            return list(updates), time.monotonic() - started

    updates, waited = run(scenario())
    assert [u.update_id for u in updates] == [late["update_id"]]
    assert updates[0].message is not None and updates[0].message.text == "/mine"
    assert 1.0 < waited < 3.0


# -- Telegram's refusals -------------------------------------------------------------------
def test_flood_control_becomes_retry_after_with_telegrams_seconds(fake: UploadsKept) -> None:
    fake.fail("sendMessage", 429, "Too Many Requests", retry_after=17)

    async def scenario() -> None:
        async with bot_on(fake.url) as bot:
            with pytest.raises(RetryAfter) as refused:
                await bot.send_message(CHAT, "first")
            assert refused.value.retry_after == timedelta(seconds=17)
            await bot.send_message(CHAT, "second")  # the failure was injected once

    run(scenario())
    assert [m["text"] for m in fake.sent(CHAT)] == ["second"]


def test_a_blocked_bot_is_forbidden_with_telegrams_words(fake: UploadsKept) -> None:
    fake.fail("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=CHAT)

    async def scenario() -> None:
        async with bot_on(fake.url) as bot:
            with pytest.raises(Forbidden, match="bot was blocked by the user"):
                await bot.send_message(CHAT, "hello")

    run(scenario())
    assert fake.sent(CHAT) == []


# -- transport failures --------------------------------------------------------------------
@asynccontextmanager
async def silent_server(held: list[asyncio.StreamWriter] | None = None) -> AsyncIterator[str]:
    """A Bot API URL on 127.0.0.1 that accepts connections (into `held`) and never answers."""
    held = [] if held is None else held

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)
        await reader.read()  # until the client hangs up

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot"
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def test_a_server_that_never_answers_times_out_after_the_read_timeout() -> None:
    async def scenario() -> tuple[BaseException, float]:
        async with silent_server() as url, bot_on(url, read_timeout=0.3) as bot:
            started = time.monotonic()
            with pytest.raises(TimedOut) as timed_out:
                await bot.send_message(CHAT, "hello")
            return timed_out.value, time.monotonic() - started

    error, waited = run(scenario())
    assert 0.25 < waited < 1.5  # the 0.3 s asked for, not the 5 s default
    assert "SocketTimeoutError" in str(error)
    assert_token_hidden(error)


def test_a_full_pool_times_out_after_pool_and_connect_timeouts() -> None:
    """One connection, held by a request the server never answers: the next request waits
    for a connection and gives up after pool + connect timeout (aiohttp's own message for
    that names the URL, hence the token: it must not come through)."""
    async def scenario() -> tuple[BaseException, float]:
        accepted: list[asyncio.StreamWriter] = []
        async with silent_server(accepted) as url, bot_on(
                url, connection_pool_size=1, read_timeout=5, pool_timeout=0.2,
                connect_timeout=0.2) as bot:
            hanging = asyncio.create_task(bot.send_message(CHAT, "first"))
            while not accepted:  # the first request holds the pool's one connection
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(TimedOut) as timed_out:
                await bot.send_message(CHAT, "second")
            waited = time.monotonic() - started
            hanging.cancel()
            with pytest.raises(asyncio.CancelledError):
                await hanging
            return timed_out.value, waited

    error, waited = run(scenario())
    assert 0.3 < waited < 2.0
    assert "ConnectionTimeoutError" in str(error)
    assert_token_hidden(error)


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_closed_port_is_a_network_error_naming_the_cause() -> None:
    port = free_port()

    async def scenario() -> BaseException:
        async with bot_on(f"http://127.0.0.1:{port}/bot") as bot:
            started = time.monotonic()
            with pytest.raises(NetworkError) as failed:
                await bot.send_message(CHAT, "hello")
            assert time.monotonic() - started < 2.0
            return failed.value

    error = run(scenario())
    assert not isinstance(error, TimedOut)
    assert "aiohttp.ClientConnectorError" in str(error)
    assert f"127.0.0.1:{port}" in str(error)  # where it tried, which helps; not the path
    assert_token_hidden(error)


def test_the_proxy_named_by_the_environment_is_used_unless_no_proxy_excludes_the_host(
        fake: UploadsKept, monkeypatch: pytest.MonkeyPatch) -> None:
    """Like httpx: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY, and NO_PROXY. The fake plays the
    proxy; the Bot API URL itself is a closed port, reachable only through it."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{fake.port}")
    unreachable = f"http://127.0.0.1:{free_port()}/bot"

    async def send() -> None:
        async with bot_on(unreachable) as bot:
            await bot.send_message(CHAT, "через прокси")

    run(send())
    assert [m["text"] for m in fake.sent(CHAT)] == ["через прокси"]

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with pytest.raises(NetworkError, match="ClientConnectorError"):
        run(send())
    assert len(fake.sent(CHAT)) == 1


# -- the bot's own wiring ------------------------------------------------------------------
def test_the_bot_application_sends_through_aiohttp(service: VocService,
                                                   fake: UploadsKept) -> None:
    application = build_application(TOKEN, fake.url, service, polling=True)
    assert isinstance(application.bot.request, AiohttpRequest)

    async def scenario() -> None:
        async with application:
            await application.bot.send_message(CHAT, "через aiohttp")
            assert await application.bot.get_updates(timeout=0) == ()

    run(scenario())
    assert fake.sent(CHAT)[0]["text"] == "через aiohttp"
