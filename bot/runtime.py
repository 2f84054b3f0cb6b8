"""What `voc run` and `voc serve` run, together in one event loop.

Chat adapters (Slack, Telegram), the outbox dispatcher and scheduled jobs all share the loop;
database work goes to worker threads. Each part is a `Component` started in order and stopped
in reverse; chat adapters also lend the dispatcher their delivery port and, under `voc serve`,
answer their platform's HTTP endpoint.

A platform that cannot be reached at start does not hold the others back: it is
retried in the background with backoff, and its outbox rows wait, unclaimed and with no attempt
spent, until its port joins the dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import Response

from bot.config import Settings
from bot.core.service import VocService
from bot.core.shared.delivery_port import DeliveryPort
from bot.core.shared.platforms import PLATFORMS
from bot.logs import secrets_of
from bot.metrics import Metrics
from bot.probes import MetricsServer
from jobs.dispatcher import Dispatcher, RetryPolicy
from jobs.scheduler import Scheduler

log = logging.getLogger(__name__)
DISPATCHER_STALE = timedelta(seconds=30)
HEALTH_TIMEOUT = 3.0  # seconds /healthz waits for the database
# Below this much free space where the SQLite file lives, the next write may fail: SQLite only
# finds out when it commits or checkpoints, so a rolled-back probe cannot tell.
SQLITE_MIN_FREE = 1 << 20


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

    def refusal(self, request: Request, body: bytes) -> tuple[int, str] | None:
        """(status, reason) if `voc serve` must refuse the request before handling it (not
        the platform's, not readable); None otherwise."""
        ...

    async def handle_http(self, request: Request) -> Response:
        """Answer the platform's HTTP endpoint under `voc serve` (authenticated by the adapter)."""
        ...


@dataclass(frozen=True)
class AdapterEntry:
    """A platform's adapter: how it is built and the path `voc serve` receives it on."""

    build: Callable[[Settings, VocService, bool], ChatAdapter | None]
    path: str


# Each adapter is imported only when its platform's token is set: Slack's costs a process
# 0.5 s and 17 MB to import, Telegram's 0.8 s and 18 MB (measured).
def _slack(settings: Settings, service: VocService, http_mode: bool) -> ChatAdapter | None:
    from handlers.slack.adapter import build_slack_adapter

    return build_slack_adapter(settings, service, http_mode=http_mode)


def _telegram(settings: Settings, service: VocService, http_mode: bool) -> ChatAdapter | None:
    from handlers.telegram.adapter import TelegramAdapter

    return TelegramAdapter(settings, service, http_mode=http_mode)


# The adapter of each platform of bot/core/shared/platforms.py.
ADAPTERS: dict[str, AdapterEntry] = {"slack": AdapterEntry(_slack, "/slack/events"),
                                     "telegram": AdapterEntry(_telegram, "/telegram/webhook")}


@dataclass(frozen=True)
class StartRetry:
    """How a platform that failed to start is tried again: after 1, 2, 4 ... seconds, at most
    `cap` apart, for as long as the bot runs; each attempt may take up to `timeout`."""

    first: float = 1.0
    cap: float = 60.0
    timeout: float = 60.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after the `failures`-th failed attempt in a row."""
        return min(self.cap, self.first * 2.0 ** max(0, failures - 1))


class _RollBack(Exception):
    """Ends the write probe's transaction without committing."""


@dataclass
class Runtime:
    """The bot's running parts, built once from the settings."""

    settings: Settings
    service: VocService
    http_mode: bool
    adapters: dict[str, ChatAdapter] = field(default_factory=dict)
    components: list[Component] = field(default_factory=list)
    dispatcher: Dispatcher | None = None
    retry: StartRetry = field(default_factory=StartRetry)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _dispatch_task: asyncio.Task[None] | None = None
    _up: set[str] = field(default_factory=set)
    _retrying: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _probe: asyncio.Future[str] | None = None
    replica: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    metrics: Metrics | None = None

    @classmethod
    def build(cls, settings: Settings, service: VocService, *, http_mode: bool) -> Runtime:
        """Adapters for the platforms whose tokens are set, the scheduler, the dispatcher."""
        runtime = cls(settings, service, http_mode)
        for name, platform in PLATFORMS.items():  # each platform whose token is set
            if getattr(settings, platform.token) is not None and (
                    adapter := ADAPTERS[name].build(settings, service, http_mode)):
                runtime.adapters[name] = adapter
        # Digest, SLA sweep, pulses (exactly once: claims). The digest (matplotlib, openpyxl)
        # is built in a child process: the bot stays lean.
        runtime.components.append(Scheduler(service, isolated_digest=True))
        # Ports join as their adapters come up: a platform that is down claims no rows.
        runtime.dispatcher = Dispatcher(
            service.db, [], policy=RetryPolicy(
                max_attempts=settings.voc_outbox_max_attempts,
                max_age=timedelta(hours=settings.voc_outbox_max_age_hours)),
            poll_seconds=settings.voc_outbox_poll_seconds)
        dispatcher = runtime.dispatcher
        runtime.metrics = Metrics(service.db, service.clock, replica=runtime.replica,
                                  alive_at=lambda: dispatcher.alive_at)
        if not http_mode and settings.voc_metrics_port is not None:
            # `voc run`: the probes and /metrics on a port of their own.
            runtime.components.append(MetricsServer(runtime, settings.voc_metrics_host,
                                                    settings.voc_metrics_port))
        return runtime

    # -- start and stop ---------------------------------------------------------------------
    async def start(self) -> None:
        """Start adapters (one that cannot start now keeps trying in the background), then
        jobs, then the dispatcher."""
        adapters = list(self.adapters.items())
        started = await asyncio.gather(*(self._start_adapter(name, adapter, 1)
                                         for name, adapter in adapters))
        for (name, adapter), up in zip(adapters, started, strict=True):
            if not up:
                self._retrying[name] = asyncio.create_task(
                    self._keep_starting(name, adapter), name=f"start-{name}")
        for part in self.components:
            log.info("starting %s", part.name)
            await part.start()
        assert self.dispatcher is not None
        self._dispatch_task = asyncio.create_task(self.dispatcher.run(self._stop),
                                                  name="outbox-dispatcher")

    async def _start_adapter(self, name: str, adapter: ChatAdapter, attempt: int) -> bool:
        """One attempt; on failure the adapter is stopped (nothing left open) and we say when
        the next attempt is, in one log line without a traceback."""
        log.info("starting %s", name)
        try:
            await asyncio.wait_for(adapter.start(), self.retry.timeout)
        except asyncio.CancelledError:
            await self._stop_part(adapter)
            raise
        except Exception as exc:  # whatever the platform did, the others go on
            await self._stop_part(adapter)
            log.warning("%s could not start (attempt %d: %s); trying again in %g s", name,
                        attempt, self._redacted(exc), self.retry.delay(attempt))
            return False
        if attempt > 1:
            log.info("%s started (attempt %d)", name, attempt)
        self._up.add(name)
        if self.dispatcher is not None:  # a new dict: the dispatcher may be iterating the old
            self.dispatcher.ports = self.dispatcher.ports | dict.fromkeys(
                adapter.port.platforms, adapter.port)
            self.dispatcher.wake()  # its rows waited for it
        return True

    async def _keep_starting(self, name: str, adapter: ChatAdapter) -> None:
        attempt = 1
        while not await self._wait_then_start(name, adapter, attempt):
            attempt += 1
        self._retrying.pop(name, None)

    async def _wait_then_start(self, name: str, adapter: ChatAdapter, failures: int) -> bool:
        await asyncio.sleep(self.retry.delay(failures))
        return await self._start_adapter(name, adapter, failures + 1)

    def _redacted(self, error: BaseException) -> str:
        """`Type: message` with any secret of the settings blanked out."""
        message = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        for secret in secrets_of(self.settings):
            message = message.replace(secret, "<secret>")
        return message.splitlines()[0][:300] if message else message

    @staticmethod
    async def _stop_part(part: Component) -> None:
        try:
            await part.stop()
        except Exception:
            log.exception("stopping %s failed", part.name)

    async def stop(self) -> None:
        """Stop in reverse order; a failing part does not keep the others running."""
        self._stop.set()
        retrying, self._retrying = list(self._retrying.values()), {}
        for task in retrying:  # an attempt in progress cleans up after itself
            task.cancel()
        for task in retrying:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._dispatch_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatch_task
        for part in reversed(self.components):
            await self._stop_part(part)
        for name, adapter in reversed(self.adapters.items()):
            if name in self._up:  # not one whose attempts failed: it has stopped already
                await self._stop_part(adapter)
        self._up.clear()
        closing = getattr(self.service.meaning.embedder, "aclose", None)
        if closing is not None:  # the language endpoint's HTTP session
            await closing()
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

    def platforms(self) -> dict[str, str]:
        """Each platform adapter: `starting` while its start is being retried, else `up`."""
        return {name: "starting" if name in self._retrying else "up" for name in self.adapters}

    # -- health -----------------------------------------------------------------------------
    async def health(self) -> dict[str, str]:
        """What /healthz reports: the database answers and can write, the dispatcher is alive."""
        report = {"database": await self._database(), "dispatcher": "ok"}
        dispatcher = self.dispatcher
        alive_at = dispatcher.alive_at if dispatcher else None
        task_running = self._dispatch_task is not None and not self._dispatch_task.done()
        if not task_running or alive_at is None or (
                self.service.clock() - alive_at > DISPATCHER_STALE):
            report["dispatcher"] = "not running"
        return report

    async def readiness(self) -> dict[str, str]:
        """What /readyz reports: health, and a schema as new as the code."""
        report = await self.health()
        report["schema"] = "ok"
        try:
            await asyncio.wait_for(asyncio.to_thread(self.service.db.require_current_schema),
                                   HEALTH_TIMEOUT)
        except TimeoutError:
            report["schema"] = f"unknown: no answer within {HEALTH_TIMEOUT:g} s"
        except Exception as exc:  # SchemaOutOfDate says which command fixes it
            report["schema"] = f"not current: {type(exc).__name__}"
        return report

    async def _database(self) -> str:
        """The database's state, within HEALTH_TIMEOUT. One probe at a time: a database that
        hangs must not collect a worker thread per health check."""
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(asyncio.to_thread(self._probe_database))
            self._probe.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            # A database that hangs must not hang the probe: it is what the probe is for.
            return await asyncio.wait_for(asyncio.shield(self._probe), HEALTH_TIMEOUT)
        except TimeoutError:
            return f"unreachable: no answer within {HEALTH_TIMEOUT:g} s"
        except Exception as exc:  # any failure means unhealthy; the type tells the operator why
            return f"unreachable: {type(exc).__name__}"

    def _probe_database(self) -> str:
        """`ok`, or why not: reads fail (`unreachable`), or writes would (`cannot write`)."""
        db = self.service.db
        try:
            with db.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as exc:  # the type only: connection errors name hosts
            return f"unreachable: {type(exc).__name__}"
        try:
            with db.write() as session:  # SQLite: BEGIN IMMEDIATE, the writers' lock
                if db.dialect == "sqlite":
                    # A new table takes a new page: refused when the file may not grow.
                    session.execute(text("CREATE TABLE voc_write_probe (x INTEGER)"))
                    session.execute(text("INSERT INTO voc_write_probe VALUES (1)"))
                else:  # refused on a read-only server or transaction (a standby, say)
                    session.execute(text(
                        "UPDATE alembic_version SET version_num = version_num"))
                raise _RollBack
        except _RollBack:
            pass
        except Exception as exc:  # the database's own words (no URL in a refused write)
            cause = exc.__cause__ or exc
            return f"cannot write: {_first_line(cause)}"
        return _sqlite_space(db.engine.url.database) if db.dialect == "sqlite" else "ok"


def _sqlite_space(database: str | None) -> str:
    """`ok`, or `cannot write` when the SQLite file's file system is (nearly) full."""
    if not database or database == ":memory:":
        return "ok"
    try:
        stats = os.statvfs(Path(database).resolve().parent)
    except OSError:
        return "ok"  # the write probe already went through; nothing more to learn here
    free = stats.f_bavail * stats.f_frsize
    if free < SQLITE_MIN_FREE:
        return f"cannot write: disk full ({free // 1024} KiB free)"
    return "ok"


def _first_line(error: BaseException) -> str:
    text_ = str(getattr(error, "orig", None) or error).strip()
    return (text_.splitlines() or [type(error).__name__])[0][:200]
