"""Correctly signed but wrongly shaped requests on `voc serve` (Slack's events endpoint, the
Telegram webhook), on SQLite and PostgreSQL: each gets a 4xx or a 200 that does nothing, no
traceback reaches the log, and the bot goes on serving.
"""

from __future__ import annotations

import json
import logging
from urllib.parse import urlencode

import httpx
import pytest

from tests.adapters.test_telegram_flows import PAVEL, SECRET
from tests.support.fake_slack import Workspace
from tests.support.fake_telegram import FakeTelegram

MISSHAPEN_SLACK = [
    ("application/json", json.dumps({"type": "event_callback", "event": "str"})),
    ("application/json", json.dumps({"type": "event_callback", "event": {"type": 3}})),
    ("application/json", json.dumps(["not", "an", "object"])),
    ("application/json", "{not json"),
    ("application/x-www-form-urlencoded",  # a slash command without user_id
     urlencode({"command": "/voc", "text": "mine", "team_id": "T0TEST"})),
    ("application/x-www-form-urlencoded",
     urlencode({"command": "/voc", "text": "", "user_id": "U0SALES1"})),  # no trigger_id
    ("application/x-www-form-urlencoded", urlencode({"payload": "{not json"})),
    ("application/x-www-form-urlencoded",
     urlencode({"payload": json.dumps({"type": "block_actions", "user": "U0SALES1",
                                       "actions": "x"})})),
]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.exc_info is not None or r.levelno >= logging.ERROR]


@pytest.mark.parametrize(("content_type", "body"), MISSHAPEN_SLACK)
def test_a_misshapen_signed_slack_body_is_refused_without_a_traceback(
        served: tuple[Workspace, FakeTelegram], content_type: str, body: str,
        caplog: pytest.LogCaptureFixture) -> None:
    workspace, _telegram = served
    kate = workspace.user("U0SALES1")
    caplog.clear()
    response = kate.send(body, content_type)
    assert response.status_code in (200, 400, 404), response.text
    assert "Thank you!" in kate.say("complaint The courier was late")  # still serving
    assert no_tracebacks(caplog) == []


def test_a_telegram_callback_without_its_message_is_answered_without_a_traceback(
        served: tuple[Workspace, FakeTelegram], caplog: pytest.LogCaptureFixture) -> None:
    workspace, telegram = served
    caplog.clear()
    for data in ("a|1|", "metoo|1|2", "lang||ru"):  # an inline-mode message: no `message`
        update = telegram.update(callback_query={
            "id": f"cb-{data}", "from": PAVEL.json(), "inline_message_id": "AAQ-1",
            "chat_instance": "1", "data": data})
        response = httpx.post(f"{workspace.url}/telegram/webhook", json=update, timeout=10,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert response.status_code == 200
    telegram.wait(lambda: len(telegram.calls_of("answerCallbackQuery")) == 3,
                  what="every press answered")
    assert {str(c.params.get("text")) for c in telegram.calls_of("answerCallbackQuery")} == {
        "This button no longer works."}
    assert no_tracebacks(caplog) == []
