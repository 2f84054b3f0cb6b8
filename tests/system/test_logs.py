"""Log lines: text by default, one JSON object per line with VOC_LOG_FORMAT=json,
and no token, signing secret or webhook secret in any line of a full run of `voc serve` with
Slack and Telegram against the fake platforms, in either format."""

from __future__ import annotations

import io
import json
import logging
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from bot import logs
from bot.core.shared.platforms import SLACK
from tests.adapters.test_telegram_flows import ANNA, LOGISTICS
from tests.support.fake_slack import SIGNING_SECRET, FakeSlack, SlackUser, workspace_people
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_telegram import TOKEN as TELEGRAM_TOKEN
from tests.support.fake_telegram import FakeTelegram
from tests.support.voc_process import voc_env
from tests.system.test_serve import free_port, wait_until_up

WEBHOOK_SECRET = "webhook-secret-0f9e8d7c6b5a"


def logged(fmt: str, emit: object) -> str:
    """What `emit()` logs through the formatter of `fmt`, with the Telegram token secret."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    redact = logs.Redactor([TELEGRAM_TOKEN])
    handler.setFormatter(logs.JsonFormatter(redact) if fmt == "json"
                         else logs.TextFormatter(redact))
    logger = logging.getLogger("voc.test")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        emit()  # type: ignore[operator]
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_a_json_line_says_where_it_comes_from_and_hides_the_token() -> None:
    def emit() -> None:
        with logs.context(platform="telegram", request_id="abc123"):
            logging.getLogger("voc.test").warning(
                "VOC-12: POST https://api.telegram.org/bot%s/sendMessage failed",
                TELEGRAM_TOKEN.replace(":", "%3A"))

    line = logged("json", emit)
    assert line.count("\n") == 1
    record = json.loads(line)
    assert record["level"] == "warning" and record["logger"] == "voc.test"
    assert record["platform"] == "telegram" and record["request_id"] == "abc123"
    assert record["signal"] == "VOC-12"
    assert record["message"] == "VOC-12: POST https://api.telegram.org/bot***/sendMessage failed"


def test_a_traceback_is_one_json_line_and_redacted_in_text_too() -> None:
    def emit() -> None:
        try:
            raise RuntimeError(f"token {TELEGRAM_TOKEN} refused")
        except RuntimeError:
            logging.getLogger("voc.test").exception("delivery failed")

    line = logged("json", emit)
    assert line.count("\n") == 1 and TELEGRAM_TOKEN not in line
    assert "RuntimeError: token *** refused" in json.loads(line)["error"]
    text = logged("text", emit)
    assert "delivery failed" in text and "Traceback" in text and TELEGRAM_TOKEN not in text


def test_the_database_password_is_a_secret_too() -> None:
    settings = SimpleNamespace(slack_bot_token=None, slack_signing_secret=None,
                               slack_app_token=None, telegram_bot_token=None,
                               telegram_webhook_secret=None,
                               database_url="postgresql+psycopg://voc:s3cr%40t-pw@db/voc")
    redact = logs.Redactor(logs.secrets_of(settings))
    assert redact("connecting with s3cr@t-pw and s3cr%40t-pw") == "connecting with *** and ***"


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
@pytest.mark.usefixtures("migrated")
def test_no_secret_in_any_line_of_a_full_run(company, tmp_path: Path, fmt: str) -> None:
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secrets = (SLACK_TOKEN, SIGNING_SECRET, TELEGRAM_TOKEN, WEBHOOK_SECRET)
    with FakeSlack([*channels, "C0LEADERS"], workspace_people(company)) as slack, \
            FakeTelegram() as telegram:
        env = voc_env(tmp_path, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, TELEGRAM_BOT_TOKEN=TELEGRAM_TOKEN,
                      TELEGRAM_API_URL=telegram.url, VOC_LOG_FORMAT=fmt,
                      TELEGRAM_WEBHOOK_URL="https://voc.example.com/telegram/webhook",
                      TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET)
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        try:
            wait_until_up(f"{base}/healthz", server)
            kate = SlackUser(slack, f"{base}/slack/events", "U0SALES1")
            assert kate.send(kate.command_body("complaint x"),
                             "application/x-www-form-urlencoded", secret="nope"
                             ).status_code == 401
            assert "VOC-1" in kate.say("complaint The courier was 3 hours late")
            slack.wait_for_message("C0LOGISTICS", "The courier was 3 hours late")
            # The department's first card fails twice: the retries are logged with the error.
            telegram.fail("sendMessage", 500, "Internal Server Error", chat_id=LOGISTICS,
                          times=2)
            update = telegram.message(ANNA, "/complaint Курьер опоздал на три часа")
            assert httpx.post(f"{base}/telegram/webhook", json=update).status_code == 403
            assert httpx.post(f"{base}/telegram/webhook", json=update, headers={
                "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET}).status_code == 200
            telegram.expect(LOGISTICS, r"VOC-2", timeout=30)
            assert httpx.get(f"{base}/metrics").status_code == 200
        finally:
            server.send_signal(signal.SIGTERM)
            output = server.communicate(timeout=30)[0].decode()
    lines = output.splitlines()
    assert "Traceback" not in output, output
    assert any("refused a request to /slack/events" in line for line in lines), output
    assert any("failed (attempt" in line for line in lines), output  # the retry was logged
    for secret in secrets:
        assert secret not in output, f"{secret} leaked into the {fmt} log"
    if fmt == "json":
        records = [json.loads(line) for line in lines]  # every line is one JSON object
        refused = next(r for r in records if "refused a request" in r["message"])
        assert refused["platform"] == "slack" and len(refused["request_id"]) == 12
        retry = next(r for r in records if "failed (attempt" in r["message"])
        assert retry["platform"] == "telegram" and retry["outbox_id"] >= 1
        assert any(r["message"] == "Application shutdown complete." for r in records)
    else:
        assert "Application shutdown complete." in output
