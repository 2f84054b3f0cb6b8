"""SlackAdapter: the Bolt app, its delivery port, and how it is served (HTTP or Socket Mode).

Every Web API call is bounded. Each client gets one pooled aiohttp session that carries the
client's own timeout (a session handed to slack_sdk replaces its per-call timeout, so without
this aiohttp's 5-minute default applied): listeners' calls at most `LISTENER_TIMEOUT`, the
dispatcher's at most `DELIVERY_TIMEOUT` per request. `users.info`, which a command awaits
before it can answer, gets `USERS_INFO_TIMEOUT`; past it the call fails like a Slack error,
and the person is served in the company's language (Slack wants an answer within 3 s).
"""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import parse_qs

import aiohttp
from aiohttp import ClientHandlerType, ClientRequest, ClientResponse
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import (
    AsyncSlackRequestHandler,
    to_async_bolt_request,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from starlette.requests import Request
from starlette.responses import Response

from bot.config import Settings
from bot.core.service import VocService
from bot.core.shared.delivery_port import DeliveryPort
from handlers.slack.app import SlackBot
from handlers.slack.listeners import build_app
from handlers.slack.port import SlackPort
from handlers.slack.shape import misshapen

log = logging.getLogger(__name__)
LISTENER_TIMEOUT = 10  # seconds a listener's Web API call may take (views.open, DMs, home)
DELIVERY_TIMEOUT = 20  # seconds one dispatcher request may take (posts, edits, uploads)
TIMESTAMP_HEADER, SIGNATURE_HEADER = "x-slack-request-timestamp", "x-slack-signature"
USERS_INFO_TIMEOUT = 0.8  # users.info, awaited before a command answers: 0.8 s + ACK_BUDGET < 3 s


def make_client(settings: Settings, *, wait_on_rate_limit: bool) -> AsyncWebClient:
    """A Web API client for `SLACK_API_URL`: a listener's (`wait_on_rate_limit`: waits out
    a 429 once, `LISTENER_TIMEOUT`) or the dispatcher's (`DELIVERY_TIMEOUT`, one retry of a
    dropped connection, no waiting: its 429 becomes `RetryAfter`, and the dispatcher
    postpones the row instead of sleeping while holding it).
    """
    assert settings.slack_bot_token is not None
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else (
        settings.slack_api_url + "/")
    handlers: list[AsyncRetryHandler] = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2 if wait_on_rate_limit else 1)]
    if wait_on_rate_limit:
        handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=1))
    return AsyncWebClient(token=settings.slack_bot_token.get_secret_value(), base_url=base_url,
                          timeout=LISTENER_TIMEOUT if wait_on_rate_limit else DELIVERY_TIMEOUT,
                          retry_handlers=handlers)


def open_session(client: AsyncWebClient, *, listener: bool = False) -> None:
    """Give `client` one pooled session (slack_sdk would otherwise open one per call) bounded
    by the client's own timeout; a listener's also bounds users.info (a client middleware:
    aiohttp 3.12 or later)."""
    client.session = aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=client.timeout),
        middlewares=(_bounded_users_info,) if listener else ())


async def _bounded_users_info(request: ClientRequest, handler: ClientHandlerType
                              ) -> ClientResponse:
    """users.info within USERS_INFO_TIMEOUT, or a SlackApiError (`timeout`): listeners treat
    it as they treat Slack refusing the lookup."""
    if not request.url.path.endswith("/users.info"):
        return await handler(request)
    try:
        async with asyncio.timeout(USERS_INFO_TIMEOUT):
            response = await handler(request)
            await response.read()  # the body too: slack_sdk reads it after we return
            return response
    except TimeoutError:
        data = {"ok": False, "error": "timeout"}
        refusal = AsyncSlackResponse(client=None, http_verb=request.method,
                                     api_url=str(request.url), req_args={}, data=data,
                                     headers={}, status_code=504)
        raise SlackApiError(  # type: ignore[no-untyped-call]
            f"users.info did not answer within {USERS_INFO_TIMEOUT:g} s", refusal) from None


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
        self.verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
        self.app_token = (settings.slack_app_token.get_secret_value()
                          if settings.slack_app_token else None)
        self.socket: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        """Open the HTTP sessions; under `voc run`, connect Socket Mode."""
        open_session(self.client, listener=True)
        open_session(self.slack_port.client)
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

    def refusal(self, request: Request, body: bytes) -> tuple[int, str] | None:
        """Why `voc serve` refuses a request before handling it: unsigned, forged or stale
        (401; Slack's certificate check excepted: Bolt answers it), or a body Bolt could not
        parse or that is not shaped as Slack sends it (400). None: it is Slack's and readable."""
        if self.verifier is None:
            return None
        try:
            signed = self.verifier.is_valid(body, request.headers.get(TIMESTAMP_HEADER),
                                            request.headers.get(SIGNATURE_HEADER))
        except (ValueError, UnicodeDecodeError):  # a timestamp not a number, a body not UTF-8
            signed = False
        if not signed and not _ssl_check(body):
            return 401, "invalid request"
        try:
            to_async_bolt_request(request, body)  # what Bolt does first: decode and parse
        except Exception as exc:  # whatever the bytes held, they are the sender's mistake
            return 400, f"malformed Slack request ({type(exc).__name__})"
        if (problem := misshapen(body, request.headers.get("content-type", ""))) is not None:
            return 400, f"malformed Slack request: {problem}"
        return None

    async def handle_http(self, request: Request) -> Response:
        """POST /slack/events (after `refusal`): Bolt verifies the signature again."""
        return await self.handler.handle(request)


def _ssl_check(body: bytes) -> bool:
    return parse_qs(body.decode("utf-8", "replace")).get("ssl_check") == ["1"]


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
