"""`voc serve`: one HTTP app for Slack events, the Telegram webhook and health checks.

Before a platform adapter handles a request, its body is read here with a size limit and the
adapter says whether to refuse it (Slack's: its signature, checked on the raw bytes by
slack_sdk's SignatureVerifier, then a body Bolt can parse): nothing unauthenticated or
oversized is parsed, and a body Bolt could not parse is refused with 400 instead of failing
inside it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message

from bot import logs
from bot.probes import probe_routes
from bot.runtime import ADAPTERS, Runtime

log = logging.getLogger(__name__)
# Platform requests are small: a Slack modal submission or interaction payload is a few KB to
# a few hundred KB (100 blocks at most, 3,000 characters a text), a Telegram update a few KB
# (4,096 characters a message). 1 MiB leaves room for both and refuses anything bigger
# before it is read whole or parsed on the event loop.
MAX_BODY = 1 << 20


class _Refused(Exception):
    """A request answered before any adapter sees it."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(error)
        self.response = JSONResponse({"error": error}, status_code=status)


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The body, read up to `limit` bytes; 413 past it (declared or sent)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdecimal():
            raise _Refused(400, "bad Content-Length")
        if int(declared) > limit:
            raise _Refused(413, f"request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _Refused(413, f"request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def with_body(request: Request, body: bytes) -> Request:
    """The same request, its body already read (adapters read it again from here)."""
    delivered = False

    async def receive() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await request.receive()  # http.disconnect, when it comes

    return Request(request.scope, receive)


def create_app(runtime: Runtime) -> Starlette:
    """The ASGI app; the runtime starts and stops with it."""

    async def platform(request: Request, name: str) -> Response:
        with logs.context(platform=name, request_id=uuid.uuid4().hex[:12]):
            return await answer(request, name)

    async def answer(request: Request, name: str) -> Response:
        adapter = runtime.adapters.get(name)
        if adapter is None:
            return JSONResponse({"error": f"{name} is not configured on this server"},
                                status_code=503)
        try:
            body = await read_body(request)
            if (refusal := adapter.refusal(request, body)) is not None:
                raise _Refused(*refusal)
        except _Refused as refused:
            log.warning("refused a request to %s: %s", request.url.path, refused)
            return refused.response
        if runtime.platforms().get(name) != "up":  # the platform will send it again
            return JSONResponse({"error": f"{name} is not connected yet; try again later"},
                                status_code=503, headers={"Retry-After": "5"})
        return await adapter.handle_http(with_body(request, body))

    def receiver(name: str) -> Callable[[Request], Awaitable[Response]]:
        async def receive(request: Request) -> Response:
            return await platform(request, name)
        return receive

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return Starlette(routes=[
        *(Route(entry.path, receiver(name), methods=["POST"]) for name, entry in ADAPTERS.items()),
        *probe_routes(runtime),
    ], lifespan=lifespan)
