"""A fake Telegram Bot API server: real HTTP on 127.0.0.1, `/bot<TOKEN>/<method>`.

It serves what python-telegram-bot calls (getMe, getUpdates as a long poll fed from a queue,
sendMessage, editMessageText, editMessageReplyMarkup, answerCallbackQuery, setWebhook,
deleteWebhook, setMyCommands, sendDocument, sendPhoto), records every call, keeps the messages
of every chat (edits change them in place), checks what real Telegram checks (HTML that parses,
4096 characters after entity parsing, 64-byte callback data), and answers with injected
failures: 429 flood control with `retry_after`, 403 "bot was blocked by the user" / "bot was
kicked from the group chat".

Updates are built in the shapes the Bot API documents (https://core.telegram.org/bots/api#update,
#message, #callbackquery, #messageoriginuser) and that python-telegram-bot's own test suite
uses (tests/auxil/pytest_classes.py, tests/test_update.py): `from`, `chat` with `type`,
`entities` with a `bot_command` entity at offset 0, `forward_origin` objects.

The server runs in its own thread and event loop, so the bot under test can be in-process or a
subprocess (`voc run`, `voc serve`); tests wait for what the bot posts with `expect`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from aiohttp import web

TOKEN = "123456:TEST-fake-token"
BOT = {"id": 123456, "is_bot": True, "first_name": "VoC", "username": "voc_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False,
       "supports_inline_queries": False}
_INT_PARAMS = {"chat_id", "message_id", "message_thread_id", "offset", "timeout", "limit"}
_JSON_PARAMS = {"reply_markup", "allowed_updates", "commands", "link_preview_options",
                "entities", "reply_parameters"}
_ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                 "blockquote", "tg-spoiler", "span", "tg-emoji"}


@dataclass(frozen=True)
class User:
    """A Telegram user who talks to the bot."""

    id: int
    first_name: str
    last_name: str | None = None
    language_code: str | None = "en"
    username: str | None = None

    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "language_code", "username"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass
class Failure:
    """An error to answer instead of doing the call."""

    method: str
    code: int
    description: str
    chat_id: int | None = None
    retry_after: int | None = None
    times: int = 1


@dataclass
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    answered: dict[str, Any] = field(default_factory=dict)


class _TelegramHTML(HTMLParser):
    """Checks Telegram's HTML rules and collects the text after entity parsing."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.open: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _ALLOWED_TAGS:
            self.error = f"Unsupported start tag \"{tag}\""
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open.pop() != tag:
            self.error = f"Unexpected end tag \"{tag}\""

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(text: str) -> tuple[str, str | None]:
    """(the text Telegram would show, the parse error if any)."""
    if re.search(r"&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)", text) or re.search(r"<(?![/a-z])",
                                                                              text):
        return text, "Can't parse entities: unescaped character"
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    error = parser.error or ("unclosed tag" if parser.open else None)
    return "".join(parser.text), error and f"Can't parse entities: {error}"


class FakeTelegram:
    """The Bot API, in memory. `url` is what TELEGRAM_API_URL should be."""

    def __init__(self, token: str = TOKEN) -> None:
        self.token = token
        self.calls: list[Call] = []
        # Shared with other fakes, to tell the order of calls across platforms (and when).
        self.journal: list[tuple[str, str, dict[str, Any], float]] | None = None
        self.chats: dict[int, list[dict[str, Any]]] = {}
        self.updates: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.webhook: dict[str, Any] | None = None
        self.files: dict[str, tuple[str, bytes]] = {}  # file_id -> (file_path, content)
        self.downloads: list[str] = []  # file paths the bot downloaded
        # setMyCommands: (scope, language) -> [(command, description)]; scope is "default",
        # "all_private_chats", "chat:<id>"...; language "" when none was given.
        self.menus: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.descriptions: dict[tuple[str, str], str] = {}  # (description|short, lang) -> text
        self.reactions: dict[tuple[int, int], list[str]] = {}  # (chat, message) -> emoji
        self._update_ids = itertools.count(100_001)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._cursor: dict[int, int] = {}
        self._loop = asyncio.new_event_loop()
        self._new_update: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.port = 0
        self._closing = False

    # -- lifecycle -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The Bot API base URL (python-telegram-bot appends the token)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeTelegram:
        """Listen on a free loopback port."""
        return self.start_on(0)

    def start_on(self, port: int) -> FakeTelegram:
        """Listen on `port` of 127.0.0.1 (0: a free one)."""
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(port), self._loop).result(10)
        return self

    async def _start(self, port: int) -> None:
        self._new_update = asyncio.Event()
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def stop(self) -> None:
        """Close the server and its thread."""
        self._closing = True  # open long polls return at once
        if self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- what tests arrange ----------------------------------------------------------------
    def fail(self, method: str, code: int, description: str, *, chat_id: int | None = None,
             retry_after: int | None = None, times: int = 1) -> None:
        """Answer the next `times` calls of `method` (to `chat_id`) with this error."""
        with self._lock:
            self.failures.append(Failure(method, code, description, chat_id, retry_after,
                                         times))

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates (long polling)."""
        with self._lock:
            self.updates.append(update)
        if self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)
        return update

    def update(self, **content: Any) -> dict[str, Any]:
        """An Update with a fresh update_id."""
        return {"update_id": next(self._update_ids), **content}

    def message(self, user: User, text: str, *, chat: dict[str, Any] | None = None,
                reply_to: dict[str, Any] | None = None,
                forward_origin: dict[str, Any] | None = None) -> dict[str, Any]:
        """An Update carrying a message `user` typed (in their private chat by default)."""
        chat = chat or {"id": user.id, "first_name": user.first_name, "type": "private"}
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat["id"]), "from": user.json(),
            "chat": chat, "date": int(time.time()), "text": text}
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": len(text.split()[0])}]
        if reply_to is not None:
            message["reply_to_message"] = public(reply_to)
        if forward_origin is not None:
            message["forward_origin"] = forward_origin
            message["forward_date"] = forward_origin["date"]
        self._remember(chat["id"], message)
        return self.update(message=message)

    def file(self, content: bytes, *, size: int | None = None) -> dict[str, Any]:
        """Keep a file a user sends; its File object (file_id, file_size as declared)."""
        with self._lock:
            number = next(self._update_ids)
            file_id, path = f"FILE{number}", f"documents/file_{number}"
            self.files[file_id] = (path, content)
        return {"file_id": file_id, "file_unique_id": f"U{number}",
                "file_size": len(content) if size is None else size}

    def media(self, user: User, *, photo: bytes | None = None,
              document: tuple[str, bytes] | None = None, size: int | None = None,
              caption: str | None = None, media_group_id: str | None = None,
              forward_origin: dict[str, Any] | None = None) -> dict[str, Any]:
        """An Update with a photo or a document `user` sent (with a caption, in an album,
        forwarded). `size` declares a file_size other than the content's (a 60 MB file)."""
        chat = {"id": user.id, "first_name": user.first_name, "type": "private"}
        message: dict[str, Any] = {"message_id": self._next_message_id(chat["id"]),
                                   "from": user.json(), "chat": chat, "date": int(time.time())}
        if photo is not None:
            big = self.file(photo, size=size)
            message["photo"] = [{**self.file(photo[:100]), "width": 90, "height": 60},
                                {**big, "width": 1280, "height": 960}]
        if document is not None:
            name, content = document
            message["document"] = {**self.file(content, size=size), "file_name": name,
                                   "mime_type": "application/octet-stream"}
        if caption is not None:
            message["caption"] = caption
            if caption.startswith("/"):
                message["caption_entities"] = [{"type": "bot_command", "offset": 0,
                                                "length": len(caption.split()[0])}]
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        if forward_origin is not None:
            message["forward_origin"] = forward_origin
            message["forward_date"] = forward_origin["date"]
        self._remember(chat["id"], message)
        return self.update(message=message)

    def uploaded(self, chat_id: int) -> list[dict[str, Any]]:
        """The files the bot posted in a chat (photos and documents), oldest first, each with
        `content` (the bytes it uploaded) and `reply_to` (the message it answered)."""
        found = []
        for call in self.calls:
            if call.method in ("sendPhoto", "sendDocument") and call.answered and int(
                    call.params.get("chat_id", 0)) == chat_id:
                upload = call.params.get("photo") or call.params.get("document") or {}
                found.append({"method": call.method, "filename": upload.get("filename"),
                              "content": upload.get("content"),
                              "caption": call.params.get("caption", ""),
                              "reply_to": (call.params.get("reply_parameters") or {}
                                           ).get("message_id"),
                              "message": call.answered["result"]})
        return found

    def callback(self, user: User, message: dict[str, Any], data: str) -> dict[str, Any]:
        """An Update for `user` pressing a button of `message` (as the bot last left it)."""
        return self.update(callback_query={
            "id": str(next(self._update_ids)), "from": user.json(), "message": public(message),
            "chat_instance": str(message["chat"]["id"]), "data": data})

    # -- what tests observe ----------------------------------------------------------------
    def calls_of(self, method: str) -> list[Call]:
        """Every call of one method so far."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int) -> list[dict[str, Any]]:
        """The bot's messages in a chat, oldest first, as they are now (after edits)."""
        with self._lock:
            return [m for m in self.chats.get(chat_id, []) if m["from"]["id"] == BOT["id"]]

    def wait(self, check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        """Block until `check()` is truthy; its value. Checked again at least every 0.2 s:
        a check may read what the fake is not told of (the bot's /metrics, its database)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not (result := check()):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what or check}")
                self._changed.wait(min(left, 0.2))
            return result

    def expect(self, chat_id: int, pattern: str, timeout: float = 10.0) -> dict[str, Any]:
        """The next bot message in `chat_id` (after the last one expected) matching `pattern`."""
        regex = re.compile(pattern)

        def find() -> dict[str, Any] | None:
            messages = self.sent(chat_id)
            start = self._cursor.get(chat_id, 0)
            for index, message in enumerate(messages[start:], start):
                if regex.search(message.get("text", "") + message.get("caption", "")):
                    self._cursor[chat_id] = index + 1
                    return message
            return None

        try:
            found: dict[str, Any] = self.wait(find, timeout)
        except AssertionError:
            seen = json.dumps([m.get("text", "") for m in self.sent(chat_id)],
                              ensure_ascii=False, indent=1)
            raise AssertionError(f"no message matching {pattern!r} in chat {chat_id}; the "
                                 f"bot's messages there: {seen}") from None
        return found

    def find(self, chat_id: int, pattern: str) -> dict[str, Any]:
        """The newest bot message in a chat matching `pattern`, as it is now."""
        regex = re.compile(pattern)
        for message in reversed(self.sent(chat_id)):
            if regex.search(message.get("text", "")):
                return message
        raise AssertionError(f"no message matching {pattern!r} in chat {chat_id}")

    def alerts(self) -> list[dict[str, Any]]:
        """answerCallbackQuery calls that showed an alert."""
        return [c.params for c in self.calls_of("answerCallbackQuery")
                if str(c.params.get("show_alert")).lower() == "true"]

    # -- the Bot API -----------------------------------------------------------------------
    def _next_message_id(self, chat_id: int) -> int:
        with self._lock:
            counter = self._message_ids.setdefault(chat_id, itertools.count(1))
            return next(counter)

    def _remember(self, chat_id: int, message: dict[str, Any]) -> None:
        with self._changed:
            self.chats.setdefault(chat_id, []).append(message)
            self._changed.notify_all()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        with self._changed:
            call = Call(method, params)
            self.calls.append(call)
            if self.journal is not None:
                self.journal.append(("telegram", method, params, time.monotonic()))
            self._changed.notify_all()
            failure = self._failure(method, params)
        if failure is not None:
            return self._error(failure.code, failure.description, failure.retry_after)
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = getattr(self, f"_api_{method}", None)
        if handler is None:
            return self._error(404, "Not Found: method not found")
        try:
            result = handler(params)
        except _ApiError as error:
            return self._error(400, error.args[0])
        with self._changed:
            call.answered = {"result": result}
            self._changed.notify_all()
        return web.json_response({"ok": True, "result": result})

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            raw: dict[str, Any] = await request.json()
            return raw
        params: dict[str, Any] = {}
        if request.method == "GET":
            form: Any = request.query
        else:
            form = await request.post()
        for key, value in form.items():
            if hasattr(value, "file"):  # an uploaded file
                content = value.file.read()
                params[key] = {"filename": value.filename, "size": len(content),
                               "content": content}
            elif key in _INT_PARAMS:
                params[key] = int(value)
            elif key in _JSON_PARAMS:
                params[key] = json.loads(value)
            else:
                params[key] = value
        return params

    def _failure(self, method: str, params: dict[str, Any]) -> Failure | None:
        for failure in self.failures:
            if failure.method == method and failure.times > 0 and (
                    failure.chat_id is None or failure.chat_id == params.get("chat_id")):
                failure.times -= 1
                return failure
        return None

    @staticmethod
    def _error(code: int, description: str, retry_after: int | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
            body["description"] = f"Too Many Requests: retry after {retry_after}"
        return web.json_response(body, status=code)

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        assert self._new_update is not None
        offset = params.get("offset", 0)
        deadline = time.monotonic() + float(params.get("timeout", 0))
        while True:
            with self._lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                ready = list(self.updates)
            left = deadline - time.monotonic()
            if ready or left <= 0 or self._closing:
                return web.json_response({"ok": True, "result": ready})
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), timeout=min(left, 0.5))

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id > 0:
            return {"id": chat_id, "first_name": f"user{chat_id}", "type": "private"}
        return {"id": chat_id, "title": f"group {chat_id}", "type": "supergroup"}

    def _message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        for message in self.chats.get(chat_id, []):
            if message["message_id"] == message_id:
                return message
        raise _ApiError("Bad Request: message to edit not found")

    @staticmethod
    def _check_text(params: dict[str, Any], key: str = "text", limit: int = 4096) -> str:
        text = str(params.get(key, ""))
        if params.get("parse_mode") == "HTML":
            text, error = parse_html(text)
            if error:
                raise _ApiError(f"Bad Request: {error}")
        if not text.strip() and key == "text":
            raise _ApiError("Bad Request: message text is empty")
        if len(text) > limit:
            raise _ApiError("Bad Request: message is too long")
        return html.unescape(text)

    @staticmethod
    def _check_markup(params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup and "inline_keyboard" in markup:
            buttons = [b for row in markup["inline_keyboard"] for b in row]
            if len(buttons) > 100:
                raise _ApiError("Bad Request: too many inline keyboard buttons")
            if any(len(b.get("callback_data", "").encode()) > 64 for b in buttons):
                raise _ApiError("Bad Request: BUTTON_DATA_INVALID")
        return markup if markup else None

    def _post(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": self._next_message_id(chat_id), "from": BOT, "chat": self._chat(chat_id),
            "date": int(time.time()), **content}
        if params.get("reply_parameters"):  # the message answered, as Telegram embeds it
            message["reply_to_message"] = public(self._message(
                chat_id, int(params["reply_parameters"]["message_id"])))
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        self._remember(chat_id, message)
        return message

    async def _download(self, request: web.Request) -> web.Response:
        """https://api.telegram.org/file/bot<token>/<file_path>, as getFile told."""
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        path = request.match_info["path"]
        with self._lock:
            found = next((c for p, c in self.files.values() if p == path), None)
            self.downloads.append(path)
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found, content_type="application/octet-stream")

    # One method each, as the Bot API names them.
    def _api_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return BOT

    def _api_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        """A file's path to download; like Telegram, none past 20 MB ("file is too big")."""
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise _ApiError("Bad Request: invalid file_id")
        path, content = self.files[file_id]
        if len(content) > 20 * 1024 * 1024:
            raise _ApiError("Bad Request: file is too big")
        return {"file_id": file_id, "file_unique_id": "U" + file_id, "file_size": len(content),
                "file_path": path}

    def _api_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._check_text(params)
        content: dict[str, Any] = {"text": text, "html": params.get("text", "")}
        if markup := self._check_markup(params):
            # Messages carry only inline keyboards; a ForceReply is kept aside for tests.
            content["reply_markup" if "inline_keyboard" in markup else "force_reply"] = markup
        if replied := (params.get("reply_parameters") or {}).get("message_id"):
            content["reply_to_message"] = public(self._message(int(params["chat_id"]), replied))
        return self._post(params, **content)

    def _api_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(int(params["chat_id"]), int(params["message_id"]))
        text = self._check_text(params)
        markup = self._check_markup(params)
        if message.get("html") == params.get("text") and message.get("reply_markup") == markup:
            raise _ApiError("Bad Request: message is not modified: specified new message "
                            "content and reply markup are exactly the same as a current "
                            "content and reply markup of the message")
        with self._changed:
            message.update(text=text, html=params.get("text", ""), edit_date=int(time.time()))
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            self._changed.notify_all()
        return message

    def _api_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._message(int(params["chat_id"]), int(params["message_id"]))
        with self._changed:
            message.pop("reply_markup", None)
            if markup := self._check_markup(params):
                message["reply_markup"] = markup
            self._changed.notify_all()
        return message

    def _api_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if len(str(params.get("text", ""))) > 200:
            raise _ApiError("Bad Request: MESSAGE_TOO_LONG")
        return True

    def _api_setWebhook(self, params: dict[str, Any]) -> bool:
        self.webhook = params
        return True

    def _api_deleteWebhook(self, _params: dict[str, Any]) -> bool:
        self.webhook = None
        return True

    def _api_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = _decoded(params.get("commands")) or []
        if len(commands) > 100:
            raise _ApiError("Bad Request: too many commands")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not (
                    1 <= len(command["description"]) <= 256):
                raise _ApiError("Bad Request: BOT_COMMAND_INVALID")
        scope = _decoded(params.get("scope")) or {"type": "default"}
        key = scope["type"] + (f":{scope['chat_id']}" if "chat_id" in scope else "") + (
            f":{scope['user_id']}" if "user_id" in scope else "")
        with self._lock:
            self.menus[(key, params.get("language_code") or "")] = [
                (c["command"], c["description"]) for c in commands]
        return True

    def _api_setMyDescription(self, params: dict[str, Any]) -> bool:
        return self._describe("description", params, 512)

    def _api_setMyShortDescription(self, params: dict[str, Any]) -> bool:
        return self._describe("short_description", params, 120)

    def _describe(self, kind: str, params: dict[str, Any], limit: int) -> bool:
        text = str(params.get(kind, ""))
        if len(text) > limit:
            raise _ApiError(f"Bad Request: {kind} is too long")
        with self._lock:
            self.descriptions[(kind, params.get("language_code") or "")] = text
        return True

    def _api_setMessageReaction(self, params: dict[str, Any]) -> bool:
        reaction = _decoded(params.get("reaction")) or []
        emoji = [r["emoji"] for r in reaction if r.get("type") == "emoji"]
        if any(e not in REACTIONS for e in emoji):  # Telegram allows a fixed set
            raise _ApiError("Bad Request: REACTION_INVALID")
        if len(emoji) > 1:  # bots without Premium set one reaction
            raise _ApiError("Bad Request: REACTIONS_TOO_MANY")
        with self._lock:
            self.reactions[(int(params["chat_id"]), int(params["message_id"]))] = emoji
        return True

    def reactions_on(self, chat_id: int, message_id: int) -> list[str]:
        """The bot's reaction on a message (the last one it set), as emoji."""
        with self._lock:
            return list(self.reactions.get((chat_id, message_id), []))

    def _api_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = self._check_text(params, "caption", 1024) if params.get("caption") else ""
        upload = params.get("document") or {}
        return self._post(params, caption=caption, document={
            "file_id": f"doc{len(self.calls)}", "file_unique_id": f"u{len(self.calls)}",
            "file_name": upload.get("filename"), "file_size": upload.get("size")})

    def _api_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        caption = self._check_text(params, "caption", 1024) if params.get("caption") else ""
        upload = params.get("photo") or {}
        return self._post(params, caption=caption, photo=[{
            "file_id": f"photo{len(self.calls)}", "file_unique_id": f"u{len(self.calls)}",
            "width": 1200, "height": 800, "file_size": upload.get("size")}])


# Some of the emoji the Bot API accepts as reactions (ReactionTypeEmoji).
REACTIONS = frozenset({"👍", "👎", "❤", "🔥", "🎉", "👏", "🙏", "👌", "👀", "🤝", "✍", "🫡", "😢"})


def _decoded(value: Any) -> Any:
    """A parameter sent as JSON text (form-encoded calls) or as JSON already."""
    return json.loads(value) if isinstance(value, str) else value


def public(message: dict[str, Any]) -> dict[str, Any]:
    """A message as Telegram shows it inside updates (without what the fake keeps aside)."""
    return {k: v for k, v in message.items() if k not in ("html", "force_reply")}


class _ApiError(Exception):
    """A 400 Bad Request with Telegram's description."""


def button(message: dict[str, Any], label: str) -> str:
    """The callback data of the button labelled `label` (a regex) on a message."""
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for candidate in row:
            if re.fullmatch(label, candidate["text"]):
                return str(candidate["callback_data"])
    labels = [b["text"] for row in message.get("reply_markup", {}).get("inline_keyboard", [])
              for b in row]
    raise AssertionError(f"no button {label!r} on the message; it has {labels}")


def main() -> None:
    """`python -m tests.support.fake_telegram PORT`: serve until SIGTERM (benchmarks)."""
    import signal
    import sys

    server = FakeTelegram()
    server.start_on(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(server.url, flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    stopped.wait()
    server.stop()


if __name__ == "__main__":
    main()
