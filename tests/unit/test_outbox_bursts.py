"""Rate limits as token buckets: the platform's short bursts go out at once, then its steady
rate, and no window ever carries more than the platform allows.

The limits run on a fake clock (`FakeTimer`): waiting for a token moves it on at once, so a
minute of pacing takes no time, and each call is stamped with the time it went out.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.shared.delivery_port import RateLimit
from handlers.slack.port import UPDATES as SLACK_UPDATES
from handlers.slack.port import WORKSPACE as SLACK_WORKSPACE
from handlers.slack.port import SlackPort
from handlers.telegram.port import GROUP as TELEGRAM_GROUP
from handlers.telegram.port import OVERALL as TELEGRAM_OVERALL
from handlers.telegram.port import TelegramPort
from jobs.dispatcher import Dispatcher
from jobs.limits import Rate
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.conftest import FakeClock

SALES = "slack:C0SALES"
GROUP = "telegram:-1001001"  # a Telegram group: negative id
PERSON = "telegram:4242"  # a private chat with one person


class FakeTimer:
    """The rate limits' clock; sleeping moves it on (never back) without waiting."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        until = self.now + seconds
        await asyncio.sleep(0)  # others may run meanwhile, as in a real sleep
        self.now = max(self.now, until)


@dataclass
class Platform:
    """A port that stamps each call with the fake time it went out at, under the rate
    limits of the real port of its platform."""

    timer: FakeTimer
    platforms: tuple[str, ...]
    calls: list[tuple[str, float]] = field(default_factory=list)  # destination, time

    @property
    def rate_limit(self) -> RateLimit:
        return (SlackPort if "slack" in self.platforms else TelegramPort).rate_limit

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        self.calls.append((destination, self.timer()))
        return f"m{len(self.calls)}"

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        self.calls.append((destination, self.timer()))

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        raise AssertionError("no files here")

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        return None

    def times(self, destination: str | None = None) -> list[float]:
        return [round(at, 6) for dest, at in self.calls if destination in (None, dest)]


def queue(db: Database, clock: FakeClock, destination: str, count: int, tag: str = "") -> None:
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[
            outbox.NewMessage(f"card:{destination}:{tag}{n}", destination, "send",
                              {"message": OutboundMessage(f"Card {n}").to_json()})
            for n in range(count)])


def dispatcher(db: Database, clock: FakeClock, platform: Platform, *,
               max_inline_wait: float = 5.0, batch: int = 50) -> Dispatcher:
    return Dispatcher(db, [platform], clock=clock, monotonic=platform.timer,
                      sleep=platform.timer.sleep,
                      max_inline_wait=max_inline_wait, batch=batch)


def most_in_any_window(times: list[float], seconds: float) -> int:
    return max(sum(1 for t in times if start <= t < start + seconds) for start in times)


def test_cards_to_one_slack_channel_burst_then_go_one_a_second(
        db: Database, clock: FakeClock) -> None:
    slack = Platform(FakeTimer(), ("slack",))
    queue(db, clock, SALES, 6)

    assert asyncio.run(dispatcher(db, clock, slack).run_once()) == 6

    # Three at once (Slack: "short bursts >1 allowed"), then its steady one a second.
    assert slack.times(SALES) == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]


def test_a_long_backlog_is_paced_across_claims_not_held_in_one(
        db: Database, clock: FakeClock) -> None:
    slack = Platform(FakeTimer(), ("slack",))
    queue(db, clock, SALES, 12)
    dispatch = dispatcher(db, clock, slack, max_inline_wait=3.0)

    asyncio.run(dispatch.run_once())
    # The burst, then waits adding up to max_inline_wait; the next would wait past it.
    assert slack.times(SALES) == [0.0, 0.0, 0.0, 1.0, 2.0, 3.0]
    with db.read() as session:
        pending = session.exec(select(Outbox).where(col(Outbox.status) == outbox.PENDING)).all()
    assert len(pending) == 6 and all(r.attempts == 0 for r in pending)  # no attempt spent

    # The channel's bucket is empty: its rows are not even claimed until a token is back.
    assert asyncio.run(dispatch.run_once()) == 0
    slack.timer.now += 1.0
    clock.advance(seconds=1)
    assert asyncio.run(dispatch.run_once()) > 0
    assert slack.times(SALES)[6] == 4.0


def test_a_telegram_group_never_gets_more_than_20_a_minute(
        db: Database, clock: FakeClock) -> None:
    telegram = Platform(FakeTimer(), ("telegram",))
    queue(db, clock, GROUP + "/7", 20, "a")  # two forum topics of one group share its limit
    queue(db, clock, GROUP + "/9", 20, "b")

    asyncio.run(dispatcher(db, clock, telegram, max_inline_wait=1000).run_once())

    times = telegram.times()
    assert len(times) == 40
    assert times[:5] == [0.0] * 5  # a burst of five
    assert most_in_any_window(times, 60.0) <= 20
    assert max(times) < 150  # and no slower than the limit needs: 5 + 15 a minute


def test_a_topic_waits_unclaimed_while_its_group_is_at_its_limit(
        db: Database, clock: FakeClock) -> None:
    telegram = Platform(FakeTimer(), ("telegram",))
    queue(db, clock, GROUP + "/7", 6)
    dispatch = dispatcher(db, clock, telegram, max_inline_wait=0)
    asyncio.run(dispatch.run_once())
    assert len(telegram.calls) == 5

    queue(db, clock, GROUP + "/9", 1)  # another topic of the same group
    assert asyncio.run(dispatch.run_once()) == 0
    with db.read() as session:
        other = session.exec(select(Outbox).where(Outbox.destination == GROUP + "/9")).one()
    assert (other.status, other.attempts) == (outbox.PENDING, 0)


def test_a_private_chat_bursts_then_gets_one_a_second(db: Database, clock: FakeClock) -> None:
    telegram = Platform(FakeTimer(), ("telegram",))
    queue(db, clock, PERSON, 5)

    asyncio.run(dispatcher(db, clock, telegram).run_once())

    assert telegram.times(PERSON) == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_many_private_chats_together_stay_under_30_a_second(
        db: Database, clock: FakeClock) -> None:
    telegram = Platform(FakeTimer(), ("telegram",))
    for person in range(1, 101):
        queue(db, clock, f"telegram:{person}", 1)

    asyncio.run(dispatcher(db, clock, telegram, batch=200).run_once())

    times = telegram.times()
    assert len(times) == 100
    assert most_in_any_window(times, 1.0) <= 30
    assert max(times) < 5  # about 20 a second after the first ten


@pytest.mark.parametrize(("rate", "count", "seconds"), [
    (SLACK_WORKSPACE, 300, 60),  # chat.postMessage: "several hundred messages per minute"
    (SLACK_UPDATES, 50, 60),  # chat.update, Tier 3: "50+ per minute"
    (TELEGRAM_GROUP, 20, 60),  # "20 messages per minute to the same group"
    (TELEGRAM_OVERALL, 30, 1),  # "30 messages per second or so"
])
def test_a_bucket_holds_no_more_than_the_platform_allows_in_its_window(
        rate: Rate, count: int, seconds: float) -> None:
    # At most `burst` tokens when a window opens, plus what refills during it.
    assert rate.burst + rate.per_second * seconds <= count


def test_rows_claimed_at_once_never_wait_past_their_lease(db: Database, clock: FakeClock) -> None:
    """Pacing stays inside one lease: the batch's waits add up to max_inline_wait at most."""
    telegram = Platform(FakeTimer(), ("telegram",))
    queue(db, clock, GROUP, 30)
    dispatch = dispatcher(db, clock, telegram)
    assert dispatch.max_inline_wait < dispatch.lease / timedelta(seconds=2)

    asyncio.run(dispatch.run_once())

    assert max(telegram.times()) <= dispatch.max_inline_wait


def test_an_edit_is_not_held_back_by_the_workspace_post_budget(
        db: Database, clock: FakeClock) -> None:
    """chat.update has a budget of its own: a head's click is shown at once even while a burst
    of posts (the reporters' notes, say) waits for chat.postMessage's workspace budget."""
    slack = Platform(FakeTimer(), ("slack",))
    dispatch = dispatcher(db, clock, slack, max_inline_wait=0.0)
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[outbox.NewMessage(
            "card:1", SALES, "send", {"message": OutboundMessage("Card").to_json()},
            card_key="card-1")])
    asyncio.run(dispatch.run_once())
    people = [f"slack:U{n:03d}" for n in range(SLACK_WORKSPACE.burst + 4)]
    for person in people:
        queue(db, clock, person, 1)
    asyncio.run(dispatch.run_once())  # the workspace's burst (the card's and 9) goes
    assert len(slack.times()) == SLACK_WORKSPACE.burst
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[outbox.NewMessage(
            "card-update:1", SALES, "update", {"message": OutboundMessage("Seen").to_json()},
            card_key="card-1")])

    assert asyncio.run(dispatch.run_once()) == 1  # the edit, now; not a post
    assert slack.calls[-1] == (SALES, slack.timer())
    with db.read() as session:
        waiting = session.exec(select(Outbox).where(col(Outbox.status) == outbox.PENDING)).all()
    assert sorted(r.destination for r in waiting) == people[SLACK_WORKSPACE.burst - 1:]


def test_a_survey_leaves_half_the_workspace_budget_to_the_cards(
        db: Database, clock: FakeClock) -> None:
    """Bulk rows (here a survey DMed to 20 people) take what interactive ones leave: the cards
    of five departments queued after it go out at once, while the survey waits its turn."""
    slack = Platform(FakeTimer(), ("slack",))
    dispatch = dispatcher(db, clock, slack, max_inline_wait=0.0)
    with db.write() as session:
        outbox.enqueue(session=session, now=clock(), messages=[outbox.NewMessage(
            f"pulse:r1:acme:{n}", f"slack:U{n:03d}", "send",
            {"message": OutboundMessage("How was it?").to_json()}) for n in range(20)])
    asyncio.run(dispatch.run_once())
    half = SLACK_WORKSPACE.burst - SLACK_WORKSPACE.burst // 2
    assert len(slack.calls) == half  # and none of the other 15 was claimed only to wait
    with db.read() as session:
        survey = session.exec(select(Outbox).where(col(Outbox.status) == outbox.PENDING)).all()
    assert len(survey) == 20 - half and all(row.bulk and row.attempts == 0 for row in survey)

    channels = [f"slack:C0DEPT{n}" for n in range(half)]
    for channel in channels:
        queue(db, clock, channel, 1)
    assert asyncio.run(dispatch.run_once()) == half  # the cards, not the survey
    assert slack.calls[half:] == [(channel, 0.0) for channel in channels]


def test_a_backlog_is_claimed_only_as_far_as_its_limit_can_serve_it(
        db: Database, clock: FakeClock) -> None:
    """A claim of a group's whole backlog made all but a few rows wait in memory and go back
    to the queue (writes, for every token that freed): a claim takes what the group's bucket
    serves within max_inline_wait, and leaves the rest untouched."""
    telegram = Platform(FakeTimer(), ("telegram",))
    queue(db, clock, GROUP, 20)
    dispatch = dispatcher(db, clock, telegram, max_inline_wait=5.0)

    assert asyncio.run(dispatch.run_once()) == 6  # its burst of five, and one 4 s later
    assert telegram.times() == [0.0] * 5 + [4.0]
    with db.read() as session:
        left = session.exec(select(Outbox).where(col(Outbox.status) == outbox.PENDING)).all()
    assert len(left) == 14 and all(row.attempts == 0 for row in left)
