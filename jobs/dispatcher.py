"""Delivers outbox rows through the platform ports, with retries, backoff and rate limits.

Delivery guarantee: at least once, without a visible duplicate where the platform can tell us
what it already has. A row is leased (`sending`) before the platform call and marked `sent`
after it; if the process dies in between, the lease expires and the row is retried. Before
re-sending a row whose earlier attempt may have reached the platform (the process died, or the
call failed without a clear answer: a timeout, a dropped connection, a 5xx) the dispatcher asks
the port `find_sent(dedupe_key)`: ports that can look a message up answer with its id and
nothing is posted twice. Card updates are idempotent (the same content replaces the same
message), so repeating one is invisible.

Leases (replicas share the outbox on PostgreSQL). A claimed batch may wait in memory longer
than one lease (one message a second per Slack channel, slow platform calls): while it does, a
background task renews the lease of every row still held, every quarter of the lease, so no
other replica takes a row this one is about to send. The lease is also the claim's token: a row
this dispatcher lost (its renewals failed until the lease ran out and another replica claimed
it) is neither sent nor handed back by it. Every platform call is cut off after half the lease
(`call_timeout`), and a call starts only while at least that much of the row's lease is left,
so a post lands before any other replica may take the row over (and look it up first).

Retry policy (`RetryPolicy`). A 429 / flood control waits as told and spends no attempt. An
error no retry can fix (channel not found, bot not in channel) is dead at once, with what to
do in `voc outbox list`. Anything else (outage, 5xx, timeout) is retried with exponential
backoff (2 s doubling, with jitter, at most 5 minutes apart, so a platform that comes back is
served again within 5 minutes, without `voc outbox retry`), and is dead-lettered only when
BOTH hold: it failed `max_attempts` times (VOC_OUTBOX_MAX_ATTEMPTS, default 8) AND it is
older than `max_age` (24 hours). An outage of minutes or hours therefore loses nothing;
`voc outbox retry` gives a dead row `max_attempts` fresh attempts.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import random
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.delivery import DeliveryPort, PermanentDeliveryError, RateLimit, RetryAfter
from bot.core.messages import OutboundFile, OutboundMessage
from bot.core.service import utc_now
from storage import outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter, at most `cap_seconds` apart. A row that keeps failing
    is dead-lettered once it has failed `max_attempts` times AND is older than `max_age`: a
    count alone is spent by a short outage, an age alone by one failure of an old row."""

    max_attempts: int = 8
    max_age: timedelta = timedelta(hours=24)
    base_seconds: float = 2.0
    cap_seconds: float = 300.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failure."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def gives_up(self, *, attempts: int, age: timedelta) -> bool:
        """Whether a row that just failed its `attempts`-th time, `age` after it was queued,
        goes to the dead letters."""
        return attempts >= self.max_attempts and age >= self.max_age


@dataclass
class _Window:
    """Sliding-window limiter: when may the next message go out?"""

    count: int
    seconds: float
    sent: deque[float] = field(default_factory=deque)

    def wait(self, now: float) -> float:
        while self.sent and now - self.sent[0] >= self.seconds:
            self.sent.popleft()
        return 0.0 if len(self.sent) < self.count else self.seconds - (now - self.sent[0])

    def record(self, now: float) -> None:
        self.sent.append(now)


class LeaseLost(Exception):
    """This dispatcher no longer holds the row, or too little of its lease is left to start a
    platform call."""


class Dispatcher:
    """Claims due outbox rows and delivers them; many dispatchers may share one database."""

    def __init__(self, db: Database, ports: Sequence[DeliveryPort], *,
                 clock: Callable[[], datetime] = utc_now, policy: RetryPolicy | None = None,
                 batch: int = 50, lease: timedelta = timedelta(seconds=60),
                 max_inline_wait: float = 5.0, ordered: bool = False) -> None:
        self.db = db
        self.ports = {platform: port for port in ports for platform in port.platforms}
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.lease = lease
        # A platform call may last half the lease; it starts only with that much lease left.
        self.call_timeout = lease.total_seconds() / 2
        self.max_inline_wait = max_inline_wait
        self.ordered = ordered  # one queue in id order instead of destinations in parallel
        self._windows: dict[str, _Window] = {}
        self._held: dict[int, datetime] = {}  # rows claimed and not yet settled -> lease token
        self._lease_lock = asyncio.Lock()  # renewals and hand-backs see the same tokens
        self.alive_at: datetime | None = None  # for health checks

    async def run(self, stop: asyncio.Event, *, idle_seconds: float = 1.0) -> None:
        """Deliver until `stop` is set; sleep briefly when there is nothing to do."""
        while not stop.is_set():
            try:
                delivered = await self.run_once()
            except Exception:
                log.exception("outbox dispatch failed; retrying shortly")
                delivered = 0
            if not delivered:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=idle_seconds)

    async def run_once(self) -> int:
        """Claim one batch and try each row once; return how many rows were handled."""
        self.alive_at = self.clock()
        if not self.ports:
            return 0
        claimed = await asyncio.to_thread(self._claim, self._blocked())
        if not claimed:
            return 0
        for item in claimed:
            assert item.row.id is not None and item.row.lease_until is not None
            self._held[item.row.id] = item.row.lease_until
        keeper = asyncio.create_task(self._keep_leases(), name="outbox-leases")
        try:
            if self.ordered:
                await self._deliver_in_order(claimed)
                return len(claimed)
            by_destination: dict[str, list[outbox.Claimed]] = defaultdict(list)
            for item in claimed:
                by_destination[item.row.destination].append(item)
            # Every destination finishes its turn even if another one's fails.
            outcomes = await asyncio.gather(
                *(self._deliver_in_order(items) for items in by_destination.values()),
                return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
            return len(claimed)
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            for item in claimed:  # unsettled ones (an error above) wait for their lease
                self._held.pop(item.row.id or 0, None)

    def _claim(self, blocked: tuple[list[str], list[str]]) -> list[outbox.Claimed]:
        destinations, platforms = blocked
        with self.db.write() as session:
            return outbox.claim_due(
                session=session, platforms=[p for p in self.ports if p not in platforms],
                skip_destinations=destinations, now=self.clock(), limit=self.batch,
                lease=self.lease)

    def _blocked(self) -> tuple[list[str], list[str]]:
        """Destinations and platforms whose rate limit has no free slot now. Their rows stay
        queued, unclaimed, until it frees: claiming them only to hand them back made a
        backlog (Telegram allows a group 20 messages a minute) cost CPU and write
        transactions in proportion to its size, all the time it waited."""
        now = asyncio.get_running_loop().time()
        destinations: list[str] = []
        platforms: list[str] = []
        for key, window in list(self._windows.items()):
            if window.wait(now) > 0:
                (platforms if key.endswith(":*") else destinations).append(key.removesuffix(":*"))
            elif not window.sent:
                del self._windows[key]  # nothing sent lately: forget it (one per person DMed)
        return destinations, platforms

    # -- leases -----------------------------------------------------------------------------
    async def _keep_leases(self) -> None:
        """Renew the lease of the rows held, every quarter of the lease, until cancelled."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                async with self._lease_lock:
                    held = dict(self._held)
                    until = self.clock() + self.lease
                    renewed = await asyncio.to_thread(self._renew, held, until)
                    for outbox_id, token in held.items():
                        if self._held.get(outbox_id) != token:
                            continue  # settled meanwhile
                        if outbox_id in renewed:
                            self._held[outbox_id] = until
                        else:
                            log.warning("outbox %s was taken over by another dispatcher",
                                        outbox_id)
                            del self._held[outbox_id]
                self.alive_at = self.clock()
            except Exception:
                # The rows stay ours until their lease ends; none is sent past that.
                log.warning("outbox leases could not be renewed; trying again", exc_info=True)

    def _check_lease(self, row: Outbox) -> None:
        """Raise LeaseLost unless the row is still ours with time left for one call."""
        assert row.id is not None
        until = self._held.get(row.id)
        if until is None or (until - self.clock()).total_seconds() < self.call_timeout:
            raise LeaseLost(f"outbox {row.id}: lease lost or about to end")

    async def _platform(self, row: Outbox, call: Awaitable[T]) -> T:
        """One platform call for a held row, started only with enough lease left, and cut off
        after `call_timeout` (an unclear outcome: the row is looked up before its retry)."""
        try:
            self._check_lease(row)
        except LeaseLost:
            if inspect.iscoroutine(call):
                call.close()  # never started
            raise
        async with asyncio.timeout(self.call_timeout):
            return await call

    # -- delivery ---------------------------------------------------------------------------
    async def _deliver_in_order(self, items: list[outbox.Claimed]) -> None:
        """Rows in queue order; on a hold-up the rest wait their turn."""
        for index, item in enumerate(items):
            if not await self._deliver(item):
                rest = [i.row.id for i in items[index + 1:] if i.row.id is not None]
                if rest:
                    await self._release(rest)
                return

    async def _deliver(self, item: outbox.Claimed) -> bool:
        """Try one row; True if the destination may go on with its next row."""
        row = item.row
        assert row.id is not None
        port = self.ports[row.platform]
        try:
            if row.operation == "update":
                return await self._update(row, port)
            message_id = None
            if item.uncertain:
                message_id = await self._platform(
                    row, port.find_sent(row.destination, row.dedupe_key))
            if message_id is None:
                if not await self._take_slot(row, port):
                    return False
                message_id = await self._send(row, port)
            await self._finish(row.id, outbox.SENT, message_id, None)
            return True
        except LeaseLost as exc:
            # Still ours but short of time (renewals are failing or late): back to the queue.
            # Lost: the token no longer matches, and the row is left to whoever holds it.
            log.warning("%s; handed back", exc)
            await self._release([row.id])
            return False
        except RetryAfter as exc:
            # The platform told us when: not a failure of ours, so no attempt is spent.
            await self._postpone(row.id, exc.seconds, str(exc), count_attempt=False)
            return False
        except PermanentDeliveryError as exc:
            log.warning("outbox %s to %s is dead: %s", row.id, row.destination, exc)
            await self._finish(row.id, outbox.DEAD, None, str(exc))
            return True
        except Exception as exc:
            return await self._failed(row, exc)

    async def _send(self, row: Outbox, port: DeliveryPort) -> str:
        if row.operation == "send_file":
            data = row.payload["file"]
            file = OutboundFile(data["filename"], base64.b64decode(data["content"]),
                                data.get("title", ""), data.get("caption", ""))
            return await self._platform(
                row, port.send_file(row.destination, file, dedupe_key=row.dedupe_key))
        message = OutboundMessage.from_json(row.payload["message"])
        return await self._platform(
            row, port.send(row.destination, message, dedupe_key=row.dedupe_key))

    async def _update(self, row: Outbox, port: DeliveryPort) -> bool:
        assert row.id is not None and row.card_key is not None
        superseded, card = await asyncio.to_thread(self._card_state, row)
        if superseded:  # a newer snapshot of the same card is queued; it alone matters
            await self._finish(row.id, outbox.SUPERSEDED, None, None)
            return True
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED):
            await self._finish(row.id, outbox.DEAD, None, "the card to update was never delivered")
            return True
        status, message_id = card
        if status != outbox.SENT or message_id is None:  # the card itself is still on its way
            await self._postpone(row.id, 1.0, "waiting for the card", count_attempt=False)
            return False
        if not await self._take_slot(row, port):
            return False
        await self._platform(row, port.update(
            row.destination, message_id, OutboundMessage.from_json(row.payload["message"])))
        await self._finish(row.id, outbox.SENT, message_id, None)
        return True

    async def _take_slot(self, row: Outbox, port: DeliveryPort) -> bool:
        """Wait for the rate limits; a long wait hands the row back instead of holding it."""
        wait = self._slot_wait(row.destination, row.platform, port.rate_limit)
        if wait > self.max_inline_wait:
            assert row.id is not None
            await self._postpone(row.id, wait, "rate limit", count_attempt=False)
            return False
        if wait > 0:
            await asyncio.sleep(wait)
        now = asyncio.get_running_loop().time()
        self._window(row.destination, port.rate_limit.per_destination).record(now)
        if port.rate_limit.overall:
            self._window(f"{row.platform}:*", port.rate_limit.overall).record(now)
        return True

    def _slot_wait(self, destination: str, platform: str, limit: RateLimit) -> float:
        now = asyncio.get_running_loop().time()
        wait = self._window(destination, limit.per_destination).wait(now)
        if limit.overall:
            wait = max(wait, self._window(f"{platform}:*", limit.overall).wait(now))
        return wait

    def _window(self, key: str, limit: tuple[int, float]) -> _Window:
        if key not in self._windows:
            self._windows[key] = _Window(*limit)
        return self._windows[key]

    async def _failed(self, row: Outbox, exc: Exception) -> bool:
        assert row.id is not None
        error = f"{type(exc).__name__}: {exc}"[:1000]
        age = self.clock() - row.created_at
        if self.policy.gives_up(attempts=row.attempts, age=age):
            log.warning("outbox %s to %s is dead after %d attempts in %s: %s", row.id,
                        row.destination, row.attempts, age, error)
            await self._finish(row.id, outbox.DEAD, None, error)
            return True
        delay = self.policy.delay(row.attempts)
        log.info("outbox %s to %s failed (attempt %d), retry in %.1fs: %s", row.id,
                 row.destination, row.attempts, delay, error)
        await self._postpone(row.id, delay, error, count_attempt=True)
        return False

    # -- settling a row (database work in worker threads) -----------------------------------
    async def _finish(self, outbox_id: int, status: str, message_id: str | None,
                      error: str | None) -> None:
        """Record the outcome; what happened on the platform is true whoever holds the row."""
        await asyncio.to_thread(self._finish_row, outbox_id, status, message_id, error)
        self._held.pop(outbox_id, None)

    async def _postpone(self, outbox_id: int, seconds: float, error: str | None, *,
                        count_attempt: bool) -> None:
        """Hand a held row back to the queue until `seconds` from now."""
        async with self._lease_lock:
            token = self._held.pop(outbox_id, None)
            if token is not None:
                await asyncio.to_thread(self._postpone_row, outbox_id, token, seconds, error,
                                        count_attempt)

    async def _release(self, ids: list[int]) -> None:
        """Hand held rows back, due now, without spending their attempt."""
        async with self._lease_lock:
            tokens = {i: token for i in ids if (token := self._held.pop(i, None)) is not None}
            if tokens:
                await asyncio.to_thread(self._release_rows, tokens)

    def _renew(self, held: dict[int, datetime], until: datetime) -> set[int]:
        if not held:
            return set()
        with self.db.write() as session:
            return outbox.renew_leases(session=session, held=held, until=until)

    def _card_state(self, row: Outbox) -> tuple[bool, tuple[str, str | None] | None]:
        with self.db.read() as session:
            assert row.card_key is not None
            return (outbox.newer_update_exists(session=session, row=row),
                    outbox.card_message_id(session=session, card_key=row.card_key))

    def _finish_row(self, outbox_id: int, status: str, message_id: str | None,
                    error: str | None) -> None:
        with self.db.write() as session:
            outbox.finish(session=session, outbox_id=outbox_id, status=status, now=self.clock(),
                          message_id=message_id, error=error)

    def _postpone_row(self, outbox_id: int, token: datetime, seconds: float,
                      error: str | None, count_attempt: bool) -> None:
        with self.db.write() as session:
            outbox.postpone(session=session, outbox_id=outbox_id,
                            not_before=self.clock() + timedelta(seconds=seconds), error=error,
                            count_attempt=count_attempt, lease=token)

    def _release_rows(self, tokens: dict[int, datetime]) -> None:
        with self.db.write() as session:
            for outbox_id, token in tokens.items():
                outbox.postpone(session=session, outbox_id=outbox_id, not_before=self.clock(),
                                error=None, count_attempt=False, lease=token)


def file_payload(file: OutboundFile) -> dict[str, object]:
    """How a file is kept in an outbox row."""
    return {"file": {"filename": file.filename, "title": file.title, "caption": file.caption,
                     "content": base64.b64encode(file.content).decode("ascii")}}

