"""Delivers outbox rows through the platform ports: each destination in a queue of its own.

Queues (`run`). What one claim takes is split into queues, one for each destination and class
of row (what people are waiting for: cards, edits, replies, confirmations; bulk: surveys,
digests, reminders), and each queue is delivered in order by a task of its own
(jobs/courier.py). The dispatcher does not wait for them: a queue paced by its rate limit (a
Telegram group allows 20 messages a minute) holds nothing of another destination or platform,
and the next claim takes new rows while it waits. A destination with a queue in flight is left
out of the claims until that queue ends; then its next rows are claimed at once.

Rate limits (jobs/limits.py) are the ports' own (`rate_limit`). A destination or platform whose
bucket is empty is left out of the claim until it refills, and the dispatcher wakes when it
does, so a row waiting for its token goes out when the token frees; a claimed row waits for its
token in memory, up to `max_inline_wait`. A claim takes only as many rows as their buckets can
serve within that wait (jobs/limits.py: Admission), what people are waiting for first; bulk
rows take what the buckets leave over (half a burst stays for the others).

Waking. A transaction of this process that queues rows wakes the dispatcher right after its
commit; on PostgreSQL a LISTEN connection wakes it for other processes' commits too
(storage/outbox.py). Between wakes it sleeps until the next row falls due (a postponed retry,
an expired lease), a bucket refills or a queue ends, and reads the outbox every `poll_seconds`
as a safety net (a SQLite database written by another process, a lost LISTEN connection).
Idle, it reads and never writes: rows are claimed only when one is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.core.service import utc_now
from bot.core.shared.delivery_port import DeliveryPort
from jobs.courier import Courier, RetryPolicy, file_payload
from jobs.leases import Leases
from jobs.limits import Admission, Blocked, Buckets, draws_of
from storage import outbox, outbox_wake
from storage.db import Database

__all__ = ["Dispatcher", "RetryPolicy", "file_payload"]

log = logging.getLogger(__name__)
# After a wake in a burst (a claim less than BURST_SECONDS ago), wait GATHER_SECONDS before
# claiming: one claim then serves the burst's commits instead of one claim (a write, competing
# with capture's) per commit. The first wake after a quiet spell claims at once.
GATHER_SECONDS = 0.02
BURST_SECONDS = 0.1
POLL_SECONDS = 5.0  # the safety-net read of an idle outbox (VOC_OUTBOX_POLL_SECONDS)
HEARTBEAT_SECONDS = 10.0  # an idle dispatcher says it is alive this often, without the database
RECHECK_SECONDS = 0.2  # a due row was not claimable (another replica is taking it): look again
Queue = tuple[str, bool]  # (destination, bulk)


class Dispatcher:
    """Claims due outbox rows and delivers them; many dispatchers may share one database."""

    def __init__(self, db: Database, ports: Sequence[DeliveryPort], *,
                 clock: Callable[[], datetime] = utc_now, policy: RetryPolicy | None = None,
                 batch: int = 50, lease: timedelta = timedelta(seconds=60),
                 max_inline_wait: float = 5.0, ordered: bool = False,
                 poll_seconds: float = POLL_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.db = db
        self.ports = {platform: port for port in ports for platform in port.platforms}
        self.clock = clock
        self.batch = batch
        self.lease = lease
        # Tried 0.25 s: a row whose turn was further off went back to the queue, but each
        # token that freed then cost a claim of that destination's backlog and a hand-back of
        # all of it but one row: after 400 captures `voc serve` spent 6-8% of a core for
        # minutes draining the cards (bench/slack_capture.py). At 5 s one claim serves five.
        self.max_inline_wait = max_inline_wait
        self.ordered = ordered  # one queue in id order instead of destinations in parallel
        self.poll_seconds = poll_seconds
        self.monotonic = monotonic  # the rate limits' clock, and how they wait (tests: fakes)
        self.leases = Leases(db, lease, clock)
        self.buckets = Buckets(monotonic)
        self.courier = Courier(db, lambda: self.ports, self.leases, self.buckets,
                               policy or RetryPolicy(), clock, monotonic, sleep)
        self._queues: dict[Queue, asyncio.Task[bool]] = {}  # in flight
        self._wake: asyncio.Event | None = None  # set while `run` runs
        self._keeper: asyncio.Task[None] | None = None  # renews the leases while `run` runs
        self._claimed_at = float("-inf")  # monotonic time of the last claim that found rows
        self.alive_at: datetime | None = None  # for health checks

    async def run(self, stop: asyncio.Event, *, idle_seconds: float | None = None) -> None:
        """Deliver until `stop` is set. Woken by commits that queue rows (see the module
        docstring); otherwise the outbox is read when a row falls due and every
        `idle_seconds` (default `poll_seconds`)."""
        poll = self.poll_seconds if idle_seconds is None else idle_seconds
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        stopping = self.courier.stopping = asyncio.Event()

        def woken_by_commit(queued: outbox_wake.Queued | None) -> None:  # committing thread
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody to wake
                loop.call_soon_threadsafe(self._queued, queued)

        unsubscribe = outbox_wake.on_commit(self.db.engine.url, woken_by_commit)
        self._keeper = asyncio.create_task(self.leases.keep(self._alive), name="outbox-leases")
        helpers = [self._keeper, asyncio.create_task(self._stop_wakes(stop), name="outbox-stop")]
        if self.db.dialect == "postgresql":
            helpers.append(asyncio.create_task(self._listen(), name="outbox-listen"))
        try:
            while not stop.is_set():
                await self._idle(await self._turn(poll))
        finally:
            unsubscribe()
            # The queues in flight end their turn: a call under way ends, a row waiting for its
            # token goes back to the queue at once (due when the token would have freed).
            stopping.set()
            await asyncio.gather(*self._queues.values(), return_exceptions=True)
            self.courier.stopping = None
            for helper in helpers:
                helper.cancel()
            for helper in helpers:
                with contextlib.suppress(asyncio.CancelledError):
                    await helper
            self._wake = self._keeper = None

    def wake(self) -> None:
        """Look at the outbox now (a port joined, say); from the event loop's thread."""
        if self._wake is not None:
            self._wake.set()

    def _queued(self, queued: outbox_wake.Queued | None) -> None:
        """Rows were queued (None: which, unknown): look at the outbox unless all of them wait
        for a queue in flight (whose end wakes us) or a rate limit (whose refill does), or are
        for a platform this process has no port for (its own dispatcher delivers them).
        Reading the outbox on every commit of a burst of reports into a few channels cost
        more CPU than capturing them (bench/slack_capture.py); so did a read for each card to
        a Telegram group of a department when only Slack runs here."""
        if queued is None:
            self.wake()
            return
        blocked = self.buckets.blocked()
        for destination, bulk, edit in queued:
            skip = blocked.bulk if bulk else blocked.interactive
            platform = destination.partition(":")[0]
            held = (platform not in self.ports or (destination, bulk) in self._queues
                    or platform in skip.platforms
                    or (platform in skip.posts_of and not edit)
                    or destination in skip.exact
                    or destination.partition("/")[0] in skip.groups)
            if not held:
                self.wake()
                return

    def _alive(self) -> None:
        self.alive_at = self.clock()

    async def _turn(self, poll: float) -> float:
        """Claim what is due into queues; return how long the outbox may be left alone."""
        self._alive()
        assert self._wake is not None
        self._wake.clear()  # before reading: a commit from now on wakes the next turn
        if not self.ports:
            return poll
        try:
            blocked = self._blocked()
            due = await asyncio.to_thread(self._next_due, blocked)
            now = self.clock()
            admission = self._admission()
            if due is not None and due <= now:
                if await self._claim_into_queues(blocked, admission):
                    return 0.0
                if not admission.refused:
                    # Nothing claimed although a row was due: another replica is claiming it
                    # (its lease will show in the next read): look again shortly, not at once.
                    return min(poll, RECHECK_SECONDS)
                due = None  # due rows wait for tokens: a queue's end or a refill wakes us
            wait = poll if due is None else min(poll, (due - now).total_seconds())
            wait = min(wait, blocked.frees_in or wait)
            shared = blocked.shared_frees_in
            if shared is not None and shared < wait and (
                    await asyncio.to_thread(self._held_back, blocked, shared)):
                wait = shared
            return wait
        except Exception:
            log.exception("outbox dispatch failed; retrying shortly")
            return min(poll, 1.0)

    async def _idle(self, seconds: float) -> None:
        """Sleep `seconds` unless woken (a commit, NOTIFY, a queue's end, stop), saying we are
        alive."""
        assert self._wake is not None
        end = asyncio.get_running_loop().time() + seconds
        while (left := end - asyncio.get_running_loop().time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), min(left, HEARTBEAT_SECONDS))
                if self.monotonic() - self._claimed_at < BURST_SECONDS:
                    await asyncio.sleep(GATHER_SECONDS)  # in a burst: let its commits land
                return
            self._alive()

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
                    named = await (await connection.execute(f"SELECT {outbox_wake.CHANNEL_SQL}")
                                   ).fetchone()  # this schema's channel (storage/outbox.py)
                    assert named is not None
                    await connection.execute(f'LISTEN "{named[0]}"')
                    if failures:
                        log.info("outbox: listening for new rows again")
                    failures = 0
                    self.wake()  # rows queued while nobody listened
                    async for notice in connection.notifies():
                        ours, queued = outbox_wake.notice(notice.payload, engine.url)
                        if not ours:  # ours: on_commit has woken us already
                            self._queued(queued)
            except Exception as exc:  # whatever broke it, the poll stands in meanwhile
                failures += 1
                log.warning("outbox: no LISTEN connection (%s); other processes' rows are "
                            "found by the poll until it is back", type(exc).__name__)
            await asyncio.sleep(min(60.0, 2.0 ** failures))

    async def run_once(self) -> int:
        """Claim one batch and try each row once; return how many rows were handled."""
        self._alive()
        if not self.ports:
            return 0
        queues = await self._claim_into_queues(self._blocked(), self._admission())
        if not queues:
            return 0
        keeper = None
        if self._keeper is None:
            keeper = asyncio.create_task(self.leases.keep(self._alive), name="outbox-leases")
        try:
            for outcome in await asyncio.gather(*queues, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    raise outcome
        finally:
            if keeper is not None:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
        return sum(len(items) for items in queues.values())

    def _blocked(self) -> Blocked:
        """What the next claim leaves where it is: destinations and platforms whose buckets
        have no token now, and queues in flight."""
        blocked = self.buckets.blocked(
            {destination for destination, bulk in self._queues if not bulk})
        for destination, bulk in self._queues:
            (blocked.bulk if bulk else blocked.interactive).exact.append(destination)
        return blocked

    def _admission(self) -> Admission:
        """Which due rows the next claim takes: what their buckets can serve soon."""
        return self.buckets.admission({platform: draws_of(port.rate_limit, platform)
                                       for platform, port in self.ports.items()},
                                      self.max_inline_wait)

    def _next_due(self, blocked: Blocked) -> datetime | None:
        platforms = [p for p in self.ports if p not in blocked.interactive.platforms]
        with self.db.read() as session:
            return outbox.next_due(session=session, platforms=platforms,
                                   skip=blocked.interactive, skip_bulk=blocked.bulk)

    def _held_back(self, blocked: Blocked, seconds: float) -> bool:
        """Whether a row that only a platform's or workspace's bucket holds back (not a queue
        in flight, not its destination's bucket) falls due within `seconds`: only then is that
        bucket's refill worth waking for. A busy workspace's bucket refills four times a
        second, and reading the outbox each time cost more CPU than the deliveries."""
        skip, skip_bulk = (outbox.Skip(exact=s.exact, groups=s.groups)
                           for s in (blocked.interactive, blocked.bulk))
        with self.db.read() as session:
            due = outbox.next_due(session=session, platforms=list(self.ports), skip=skip,
                                  skip_bulk=skip_bulk)
        return due is not None and due <= self.clock() + timedelta(seconds=seconds)

    def _claim(self, blocked: Blocked, admission: Admission) -> list[outbox.Claimed]:
        with self.db.write() as session:
            return outbox.claim_due(
                session=session,
                platforms=[p for p in self.ports if p not in blocked.interactive.platforms],
                skip=blocked.interactive, skip_bulk=blocked.bulk, admit=admission,
                now=self.clock(), limit=self.batch, lease=self.lease)

    async def _claim_into_queues(self, blocked: Blocked, admission: Admission
                                 ) -> dict[asyncio.Task[bool], list[outbox.Claimed]]:
        """Claim a batch and start a queue for each destination and class in it."""
        claimed = await asyncio.to_thread(self._claim, blocked, admission)
        if not claimed:
            return {}
        self._claimed_at = self.monotonic()
        self.leases.hold(claimed)
        for item in claimed:
            row = item.row
            self.buckets.promise(row, admission.draws[row.platform](row.destination,
                                                                    row.operation))
        queues: dict[Queue, list[outbox.Claimed]] = defaultdict(list)
        if self.ordered:  # the terminal: everything in the order it was queued
            queues["*", False] = sorted(claimed, key=lambda item: item.row.id or 0)
        else:
            for item in claimed:
                queues[item.row.destination, item.row.bulk].append(item)
        started = {}
        for key, items in queues.items():
            task = asyncio.create_task(self._deliver_in_order(items, self._claimed_at),
                                       name=f"outbox-queue {key[0]}")
            self._queues[key] = task
            task.add_done_callback(functools.partial(self._ended, key=key, items=items))
            started[task] = items
        return started

    def _ended(self, task: asyncio.Task[bool], *, key: Queue, items: list[outbox.Claimed]
               ) -> None:
        """A queue's turn is over: its destination may be claimed again."""
        self._queues.pop(key, None)
        for item in items:
            self.buckets.settle(item.row.id)
        self.leases.forget(items)  # unsettled ones (an error) wait for their lease
        if not task.cancelled() and (error := task.exception()) is not None:
            log.error("outbox queue %s failed", key[0], exc_info=error)
        self.wake()

    async def _deliver_in_order(self, items: list[outbox.Claimed], claimed_at: float) -> bool:
        """Rows in queue order; on a hold-up the rest wait their turn (False). Waits for rate
        limits add up to `max_inline_wait` per turn: a backlog paced by its limit must not
        hold its rows (and their leases) for minutes."""
        deadline = self.monotonic() + self.max_inline_wait
        for index, item in enumerate(items):
            if not await self.courier.deliver(item, deadline, claimed_at):
                rest = [i.row.id for i in items[index + 1:] if i.row.id is not None]
                if rest:
                    await self.leases.release(rest)
                return False
        return True
