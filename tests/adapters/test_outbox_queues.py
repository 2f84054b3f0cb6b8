"""No card waits behind someone else's queue: a Telegram group at its limit holds no Slack
card, a survey to the whole workspace holds no card, and a row waiting for its rate limit goes
out when its token frees, not at the next poll (here an hour away).

The real Slack and Telegram ports talk to the fake Slack Web API and the fake Bot API; the
two fakes note every call in one journal, in the order they arrived, which is what these
tests read. The rate limits are the ports' own, in real time.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient
from sqlmodel import col, select
from telegram import Bot

from bot.core.presentation.messages import OutboundMessage
from handlers.slack.port import SlackPort
from handlers.telegram.port import TelegramPort
from jobs.dispatcher import Dispatcher
from storage import outbox
from storage.db import Database
from storage.models import Outbox
from tests.support import fake_slack, fake_telegram
from tests.support.fake_slack import FakeSlack
from tests.support.fake_telegram import FakeTelegram

SALES = "C0SALES"
GROUP = -1001001  # the department's Telegram group
PEOPLE = {f"U0P{n:03d}": {"name": f"Person {n}"} for n in range(30)}
Journal = list[tuple[str, str, dict[str, Any], float]]


@pytest.fixture
def fakes() -> Iterator[tuple[FakeSlack, FakeTelegram, Journal]]:
    with FakeSlack([SALES], PEOPLE) as slack, FakeTelegram() as telegram:
        # The fake's listen backlog (5) drops a burst of parallel connections, and each
        # dropped one waits a second for TCP to retry: make room for a survey's.
        slack.server.socket.listen(64)
        journal: Journal = []
        slack.journal = telegram.journal = journal
        yield slack, telegram, journal


def message(key: str, destination: str, *, operation: str = "send",
            card_key: str | None = None) -> outbox.NewMessage:
    return outbox.NewMessage(key, destination, operation,
                             {"message": OutboundMessage(f"Text of {key}").to_json()},
                             card_key=card_key)


async def queue(db: Database, *messages: outbox.NewMessage) -> None:
    def write() -> None:
        with db.write() as session:
            outbox.enqueue(session=session, now=datetime.now(UTC), messages=list(messages))
    await asyncio.to_thread(write)


def delivered(journal: Journal) -> list[tuple[str, str, float]]:
    """(platform, what, when) of each message delivered: its key's text, or `edit`."""
    found = []
    for platform, method, params, at in list(journal):
        if method in ("chat.postMessage", "sendMessage"):
            text = re.sub(r"<[^>]+>", "", str(params.get("text", "")))  # Telegram's HTML
            found.append((platform, text.strip("*").removeprefix("Text of "), at))
        elif method == "chat.update":
            found.append((platform, "edit", at))
    return found


def what(journal: Journal) -> list[str]:
    return [text for _platform, text, _at in delivered(journal)]


def with_dispatcher(db: Database, slack: FakeSlack, telegram: FakeTelegram,
                    scenario: Callable[[], Awaitable[None]]) -> None:
    """Run `scenario` while a dispatcher delivers to the fakes; its poll is an hour apart, so
    only commits, queues' ends and refilled buckets wake it."""
    async def run() -> None:
        async with aiohttp.ClientSession() as session, \
                Bot(fake_telegram.TOKEN, base_url=telegram.url) as bot:
            client = AsyncWebClient(token=fake_slack.TOKEN, base_url=slack.api_url,
                                    session=session)
            dispatcher = Dispatcher(db, [SlackPort(client), TelegramPort(bot)],
                                    poll_seconds=3600)
            stop = asyncio.Event()
            running = asyncio.create_task(dispatcher.run(stop))
            try:
                await scenario()
            finally:
                stop.set()
                await running

    asyncio.run(run())


async def until(fake: FakeSlack | FakeTelegram, check: Callable[[], Any],
                timeout: float = 10.0) -> None:
    await asyncio.to_thread(fake.wait, check, timeout)


def test_a_slack_card_and_its_edit_do_not_wait_for_a_telegram_group_at_its_limit(
        db: Database, fakes: tuple[FakeSlack, FakeTelegram, Journal]) -> None:
    slack, telegram, journal = fakes

    async def scenario() -> None:
        # Seven cards for the group at once: five go (its burst), the sixth waits for its
        # token (20 a minute: one every 4 s), the seventh longer still.
        await queue(db, *(message(f"group {n}", f"telegram:{GROUP}") for n in range(7)))
        await until(telegram, lambda: what(journal).count("group 4"))
        await queue(db, message("slack card", f"slack:{SALES}", card_key="card-1"))
        await until(slack, lambda: what(journal).count("slack card"))
        await queue(db, message("slack edit", f"slack:{SALES}", operation="update",
                                card_key="card-1"))
        await until(telegram, lambda: what(journal).count("group 5"))

    with_dispatcher(db, slack, telegram, scenario)

    seen = what(journal)
    assert seen.index("slack card") < seen.index("edit") < seen.index("group 5")
    group = [(text, at) for platform, text, at in delivered(journal) if platform == "telegram"]
    assert [text for text, _ in group] == [f"group {n}" for n in range(6)]  # in order
    assert group[5][1] - group[0][1] >= 3.9  # and within the group's limit


def test_a_card_goes_before_a_survey_queued_earlier_to_the_same_workspace(
        db: Database, fakes: tuple[FakeSlack, FakeTelegram, Journal]) -> None:
    slack, telegram, journal = fakes

    async def scenario() -> None:
        await queue(db, *(message(f"pulse:r1:acme:{person}", f"slack:{person}")
                          for person in PEOPLE))
        await until(slack, lambda: any(text.startswith("pulse") for text in what(journal)))
        await queue(db, message("the card", f"slack:{SALES}"))
        await until(slack, lambda: what(journal).count("the card"), timeout=20)

    with_dispatcher(db, slack, telegram, scenario)

    seen = what(journal)
    before = [text for text in seen[:seen.index("the card")] if text.startswith("pulse")]
    # The workspace allows ten posts at once, then four a second: the survey took half the
    # burst and left the rest; the card took one of those at once, ahead of the other 25.
    assert len(before) <= 8, before


def test_a_row_waiting_for_its_token_goes_out_when_it_frees(
        db: Database, fakes: tuple[FakeSlack, FakeTelegram, Journal]) -> None:
    slack, telegram, journal = fakes

    async def scenario() -> None:
        await queue(db, *(message(f"card {n}", f"slack:{SALES}") for n in range(3)))
        await until(slack, lambda: len(what(journal)) == 3)
        # The channel's burst is spent: the fourth is not even claimed until its token.
        await queue(db, message("card 3", f"slack:{SALES}"))
        await until(slack, lambda: len(what(journal)) == 4, timeout=5)

    with_dispatcher(db, slack, telegram, scenario)

    times = [at for _platform, _text, at in delivered(journal)]
    assert what(journal) == [f"card {n}" for n in range(4)]
    assert times[3] - times[0] >= 0.95  # one a second in a channel, after a burst of three


def test_stopping_hands_back_a_row_waiting_for_its_token_at_once(
        db: Database, fakes: tuple[FakeSlack, FakeTelegram, Journal]) -> None:
    slack, telegram, journal = fakes

    async def scenario() -> None:
        await queue(db, *(message(f"group {n}", f"telegram:{GROUP}") for n in range(7)))
        await until(telegram, lambda: what(journal).count("group 4"))
        # Stopped now: the sixth is waiting (in memory) for the group's next token.

    with_dispatcher(db, slack, telegram, scenario)

    assert what(journal) == [f"group {n}" for n in range(5)]
    with db.read() as session:
        left = session.exec(select(Outbox).where(col(Outbox.status) == outbox.PENDING)
                            .order_by(col(Outbox.id))).all()
    assert [(row.dedupe_key, row.attempts) for row in left] == [
        ("group 5", 0), ("group 6", 0)]  # back in the queue, no attempt spent
