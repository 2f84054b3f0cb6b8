"""`voc serve` with Telegram unreachable at start: Slack and the dispatcher run meanwhile, the
Telegram adapter keeps trying, and once Telegram answers the card queued for it arrives
(the operations promise: "Starting with one platform unreachable starts everything else and keeps
retrying that one")."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from bot.core.shared.platforms import SLACK
from tests.adapters.test_telegram_flows import LOGISTICS, SECRET
from tests.support import fake_telegram
from tests.support.fake_slack import (
    SIGNING_SECRET,
    FakeSlack,
    SlackUser,
    free_port,
    workspace_people,
)
from tests.support.fake_slack import TOKEN as SLACK_TOKEN
from tests.support.fake_telegram import FakeTelegram
from tests.support.voc_process import voc_env
from tests.system.test_serve import wait_until_up

pytestmark = pytest.mark.slow
KATE = "U0SALES1"


@pytest.mark.usefixtures("migrated")
def test_telegram_down_at_start_slack_works_and_telegram_catches_up(company, tmp_path: Path):
    telegram_port = free_port()  # nothing listens there yet: connections are refused
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    people = workspace_people(company)
    with FakeSlack([*channels, "C0LEADERS", "C0GENERAL"], people) as slack:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = voc_env(tmp_path, SLACK_BOT_TOKEN=SLACK_TOKEN, SLACK_SIGNING_SECRET=SIGNING_SECRET,
                      SLACK_API_URL=slack.api_url, VOC_LOCALE="en",
                      TELEGRAM_BOT_TOKEN=fake_telegram.TOKEN,
                      TELEGRAM_API_URL=f"http://127.0.0.1:{telegram_port}/bot",
                      TELEGRAM_WEBHOOK_SECRET=SECRET)
        server = subprocess.Popen([sys.executable, "-m", "bot", "serve", "--port", str(port)],
                                  env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT)
        telegram: FakeTelegram | None = None
        try:
            wait_until_up(f"{base}/healthz", server)
            assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
            # Slack answers, and the Slack card goes out, while Telegram is still down.
            kate = SlackUser(slack, f"{base}/slack/events", KATE)
            assert "went to Logistics." in kate.say("complaint The courier was 3 hours late")
            slack.wait_for_message("C0LOGISTICS", "The courier was 3 hours late", timeout=15)
            # Telegram's webhook is not served before the adapter is up: Telegram retries.
            early = httpx.post(f"{base}/telegram/webhook", json={"update_id": 1},
                               headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert early.status_code == 503

            telegram = FakeTelegram().start_on(telegram_port)  # Telegram is back
            card = telegram.expect(LOGISTICS, r"The courier was 3 hours late", timeout=25)
            assert card["reply_markup"]["inline_keyboard"]  # a working card, with buttons
            assert telegram.calls_of("getMe")
        finally:
            server.send_signal(signal.SIGTERM)
            output = server.communicate(timeout=30)[0].decode()
            if telegram is not None:
                telegram.stop()
    assert server.returncode in (0, -signal.SIGTERM), output
    assert "Application startup failed" not in output, output
    assert "telegram could not start (attempt 1: NetworkError" in output, output
    assert "Traceback" not in output and "Unclosed" not in output, output
    assert fake_telegram.TOKEN not in output and SLACK_TOKEN not in output
