"""Delivers outbox rows through the platform ports, with retries, backoff and rate limits.

Delivery guarantee: at least once, without a visible duplicate where the platform can tell us
what it already has. A row is leased (`sending`) before the platform call and marked `sent`
after it; if the process dies in between, the lease expires and the row is retried. Before
re-sending such an uncertain row the dispatcher asks the port `find_sent(dedupe_key)`: ports
that can look a message up answer with its id and nothing is posted twice. Card updates are
idempotent (the same content replaces the same message), so repeating one is invisible.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.core.delivery import DeliveryPort, PermanentDeliveryError, RateLimit, RetryAfter
from bot.core.messages import OutboundFile, OutboundMessage
from bot.core.service import utc_now
from storage import outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)


@dataclass
class RetryPolicy:
    """Exponential backoff with jitter; dead-letter after `max_attempts` failed attempts."""

    max_attempts: int = 8
    base_seconds: float = 2.0
    cap_seconds: float = 600.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after the `attempt`-th failure."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


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
        self.max_inline_wait = max_inline_wait
        self.ordered = ordered  # one queue in id order instead of destinations in parallel
        self._windows: dict[str, _Window] = {}
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
        if self.ordered:
            await self._deliver_in_order(claimed)
            return len(claimed)
        by_destination: dict[str, list[outbox.Claimed]] = defaultdict(list)
        for item in claimed:
            by_destination[item.row.destination].append(item)
        await asyncio.gather(*(self._deliver_in_order(items)
                               for items in by_destination.values()))
        return len(claimed)

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

    async def _deliver_in_order(self, items: list[outbox.Claimed]) -> None:
        """Rows in queue order; on a hold-up the rest wait their turn."""
        for index, item in enumerate(items):
            if not await self._deliver(item):
                rest = [i.row.id for i in items[index + 1:] if i.row.id is not None]
                if rest:
                    await asyncio.to_thread(self._release, rest)
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
                message_id = await port.find_sent(row.destination, row.dedupe_key)
            if message_id is None:
                if not await self._take_slot(row, port):
                    return False
                message_id = await self._send(row, port)
            await asyncio.to_thread(self._finish, row.id, outbox.SENT, message_id, None)
            return True
        except RetryAfter as exc:
            # The platform told us when: not a failure of ours, so no attempt is spent.
            await asyncio.to_thread(self._postpone, row.id, exc.seconds, str(exc), False)
            return False
        except PermanentDeliveryError as exc:
            log.warning("outbox %s to %s is dead: %s", row.id, row.destination, exc)
            await asyncio.to_thread(self._finish, row.id, outbox.DEAD, None, str(exc))
            return True
        except Exception as exc:
            return await self._failed(row, exc)

    async def _send(self, row: Outbox, port: DeliveryPort) -> str:
        if row.operation == "send_file":
            data = row.payload["file"]
            file = OutboundFile(data["filename"], base64.b64decode(data["content"]),
                                data.get("title", ""), data.get("caption", ""))
            return await port.send_file(row.destination, file, dedupe_key=row.dedupe_key)
        message = OutboundMessage.from_json(row.payload["message"])
        return await port.send(row.destination, message, dedupe_key=row.dedupe_key)

    async def _update(self, row: Outbox, port: DeliveryPort) -> bool:
        assert row.id is not None and row.card_key is not None
        superseded, card = await asyncio.to_thread(self._card_state, row)
        if superseded:  # a newer snapshot of the same card is queued; it alone matters
            await asyncio.to_thread(self._finish, row.id, outbox.SUPERSEDED, None, None)
            return True
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED):
            await asyncio.to_thread(self._finish, row.id, outbox.DEAD, None,
                                    "the card to update was never delivered")
            return True
        status, message_id = card
        if status != outbox.SENT or message_id is None:  # the card itself is still on its way
            await asyncio.to_thread(self._postpone, row.id, 1.0, "waiting for the card", False)
            return False
        if not await self._take_slot(row, port):
            return False
        await port.update(row.destination, message_id,
                          OutboundMessage.from_json(row.payload["message"]))
        await asyncio.to_thread(self._finish, row.id, outbox.SENT, message_id, None)
        return True

    async def _take_slot(self, row: Outbox, port: DeliveryPort) -> bool:
        """Wait for the rate limits; a long wait hands the row back instead of holding it."""
        wait = self._slot_wait(row.destination, row.platform, port.rate_limit)
        if wait > self.max_inline_wait:
            assert row.id is not None
            await asyncio.to_thread(self._postpone, row.id, wait, "rate limit", False)
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
        if row.attempts >= self.policy.max_attempts:
            log.warning("outbox %s to %s is dead after %d attempts: %s", row.id,
                        row.destination, row.attempts, error)
            await asyncio.to_thread(self._finish, row.id, outbox.DEAD, None, error)
            return True
        delay = self.policy.delay(row.attempts)
        log.info("outbox %s to %s failed (attempt %d), retry in %.1fs: %s", row.id,
                 row.destination, row.attempts, delay, error)
        await asyncio.to_thread(self._postpone, row.id, delay, error, True)
        return False

    # -- database steps (run in worker threads) ---------------------------------------------
    def _card_state(self, row: Outbox) -> tuple[bool, tuple[str, str | None] | None]:
        with self.db.read() as session:
            assert row.card_key is not None
            return (outbox.newer_update_exists(session=session, row=row),
                    outbox.card_message_id(session=session, card_key=row.card_key))

    def _finish(self, outbox_id: int, status: str, message_id: str | None,
                error: str | None) -> None:
        with self.db.write() as session:
            outbox.finish(session=session, outbox_id=outbox_id, status=status, now=self.clock(),
                          message_id=message_id, error=error)

    def _postpone(self, outbox_id: int, seconds: float, error: str | None,
                  count_attempt: bool) -> None:
        with self.db.write() as session:
            outbox.postpone(session=session, outbox_id=outbox_id,
                            not_before=self.clock() + timedelta(seconds=seconds), error=error,
                            count_attempt=count_attempt)

    def _release(self, ids: list[int]) -> None:
        with self.db.write() as session:
            for outbox_id in ids:
                outbox.postpone(session=session, outbox_id=outbox_id, not_before=self.clock(),
                                error=None, count_attempt=False)


def file_payload(file: OutboundFile) -> dict[str, object]:
    """How a file is kept in an outbox row."""
    return {"file": {"filename": file.filename, "title": file.title, "caption": file.caption,
                     "content": base64.b64encode(file.content).decode("ascii")}}

