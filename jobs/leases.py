"""The rows a dispatcher holds: their leases, renewed while they wait, and how each is settled.

A claimed row may wait in memory longer than one lease (one message a second per Slack channel,
slow platform calls): while it does, `keep` renews the lease of every row still held, every
quarter of the lease, so no other replica takes a row this one is about to send. The lease is
also the claim's token: a row this dispatcher lost (its renewals failed until the lease ran out
and another replica claimed it) is neither sent nor handed back by it. Every platform call is
cut off after half the lease (`call_timeout`), and a call starts only while at least that much
of the row's lease is left, so a post lands before any other replica may take the row over
(and look it up first).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from bot.core.capture.group_commit import GroupCommit
from storage import outbox
from storage.db import Database
from storage.models import Outbox

log = logging.getLogger(__name__)
T = TypeVar("T")
_Outcome = tuple[int, str, str | None, str | None]  # outbox id, status, message id, error


class LeaseLost(Exception):
    """This dispatcher no longer holds the row, or too little of its lease is left to start a
    platform call."""


class Leases:
    """Rows claimed and not yet settled (id -> lease token), and the writes that settle them."""

    def __init__(self, db: Database, lease: timedelta, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.lease = lease
        self.clock = clock
        # A platform call may last half the lease; it starts only with that much lease left.
        self.call_timeout = lease.total_seconds() / 2
        self.held: dict[int, datetime] = {}
        self._lock = asyncio.Lock()  # renewals and hand-backs see the same tokens
        # Rows delivered together (a burst's cards to several channels) record their outcome
        # in one write: one transaction each made them queue for SQLite's lock, 10-40 ms for
        # a burst of eight clicks.
        self._finishes: GroupCommit[_Outcome, None] = GroupCommit(self._finish_rows)

    def hold(self, claimed: Sequence[outbox.Claimed]) -> None:
        for item in claimed:
            assert item.row.id is not None and item.row.lease_until is not None
            self.held[item.row.id] = item.row.lease_until

    def forget(self, claimed: Sequence[outbox.Claimed]) -> None:
        """Unsettled rows (an error) are left to wait for their lease."""
        for item in claimed:
            self.held.pop(item.row.id or 0, None)

    async def keep(self, alive: Callable[[], None]) -> None:
        """Renew the lease of the rows held, every quarter of the lease, until cancelled."""
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 4)
            try:
                async with self._lock:
                    held = dict(self.held)
                    until = self.clock() + self.lease
                    renewed = await asyncio.to_thread(self._renew, held, until)
                    for outbox_id, token in held.items():
                        if self.held.get(outbox_id) != token:
                            continue  # settled meanwhile
                        if outbox_id in renewed:
                            self.held[outbox_id] = until
                        else:
                            log.warning("outbox %s was taken over by another dispatcher",
                                        outbox_id)
                            del self.held[outbox_id]
                alive()
            except Exception:
                # The rows stay ours until their lease ends; none is sent past that.
                log.warning("outbox leases could not be renewed; trying again", exc_info=True)

    def check(self, row: Outbox) -> None:
        """Raise LeaseLost unless the row is still ours with time left for one call."""
        assert row.id is not None
        until = self.held.get(row.id)
        if until is None or (until - self.clock()).total_seconds() < self.call_timeout:
            raise LeaseLost(f"outbox {row.id}: lease lost or about to end")

    async def call(self, row: Outbox, call: Awaitable[T]) -> T:
        """One platform call for a held row, started only with enough lease left, and cut off
        after `call_timeout` (an unclear outcome: the row is looked up before its retry)."""
        try:
            self.check(row)
        except LeaseLost:
            if inspect.iscoroutine(call):
                call.close()  # never started
            raise
        async with asyncio.timeout(self.call_timeout):
            return await call

    async def finish(self, outbox_id: int, status: str, message_id: str | None,
                     error: str | None) -> None:
        """Record the outcome; what happened on the platform is true whoever holds the row.
        Outcomes that arrive together share one transaction (GroupCommit)."""
        await self._finishes.submit((outbox_id, status, message_id, error))
        self.held.pop(outbox_id, None)

    async def postpone(self, outbox_id: int, seconds: float, error: str | None, *,
                       count_attempt: bool) -> None:
        """Hand a held row back to the queue until `seconds` from now."""
        async with self._lock:
            token = self.held.pop(outbox_id, None)
            if token is not None:
                await asyncio.to_thread(self._postpone_rows, {outbox_id: token}, seconds,
                                        error, count_attempt)

    async def release(self, ids: list[int]) -> None:
        """Hand held rows back, due now, without spending their attempt."""
        async with self._lock:
            tokens = {i: token for i in ids if (token := self.held.pop(i, None)) is not None}
            if tokens:
                await asyncio.to_thread(self._postpone_rows, tokens, 0.0, None, False)

    # -- in worker threads ------------------------------------------------------------------
    def _renew(self, held: dict[int, datetime], until: datetime) -> set[int]:
        if not held:
            return set()
        with self.db.write() as session:
            return outbox.renew_leases(session=session, held=held, until=until)

    def _finish_rows(self, outcomes: Sequence[_Outcome]) -> list[None]:
        with self.db.write() as session:
            now = self.clock()
            for outbox_id, status, message_id, error in outcomes:
                outbox.finish(session=session, outbox_id=outbox_id, status=status, now=now,
                              message_id=message_id, error=error)
        return [None] * len(outcomes)

    def _postpone_rows(self, tokens: dict[int, datetime], seconds: float, error: str | None,
                       count_attempt: bool) -> None:
        with self.db.write() as session:
            not_before = self.clock() + timedelta(seconds=seconds)
            for outbox_id, token in tokens.items():
                outbox.postpone(session=session, outbox_id=outbox_id, not_before=not_before,
                                error=error, count_attempt=count_attempt, lease=token)
