"""Webhook mode: POST /telegram/webhook with the secret header, in-process and under `voc serve`,
and long polling under `voc run`, both as real subprocesses against the fake Bot API server."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.core.service import VocService
from bot.runtime import Runtime
from bot.server import create_app
from tests.adapters.test_telegram_flows import (
    ANNA,
    LOGISTICS,
    SECRET,
    Bot,
    running_bot,
    settings_for,
)
from tests.support.fake_telegram import TOKEN, FakeTelegram
from tests.support.voc_process import voc_env
from tests.system.test_serve import free_port, wait_until_up


@pytest.fixture
def webhook_bot(service: VocService) -> Iterator[Bot]:
    with running_bot(service, http_mode=True) as running:
        yield running


def post(bot: Bot, update: dict[str, Any], secret: str | None = SECRET) -> httpx.Response:
    """An update POSTed to the ASGI app of `voc serve`, as Telegram does."""
    runtime = Runtime(settings_for(bot.fake), bot.service, http_mode=True,
                      adapters={"telegram": bot.adapter})
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}

    async def send() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://voc") as client:
            return await client.post("/telegram/webhook", json=update, headers=headers)

    response: httpx.Response = bot.run(send())
    return response


def test_wrong_or_missing_secret_is_refused_and_nothing_is_processed(webhook_bot: Bot) -> None:
    update = webhook_bot.fake.message(ANNA, "/complaint Курьер опоздал")
    assert post(webhook_bot, update, secret=None).status_code == 403
    assert post(webhook_bot, update, secret="guess").status_code == 403
    assert webhook_bot.signals() == [] and webhook_bot.fake.sent(ANNA.id) == []
    assert post(webhook_bot, update).status_code == 200
    webhook_bot.fake.expect(ANNA.id, r"Спасибо! Жалоба VOC-1")
    webhook_bot.fake.expect(LOGISTICS, r"VOC-1")


def test_a_redelivered_webhook_update_is_processed_once(webhook_bot: Bot) -> None:
    update = webhook_bot.fake.message(ANNA, "/complaint Курьер опоздал")
    assert post(webhook_bot, update).status_code == 200
    assert post(webhook_bot, update).status_code == 200  # Telegram retried
    assert len(webhook_bot.signals()) == 1
    assert len([m for m in webhook_bot.fake.sent(ANNA.id) if "VOC-1" in m["text"]]) == 1
    assert post(webhook_bot, {"no": "update"}).status_code in (200, 400)


def test_webhook_mode_does_not_poll(webhook_bot: Bot) -> None:
    assert webhook_bot.fake.calls_of("getUpdates") == []
    assert [c.method for c in webhook_bot.fake.calls[:1]] == ["getMe"]


# -- real processes --------------------------------------------------------------------------


@pytest.fixture
def fake() -> Iterator[FakeTelegram]:
    with FakeTelegram() as server:
        yield server


def _env(tmp_path: Path, fake: FakeTelegram, **extra: str) -> dict[str, str]:
    return voc_env(tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.url, **extra)


def _stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=30)[0].decode()
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output, output
    return output


@pytest.mark.slow
@pytest.mark.usefixtures("migrated")
def test_voc_serve_sets_the_webhook_and_answers_updates(tmp_path: Path,
                                                       fake: FakeTelegram) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)], cwd=tmp_path,
        env=_env(tmp_path, fake, TELEGRAM_WEBHOOK_URL="https://voc.example.com/telegram/webhook",
                 TELEGRAM_WEBHOOK_SECRET=SECRET),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until_up(f"{base}/healthz", server)
        fake.wait(lambda: fake.webhook, what="setWebhook")
        assert fake.webhook is not None and fake.webhook["secret_token"] == SECRET
        assert fake.webhook["url"] == "https://voc.example.com/telegram/webhook"
        update = fake.message(ANNA, "/complaint Курьер опоздал на три часа")
        refused = httpx.post(f"{base}/telegram/webhook", json=update)
        assert refused.status_code == 403
        accepted = httpx.post(f"{base}/telegram/webhook", json=update,
                              headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
        assert accepted.status_code == 200
        fake.expect(ANNA.id, r"Спасибо! Жалоба VOC-1 передана в отдел «Logistics»")
        fake.expect(LOGISTICS, r"VOC-1", timeout=15)  # the dispatcher of `voc serve`
    finally:
        _stop(server)


@pytest.mark.slow
@pytest.mark.usefixtures("migrated")
def test_voc_run_long_polls_in_the_shared_event_loop(tmp_path: Path, fake: FakeTelegram) -> None:
    bot = subprocess.Popen([sys.executable, "-m", "bot", "run"], cwd=tmp_path,
                           env=_env(tmp_path, fake), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
    try:
        fake.wait(lambda: fake.calls_of("getUpdates"), timeout=30, what="long polling")
        assert fake.calls_of("deleteWebhook")  # polling and a webhook exclude each other
        fake.push(fake.message(ANNA, "/complaint Курьер опоздал"))
        fake.expect(ANNA.id, r"Спасибо! Жалоба VOC-1")
        fake.expect(LOGISTICS, r"VOC-1", timeout=15)
    finally:
        output = _stop(bot)
    assert "starting telegram" in output
