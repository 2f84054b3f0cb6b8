"""`voc serve`: one HTTP app for Slack events, the Telegram webhook and health checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.runtime import Runtime


def create_app(runtime: Runtime) -> Starlette:
    """The ASGI app; the runtime starts and stops with it."""

    async def platform(request: Request, name: str) -> Response:
        adapter = runtime.adapters.get(name)
        if adapter is None:
            return JSONResponse({"error": f"{name} is not configured on this server"},
                                status_code=503)
        return await adapter.handle_http(request)

    async def slack_events(request: Request) -> Response:
        return await platform(request, "slack")

    async def telegram_webhook(request: Request) -> Response:
        return await platform(request, "telegram")

    async def healthz(_request: Request) -> Response:
        report = await runtime.health()
        healthy = all(value == "ok" for value in report.values())
        return JSONResponse({"status": "ok" if healthy else "unhealthy", **report},
                            status_code=200 if healthy else 503)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return Starlette(routes=[
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ], lifespan=lifespan)
