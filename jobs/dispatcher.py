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

Waking (`run`). A transaction of this process that queues rows wakes the dispatcher right after
its commit; on PostgreSQL a LISTEN connection wakes it for other processes' commits too
(storage/outbox.py). Between wakes it sleeps until the next row falls due (a postponed retry,
an expired lease) or a rate-limited destination may send again, and reads the outbox every
`poll_seconds` as a safety net (a SQLite database written by another process, a lost LISTEN
connection). Idle, it reads and never writes: rows are claimed only when one is due.

Rate limits (`Rate`, `PLATFORM_LIMITS`). Each delivery draws one token from each of its token
buckets: a burst may go at once, then the bucket refills at the platform's steady rate. A
destination or platform (or a platform's posts, whose edits have a budget of their own) whose
bucket is empty is left out of the claim until it refills.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, TypeVar

from bot import logs
from bot.core.capture.group_commit import GroupCommit
from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.service import utc_now
from bot.core.shared.delivery_port import (
    DeliveryPort,
    PermanentDeliveryError,
    RateLimit,
    RetryAfter,
)
from bot.core.shared.telemetry import emit
from storage import files, outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")
_Outcome = tuple[int, str, str | None, str | None]  # outbox id, status, message id, error
# After a wake in a burst (a claim less than BURST_SECONDS ago), wait GATHER_SECONDS before
# claiming: one claim then serves the burst's commits instead of one claim (a write, competing
# with capture's) per commit. The first wake after a quiet spell claims at once.
GATHER_SECONDS = 0.02
BURST_SECONDS = 0.1
POLL_SECONDS = 5.0  # the safety-net read of an idle outbox (VOC_OUTBOX_POLL_SECONDS)
HEARTBEAT_SECONDS = 10.0  # an idle dispatcher says it is alive this often, without the database
RECHECK_SECONDS = 0.2  # a due row was not claimable (another replica is taking it): look again
# An edit's card state read with its claim stands this long; a row that waited longer (its
# destination's rate limit) reads it again, in case a later edit was queued meanwhile.
CLAIM_FRESH_SECONDS = 0.5


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


@dataclass(frozen=True)
class Rate:
    """A token bucket: `burst` messages may go at once, then `per_second` on average."""

    burst: int
    per_second: float


# What each bucket holds back while it is empty: the rows of the destinations that drew on it,
# all the platform's rows, the platform's rows but its edits (a bucket of posts alone), or none
# (the row waits in memory, or is postponed, when its turn comes).
Holds = Literal["destination", "platform", "posts", "nothing"]


@dataclass(frozen=True)
class Limit:
    """One bucket a delivery draws on; `key` names what the platform counts (a channel, a
    chat, a whole workspace), so deliveries that share a key share the bucket."""

    key: str
    rate: Rate
    holds: Holds = "destination"


# (destination, operation) -> the buckets one delivery draws on.
Limits = Callable[[str, str], Sequence[Limit]]

# -- what the platforms allow ----------------------------------------------------------------
# Where a platform states "N per W seconds", burst + per_second * W <= N: a bucket holds at
# most `burst` tokens when a window starts and gains per_second * W during it, so no window of
# W seconds ever carries more than N messages.
#
# Slack, chat.postMessage: "Posting messages: 1 per second. Short bursts >1 allowed. If you
# attempt bursts, there is no guarantee that messages will be delivered" (rate-limit docs,
# https://docs.slack.dev/apis/web-api/rate-limits); the method's page: "1 message per second to
# a specific channel ... limiting posting to several hundred messages per minute [across the
# workspace]. Generous burst behavior is also granted"
# (https://docs.slack.dev/reference/methods/chat.postMessage). Slack does not say how long a
# burst may be, so we take 3: a report's card plus a couple of others to the same channel go out
# at once, and a longer burst would risk a 429 (a Retry-After wait: no message lost, but slower).
SLACK_CHANNEL = Rate(burst=3, per_second=1.0)
# "Several hundred messages per minute" read as its floor, 300: 10 + 4/s * 60 = 250 <= 300.
SLACK_WORKSPACE = Rate(burst=10, per_second=4.0)
# chat.update is Web API Tier 3, "50+ per minute" per app and workspace, and "Slack allows
# occasional bursts" above a tier's rate (rate-limit docs): 10 + 40/min * 1 min = 50. Heads
# triage in bursts (a stand-up, a queue cleared); ten edits go at once, the minute stays at 50.
SLACK_UPDATES = Rate(burst=10, per_second=40 / 60)
# Telegram, Bots FAQ "My bot is hitting limits, how do I avoid this?"
# (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): "When
# sending messages inside a particular chat, avoid sending more than one message per second. We
# may allow short bursts that go over this limit"; "the API will not allow more than 30 messages
# per second or so" (bulk, to many chats); "your bot will not be able to send more than 20
# messages per minute to the same group". Edits count as messages here (an edit can be
# flood-limited too). A private chat gets Slack's burst of 3; a group 5 + 15/min * 1 min = 20;
# everything 10 + 20/s * 1 s = 30 (a burst of reports sends each group its card and each
# reporter a confirmation: ten go at once).
TELEGRAM_PRIVATE = Rate(burst=3, per_second=1.0)
TELEGRAM_GROUP = Rate(burst=5, per_second=15 / 60)
TELEGRAM_OVERALL = Rate(burst=10, per_second=20.0)


def slack_limits(destination: str, operation: str) -> list[Limit]:
    """A post draws on its channel's bucket and the workspace's; an edit on chat.update's."""
    if operation == "update":
        return [Limit("slack:chat.update", SLACK_UPDATES, "nothing")]
    return [Limit(destination, SLACK_CHANNEL),
            Limit("slack:chat.postMessage", SLACK_WORKSPACE, "posts")]


def telegram_limits(destination: str, operation: str) -> list[Limit]:
    """The chat's bucket (a group's forum topics share their group's) and the bot's overall.
    Groups and channels have negative ids (`telegram:-1001/7`), people positive ones. A long
    message the port splits into several draws one token only."""
    chat = destination.partition("/")[0]
    group = not chat.partition(":")[2].isdecimal()
    return [Limit(chat, TELEGRAM_GROUP if group else TELEGRAM_PRIVATE),
            Limit("telegram:*", TELEGRAM_OVERALL, "platform")]


PLATFORM_LIMITS: Mapping[str, Limits] = {"slack": slack_limits, "telegram": telegram_limits}


def declared_limits(limit: RateLimit, platform: str) -> Limits:
    """The buckets of a port's own `RateLimit` (ports without an entry in the dispatcher's
    limits: the terminal, test doubles): `count` at once, then `count` per `seconds`."""
    def limits(destination: str, operation: str) -> list[Limit]:
        count, seconds = limit.per_destination
        found = [Limit(destination, Rate(count, count / seconds))]
        if limit.overall:
            count, seconds = limit.overall
            found.append(Limit(f"{platform}:*", Rate(count, count / seconds), "platform"))
        return found

    return limits


@dataclass
class _Bucket:
    """A token bucket's state: `tokens` at time `at`, and the destinations that drew on it."""

    limit: Limit
    platform: str
    tokens: float
    at: float
    destinations: set[str] = field(default_factory=set)

    def _refill(self, now: float) -> None:
        rate = self.limit.rate
        self.tokens = min(float(rate.burst), self.tokens + (now - self.at) * rate.per_second)
        self.at = max(self.at, now)

    def wait(self, now: float) -> float:
        """Seconds until a token is free (0: now)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 1e-9 else missing / self.limit.rate.per_second

    def take(self, now: float, destination: str) -> None:
        self._refill(now)
        self.tokens -= 1.0
        self.destinations.add(destination)

    def full(self, now: float) -> bool:
        self._refill(now)
        return self.tokens >= self.limit.rate.burst


@dataclass
class _Blocked:
    """What the claim leaves out because its buckets are empty, and when the first refills."""

    destinations: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    posts_of: list[str] = field(default_factory=list)  # platforms whose edits may still go
    frees_in: float | None = None


class LeaseLost(Exception):
    """This dispatcher no longer holds the row, or too little of its lease is left to start a
    platform call."""


class Dispatcher:
    """Claims due outbox rows and delivers them; many dispatchers may share one database."""

    def __init__(self, db: Database, ports: Sequence[DeliveryPort], *,
                 clock: Callable[[], datetime] = utc_now, policy: RetryPolicy | None = None,
                 batch: int = 50, lease: timedelta = timedelta(seconds=60),
                 max_inline_wait: float = 5.0, ordered: bool = False,
                 limits: Mapping[str, Limits] | None = None, poll_seconds: float = POLL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db = db
        self.ports = {platform: port for port in ports for platform in port.platforms}
        self.clock = clock
        self.policy = policy or RetryPolicy()
        self.batch = batch
        self.lease = lease
        # A platform call may last half the lease; it starts only with that much lease left.
        self.call_timeout = lease.total_seconds() / 2
        # Tried 0.25 s (4 Dec): a row whose turn was further off went back to the queue, so a
        # group's backlog no longer held other chats' new cards behind its batch; but each
        # token that freed then cost a claim of that destination's backlog and a hand-back of
        # all of it but one row: after 400 captures `voc serve` spent 6-8% of a core for
        # minutes draining the cards (bench/slack_capture.py). At 5 s one cycle serves five.
        self.max_inline_wait = max_inline_wait
        self.ordered = ordered  # one queue in id order instead of destinations in parallel
        # Platform -> its buckets (PLATFORM_LIMITS in production); others use the port's own.
        self.limits = dict(limits or {})
        self.poll_seconds = poll_seconds
        self.monotonic = monotonic  # the rate limits' clock, and how they wait (tests: fakes)
        self.sleep = sleep
        self._buckets: dict[str, _Bucket] = {}
        self._held: dict[int, datetime] = {}  # rows claimed and not yet settled -> lease token
        self._lease_lock = asyncio.Lock()  # renewals and hand-backs see the same tokens
        self._wake: asyncio.Event | None = None  # set while `run` runs
        self._claimed_at = float("-inf")  # monotonic time of the last claim that found rows
        # Rows delivered together (a burst's cards to several channels) record their outcome
        # in one write: one transaction each made them queue for SQLite's lock, 10-40 ms for
        # a burst of eight clicks (4 Dec).
        self._finishes: GroupCommit[_Outcome, None] = GroupCommit(self._finish_rows)
        self.alive_at: datetime | None = None  # for health checks

    async def run(self, stop: asyncio.Event, *, idle_seconds: float | None = None) -> None:
        """Deliver until `stop` is set. Woken by commits that queue rows (see the module
        docstring); otherwise the outbox is read when a row falls due and every
        `idle_seconds` (default `poll_seconds`)."""
        poll = self.poll_seconds if idle_seconds is None else idle_seconds
        loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()

        def woken_by_commit() -> None:  # in the committing thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
                loop.call_soon_threadsafe(wake.set)

        unsubscribe = outbox.on_commit(self.db.engine.url, woken_by_commit)
        helpers = [asyncio.create_task(self._stop_wakes(stop), name="outbox-stop")]
        if self.db.dialect == "postgresql":
            helpers.append(asyncio.create_task(self._listen(), name="outbox-listen"))
        try:
            while not stop.is_set():
                await self._idle(await self._turn(poll))
        finally:
            unsubscribe()
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
            self._wake = None

    def wake(self) -> None:
        """Look at the outbox now (a port joined, say); from the event loop's thread."""
        if self._wake is not None:
            self._wake.set()

    async def _turn(self, poll: float) -> float:
        """Deliver what is due; return how long the outbox may be left alone."""
        self.alive_at = self.clock()
        assert self._wake is not None
        self._wake.clear()  # before reading: a commit from now on wakes the next turn
        if not self.ports:
            return poll
        try:
            blocked = self._blocked()
            due = await asyncio.to_thread(self._next_due, blocked)
            now = self.clock()
            if due is not None and due <= now:
                # Nothing claimed although a row was due: another replica is claiming it (its
                # lease will show in the next read), so look again shortly, not at once.
                return 0.0 if await self.run_once() else min(poll, RECHECK_SECONDS)
            wait = poll if due is None else min(poll, (due - now).total_seconds())
            return wait if blocked.frees_in is None else min(wait, blocked.frees_in)
        except Exception:
            log.exception("outbox dispatch failed; retrying shortly")
            return min(poll, 1.0)

    async def _idle(self, seconds: float) -> None:
        """Sleep `seconds` unless woken (a commit, NOTIFY, stop), saying we are alive."""
        assert self._wake is not None
        end = asyncio.get_running_loop().time() + seconds
        while (left := end - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, HEARTBEAT_SECONDS))
                if self.monotonic() - self._claimed_at < BURST_SECONDS:
                    await asyncio.sleep(GATHER_SECONDS)  # in a burst: let its commits land
                return
            self.alive_at = self.clock()

    async def _stop_wakes(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wake()

    async def _listen(self) -> None:
        """PostgreSQL: wake on every NOTIFY of the outbox channel (rows queued by any process),
        over a connection of its own; reconnect with backoff while the poll stands in."""
        import psycopg  # PostgreSQL only

        engine = self.db.engine
        _args, params = engine.dialect.create_connect_args(engine.url)
        params.pop("context", None)  # SQLAlchemy's adapters; LISTEN needs none
        params.setdefault("connect_timeout", 10)
        failures = 0
        while True:
            try:
                connection = await psycopg.AsyncConnection.connect(**params, autocommit=True)
                async with connection:
                    named = await (await connection.execute(f"SELECT {outbox.CHANNEL_SQL}")
                                   ).fetchone()  # this schema's channel (storage/outbox.py)
                    assert named is not None
                    await connection.execute(f'LISTEN "{named[0]}"')
                    if failures:
                        log.info("outbox: listening for new rows again")
                    failures = 0
                    self.wake()  # rows queued while nobody listened
                    async for _notice in connection.notifies():
                        self.wake()
            except Exception as exc:  # whatever broke it, the poll stands in meanwhile
                failures += 1
                log.warning("outbox: no LISTEN connection (%s); other processes' rows are "
                            "found by the poll until it is back", type(exc).__name__)
            await asyncio.sleep(min(60.0, 2.0 ** failures))

    def _next_due(self, blocked: _Blocked) -> datetime | None:
        platforms = [p for p in self.ports if p not in blocked.platforms]
        with self.db.read() as session:
            return outbox.next_due(session=session, platforms=platforms,
                                   skip_destinations=blocked.destinations,
                                   skip_posts_of=blocked.posts_of)

    async def run_once(self) -> int:
        """Claim one batch and try each row once; return how many rows were handled."""
        self.alive_at = self.clock()
        if not self.ports:
            return 0
        claimed = await asyncio.to_thread(self._claim, self._blocked())
        if not claimed:
            return 0
        self._claimed_at = self.monotonic()
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

    def _claim(self, blocked: _Blocked) -> list[outbox.Claimed]:
        with self.db.write() as session:
            return outbox.claim_due(
                session=session,
                platforms=[p for p in self.ports if p not in blocked.platforms],
                skip_destinations=blocked.destinations, skip_posts_of=blocked.posts_of,
                now=self.clock(), limit=self.batch, lease=self.lease)

    def _blocked(self) -> _Blocked:
        """Destinations and platforms whose rate limit has no free slot now. Their rows stay
        queued, unclaimed, until it frees: claiming them only to hand them back made a
        backlog (Telegram allows a group 20 messages a minute) cost CPU and write
        transactions in proportion to its size, all the time it waited."""
        now = self.monotonic()
        blocked = _Blocked()
        for key, bucket in list(self._buckets.items()):
            wait = bucket.wait(now)
            if wait > 0 and bucket.limit.holds != "nothing":
                if bucket.limit.holds == "platform":
                    blocked.platforms.append(bucket.platform)
                elif bucket.limit.holds == "posts":
                    blocked.posts_of.append(bucket.platform)
                else:  # the key too: a group's topics that have not drawn on it yet
                    blocked.destinations.extend([*bucket.destinations, bucket.limit.key])
                blocked.frees_in = wait if blocked.frees_in is None else min(
                    wait, blocked.frees_in)
            elif bucket.full(now):
                del self._buckets[key]  # as good as new: forget it (one per person DMed)
        return blocked

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
        """Rows in queue order; on a hold-up the rest wait their turn. Waits for rate limits
        add up to `max_inline_wait` per turn: a backlog paced by its limit must not hold the
        batch (and the next claim, other destinations' new rows with it) for minutes."""
        deadline = self.monotonic() + self.max_inline_wait
        for index, item in enumerate(items):
            if not await self._deliver(item, deadline):
                rest = [i.row.id for i in items[index + 1:] if i.row.id is not None]
                if rest:
                    await self._release(rest)
                return

    async def _deliver(self, item: outbox.Claimed, deadline: float) -> bool:
        """Try one row; True if the destination may go on with its next row."""
        with logs.context(platform=item.row.platform, outbox_id=item.row.id):
            return await self._deliver_row(item, deadline)

    async def _deliver_row(self, item: outbox.Claimed, deadline: float) -> bool:
        row = item.row
        assert row.id is not None
        port = self.ports[row.platform]
        try:
            if row.operation == "update":
                return await self._update(item, port, deadline)
            if row.operation == "send_file" and "attachment" in row.payload:
                return await self._attachment(row, port, item.uncertain, deadline)
            reply_to = None
            if row.operation == "reply":  # under a card: it must have been posted first
                card = await self._posted_card(item)
                if card is None:
                    return False
                reply_to = card or None
            message_id = None
            if item.uncertain:
                message_id = await self._platform(
                    row, port.find_sent(row.destination, row.dedupe_key))
            if message_id is None:
                if not await self._take_slot(row, port, deadline):
                    return False
                message_id = await self._send(row, port, reply_to)
            await self._finish(row.id, outbox.SENT, message_id, None)
            self._delivered(row)
            return True
        except LeaseLost as exc:
            # Still ours but short of time (renewals are failing or late): back to the queue.
            # Lost: the token no longer matches, and the row is left to whoever holds it.
            log.warning("%s; handed back", exc)
            await self._release([row.id])
            return False
        except RetryAfter as exc:
            # The platform told us when: not a failure of ours, so no attempt is spent.
            emit("rate_limited", platform=row.platform, by="platform", seconds=exc.seconds)
            await self._postpone(row.id, exc.seconds, str(exc), count_attempt=False)
            return False
        except PermanentDeliveryError as exc:
            log.warning("outbox %s to %s is dead: %s", row.id, row.destination, exc)
            emit("delivery_attempt", platform=row.platform, outcome="dead")
            await self._finish(row.id, outbox.DEAD, None, str(exc))
            return True
        except Exception as exc:
            return await self._failed(row, exc)

    async def _card(self, item: outbox.Claimed) -> outbox.CardState:
        """The card of an edit or a reply: as read with the claim while that is fresh and
        settled (the common case: one read for the whole batch), read again otherwise (the
        card's own post was on its way, or the row waited for a rate limit meanwhile, long
        enough for a later edit to be queued)."""
        known = item.card
        if known is not None and (known.superseded or known.settled) and (
                self.monotonic() - self._claimed_at < CLAIM_FRESH_SECONDS):
            return known
        return await asyncio.to_thread(self._card_state, item.row)

    async def _posted_card(self, item: outbox.Claimed) -> str | None:
        """The message id of the card a reply goes under; "" when the card will never be
        there (the reply is sent on its own); None when it is still on its way (postponed)."""
        row = item.row
        assert row.id is not None and row.card_key is not None
        card = (await self._card(item)).post
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED) or (card[1] is None and (
                card[0] == outbox.SENT)):
            return ""
        if card[0] != outbox.SENT:
            await self._postpone(row.id, 1.0, "waiting for the card", count_attempt=False)
            return None
        return card[1]

    async def _send(self, row: Outbox, port: DeliveryPort, reply_to: str | None = None) -> str:
        if row.operation == "react":  # a mark on someone's message; ports may not have them
            react = getattr(port, "react", None)
            if react is None:
                raise PermanentDeliveryError(f"{row.platform} has no reactions")
            await self._platform(row, react(row.destination, int(row.payload["message_id"]),
                                            str(row.payload["state"])))
            return str(row.payload["message_id"])
        if row.operation == "send_file":
            data = row.payload["file"]
            file = OutboundFile(data["filename"], base64.b64decode(data["content"]),
                                data.get("title", ""), data.get("caption", ""))
            return await self._platform(
                row, port.send_file(row.destination, file, dedupe_key=row.dedupe_key))
        message = OutboundMessage.from_json(row.payload["message"])
        if reply_to is not None:
            return await self._platform(row, port.send(
                row.destination, message, dedupe_key=row.dedupe_key, reply_to=reply_to))
        return await self._platform(
            row, port.send(row.destination, message, dedupe_key=row.dedupe_key))

    async def _update(self, item: outbox.Claimed, port: DeliveryPort, deadline: float) -> bool:
        row = item.row
        assert row.id is not None and row.card_key is not None
        state = await self._card(item)
        card = state.post
        if state.superseded:  # a newer snapshot of the same card is queued; it alone matters
            await self._finish(row.id, outbox.SUPERSEDED, None, None)
            return True
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED):
            await self._finish(row.id, outbox.DEAD, None, "the card to update was never delivered")
            return True
        status, message_id = card
        if status != outbox.SENT or message_id is None:  # the card itself is still on its way
            await self._postpone(row.id, 1.0, "waiting for the card", count_attempt=False)
            return False
        if not await self._take_slot(row, port, deadline):
            return False
        await self._platform(row, port.update(
            row.destination, message_id, OutboundMessage.from_json(row.payload["message"])))
        await self._finish(row.id, outbox.SENT, message_id, None)
        self._delivered(row)
        return True

    async def _attachment(self, row: Outbox, port: DeliveryPort, uncertain: bool,
                          deadline: float) -> bool:
        """A report's file, posted as a reply to its card: it waits until the card is posted
        (its message id is the reply's target), and is skipped if retention removed it."""
        assert row.id is not None and row.card_key is not None
        card, content = await asyncio.to_thread(self._attachment_state, row)
        if card is None or card[0] in (outbox.DEAD, outbox.SKIPPED, outbox.SUPERSEDED):
            await self._finish(row.id, outbox.DEAD, None, "the card to reply to was never "
                               "delivered")
            return True
        status, card_id = card
        if status != outbox.SENT or card_id is None:
            await self._postpone(row.id, 1.0, "waiting for the card", count_attempt=False)
            return False
        if content is None:
            await self._finish(row.id, outbox.SKIPPED, None, "the file was deleted")
            return True
        message_id = None
        if uncertain:
            message_id = await self._platform(row, port.find_sent(row.destination,
                                                                  row.dedupe_key))
        if message_id is None:
            if not await self._take_slot(row, port, deadline):
                return False
            data = row.payload["attachment"]
            file = OutboundFile(str(data["filename"]), content, str(data["filename"]),
                                str(data.get("caption", "")), {"mime": data.get("mime")})
            message_id = await self._platform(row, port.send_file(
                row.destination, file, dedupe_key=row.dedupe_key, reply_to=card_id))
        await self._finish(row.id, outbox.SENT, message_id, None)
        self._delivered(row)
        return True

    def _attachment_state(self, row: Outbox) -> tuple[tuple[str, str | None] | None,
                                                      bytes | None]:
        assert row.id is not None
        with self.db.read() as session:
            return (outbox.card_states(session=session, rows=[row])[row.id].post,
                    files.content(session=session, sha256=row.payload["attachment"]["sha256"]))

    def _delivered(self, row: Outbox) -> None:
        """For the metrics: how long the row waited in all, and in how many attempts."""
        emit("delivery_attempt", platform=row.platform, outcome="sent")
        emit("delivered", platform=row.platform, attempts=max(1, row.attempts),
             seconds=max(0.0, (self.clock() - row.created_at).total_seconds()))

    async def _take_slot(self, row: Outbox, port: DeliveryPort, deadline: float) -> bool:
        """Wait for a token of each of the row's buckets; a wait past `deadline` hands the row
        back instead of holding it."""
        assert row.id is not None
        buckets = [self._bucket(limit, row.platform)
                   for limit in self._limits(port, row.platform)(row.destination, row.operation)]
        while True:  # other destinations' deliveries may take a shared token while we sleep
            now = self.monotonic()
            wait = max((bucket.wait(now) for bucket in buckets), default=0.0)
            if wait <= 0:
                for bucket in buckets:
                    bucket.take(now, row.destination)
                return True
            emit("rate_limited", platform=row.platform, by="voc", seconds=wait)
            if now + wait > deadline:
                await self._postpone(row.id, wait, "rate limit", count_attempt=False)
                return False
            await self.sleep(wait)

    def _limits(self, port: DeliveryPort, platform: str) -> Limits:
        return self.limits.get(platform) or declared_limits(port.rate_limit, platform)

    def _bucket(self, limit: Limit, platform: str) -> _Bucket:
        bucket = self._buckets.get(limit.key)
        if bucket is None or bucket.limit != limit:
            bucket = self._buckets[limit.key] = _Bucket(
                limit, platform, float(limit.rate.burst), self.monotonic())
        return bucket

    async def _failed(self, row: Outbox, exc: Exception) -> bool:
        assert row.id is not None
        error = f"{type(exc).__name__}: {exc}"[:1000]
        age = self.clock() - row.created_at
        if self.policy.gives_up(attempts=row.attempts, age=age):
            log.warning("outbox %s to %s is dead after %d attempts in %s: %s", row.id,
                        row.destination, row.attempts, age, error)
            emit("delivery_attempt", platform=row.platform, outcome="dead")
            await self._finish(row.id, outbox.DEAD, None, error)
            return True
        delay = self.policy.delay(row.attempts)
        emit("delivery_attempt", platform=row.platform, outcome="failed")
        log.info("outbox %s to %s failed (attempt %d), retry in %.1fs: %s", row.id,
                 row.destination, row.attempts, delay, error)
        await self._postpone(row.id, delay, error, count_attempt=True)
        return False

    # -- settling a row (database work in worker threads) -----------------------------------
    async def _finish(self, outbox_id: int, status: str, message_id: str | None,
                      error: str | None) -> None:
        """Record the outcome; what happened on the platform is true whoever holds the row.
        Outcomes that arrive together share one transaction (GroupCommit)."""
        await self._finishes.submit((outbox_id, status, message_id, error))
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

    def _card_state(self, row: Outbox) -> outbox.CardState:
        assert row.id is not None
        with self.db.read() as session:
            return outbox.card_states(session=session, rows=[row])[row.id]

    def _finish_rows(self, outcomes: Sequence[_Outcome]) -> list[None]:
        with self.db.write() as session:
            now = self.clock()
            for outbox_id, status, message_id, error in outcomes:
                outbox.finish(session=session, outbox_id=outbox_id, status=status, now=now,
                              message_id=message_id, error=error)
        return [None] * len(outcomes)

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

