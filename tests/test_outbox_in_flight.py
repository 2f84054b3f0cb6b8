"""A running dispatcher delivers each claimed batch on its own and goes on claiming: a row
waiting for its destination's rate limit holds up neither other destinations' new rows nor
the platform's other chats, and one destination's rows still go in the order queued.

Waiting for a token sleeps on a gate the test opens, so "still waiting" is a fact, not a
matter of timing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from bot.core.messages import OutboundMessage
from jobs.dispatcher import PLATFORM_LIMITS, Dispatcher
from storage.db import Database
from tests.conftest import FakeClock
from tests.test_outbox_bursts import GROUP, SALES, FakeTimer, Platform, queue


@dataclass
class Titled(Platform):
    """A port that also notes each message's title, to check the order."""

    def __post_init__(self) -> None:
        self.titles: list[str] = []

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        self.titles.append(message.title)
        return await super().send(destination, message, dedupe_key=dedupe_key)


class GatedTimer(FakeTimer):
    """Waiting for a token lasts until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()
        self.waiting = 0

    async def sleep(self, seconds: float) -> None:
        self.waiting += 1
        await self.gate.wait()
        self.waiting -= 1
        self.now += seconds


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1000):  # at most about 10 s: a bound for a broken dispatcher, not a timing
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never happened: {what}")


def test_a_row_waiting_for_its_limit_holds_up_no_other_destination(
        db: Database, clock: FakeClock) -> None:
    timer = GatedTimer()
    slack, telegram = Titled(timer, ("slack",)), Titled(timer, ("telegram",))

    async def scenario() -> None:
        stop = asyncio.Event()
        dispatch = Dispatcher(db, [slack, telegram], clock=clock, limits=PLATFORM_LIMITS,
                              monotonic=timer, sleep=timer.sleep)
        running = asyncio.create_task(dispatch.run(stop, idle_seconds=3600))  # no poll
        queue(db, clock, SALES, 4)  # Slack's burst for a channel is 3: the 4th waits
        await until(lambda: len(slack.calls) == 3 and timer.waiting == 1, "the burst")

        queue(db, clock, GROUP, 1, "tg")  # the commit wakes the dispatcher
        await until(lambda: len(telegram.calls) == 1, "the Telegram card went meanwhile")
        assert len(slack.calls) == 3 and timer.waiting == 1  # the 4th still waits

        queue(db, clock, SALES, 2, "late")  # same channel: after the 4th, not before it
        await asyncio.sleep(0.1)
        assert len(slack.calls) == 3

        timer.now += 10  # the channel's bucket refills
        timer.gate.set()
        await until(lambda: len(slack.calls) == 6, "the channel's rows")
        stop.set()
        await running

    asyncio.run(scenario())
    assert slack.titles == ["Card 0", "Card 1", "Card 2", "Card 3", "Card 0", "Card 1"]
    assert [destination for destination, _ in slack.calls] == [SALES] * 6


def test_stopping_waits_for_a_delivery_under_way(db: Database, clock: FakeClock) -> None:
    """A stop (Ctrl-C, SIGTERM) lets the batch in flight settle instead of cutting it."""
    timer = GatedTimer()
    slack = Titled(timer, ("slack",))

    async def scenario() -> None:
        stop = asyncio.Event()
        dispatch = Dispatcher(db, [slack], clock=clock, limits=PLATFORM_LIMITS,
                              monotonic=timer, sleep=timer.sleep)
        running = asyncio.create_task(dispatch.run(stop, idle_seconds=3600))
        queue(db, clock, SALES, 4)
        await until(lambda: timer.waiting == 1, "the 4th waiting for its token")
        stop.set()
        await asyncio.sleep(0.1)
        assert not running.done()  # still delivering the batch it holds
        timer.gate.set()
        await running

    asyncio.run(scenario())
    assert len(slack.calls) == 4
