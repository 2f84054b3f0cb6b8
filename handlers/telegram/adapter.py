"""The Telegram ChatAdapter: long polling under `voc run`, the webhook under `voc serve`."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from telegram import Update
from telegram import error as tg

from bot.config import Settings
from bot.core.service import VocService
from bot.core.shared.delivery_port import DeliveryPort
from handlers.telegram.app import build_application, register_commands
from handlers.telegram.port import TelegramPort

log = logging.getLogger(__name__)
# httpx logs every request URL at INFO, and Bot API URLs contain the bot token.
logging.getLogger("httpx").setLevel(logging.WARNING)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Updates fetched per getUpdates. Telegram forgets an update once a later getUpdates names an
# offset past it, so we name one only past updates already processed: after a crash, at most
# this many (processed, not yet confirmed) come again, and the core stores each capture once.
POLL_LIMIT = 20
POLL_RETRY_CAP = 30.0  # seconds between getUpdates attempts while Telegram fails


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
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """getMe, setMyCommands, then setWebhook (webhook mode) or start long polling.

        A failure leaves nothing open (the runtime tries again later)."""
        try:
            await self.application.initialize()
            await register_commands(self.application)
            if self.http_mode:
                await self._set_webhook()
            else:  # polling and a webhook exclude each other
                await self.application.bot.delete_webhook()
            await self.application.start()
        except BaseException:
            await self.stop()
            raise
        if not self.http_mode:
            self._stopping.clear()
            self._poller = asyncio.create_task(self._poll(), name="telegram-polling")

    async def _set_webhook(self) -> None:
        if self.secret is None:
            log.error("TELEGRAM_WEBHOOK_SECRET is not set: every request to "
                      "/telegram/webhook will be refused with 403")
        if self.webhook_url:
            await self.application.bot.set_webhook(
                self.webhook_url, secret_token=self.secret, allowed_updates=Update.ALL_TYPES)

    async def stop(self) -> None:
        """Stop polling after the update in hand, finish in-flight work, close the HTTP pool."""
        self._stopping.set()
        if self._poller is not None:
            poller, self._poller = self._poller, None
            await poller
        if self.application.running:
            await self.application.stop()
        await self.application.shutdown()
        await self.application.bot.shutdown()  # also after a failed start (getMe refused)

    # -- long polling (`voc run`) -----------------------------------------------------------
    async def _poll(self) -> None:
        """Fetch updates and process them one by one, in order; Telegram learns that an update
        is done (the offset of the next getUpdates) only after it was processed, so a crash
        loses none: what was fetched but not confirmed is fetched again after a restart."""
        offset: int | None = None
        failures = 0
        while not self._stopping.is_set():
            try:
                updates = await self._fetch(offset)
            except Exception as exc:  # Telegram down, flood control, a 409 from a second poller
                failures += 1
                delay = _retry_delay(exc, failures)
                log.warning("Telegram getUpdates failed (%s); trying again in %g s",
                            _describe(exc), delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), delay)
                continue
            failures = 0
            for update in updates or ():
                await self._process(update)
                offset = update.update_id + 1
                if self._stopping.is_set():
                    break
        if offset is not None:
            await self._confirm(offset)

    async def _fetch(self, offset: int | None) -> tuple[Update, ...] | None:
        """One long poll; None if the adapter is stopping meanwhile (the poll is abandoned, its
        updates unconfirmed)."""
        fetch: asyncio.Future[tuple[Update, ...]] = asyncio.ensure_future(
            self.application.bot.get_updates(
                offset=offset, limit=POLL_LIMIT, timeout=self.poll_timeout,
                allowed_updates=Update.ALL_TYPES))
        stopping = asyncio.ensure_future(self._stopping.wait())
        try:
            either: list[asyncio.Future[Any]] = [fetch, stopping]
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not fetch.done():
                fetch.cancel()
        if fetch.done():
            return fetch.result()
        with contextlib.suppress(asyncio.CancelledError):
            await fetch  # let the abandoned request close its connection
        return None

    async def _process(self, update: Update) -> None:
        """The handlers' errors go to the application's error handler; nothing else may stop
        the updates behind this one."""
        try:
            await self.application.process_update(update)
        except Exception:
            log.exception("Telegram update %s could not be processed", update.update_id)

    async def _confirm(self, offset: int) -> None:
        """Tell Telegram what was processed before stopping (else it comes again at start)."""
        try:
            await self.application.bot.get_updates(offset=offset, limit=1, timeout=0)
        except Exception as exc:  # stopping goes on: at worst they come once more
            log.warning("could not confirm processed Telegram updates (%s); they will be "
                        "delivered again and deduplicated", _describe(exc))

    # -- webhook (`voc serve`) --------------------------------------------------------------
    def refusal(self, _request: Request, _body: bytes) -> tuple[int, str] | None:
        """Nothing is refused before `handle_http`, which checks the secret header first."""
        return None

    async def handle_http(self, request: Request) -> Response:
        """POST /telegram/webhook: the secret header first, then the update, processed once."""
        given = request.headers.get(SECRET_HEADER, "")
        if self.secret is None or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return JSONResponse({"error": "wrong or missing secret token"}, status_code=403)
        try:
            data = json.loads(await request.body())
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("not an object with an update_id")
            update = Update.de_json(data, self.application.bot)
        except Exception as exc:  # whatever the JSON held, it is the sender's mistake
            log.warning("refused a malformed Telegram update: %s", _describe(exc))
            return JSONResponse({"error": "not a Telegram update"}, status_code=400)
        # Processed before answering: if we fail, Telegram delivers the update again, and the
        # repeated update id is then dropped (or the capture deduplicated by the core).
        await self.application.process_update(update)
        return Response(status_code=200)


def _retry_delay(error: Exception, failures: int) -> float:
    """Telegram's own wait for flood control, else 1, 2, 4 ... up to POLL_RETRY_CAP seconds."""
    if isinstance(error, tg.RetryAfter):
        wait = error.retry_after
        return float(wait if isinstance(wait, int | float) else wait.total_seconds())
    return min(POLL_RETRY_CAP, 2.0 ** (failures - 1))


def _describe(error: BaseException) -> str:
    """`NetworkError: ...`: the type and message (ours never carry the token), no traceback."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
