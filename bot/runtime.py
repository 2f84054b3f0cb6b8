"""What `voc run` and `voc serve` run, together in one event loop.

Chat adapters (Slack, Telegram), the outbox dispatcher and scheduled jobs all share the loop;
database work goes to worker threads. Each part is a `Component` started in order and stopped
in reverse; chat adapters also lend the dispatcher their delivery port and, under `voc serve`,
answer their platform's HTTP endpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from bot.config import Settings
from bot.core.delivery import DeliveryPort
from bot.core.service import VocService
from jobs.dispatcher import Dispatcher, RetryPolicy

log = logging.getLogger(__name__)
DISPATCHER_STALE = timedelta(seconds=30)
HEALTH_TIMEOUT = 3.0  # seconds /healthz waits for the database


class Component(Protocol):
    """A long-running part of the bot."""

    name: str

    async def start(self) -> None:
        """Begin work (connect, poll, schedule); return once running."""
        ...

    async def stop(self) -> None:
        """Finish in-flight work and disconnect."""
        ...


class ChatAdapter(Component, Protocol):
    """A platform adapter: receives events, renders replies, delivers the outbox."""

    port: DeliveryPort

    async def handle_http(self, request: Request) -> Response:
        """Answer the platform's HTTP endpoint under `voc serve` (authenticated by the adapter)."""
        ...


@dataclass
class Runtime:
    """The bot's running parts, built once from the settings."""

    settings: Settings
    service: VocService
    http_mode: bool
    adapters: dict[str, ChatAdapter] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)
    dispatcher: Dispatcher | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _dispatch_task: asyncio.Task[None] | None = None

    @classmethod
    def build(cls, settings: Settings, service: VocService, *, http_mode: bool) -> Runtime:
        """Adapters for the platforms whose tokens are set, the scheduler, the dispatcher."""
        runtime = cls(settings, service, http_mode)
        # Platform adapters register here (handlers/slack, handlers/telegram), one line each.
        if settings.slack_bot_token is not None:
            from handlers.slack.adapter import build_slack_adapter

            if slack := build_slack_adapter(settings, service, http_mode=http_mode):
                runtime.adapters["slack"] = slack
        if settings.telegram_bot_token is not None:
            from handlers.telegram.adapter import TelegramAdapter

            runtime.adapters["telegram"] = TelegramAdapter(settings, service, http_mode=http_mode)
        from jobs.scheduler import Scheduler  # digest, SLA sweep, pulses (exactly once: claims)

        runtime.components.append(Scheduler(service))
        runtime.dispatcher = Dispatcher(
            service.db, [adapter.port for adapter in runtime.adapters.values()],
            policy=RetryPolicy(max_attempts=settings.voc_outbox_max_attempts))
        return runtime

    async def start(self) -> None:
        """Start adapters, then jobs, then the dispatcher."""
        for part in [*self.adapters.values(), *self.components]:
            log.info("starting %s", part.name)
            await part.start()
        assert self.dispatcher is not None
        self._dispatch_task = asyncio.create_task(self.dispatcher.run(self._stop),
                                                  name="outbox-dispatcher")

    async def stop(self) -> None:
        """Stop in reverse order; a failing part does not keep the others running."""
        self._stop.set()
        if self._dispatch_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatch_task
        for part in reversed([*self.adapters.values(), *self.components]):
            try:
                await part.stop()
            except Exception:
                log.exception("stopping %s failed", part.name)
        self.service.captures.close()
        self.service.db.dispose()

    async def run_until_signalled(self) -> None:
        """`voc run`: start everything and stop cleanly on SIGINT or SIGTERM."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self._stop.set)
        await self.start()
        try:
            await self._stop.wait()
        finally:
            await self.stop()

    async def health(self) -> dict[str, str]:
        """What /healthz reports: the database answers and the dispatcher is alive."""
        report = {"database": "ok", "dispatcher": "ok"}
        try:
            # A database that hangs must not hang the probe: it is what the probe is for.
            await asyncio.wait_for(asyncio.to_thread(self._ping_database), HEALTH_TIMEOUT)
        except TimeoutError:
            report["database"] = f"unreachable: no answer within {HEALTH_TIMEOUT:g} s"
        except Exception as exc:  # any failure means unhealthy; the type tells the operator why
            report["database"] = f"unreachable: {type(exc).__name__}"
        dispatcher = self.dispatcher
        alive_at = dispatcher.alive_at if dispatcher else None
        task_running = self._dispatch_task is not None and not self._dispatch_task.done()
        if not task_running or alive_at is None or (
                self.service.clock() - alive_at > DISPATCHER_STALE):
            report["dispatcher"] = "not running"
        return report

    def _ping_database(self) -> None:
        with self.service.db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
