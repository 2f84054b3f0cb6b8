"""A fake Slack: a Web API server on 127.0.0.1 and people who send signed requests to our app.

`FakeSlack` is a real HTTP server (a thread running `http.server`) that the real slack_sdk
client talks to through `SLACK_API_URL`. It keeps channels, messages (with their metadata),
DMs, opened modals, published App Home views, uploaded files and what was sent to each
`response_url`; it records every call; and it fails on request (`fail(...)`: a 429 with
Retry-After, a 500, a Slack error code such as `channel_not_found`).

`SlackUser` plays one person in the workspace: it signs each request with the signing secret
the way Slack does and posts it to our `/slack/events`, so tests read as dialogs:

    kate.command("/voc complaint The courier was late")   # say this
    card = slack.wait_for_message("C0LOGISTICS")           # expect that

Payload shapes follow Slack's documentation (api.slack.com/interactivity/slash-commands,
/reference/interaction-payloads/block-actions-payload, /views-payload, /shortcuts-payload,
/events/app_home_opened) and bolt-python's own tests (tests/scenario_tests/test_slash_command.py,
test_block_actions.py, test_view_submission.py, test_shortcut.py, test_events.py), trimmed to
the fields Slack always sends.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse

import httpx
import pytest
from slack_sdk.signature import SignatureVerifier
from sqlmodel import select

from bot.config import Settings
from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.core.shared.platforms import SLACK
from bot.runtime import Runtime
from bot.server import create_app
from bot.sync import sync_company
from storage.db import Database
from storage.models import Outbox, Signal

TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-level-token-for-tests"  # Socket Mode (tests/support/fake_socket_mode.py)
SIGNING_SECRET = "fake-signing-secret-for-tests"
# A workflow step's own token (Slack hands one out with each function_executed event).
FUNCTION_TOKEN = "xwfp-" + "fake-workflow-step-token"
TEAM = {"id": "T0VOC", "domain": "northwind"}
APP_ID = "A0VOC"
BOT_USER = "U0VOCBOT"


@dataclass
class Message:
    """A message as the fake keeps it."""

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    metadata: dict[str, Any] | None = None
    edits: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None  # a reply in the thread of that message

    @property
    def plain(self) -> str:
        """Everything a person reads in the blocks (mrkdwn as sent, not unescaped)."""
        return "\n".join(block_texts(self.blocks))

    def buttons(self) -> list[dict[str, Any]]:
        """The buttons, in order."""
        return [e for b in self.blocks if b.get("type") == "actions" for e in b["elements"]]

    def button(self, label: str) -> dict[str, Any]:
        """The button with this label (exactly)."""
        for element in self.buttons():
            if element["text"]["text"] == label:
                return element
        labels = [b["text"]["text"] for b in self.buttons()]
        raise AssertionError(f"no button {label!r} in {labels}")

    def copy(self) -> Message:
        """This version of the message (what a person still sees before an edit arrives)."""
        return copy.deepcopy(self)

    def as_payload(self) -> dict[str, Any]:
        """The `message` object Slack puts into a block_actions payload."""
        return {"type": "message", "user": BOT_USER, "ts": self.ts, "text": self.text,
                "blocks": self.blocks, "team": TEAM["id"]}


def block_texts(blocks: list[dict[str, Any]]) -> list[str]:
    """The texts of sections, contexts, headers and button labels."""
    texts = []
    for block in blocks:
        if isinstance(block.get("text"), dict):
            texts.append(block["text"]["text"])
        for element in block.get("elements", []):
            if isinstance(element.get("text"), dict):
                texts.append(element["text"]["text"])
            elif isinstance(element.get("text"), str):
                texts.append(element["text"])
    return texts


@dataclass
class Failure:
    """An injected failure for the next `times` calls of `method` (to `channel`, if given)."""

    method: str
    status: int = 200
    error: str | None = None
    retry_after: int | None = None
    times: int = 1
    channel: str | None = None


class FakeSlack:
    """The Slack Web API, in memory, on a loopback port."""

    def __init__(self, channels: list[str], users: dict[str, dict[str, Any]] | None = None,
                 *, port: int = 0) -> None:
        self.channels = set(channels)
        self.users = users or {}
        self.not_in_channel: set[str] = set()
        self.messages: dict[str, list[Message]] = {}
        self.calls: list[tuple[str, dict[str, Any]]] = []
        # Shared with other fakes, to tell the order of calls across platforms (and when).
        self.journal: list[tuple[str, str, dict[str, Any], float]] | None = None
        self.views: dict[str, dict[str, Any]] = {}  # opened modals by trigger_id
        self.homes: dict[str, dict[str, Any]] = {}  # App Home by user
        self.home_publishes: dict[str, int] = {}
        self.responses: dict[str, list[dict[str, Any]]] = {}  # response_url token -> bodies
        self.uploads: dict[str, dict[str, Any]] = {}
        self.shared: dict[str, dict[str, Any]] = {}  # files people posted, by id (files.info)
        self.downloads: list[str] = []  # file ids the bot downloaded
        self.failures: list[Failure] = []
        self.socket_mode_url: str | None = None  # what apps.connections.open hands out
        self.steps: dict[str, dict[str, Any]] = {}  # function_execution_id -> how it ended
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        # Stopping waits for the serving loop's next look (0.5 s by default; every test stops one).
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.02})

    def __enter__(self) -> FakeSlack:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    # -- what tests set up ----------------------------------------------------------------
    def fail(self, method: str, *, status: int = 200, error: str | None = None,
             retry_after: int | None = None, times: int = 1, channel: str | None = None) -> None:
        """Make the next `times` calls of `method` fail this way."""
        with self.lock:
            self.failures.append(Failure(method, status, error, retry_after, times, channel))

    def share_file(self, name: str, content: bytes, mimetype: str = "application/octet-stream",
                   *, size: int | None = None) -> dict[str, Any]:
        """A file a person posted in Slack: its file object as messages and file inputs carry
        it (docs: reference/objects/file-object); downloading it needs the bot token. `size`
        declares another size than the content's (a 60 MB video)."""
        with self.lock:
            file_id = f"FU{next(self._ids):05d}"
            url = f"{self.url}/files-pri/{TEAM['id']}-{file_id}/{name}"
            self.shared[file_id] = {"id": file_id, "name": name, "title": name,
                                    "mimetype": mimetype, "filetype": name.rpartition(".")[2],
                                    "size": len(content) if size is None else size,
                                    "url_private": url,
                                    "url_private_download": url + "?download=1",
                                    "_content": content}
            return {k: v for k, v in self.shared[file_id].items() if k != "_content"}

    def share_remote_file(self, name: str, url: str, *, external: bool = True
                          ) -> dict[str, Any]:
        """A file whose `url_private_download` names another host: a remote file (Google
        Drive, Dropbox) added to Slack, which Slack marks `is_external`; with `external`
        False, a file object that names a foreign host without saying so."""
        with self.lock:
            file_id = f"FX{next(self._ids):05d}"
            self.shared[file_id] = {"id": file_id, "name": name, "title": name,
                                    "mimetype": "application/pdf", "filetype": "pdf",
                                    "size": 1000, "is_external": external,
                                    "url_private": url, "url_private_download": url,
                                    "_content": b""}
            return {k: v for k, v in self.shared[file_id].items() if k != "_content"}

    def thread(self, parent: Message) -> list[Message]:
        """The replies in a message's thread (the files posted under a card)."""
        with self.lock:
            return [m for m in self.messages.get(parent.channel, [])
                    if m.thread_ts == parent.ts]

    # -- what tests look at ----------------------------------------------------------------
    def calls_of(self, method: str) -> list[dict[str, Any]]:
        """Arguments of every call of `method` so far."""
        with self.lock:
            return [args for name, args in self.calls if name == method]

    def in_channel(self, channel: str) -> list[Message]:
        """Messages in a channel (or `D<user>` for a DM), oldest first."""
        with self.lock:
            return list(self.messages.get(channel, []))

    def dm(self, user: str) -> list[Message]:
        """The bot's DMs to a user."""
        return self.in_channel("D" + user)

    def wait(self, predicate: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
        """Wait until `predicate()` is truthy; return its value."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                value = predicate()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what or predicate}")
                self.changed.wait(min(left, 0.2))

    def wait_for_message(self, channel: str, containing: str = "", *, timeout: float = 10.0
                         ) -> Message:
        """The newest message in `channel` whose text contains `containing`."""
        def find() -> Message | None:
            return next((m for m in reversed(self.messages.get(channel, []))
                         if containing in m.plain), None)
        message: Message = self.wait(find, timeout, f"{containing!r} in {channel}")
        return message

    def wait_for_edit(self, message: Message, containing: str, timeout: float = 10.0
                      ) -> Message:
        """The same message once an edit put `containing` into it."""
        return self.wait_for_message(message.channel, containing, timeout=timeout)

    def wait_for_view(self, trigger_id: str, timeout: float = 10.0) -> dict[str, Any]:
        """The modal opened with `trigger_id`."""
        view: dict[str, Any] = self.wait(lambda: self.views.get(trigger_id), timeout,
                                         f"a modal for trigger {trigger_id}")
        return view

    def wait_for_response(self, token: str, containing: str = "", timeout: float = 10.0
                          ) -> dict[str, Any]:
        """What our app sent to the response_url `token`."""
        def find() -> dict[str, Any] | None:
            return next((r for r in self.responses.get(token, [])
                         if containing in json.dumps(r, ensure_ascii=False)), None)
        response: dict[str, Any] = self.wait(find, timeout, f"{containing!r} at {token}")
        return response

    # -- the Web API -----------------------------------------------------------------------
    def api(self, method: str, args: dict[str, Any], authorized: bool
            ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self.changed:
            self.calls.append((method, args))
            if self.journal is not None:
                self.journal.append(("slack", method, args, time.monotonic()))
            self.changed.notify_all()
            if not authorized:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            for failure in self.failures:
                if failure.method == method and failure.times > 0 and (
                        failure.channel is None or failure.channel == args.get("channel")):
                    failure.times -= 1
                    headers = ({"Retry-After": str(failure.retry_after)}
                               if failure.retry_after is not None else {})
                    body = {"ok": False, "error": failure.error or (
                        "ratelimited" if failure.status == 429 else "fatal_error")}
                    return failure.status, body, headers
            handler = getattr(self, "m_" + method.replace(".", "_"), None)
            if handler is None:
                return 200, {"ok": False, "error": "unknown_method"}, {}
            result = handler(args)
            self.changed.notify_all()
            return 200, result, {}

    def _conversation(self, channel: str) -> str | None:
        """The conversation a post goes to: channels we know, `D<user>` for a user id."""
        if channel.startswith(("U", "W")) and channel in self.users:
            return "D" + channel
        if channel.startswith("D") and channel[1:] in self.users:
            return channel
        return channel if channel in self.channels else None

    def _post(self, conversation: str, args: dict[str, Any]) -> Message:
        message = Message(conversation, f"1700000000.{next(self._ts):06d}",
                          str(args.get("text", "")), _json(args.get("blocks")) or [],
                          _json(args.get("metadata")), thread_ts=args.get("thread_ts") or None)
        self.messages.setdefault(conversation, []).append(message)
        return message

    def m_functions_completeSuccess(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._end_step(args, {"outputs": _json(args.get("outputs")) or {}})

    def m_functions_completeError(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._end_step(args, {"error": str(args.get("error", ""))})

    def _end_step(self, args: dict[str, Any], outcome: dict[str, Any]) -> dict[str, Any]:
        execution = str(args.get("function_execution_id", ""))
        if execution not in self.steps:
            return {"ok": False, "error": "function_execution_not_found"}
        if self.steps[execution]:  # Slack ends a step once
            return {"ok": False, "error": "function_execution_already_completed"}
        self.steps[execution] = outcome
        return {"ok": True}

    def wait_for_step(self, execution: str, timeout: float = 10.0) -> dict[str, Any]:
        """How the workflow step `execution` ended: {"outputs": ...} or {"error": ...}."""
        outcome: dict[str, Any] = self.wait(lambda: self.steps.get(execution), timeout,
                                            f"the end of step {execution}")
        return outcome

    def m_auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": "https://northwind.slack.com/", "team": "Northwind",
                "user": "voc", "team_id": TEAM["id"], "user_id": BOT_USER, "bot_id": "B0VOC",
                "is_enterprise_install": False}

    def m_chat_postMessage(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel", ""))
        conversation = self._conversation(channel)
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        if conversation in self.not_in_channel:
            return {"ok": False, "error": "not_in_channel"}
        message = self._post(conversation, args)
        return {"ok": True, "channel": conversation, "ts": message.ts,
                "message": {"text": message.text, "ts": message.ts}}

    def m_chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        for message in self.messages.get(str(args.get("channel")), []):
            if message.ts == args.get("ts"):
                message.text = str(args.get("text", ""))
                message.blocks = _json(args.get("blocks")) or []
                message.edits += 1
                return {"ok": True, "channel": message.channel, "ts": message.ts}
        return {"ok": False, "error": "message_not_found"}

    def m_chat_getPermalink(self, args: dict[str, Any]) -> dict[str, Any]:
        ts = str(args.get("message_ts", "")).replace(".", "")
        return {"ok": True, "channel": args.get("channel"),
                "permalink": f"https://northwind.slack.com/archives/{args.get('channel')}/p{ts}"}

    def m_conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("users", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": "D" + user}}

    def m_conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = str(args.get("channel"))
        if self._conversation(channel) is None:
            return {"ok": False, "error": "channel_not_found"}
        newest_first = list(reversed(self.messages.get(channel, [])))
        show_metadata = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
        return {"ok": True, "has_more": False, "response_metadata": {"next_cursor": ""},
                "messages": [{"type": "message", "ts": m.ts, "text": m.text, "bot_id": "B0VOC",
                              **({"metadata": m.metadata}
                                 if show_metadata and m.metadata else {})}
                             for m in newest_first[:int(args.get("limit", 100))]]}

    def m_users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user", ""))
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        info = self.users[user]
        return {"ok": True, "user": {
            "id": user, "team_id": TEAM["id"], "name": info["name"].split()[0].lower(),
            "real_name": info["name"], "locale": info.get("locale", "en-US"),
            "profile": {"display_name": info["name"], "real_name": info["name"]}}}

    def m_views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json(args.get("view")) or {}
        view = {**view, "id": f"V{next(self._ids):05d}", "team_id": TEAM["id"],
                "app_id": APP_ID, "hash": uuid.uuid4().hex[:12], "state": {"values": {}}}
        self.views[str(args.get("trigger_id"))] = view
        return {"ok": True, "view": view}

    def m_views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        user = str(args.get("user_id"))
        self.homes[user] = _json(args.get("view")) or {}
        self.home_publishes[user] = self.home_publishes.get(user, 0) + 1
        return {"ok": True, "view": {**self.homes[user], "id": f"VH{user}"}}

    def m_files_getUploadURLExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        file_id = f"F{next(self._ids):05d}"
        self.uploads[file_id] = {"filename": args.get("filename"), "content": b""}
        return {"ok": True, "upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}

    def m_files_completeUploadExternal(self, args: dict[str, Any]) -> dict[str, Any]:
        files = _json(args.get("files")) or []
        channel = str(args.get("channel_id") or args.get("channels") or "")
        conversation = self._conversation(channel)
        if conversation is None:
            return {"ok": False, "error": "channel_not_found"}
        message = self._post(conversation, {"text": args.get("initial_comment", "")})
        message.files = [{**f, **self.uploads.get(f["id"], {})} for f in files]
        message.thread_ts = args.get("thread_ts") or None
        return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in files]}

    def m_files_info(self, args: dict[str, Any]) -> dict[str, Any]:
        shared = self.shared.get(str(args.get("file", "")))
        if shared is None:
            return {"ok": False, "error": "file_not_found"}
        return {"ok": True, "file": {k: v for k, v in shared.items() if k != "_content"}}

    def m_apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Socket Mode: a WebSocket URL for the app-level token (never for the bot token)."""
        if args.get("_token") != APP_TOKEN:
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.socket_mode_url is None:
            return {"ok": False, "error": "not_allowed"}  # the app has Socket Mode off
        return {"ok": True, "url": self.socket_mode_url}

    # -- HTTP ------------------------------------------------------------------------------
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive, as Slack's API: a client's pooled connection serves many calls
            # (every answer has its Content-Length).
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _answer(self, status: int, body: dict[str, Any],
                        headers: dict[str, str] | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                self._dispatch(b"")

            def do_POST(self) -> None:
                self._dispatch(self._body())

            def _dispatch(self, raw: bytes) -> None:
                url = urlparse(self.path)
                if url.path.startswith("/files-pri/"):  # url_private: the bot token only
                    file_id = url.path.split("/")[2].partition("-")[2]
                    shared = fake.shared.get(file_id)
                    if self.headers.get("Authorization") != f"Bearer {TOKEN}" or not shared:
                        self.send_response(404 if shared is None else 302)
                        self.send_header("Location", "https://northwind.slack.com/?redir=login")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    with fake.lock:
                        fake.downloads.append(file_id)
                    self.send_response(200)
                    self.send_header("Content-Type", shared["mimetype"])
                    self.send_header("Content-Length", str(len(shared["_content"])))
                    self.end_headers()
                    self.wfile.write(shared["_content"])
                    return
                if url.path.startswith("/upload/"):
                    with fake.lock:
                        fake.uploads.setdefault(url.path.rsplit("/", 1)[1], {})["content"] = raw
                    self._answer(200, {"ok": True})
                    return
                if url.path.startswith("/response/"):
                    with fake.changed:
                        fake.responses.setdefault(url.path.rsplit("/", 1)[1], []).append(
                            json.loads(raw or b"{}"))
                        fake.changed.notify_all()
                    self._answer(200, {"ok": True})
                    return
                if not url.path.startswith("/api/"):
                    self._answer(404, {"ok": False, "error": "not_found"})
                    return
                args: dict[str, Any] = dict(parse_qsl(url.query))
                content_type = self.headers.get("Content-Type", "")
                if raw and "json" in content_type:
                    args.update(json.loads(raw))
                elif raw and "form" in content_type:
                    args.update(parse_qsl(raw.decode()))
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                authorized = bearer in (TOKEN, FUNCTION_TOKEN) or args.get("token") == TOKEN
                if url.path.startswith("/api/functions."):  # only the step's own token
                    authorized = bearer == FUNCTION_TOKEN
                if url.path == "/api/apps.connections.open":  # the one app-level-token method
                    bearer = self.headers.get("Authorization", "")
                    args["_token"] = bearer.removeprefix("Bearer ")
                    authorized = args["_token"] in (TOKEN, APP_TOKEN)
                status, body, headers = fake.api(url.path[len("/api/"):], args, authorized)
                self._answer(status, body, headers)

        return Handler


def _json(value: Any) -> Any:
    """Slack accepts JSON-in-a-string for blocks, metadata and views (form-encoded calls)."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return None
    return value


class SlackUser:
    """One person in the workspace, sending signed requests to our `/slack/events`."""

    def __init__(self, slack: FakeSlack, events_url: str, user_id: str, *,
                 secret: str = SIGNING_SECRET) -> None:
        self.slack = slack
        self.events_url = events_url
        self.id = user_id
        self.secret = secret
        self.last_response_url: str | None = None
        self.last_trigger: str | None = None

    # -- signing and sending ---------------------------------------------------------------
    def send(self, body: str, content_type: str, *, timestamp: int | None = None,
             secret: str | None = None, headers: dict[str, str] | None = None
             ) -> httpx.Response:
        """POST `body` signed as Slack signs it: v0=HMAC-SHA256(v0:timestamp:body)."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = SignatureVerifier(secret or self.secret).generate_signature(
            timestamp=ts, body=body)
        return httpx.post(self.events_url, content=body.encode(), timeout=15, headers={
            "Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "", **(headers or {})})

    def _response_url(self) -> str:
        self.last_response_url = f"{self.slack.url}/response/{uuid.uuid4().hex}"
        return self.last_response_url

    def _trigger(self) -> str:
        self.last_trigger = f"{int(time.time())}.{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex}"
        return self.last_trigger

    @staticmethod
    def token_of(response_url: str) -> str:
        """The key under which the fake keeps what was sent to a response_url."""
        return response_url.rsplit("/", 1)[1]

    # -- what a person does ----------------------------------------------------------------
    def command_body(self, text: str, *, channel: str = "C0GENERAL") -> str:
        """A slash command as Slack POSTs it: form-encoded (docs: slash-commands#app_command
        _handling; bolt-python tests/scenario_tests/test_slash_command.py)."""
        return urlencode({
            "token": "verification-token-unused", "team_id": TEAM["id"],
            "team_domain": TEAM["domain"], "channel_id": channel, "channel_name": "general",
            "user_id": self.id, "user_name": self.id.lower(), "command": "/voc", "text": text,
            "api_app_id": APP_ID, "is_enterprise_install": "false",
            "response_url": self._response_url(), "trigger_id": self._trigger()})

    def command(self, text: str, **kwargs: Any) -> httpx.Response:
        """Type `/voc TEXT`."""
        return self.send(self.command_body(text, **kwargs), "application/x-www-form-urlencoded")

    def say(self, text: str) -> str:
        """Type `/voc TEXT` and return what the ephemeral answer says (plain)."""
        response = self.command(text)
        assert response.status_code == 200, response.text
        body = response.json() if response.content else {}
        return "\n".join([body.get("text", ""), *block_texts(body.get("blocks", []))])

    def interact(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        """Interactivity: form field `payload` holding JSON."""
        return self.send(urlencode({"payload": json.dumps(payload)}),
                         "application/x-www-form-urlencoded", **kwargs)

    def _user(self) -> dict[str, Any]:
        return {"id": self.id, "username": self.id.lower(), "name": self.id.lower(),
                "team_id": TEAM["id"]}

    def press(self, message: Message, label: str) -> httpx.Response:
        """Press a button on a message (block_actions payload; docs: block-actions-payload,
        bolt-python tests/scenario_tests/test_block_actions.py)."""
        button = message.button(label)
        return self.interact({
            "type": "block_actions", "user": self._user(), "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {"type": "message", "message_ts": message.ts,
                          "channel_id": message.channel, "is_ephemeral": False},
            "trigger_id": self._trigger(), "team": TEAM,
            "channel": {"id": message.channel, "name": "channel"},
            "message": message.as_payload(), "response_url": self._response_url(),
            "actions": [{"action_id": button["action_id"], "block_id": "b1",
                         "text": button["text"], "value": button.get("value"),
                         "type": "button", "action_ts": f"{time.time():.6f}"}]})

    def press_in(self, blocks: list[dict[str, Any]], label: str, *,
                 ephemeral: bool = True) -> httpx.Response:
        """Press a button on an ephemeral answer (container.is_ephemeral) it sent us."""
        message = Message("C0GENERAL", "1700000000.999999", "", blocks)
        button = message.button(label)
        return self.interact({
            "type": "block_actions", "user": self._user(), "api_app_id": APP_ID,
            "container": {"type": "message", "message_ts": message.ts,
                          "channel_id": message.channel, "is_ephemeral": ephemeral},
            "trigger_id": self._trigger(), "team": TEAM,
            "channel": {"id": message.channel, "name": "general"},
            "response_url": self._response_url(),
            "actions": [{"action_id": button["action_id"], "block_id": "b1",
                         "text": button["text"], "value": button.get("value"),
                         "type": "button", "action_ts": f"{time.time():.6f}"}]})

    def press_home(self, label: str) -> httpx.Response:
        """Press a button on the App Home (container.type "view", no response_url)."""
        home = self.slack.homes[self.id]
        button = Message("home", "0", "", home["blocks"]).button(label)
        return self.interact({
            "type": "block_actions", "user": self._user(), "api_app_id": APP_ID,
            "container": {"type": "view", "view_id": f"VH{self.id}"},
            "trigger_id": self._trigger(), "team": TEAM,
            "view": {**home, "id": f"VH{self.id}"},
            "actions": [{"action_id": button["action_id"], "block_id": "b1",
                         "text": button["text"], "value": button.get("value"),
                         "type": "button", "action_ts": f"{time.time():.6f}"}]})

    def submit(self, view: dict[str, Any], values: dict[str, Any]) -> httpx.Response:
        """Submit a modal with these inputs by block id (view_submission payload; docs:
        reference/interaction-payloads/views, bolt-python test_view_submission.py)."""
        state: dict[str, Any] = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            element = block["element"]
            value = values.get(block["block_id"])
            kind = element["type"]
            if kind == "plain_text_input":
                entry: dict[str, Any] = {"type": kind, "value": value}
            elif kind == "file_input":  # `value`: file objects from share_file
                entry = {"type": kind, "files": value or []}
            elif kind in ("static_select", "radio_buttons"):
                chosen = value if value is not None else (
                    element.get("initial_option") or {}).get("value")
                option = next((o for o in element["options"] if o["value"] == chosen), None)
                entry = {"type": kind, "selected_option": option}
            else:  # checkboxes
                entry = {"type": kind, "selected_options": [
                    o for o in element["options"] if value and o["value"] in value]}
            state[block["block_id"]] = {element["action_id"]: entry}
        return self.interact({
            "type": "view_submission", "team": TEAM, "user": self._user(),
            "api_app_id": APP_ID, "token": "verification-token-unused",
            "trigger_id": self._trigger(),
            "view": {**view, "state": {"values": state}}, "response_urls": []})

    def shortcut(self, channel: str, text: str, ts: str = "1699999999.000100", *,
                 files: list[dict[str, Any]] | None = None) -> httpx.Response:
        """"Report to VoC" on a message (message_action payload; docs: shortcuts-payload,
        bolt-python tests/scenario_tests/test_shortcut.py), with the message's files."""
        message: dict[str, Any] = {"type": "message", "user": "U0CUSTOMERCARE", "ts": ts,
                                   "text": text}
        if files:
            message["files"] = files
        return self.interact({
            "type": "message_action", "token": "verification-token-unused",
            "action_ts": f"{time.time():.6f}", "team": TEAM, "user": self._user(),
            "channel": {"id": channel, "name": "sales"}, "callback_id": "report_to_voc",
            "trigger_id": self._trigger(), "message_ts": ts, "message": message,
            "response_url": self._response_url()})

    def run_step(self, inputs: dict[str, Any], *, callback_id: str = "report_to_voc_step",
                 replay_of: str | None = None) -> str:
        """A workflow this person started reaches our step: Slack sends `function_executed`
        with the step's inputs and a token of its own (docs: events/function_executed);
        returns the function_execution_id. `replay_of`: the same execution sent again."""
        execution = replay_of or f"Fx{uuid.uuid4().hex[:10].upper()}"
        with self.slack.lock:
            self.slack.steps.setdefault(execution, {})
        body = json.dumps({
            "token": "verification-token-unused", "team_id": TEAM["id"], "api_app_id": APP_ID,
            "type": "event_callback", "event_id": f"Ev{execution}",
            "event_time": int(time.time()),
            "event": {"type": "function_executed",
                      "function": {"id": "Fn0VOCSTEP", "callback_id": callback_id,
                                   "title": "Report to VoC", "type": "app",
                                   "app_id": APP_ID},
                      "inputs": inputs, "function_execution_id": execution,
                      "workflow_execution_id": f"Wx{execution[2:]}",
                      "event_ts": f"{time.time():.6f}", "bot_access_token": FUNCTION_TOKEN}})
        response = self.send(body, "application/json")
        assert response.status_code == 200, response.text
        return execution

    def open_home(self, *, retry: int | None = None) -> httpx.Response:
        """Open the App Home tab (Events API event_callback; docs: events/app_home_opened)."""
        body = json.dumps({
            "token": "verification-token-unused", "team_id": TEAM["id"], "api_app_id": APP_ID,
            "type": "event_callback", "event_id": f"Ev{self.id}", "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": self.id, "channel": "D" + self.id,
                      "tab": "home", "event_ts": f"{time.time():.6f}"}})
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"
                   } if retry else None
        return self.send(body, "application/json", headers=headers)


def free_port() -> int:
    """A free TCP port on loopback."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ServedApp:
    """An ASGI app served by uvicorn on a real loopback port, in a thread of its own."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, host="127.0.0.1", port=self.port, lifespan="on", log_level="warning",
            access_log=False))
        self._thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ServedApp:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the app did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(30)


# -- the workspace fixture: our real app on loopback, talking to the fake ----------------------
NEW_RU, NEW_EN = "U0NEWRU", "U0NEWEN"  # people the departments file does not know


def workspace_people(company: Company) -> dict[str, dict[str, Any]]:
    """Everyone in the example company, with the locale Slack would report."""
    people: dict[str, dict[str, Any]] = {}
    for person in company.people:
        for identity in person.identities:
            if identity.startswith("slack:"):
                people[identity[6:]] = {"name": person.name,
                                        "locale": {"ru": "ru-RU", "zh": "zh-CN"}.get(
                                            person.locale or "", "en-US")}
    people[NEW_RU] = {"name": "Пётр Сидоров", "locale": "ru-RU"}
    people[NEW_EN] = {"name": "Emma Stone", "locale": "en-GB"}
    return people


@dataclass
class Workspace:
    """A Slack workspace with our bot installed."""

    slack: FakeSlack
    url: str
    service: VocService
    runtime: Runtime

    def user(self, user_id: str) -> SlackUser:
        return SlackUser(self.slack, f"{self.url}/slack/events", user_id)

    def signals(self) -> list[Signal]:
        with self.service.db.read() as session:
            return list(session.exec(select(Signal).order_by(Signal.id)))  # type: ignore[arg-type]

    def outbox(self, status: str | None = None) -> list[Outbox]:
        with self.service.db.read() as session:
            rows = session.exec(select(Outbox).order_by(Outbox.id)).all()  # type: ignore[arg-type]
        return [r for r in rows if status is None or r.status == status]


@pytest.fixture(name="workspace")
def slack_workspace(db: Database, company: Company) -> Iterator[Workspace]:
    """The fake Slack, and `voc serve`'s ASGI app on a loopback port, on each database."""
    with running_workspace(db, company) as workspace:
        yield workspace


@contextmanager
def running_workspace(db: Database, company: Company, *, embedder: Any = None,
                      **settings: Any) -> Iterator[Workspace]:
    """`voc serve`'s app with these settings on `db` (synced with `company`), and the fake
    (`embedder`: the language layer, none by default)."""
    sync_company(db, company, now=datetime.now(UTC))
    # The real clock: the dispatcher's clock is real too.
    service = VocService(db, company, embedder=embedder)
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    with FakeSlack([*channels, "C0LEADERS", "C0GENERAL"], workspace_people(company)) as slack:
        runtime = Runtime.build(Settings(
            _env_file=None, slack_bot_token=TOKEN, slack_signing_secret=SIGNING_SECRET,
            slack_api_url=slack.api_url, database_url=str(db.engine.url), **settings),
            service, http_mode=True)
        # Scheduled jobs (digest, reminders, pulses) are tested on their own; here they would
        # only add posts of their own to the conversations these tests read.
        runtime.components = [c for c in runtime.components if c.name != "scheduler"]
        with ServedApp(create_app(runtime)) as served:
            yield Workspace(slack, served.url, service, runtime)


def main() -> None:
    """`python -m tests.support.fake_slack PORT [USER_ID ...]`: serve until SIGTERM (benchmarks).

    The channels and people are those of the departments file (VOC_DEPARTMENTS, else
    departments.example.toml) with its leadership channel, plus each USER_ID (named after it).
    """
    import os
    import signal
    import sys
    from pathlib import Path

    from bot.departments import load_company

    root = Path(__file__).resolve().parents[2]
    company = load_company(Path(os.environ.get("VOC_DEPARTMENTS")
                                or root / "departments.example.toml"))
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    if leaders := SLACK.target(company.leadership_addresses):
        channels.append(leaders)
    people = workspace_people(company) | {user: {"name": user} for user in sys.argv[2:]}
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    with FakeSlack(channels, people, port=port) as slack:
        print(slack.url, flush=True)
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        signal.signal(signal.SIGINT, lambda *_: stopped.set())
        stopped.wait()


if __name__ == "__main__":
    main()
