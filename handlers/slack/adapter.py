"""SlackAdapter: the Bolt app, its delivery port, and how it is served (HTTP or Socket Mode)."""

from __future__ import annotations

import logging

import aiohttp
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response

from bot.config import Settings
from bot.core.delivery import DeliveryPort
from bot.core.service import VocService
from handlers.slack.app import SlackBot, build_app
from handlers.slack.port import SlackPort

log = logging.getLogger(__name__)


def make_client(settings: Settings, *, wait_on_rate_limit: bool) -> AsyncWebClient:
    """A Web API client for `SLACK_API_URL`; listeners' clients also wait out a 429 once.

    The dispatcher's client does not: its 429 becomes `RetryAfter`, and the dispatcher
    postpones the row instead of sleeping while holding it.
    """
    assert settings.slack_bot_token is not None
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else (
        settings.slack_api_url + "/")
    handlers: list[AsyncRetryHandler] = [AsyncConnectionErrorRetryHandler(max_retry_count=2)]
    if wait_on_rate_limit:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    return AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url,
                          timeout=10, retry_handlers=handlers)


class SlackAdapter:
    """The Slack chat adapter: a Runtime component with a delivery port."""

    name = "slack"

    def __init__(self, settings: Settings, service: VocService, *, http_mode: bool) -> None:
        self.http_mode = http_mode
        self.client = make_client(settings, wait_on_rate_limit=True)
        self.slack_port = SlackPort(make_client(settings, wait_on_rate_limit=False))
        self.port: DeliveryPort = self.slack_port
        secret = settings.slack_signing_secret
        # A person waits for an answer at most a little longer than the database may take.
        self.bot = SlackBot(service, patience=1.5 * settings.voc_db_timeout + 1)
        self.app = build_app(self.bot, client=self.client,
                             signing_secret=secret.get_secret_value() if secret else None)
        self.handler = AsyncSlackRequestHandler(self.app)
        self.app_token = (settings.slack_app_token.get_secret_value()
                          if settings.slack_app_token else None)
        self.socket: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        """Open the HTTP sessions; under `voc run`, connect Socket Mode."""
        # One pooled session per client (slack_sdk would otherwise open one per call).
        self.client.session = aiohttp.ClientSession()
        self.slack_port.client.session = aiohttp.ClientSession()
        if self.http_mode:
            return
        if self.app_token is None:
            log.warning("SLACK_APP_TOKEN is not set: Slack messages are delivered, but "
                        "commands and buttons need `voc serve` (HTTP) or an app token "
                        "(Socket Mode).")
            return
        self.socket = AsyncSocketModeHandler(self.app, self.app_token)
        await self.socket.connect_async()  # type: ignore[no-untyped-call]

    async def stop(self) -> None:
        """Disconnect, let background replies finish, close the sessions."""
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        await self.bot.drain()
        for client in (self.client, self.slack_port.client):
            if client.session is not None:
                await client.session.close()
                client.session = None

    async def handle_http(self, request: Request) -> Response:
        """POST /slack/events: Bolt verifies the signature (401 if forged or stale)."""
        return await self.handler.handle(request)


def build_slack_adapter(settings: Settings, service: VocService, *, http_mode: bool
                        ) -> SlackAdapter | None:
    """The adapter, or None (with the reason logged) when the settings cannot serve Slack."""
    if settings.slack_bot_token is None:
        return None
    if http_mode and settings.slack_signing_secret is None:
        log.error("Slack is not served: `voc serve` needs SLACK_SIGNING_SECRET to verify "
                  "requests (Basic Information → App Credentials → Signing Secret).")
        return None
    return SlackAdapter(settings, service, http_mode=http_mode)
