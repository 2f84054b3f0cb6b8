"""Delivering one held outbox row through its port: posts, edits, replies, files, reactions.

Delivery guarantee: at least once, without a visible duplicate where the platform can tell us
what it already has. A row is leased (`sending`) before the platform call and marked `sent`
after it; if the process dies in between, the lease expires and the row is retried. Before
re-sending a row whose earlier attempt may have reached the platform (the process died, or the
call failed without a clear answer: a timeout, a dropped connection, a 5xx) the courier asks
the port `find_sent(dedupe_key)`: ports that can look a message up answer with its id and
nothing is posted twice. Card updates are idempotent (the same content replaces the same
message), so repeating one is invisible.

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
import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot import logs
from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import DeliveryPort, PermanentDeliveryError, RetryAfter
from bot.core.shared.telemetry import emit
from jobs.leases import LeaseLost, Leases
from jobs.limits import Buckets, draws_of
from storage import files, outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)
# An edit's card state read with its claim stands this long; a row that waited longer (its
# destination's rate limit) reads it again, in case a later edit was queued meanwhile.
CLAIM_FRESH_SECONDS = 0.5
CARD_WAIT_SECONDS = 1.0  # a row under a card that is still on its way looks again after this


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


def file_payload(file: OutboundFile) -> dict[str, object]:
    """How a file is kept in an outbox row."""
    return {"file": {"filename": file.filename, "title": file.title, "caption": file.caption,
                     "content": base64.b64encode(file.content).decode("ascii")}}


@dataclass
class Courier:
    """Delivers held rows one by one; `deliver` says whether the row's queue may go on."""

    db: Database
    ports: Callable[[], Mapping[str, DeliveryPort]]  # read at each row: ports join later
    leases: Leases
    buckets: Buckets
    policy: RetryPolicy
    clock: Callable[[], datetime]
    monotonic: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]
    stopping: asyncio.Event | None = None  # set: waits for tokens end (`run` owns it)

    async def deliver(self, item: outbox.Claimed, deadline: float, claimed_at: float) -> bool:
        """Try one row; True if its destination may go on with its next row. Waits for rate
        limits end at `deadline` (monotonic): the row is postponed to its token instead."""
        with logs.context(platform=item.row.platform, outbox_id=item.row.id):
            return await self._deliver(item, deadline, claimed_at)

    async def _deliver(self, item: outbox.Claimed, deadline: float, claimed_at: float) -> bool:
        row = item.row
        assert row.id is not None
        port = self.ports()[row.platform]
        try:
            if row.operation == "update":
                return await self._update(item, port, deadline, claimed_at)
            if row.operation == "send_file" and "attachment" in row.payload:
                return await self._attachment(row, port, item.uncertain, deadline)
            reply_to = None
            if row.operation == "reply":  # under a card: it must have been posted first
                card = await self._posted_card(item, claimed_at)
                if card is None:
                    return False
                reply_to = card or None
            message_id = None
            if item.uncertain:
                message_id = await self.leases.call(
                    row, port.find_sent(row.destination, row.dedupe_key))
            if message_id is None:
                if not await self._take_slot(row, port, deadline):
                    return False
                message_id = await self._send(row, port, reply_to)
            await self._sent(row, message_id)
            return True
        except LeaseLost as exc:
            # Still ours but short of time (renewals are failing or late): back to the queue.
            # Lost: the token no longer matches, and the row is left to whoever holds it.
            log.warning("%s; handed back", exc)
            await self.leases.release([row.id])
            return False
        except RetryAfter as exc:
            # The platform told us when: not a failure of ours, so no attempt is spent.
            emit("rate_limited", platform=row.platform, by="platform", seconds=exc.seconds)
            await self.leases.postpone(row.id, exc.seconds, str(exc), count_attempt=False)
            return False
        except PermanentDeliveryError as exc:
            log.warning("outbox %s to %s is dead: %s", row.id, row.destination, exc)
            emit("delivery_attempt", platform=row.platform, outcome="dead")
            await self.leases.finish(row.id, outbox.DEAD, None, str(exc))
            return True
        except Exception as exc:
            return await self._failed(row, exc)

    async def _card(self, item: outbox.Claimed, claimed_at: float) -> outbox.CardState:
        """The card of an edit or a reply: as read with the claim while that is fresh and
        settled (the common case: one read for the whole batch), read again otherwise (the
        card's own post was on its way, or the row waited for a rate limit meanwhile, long
        enough for a later edit to be queued)."""
        known = item.card
        if known is not None and (known.superseded or known.settled) and (
                self.monotonic() - claimed_at < CLAIM_FRESH_SECONDS):
            return known
        return await asyncio.to_thread(self._card_state, item.row)

    async def _posted_card(self, item: outbox.Claimed, claimed_at: float) -> str | None:
        """The message id of the card a reply goes under; "" when the card will never be
        there (the reply is sent on its own); None when it is still on its way (postponed)."""
        row = item.row
        assert row.id is not None and row.card_key is not None
        card = (await self._card(item, claimed_at)).post
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED) or (card[1] is None and (
                card[0] == outbox.SENT)):
            return ""
        if card[0] != outbox.SENT:
            await self._wait_for_card(row)
            return None
        return card[1]

    async def _wait_for_card(self, row: Outbox) -> None:
        assert row.id is not None
        await self.leases.postpone(row.id, CARD_WAIT_SECONDS, "waiting for the card",
                                   count_attempt=False)

    async def _send(self, row: Outbox, port: DeliveryPort, reply_to: str | None = None) -> str:
        if row.operation == "react":  # a mark on someone's message; ports may not have them
            react = getattr(port, "react", None)
            if react is None:
                raise PermanentDeliveryError(f"{row.platform} has no reactions")
            await self.leases.call(row, react(row.destination, int(row.payload["message_id"]),
                                              str(row.payload["state"])))
            return str(row.payload["message_id"])
        if row.operation == "send_file":
            data = row.payload["file"]
            file = OutboundFile(data["filename"], base64.b64decode(data["content"]),
                                data.get("title", ""), data.get("caption", ""))
            return await self.leases.call(
                row, port.send_file(row.destination, file, dedupe_key=row.dedupe_key))
        message = OutboundMessage.from_json(row.payload["message"])
        if reply_to is not None:
            return await self.leases.call(row, port.send(
                row.destination, message, dedupe_key=row.dedupe_key, reply_to=reply_to))
        return await self.leases.call(
            row, port.send(row.destination, message, dedupe_key=row.dedupe_key))

    async def _update(self, item: outbox.Claimed, port: DeliveryPort, deadline: float,
                      claimed_at: float) -> bool:
        row = item.row
        assert row.id is not None and row.card_key is not None
        state = await self._card(item, claimed_at)
        card = state.post
        if state.superseded:  # a newer snapshot of the same card is queued; it alone matters
            await self.leases.finish(row.id, outbox.SUPERSEDED, None, None)
            return True
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED):
            await self.leases.finish(row.id, outbox.DEAD, None,
                                     "the card to update was never delivered")
            return True
        status, message_id = card
        if status != outbox.SENT or message_id is None:  # the card itself is still on its way
            await self._wait_for_card(row)
            return False
        if not await self._take_slot(row, port, deadline):
            return False
        await self.leases.call(row, port.update(
            row.destination, message_id, OutboundMessage.from_json(row.payload["message"])))
        await self._sent(row, message_id)
        return True

    async def _attachment(self, row: Outbox, port: DeliveryPort, uncertain: bool,
                          deadline: float) -> bool:
        """A report's file, posted as a reply to its card: it waits until the card is posted
        (its message id is the reply's target), and is skipped if retention removed it."""
        assert row.id is not None and row.card_key is not None
        card, content = await asyncio.to_thread(self._attachment_state, row)
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED, outbox.SUPERSEDED):
            await self.leases.finish(row.id, outbox.DEAD, None,
                                     "the card to reply to was never delivered")
            return True
        status, card_id = card
        if status != outbox.SENT or card_id is None:
            await self._wait_for_card(row)
            return False
        if content is None:
            await self.leases.finish(row.id, outbox.SKIPPED, None, "the file was deleted")
            return True
        message_id = None
        if uncertain:
            message_id = await self.leases.call(row, port.find_sent(row.destination,
                                                                    row.dedupe_key))
        if message_id is None:
            if not await self._take_slot(row, port, deadline):
                return False
            data = row.payload["attachment"]
            file = OutboundFile(str(data["filename"]), content, str(data["filename"]),
                                str(data.get("caption", "")), {"mime": data.get("mime")})
            message_id = await self.leases.call(row, port.send_file(
                row.destination, file, dedupe_key=row.dedupe_key, reply_to=card_id))
        await self._sent(row, message_id)
        return True

    async def _sent(self, row: Outbox, message_id: str | None) -> None:
        """Record it, and for the metrics: how long it waited in all, in how many attempts."""
        assert row.id is not None
        await self.leases.finish(row.id, outbox.SENT, message_id, None)
        emit("delivery_attempt", platform=row.platform, outcome="sent")
        emit("delivered", platform=row.platform, attempts=max(1, row.attempts),
             seconds=max(0.0, (self.clock() - row.created_at).total_seconds()))

    async def _take_slot(self, row: Outbox, port: DeliveryPort, deadline: float) -> bool:
        """Wait for a token of each of the row's buckets (bulk rows: one left over by the
        interactive ones); a wait past `deadline` postpones the row to its token instead of
        holding it."""
        assert row.id is not None
        draws = draws_of(port.rate_limit, row.platform)
        buckets = self.buckets.of(draws(row.destination, row.operation), row.platform)
        waiting = [] if row.bulk else buckets
        for bucket in waiting:  # bulk rows keep off the buckets interactive ones wait for
            bucket.interactive_waiting += 1
        try:
            while True:  # other deliveries may take a shared token while we sleep
                now = self.monotonic()
                wait = max((b.wait(now, bulk=row.bulk) for b in buckets), default=0.0)
                if wait <= 0:
                    for bucket in buckets:
                        bucket.take(now, row.destination)
                    self.buckets.settle(row.id)
                    return True
                emit("rate_limited", platform=row.platform, by="voc", seconds=wait)
                if now + wait > deadline or not await self._slept(wait):
                    await self.leases.postpone(row.id, wait, "rate limit", count_attempt=False)
                    return False
        finally:
            for bucket in waiting:
                bucket.interactive_waiting -= 1

    async def _slept(self, seconds: float) -> bool:
        """Sleep `seconds`; False if the dispatcher began to stop first."""
        if self.stopping is None:
            await self.sleep(seconds)
            return True
        if self.stopping.is_set():
            return False
        sleeping = asyncio.ensure_future(self.sleep(seconds))
        stopping = asyncio.ensure_future(self.stopping.wait())
        await asyncio.wait((sleeping, stopping), return_when=asyncio.FIRST_COMPLETED)
        for task in (sleeping, stopping):
            task.cancel()
        return not self.stopping.is_set()

    async def _failed(self, row: Outbox, exc: Exception) -> bool:
        assert row.id is not None
        error = f"{type(exc).__name__}: {exc}"[:1000]
        age = self.clock() - row.created_at
        if self.policy.gives_up(attempts=row.attempts, age=age):
            log.warning("outbox %s to %s is dead after %d attempts in %s: %s", row.id,
                        row.destination, row.attempts, age, error)
            emit("delivery_attempt", platform=row.platform, outcome="dead")
            await self.leases.finish(row.id, outbox.DEAD, None, error)
            return True
        delay = self.policy.delay(row.attempts)
        emit("delivery_attempt", platform=row.platform, outcome="failed")
        log.info("outbox %s to %s failed (attempt %d), retry in %.1fs: %s", row.id,
                 row.destination, row.attempts, delay, error)
        await self.leases.postpone(row.id, delay, error, count_attempt=True)
        return False

    # -- reads in worker threads ------------------------------------------------------------
    def _card_state(self, row: Outbox) -> outbox.CardState:
        assert row.id is not None
        with self.db.read() as session:
            return outbox.card_states(session=session, rows=[row])[row.id]

    def _attachment_state(self, row: Outbox) -> tuple[tuple[str, str | None] | None,
                                                      bytes | None]:
        assert row.id is not None
        with self.db.read() as session:
            return (outbox.card_states(session=session, rows=[row])[row.id].post,
                    files.content(session=session, sha256=row.payload["attachment"]["sha256"]))
