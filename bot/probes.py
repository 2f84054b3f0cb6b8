"""Health probes and metrics over HTTP: GET /healthz (alive), /readyz (ready for traffic),
/metrics (Prometheus); under `voc serve` on its app, under `voc run` on a port of their own."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.metrics import CONTENT_TYPE, Metrics


class Probed(Protocol):
    """What the probes ask: the running bot (bot/runtime.py)."""

    metrics: Metrics | None

    async def health(self) -> dict[str, str]:
        """Alive: the database answers."""
        ...

    async def readiness(self) -> dict[str, str]:
        """Ready for traffic: database, schema, dispatcher."""
        ...


def probe_routes(runtime: Probed) -> list[Route]:
    """GET /healthz (alive), /readyz (ready for traffic), /metrics (Prometheus)."""

    def report(result: dict[str, str]) -> Response:
        healthy = all(value == "ok" for value in result.values())
        return JSONResponse({"status": "ok" if healthy else "unhealthy", **result},
                            status_code=200 if healthy else 503)

    async def healthz(_request: Request) -> Response:
        return report(await runtime.health())

    async def readyz(_request: Request) -> Response:
        return report(await runtime.readiness())

    async def metrics(_request: Request) -> Response:
        assert runtime.metrics is not None
        body = await asyncio.to_thread(runtime.metrics.exposition)  # reads the database
        return Response(body, media_type=CONTENT_TYPE)

    return [Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"])]


class MetricsServer:
    """`voc run` with VOC_METRICS_PORT: the probes and /metrics on a port of their own."""

    name = "metrics"

    def __init__(self, runtime: Probed, host: str, port: int) -> None:
        # uvicorn (and click with it: 0.2 s, 3 MB) is loaded only when the port is asked for:
        # the serving bot stays without them (tests/system/test_cli_lean.py).
        import uvicorn

        class Quiet(uvicorn.Server):
            """Leaves SIGINT and SIGTERM to `voc run`, which stops this server with the rest."""

            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        app = Starlette(routes=probe_routes(runtime))
        self.server = Quiet(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           access_log=False, lifespan="off"))
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen (returns once the port is open)."""
        self._task = asyncio.create_task(self.server.serve(), name="metrics-server")
        while not self.server.started:
            if self._task.done():  # the port was taken, say: uvicorn logged why
                raise RuntimeError("the metrics server could not start")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close the port."""
        self.server.should_exit = True
        if self._task is not None:
            await self._task
