"""A fake Slack Socket Mode endpoint: a WebSocket server on 127.0.0.1 beside `FakeSlack`.

How Slack does it (api.slack.com/apis/socket-mode; slack_sdk.socket_mode.aiohttp): the app
calls the Web API `apps.connections.open` with its app-level token (xapp-...) and gets a
WebSocket URL; it connects, Slack sends `{"type": "hello", ...}`, and from then on every slash
command, interaction and event arrives as an envelope

    {"envelope_id": ..., "type": "slash_commands" | "interactive" | "events_api",
     "payload": {...}, "accepts_response_payload": true}

that the app must acknowledge within 3 seconds with `{"envelope_id": ..., "payload": {...}}`
(the payload is what an HTTP app would have put into its 200 response). The shape of this
server follows python-slack-sdk's tests/slack_sdk/socket_mode/mock_socket_mode_server.py.

`FakeSocketMode` runs an aiohttp server on an event loop thread of its own, points the fake's
`apps.connections.open` at it, pushes envelopes and records the acks. `SocketModeUser` is a
`SlackUser` whose requests go over the WebSocket instead of being POSTed: the payloads are
built by the same code, and each ack comes back as the `httpx.Response` an HTTP app would
have answered (so `say`, `press`, ... read the same in both modes).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
from aiohttp import WSMsgType, web

from tests.support.fake_slack import APP_ID, FakeSlack, SlackUser


class FakeSocketMode:
    """Slack's side of Socket Mode, on a loopback port."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack
        self.changed = threading.Condition()
        self.connections: list[web.WebSocketResponse] = []  # open WebSockets, newest last
        self.connects = 0
        self.envelopes: list[dict[str, Any]] = []  # what was pushed
        self.acks: dict[str, dict[str, Any]] = {}  # envelope_id -> the app's answer
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}&app_id={APP_ID}"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        self._call(self._start())
        self.slack.socket_mode_url = self.url
        return self

    def __exit__(self, *exc: object) -> None:
        self.slack.socket_mode_url = None
        try:
            self._call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    def _call(self, coroutine: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/link/", self._link)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        await web.SockSite(self._runner, self._sock).start()

    async def _stop(self) -> None:
        for ws in list(self.connections):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _link(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)  # the SDK pings; aiohttp answers the pongs
        await ws.prepare(request)
        with self.changed:
            self.connections.append(ws)
            self.connects += 1
            self.changed.notify_all()
        await ws.send_json({"type": "hello", "num_connections": len(self.connections),
                            "debug_info": {"host": "applink-fake", "approximate_connection_time":
                                           18060},
                            "connection_info": {"app_id": APP_ID}})
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                answer = json.loads(message.data)
                with self.changed:
                    self.acks[answer["envelope_id"]] = answer
                    self.changed.notify_all()
        finally:
            with self.changed:
                self.connections.remove(ws)
                self.changed.notify_all()
        return ws

    # -- what tests do ---------------------------------------------------------------------
    def wait_connected(self, timeout: float = 30.0) -> None:
        """Wait until the app holds a WebSocket."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.connections, timeout):
                raise AssertionError("the app never connected over Socket Mode")

    def push(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope down the newest connection; return its envelope_id."""
        self.wait_connected()
        envelope = {"envelope_id": str(uuid.uuid4()), "type": kind, "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0, "retry_reason": ""}
        with self.changed:
            self.envelopes.append(envelope)
            ws = self.connections[-1]
        self._call(ws.send_str(json.dumps(envelope)))
        return str(envelope["envelope_id"])

    def wait_ack(self, envelope_id: str, timeout: float = 3.0) -> dict[str, Any]:
        """The app's acknowledgement; Slack gives it 3 seconds (then shows an error)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            if not self.changed.wait_for(lambda: envelope_id in self.acks,
                                         max(0.0, deadline - time.monotonic())):
                raise AssertionError(f"envelope {envelope_id} was not acknowledged in "
                                     f"{timeout} s")
            return self.acks[envelope_id]

    def deliver(self, kind: str, payload: dict[str, Any], timeout: float = 3.0
                ) -> dict[str, Any]:
        """Push an envelope and return its ack."""
        return self.wait_ack(self.push(kind, payload), timeout)


class SocketModeUser(SlackUser):
    """A person whose commands and clicks Slack delivers over the app's WebSocket."""

    def __init__(self, slack: FakeSlack, socket_mode: FakeSocketMode, user_id: str) -> None:
        super().__init__(slack, "socket-mode://no-http-endpoint", user_id)
        self.socket_mode = socket_mode
        self.last_ack: dict[str, Any] | None = None

    def send(self, body: str, content_type: str, *, timestamp: int | None = None,
             secret: str | None = None, headers: dict[str, str] | None = None
             ) -> httpx.Response:
        """Wrap what Slack would have POSTed into an envelope; answer with the ack as the
        HTTP response it stands for (no signature: the WebSocket itself is authenticated)."""
        if "form" in content_type:
            fields = dict(parse_qsl(body))
            kind, payload = (("interactive", json.loads(fields["payload"]))
                             if "payload" in fields else ("slash_commands", fields))
        else:
            kind, payload = "events_api", json.loads(body)
        ack = self.socket_mode.deliver(kind, payload)
        self.last_ack = ack
        if ack.get("payload"):
            return httpx.Response(200, json=ack["payload"])
        return httpx.Response(200)
