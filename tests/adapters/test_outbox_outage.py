"""A Slack outage, then recovery: nothing dead-lettered, everything delivered once, with no
`voc outbox retry`. Only a message that keeps failing for longer than the age limit (and at
least VOC_OUTBOX_MAX_ATTEMPTS times) goes to the dead letters.

The real Slack adapter talks to the fake Slack, which answers chat.postMessage with HTTP 500
for as long as the outage lasts; the dispatcher's clock is the test's, moved by hand.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.config import Settings
from bot.core.presentation.messages import OutboundMessage
from bot.core.service import VocService
from bot.core.shared.delivery_port import RateLimit
from handlers.slack.adapter import SlackAdapter
from jobs.dispatcher import Dispatcher, RetryPolicy
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.conftest import FakeClock
from tests.support.fake_slack import SIGNING_SECRET, TOKEN, FakeSlack

CHANNELS = ["C0CCO", "C0SALES", "C0SUPPORT", "C0LOGISTICS", "C0FINANCE", "C0IT", "C0PRODUCT"]
MAX_ATTEMPTS = 8  # VOC_OUTBOX_MAX_ATTEMPTS's default
POLICY = RetryPolicy(max_attempts=MAX_ATTEMPTS)  # as the runtime builds it: a 24-hour age limit


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(CHANNELS) as fake:
        # The fake's listen backlog (5) drops a burst of parallel connections, and each
        # dropped one waits a second for TCP to retry: make room for one per channel.
        fake.server.socket.listen(64)
        yield fake


def outage(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", status=500, times=1_000_000)


def recovery(slack: FakeSlack) -> None:
    with slack.lock:
        slack.failures.clear()


def queue_cards(db: Database, clock: FakeClock, tag: str, per_channel: int = 2) -> None:
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[
            outbox.NewMessage(f"card:{tag}{n}@slack:{channel}", f"slack:{channel}", "send",
                              {"message": OutboundMessage(f"Card {tag}{n}").to_json()})
            for n in range(per_channel) for channel in CHANNELS])


def rows(db: Database) -> list[Outbox]:
    with db.read() as session:
        return list(session.exec(select(Outbox).order_by(col(Outbox.id))).all())


def with_dispatcher(slack: FakeSlack, service: VocService, clock: FakeClock,
                    scenario: Callable[[Callable[[timedelta, timedelta], Awaitable[None]]],
                                       Awaitable[None]]) -> None:
    """Run `scenario(live)` where `await live(duration, step)` lets `duration` pass on the
    dispatcher's clock in `step`s, delivering what is due at each."""
    async def run() -> None:
        settings = Settings(_env_file=None, slack_bot_token=TOKEN, slack_api_url=slack.api_url,
                            slack_signing_secret=SIGNING_SECRET)
        adapter = SlackAdapter(settings, service, http_mode=True)
        # Not what this test is about: Slack's one post a second per channel in real time.
        adapter.slack_port.rate_limit = RateLimit(per_destination=(1000, 1.0))
        await adapter.start()
        dispatcher = Dispatcher(service.db, [adapter.port], clock=clock, policy=POLICY)

        async def live(duration: timedelta, step: timedelta) -> None:
            end = clock() + duration
            while clock() < end:
                for _ in range(20):  # straight on while there is work due
                    if not await dispatcher.run_once():
                        break
                clock.advance(seconds=step.total_seconds())

        try:
            await scenario(live)
        finally:
            await adapter.stop()

    asyncio.run(run())


def test_an_hour_long_outage_loses_nothing_and_recovery_delivers_everything_once(
        slack: FakeSlack, service: VocService, db: Database, clock: FakeClock) -> None:
    queue_cards(db, clock, "a")
    outage(slack)

    async def scenario(live: Callable[[timedelta, timedelta], Awaitable[None]]) -> None:
        await live(timedelta(hours=1), timedelta(minutes=1))
        down = rows(db)
        assert {r.status for r in down} == {outbox.PENDING}  # nothing given up
        assert min(r.attempts for r in down) > MAX_ATTEMPTS  # more than 8 tries each
        assert slack.in_channel("C0SALES") == []

        recovery(slack)
        await live(timedelta(minutes=5, seconds=30), timedelta(seconds=30))  # longest backoff

    with_dispatcher(slack, service, clock, scenario)

    assert {r.status for r in rows(db)} == {outbox.SENT}
    assert outbox.DEAD not in {r.status for r in rows(db)}
    for channel in CHANNELS:
        titles = [m.plain.splitlines()[0] for m in slack.in_channel(channel)]
        assert sorted(titles) == ["*Card a0*", "*Card a1*"], (channel, titles)


def test_only_what_keeps_failing_past_the_age_limit_is_dead_lettered(
        slack: FakeSlack, service: VocService, db: Database, clock: FakeClock) -> None:
    queue_cards(db, clock, "stale", per_channel=1)
    clock.advance(hours=30)  # queued, then the bot was stopped for a day
    queue_cards(db, clock, "old", per_channel=1)
    outage(slack)
    stale_attempts: list[int] = []

    async def scenario(live: Callable[[timedelta, timedelta], Awaitable[None]]) -> None:
        # Older than the limit at their first failure, stale cards still get their attempts.
        await live(timedelta(minutes=35), timedelta(minutes=5))
        stale_attempts.extend(r.attempts for r in rows(db) if r.status == outbox.PENDING
                              and r.dedupe_key.startswith("card:stale"))
        await live(timedelta(hours=20), timedelta(hours=1))
        queue_cards(db, clock, "new", per_channel=1)  # queued during the outage, 20 h in
        await live(timedelta(hours=4, minutes=30), timedelta(minutes=30))

    with_dispatcher(slack, service, clock, scenario)

    assert stale_attempts == [MAX_ATTEMPTS - 1] * len(CHANNELS)
    by_key = {r.dedupe_key: r for r in rows(db)}
    for channel in CHANNELS:
        stale, old, new = (by_key[f"card:{tag}0@slack:{channel}"]
                           for tag in ("stale", "old", "new"))
        assert (stale.status, stale.attempts) == (outbox.DEAD, MAX_ATTEMPTS)
        assert old.status == outbox.DEAD and old.attempts > MAX_ATTEMPTS
        assert "fatal_error" in (old.last_error or "")
        assert new.status == outbox.PENDING and new.attempts >= MAX_ATTEMPTS
    with db.read() as session:
        assert len(outbox.list_by_status(session=session, status=outbox.DEAD)) == 2 * len(
            CHANNELS)
