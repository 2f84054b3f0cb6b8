"""What `voc serve` does with bodies it should not parse: too large (413, refused before it is
read whole) or malformed (400, or 401 when unsigned), on the real ASGI app on loopback, with
one log line each and no traceback."""

from __future__ import annotations

import hashlib
import hmac
import logging
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.core.shared.company import Company
from storage.db import Database
from tests.adapters.test_telegram_flows import SECRET
from tests.support import fake_telegram
from tests.support.fake_slack import SIGNING_SECRET, Workspace, running_workspace
from tests.support.fake_telegram import FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY = 1 << 20  # the limit of bot/server.py


class Records(logging.Handler):
    """Every log record of the server, uvicorn's own included (they do not reach the root)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def about(self, text: str) -> list[logging.LogRecord]:
        return [r for r in self.records if text in r.getMessage()]


@pytest.fixture
def served(tmp_path: Path, sqlite_template: Path, company: Company) -> Iterator[Workspace]:
    """`voc serve`'s app with Slack and the Telegram webhook, on SQLite."""
    shutil.copy(sqlite_template, tmp_path / "voc.db")
    db = Database.connect(f"sqlite:///{tmp_path / 'voc.db'}")
    with FakeTelegram() as telegram, running_workspace(
            db, company, telegram_bot_token=fake_telegram.TOKEN, telegram_api_url=telegram.url,
            telegram_webhook_secret=SECRET) as workspace:
        yield workspace
    db.dispose()


@pytest.fixture
def logged() -> Iterator[Records]:
    records = Records()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error")]
    for logger in loggers:
        logger.addHandler(records)
    yield records
    for logger in loggers:
        logger.removeHandler(records)


def signed(body: bytes, content_type: str, secret: str = SIGNING_SECRET) -> dict[str, str]:
    timestamp = str(int(time.time()))
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body,
                      hashlib.sha256).hexdigest()
    return {"Content-Type": content_type, "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": f"v0={digest}"}


def raw_post(url: str, path: str, headers: str, body: bytes) -> bytes:
    """Send a request by hand (declared length larger than what is sent); the status line."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as connection:
        connection.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode()
                           + body)
        return connection.recv(200).split(b"\r\n")[0]


def test_a_body_declared_too_large_is_refused_before_it_arrives(served: Workspace) -> None:
    huge = 150 * 1024 * 1024  # the body never comes: an answer must not wait for it
    for path, extra in (("/slack/events", ""), ("/telegram/webhook",
                                                 f"{SECRET_HEADER}: {SECRET}\r\n")):
        started = time.monotonic()
        status = raw_post(served.url, path, f"Content-Length: {huge}\r\n{extra}"
                          "Content-Type: application/json\r\n", b"{")
        assert status == b"HTTP/1.1 413 Request Entity Too Large", (path, status)
        assert time.monotonic() - started < 2
    assert httpx.get(f"{served.url}/healthz", timeout=5).status_code == 200


def test_a_streamed_body_past_the_limit_is_refused(served: Workspace, logged: Records) -> None:
    def stream() -> Iterator[bytes]:
        for _ in range(MAX_BODY // 65536 + 2):
            yield b"x" * 65536

    for path, headers in (("/slack/events", signed(b"", "application/json")),
                          ("/telegram/webhook", {SECRET_HEADER: SECRET})):
        response = httpx.post(f"{served.url}{path}", content=stream(), headers=headers,
                              timeout=10)
        assert response.status_code == 413, (path, response.text)
    assert len(logged.about("larger than")) == 2
    assert served.signals() == []
    # Just under the limit is still read (and refused for what it is, not for its size).
    body = b"x" * (MAX_BODY - 1)
    assert httpx.post(f"{served.url}/slack/events", content=body, timeout=10,
                      headers=signed(body, "application/x-www-form-urlencoded")
                      ).status_code != 413


@pytest.mark.parametrize(("body", "content_type", "when_signed"), [
    (b"payload=%5B1%5D", "application/x-www-form-urlencoded", 400),  # payload=[1]
    (b"payload=%7Bnot+json", "application/x-www-form-urlencoded", 400),
    # Not UTF-8: Slack signs text, and slack_sdk's verifier cannot read it: not Slack's.
    (b"payload=\xff\xfe", "application/x-www-form-urlencoded", 401),
    (b"{not json", "application/json", 400),
    (b"[1, 2]", "application/json", 400),
])
def test_malformed_slack_bodies_get_400_or_401_without_a_traceback(
        served: Workspace, logged: Records, body: bytes, content_type: str,
        when_signed: int) -> None:
    events = f"{served.url}/slack/events"
    unsigned = httpx.post(events, content=body, headers={"Content-Type": content_type})
    assert unsigned.status_code == 401
    forged = httpx.post(events, content=body, headers=signed(body, content_type, "wrong"))
    assert forged.status_code == 401
    malformed = httpx.post(events, content=body, headers=signed(body, content_type))
    assert malformed.status_code == when_signed, malformed.text
    assert ("malformed" if when_signed == 400 else "invalid") in malformed.json()["error"]
    assert [r.levelname for r in logged.about("refused a request")] == ["WARNING"] * 3
    assert not [r for r in logged.records if r.exc_info or r.levelno >= logging.ERROR]
    assert served.signals() == [] and served.slack.calls_of("users.info") == []


@pytest.mark.parametrize("body", [b"[1, 2]", b"null", b"\xff\xfe", b"{not json", b"42",
                                  b'{"update_id": "one"}', b'{"update_id": 1, "message": 5}'])
def test_malformed_telegram_updates_get_400_without_a_traceback(
        served: Workspace, logged: Records, body: bytes) -> None:
    response = httpx.post(f"{served.url}/telegram/webhook", content=body,
                          headers={SECRET_HEADER: SECRET, "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert len(logged.about("malformed Telegram update")) == 1
    assert not [r for r in logged.records if r.exc_info or r.levelno >= logging.ERROR]


def test_slacks_certificate_check_still_passes_unsigned(served: Workspace) -> None:
    """Slack's `ssl_check` requests are answered by Bolt before any signature check."""
    events = f"{served.url}/slack/events"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert httpx.post(events, content=b"ssl_check=1&token=x", headers=form).status_code == 200
    broken = httpx.post(events, content=b"ssl_check=1&payload=%5B1%5D", headers=form)
    assert broken.status_code == 400
