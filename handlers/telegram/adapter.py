"""The Telegram ChatAdapter: long polling under `voc run`, the webhook under `voc serve`."""

from __future__ import annotations

import hmac
import json
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Update

from bot.config import Settings
from bot.core.delivery import DeliveryPort
from bot.core.service import VocService
from handlers.telegram.app import build_application, register_commands
from handlers.telegram.port import TelegramPort

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


class TelegramAdapter:
    """python-telegram-bot inside our event loop (never `run_polling`, which owns the loop)."""

    name = "telegram"

    def __init__(self, settings: Settings, service: VocService, *, http_mode: bool,
                 poll_timeout: int = 30) -> None:
        assert settings.telegram_bot_token is not None
        self.http_mode = http_mode
        self.webhook_url = settings.telegram_webhook_url
        secret = settings.telegram_webhook_secret
        self.secret = secret.get_secret_value() if secret else None
        self.poll_timeout = poll_timeout
        self.application = build_application(
            settings.telegram_bot_token.get_secret_value(), settings.telegram_api_url, service,
            polling=not http_mode)
        self.port: DeliveryPort = TelegramPort(self.application.bot)

    async def start(self) -> None:
        """getMe, setMyCommands, then setWebhook (webhook mode) or start long polling."""
        await self.application.initialize()
        await register_commands(self.application)
        if self.http_mode:
            if self.secret is None:
                log.error("TELEGRAM_WEBHOOK_SECRET is not set: every request to "
                          "/telegram/webhook will be refused with 403")
            if self.webhook_url:
                await self.application.bot.set_webhook(
                    self.webhook_url, secret_token=self.secret,
                    allowed_updates=Update.ALL_TYPES)
        await self.application.start()
        if not self.http_mode:
            assert self.application.updater is not None
            await self.application.updater.start_polling(
                timeout=self.poll_timeout, allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        """Stop polling, finish in-flight updates, close the HTTP pool."""
        updater = self.application.updater
        if updater is not None and updater.running:
            await updater.stop()
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()

    async def handle_http(self, request: Request) -> Response:
        """POST /telegram/webhook: the secret header first, then the update, processed once."""
        given = request.headers.get(SECRET_HEADER, "")
        if self.secret is None or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return JSONResponse({"error": "wrong or missing secret token"}, status_code=403)
        try:
            data = json.loads(await request.body())
            update = Update.de_json(data, self.application.bot)
        except (ValueError, TypeError, KeyError):
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        # Processed before answering: if we fail, Telegram delivers the update again, and the
        # repeated update id is then dropped (or the capture deduplicated by the core).
        await self.application.process_update(update)
        return Response(status_code=200)
