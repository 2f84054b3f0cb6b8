"""What people wait for: from a request to what they see, against a bare floor.

    python bench/latency.py [--count 20] [--bursts 4] [--settle 20] [--idle 30]
                            [--help-runs 10] [--postgres URL] [--no-postgres] [--only-idle]
                            [--scenarios "slack card" "slack click" "telegram card"]

For each database (a SQLite file; PostgreSQL in a throwaway schema when reachable) it starts,
each as its own process on a loopback port, against one fake Slack Web API and one fake Bot
API server (tests/support/fake_slack.py, fake_telegram.py) that run in this process, so the
moment a call reaches a fake is read on the same clock as the moment its request was sent:
  voc    `voc serve` with both platforms configured (departments.example.toml): signature
         check, capture, outbox; its dispatcher delivers the cards
  bare   the floor: one Starlette app with a Bolt AsyncApp whose `/voc` handler acks and
         posts the card itself (chat.postMessage), whose button handler acks and updates it
         (chat.update), and python-telegram-bot (the same aiohttp transport as voc) whose
         `/complaint` handler sends the card to a group; no database
and measures
  slack card     a signed `/voc complaint ...` sent -> the card's chat.postMessage at the fake
  slack click    a signed press of a card's Acknowledge (by an admin) -> its chat.update
  telegram card  a private `/complaint ...` POSTed to the webhook -> the group's sendMessage
one at a time (`--count` requests, each sent a moment after the previous one's card arrived)
and at concurrency 8 (`--bursts` bursts of 8 requests released together, all awaited). The
texts spread the cards over six departments, and the pauses (PACING) keep the requests within
what Slack and Telegram allow over time: the figures are the pipeline's, the burst of 8 is the
test. Before each of voc's measurements its outbox is empty and it rests `--settle` s, so its
rate-limit buckets are full. A card that does not arrive within 30 s is counted as lost.
Also: CPU and RSS of both servers idle over `--idle` s (read from /proc) and the rows of
voc's database that changed meanwhile; RSS at the end; the RSS floor (a process that only
imports the bare app's libraries, and one that also imports the storage stack voc is built
on); `voc --help` wall time over `--help-runs` runs beside `python -c pass` (the interpreter
alone).
Before the idle window and each measurement it waits until both servers are quiet (< 5% of a
core over 1.5 s, bench/servers.py), so start-up work (the scheduler's catch-up) stays out; before
the idle window also until voc's digest child process (the catch-up's digest) has exited and its
messages are delivered.
`--scenarios ... mixed` adds, for voc alone: a department with both a Slack channel and a
Telegram group (logistics) gets a report every 1.2 s for `--mixed-seconds` (its group reaches
Telegram's 20 a minute); then the same for a third of that while a survey's 50 bulk DMs are
queued; then clicks on the first phase's Slack cards while the group works through its
backlog. Slack card and edit p50/p90/max against voc's one at a time (`slack card`, `slack
click` c=1 of the same run; targets: max < 300 ms, p90 within 2x), and whether the group's
cards came in order, each how long after the earliest moment its limit allows.
Ratios are voc over bare. Targets: card and update median < 150 ms, p90 < 300 ms
one at a time, within 2x of bare at concurrency 8; idle < 1% of a core, < 100 MiB, no
database write; `voc --help` < 0.5 s. Bounded: it stops by itself (about 9 minutes for each
database). `--only-idle`: start, warm up and measure the idle window only, for each database.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import itertools
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Only the standard library at the top: the floor's process (this file, `--bare`) must not
# carry the fakes' and the database's imports.
from servers import Server, cpu_seconds, free_port, running, wait_quiet  # noqa: E402

WEBHOOK_SECRET = "bench-latency-webhook-secret"
DEPARTMENTS = ROOT / "departments.example.toml"
WAIT = 30.0  # seconds a card may take before it counts as lost
CONCURRENCY = 8
# One text per department, so cards spread over six channels (and Telegram groups).
SLACK_TEXTS = ("The courier was three hours late with the delivery",
               "The hotline operator was rude and hung up",
               "Charged twice for the same order, the refund is still missing",
               "The showroom consultant promised a discount and then denied it",
               "The website checkout crashes when paying by card",
               "Fabric on the new chair collection pills after two weeks")
TELEGRAM_TEXTS = ("Курьер опоздал на три часа",
                  "Оператор поддержки нагрубил и положил трубку",
                  "Деньги списали дважды, возврат так и не пришёл",
                  "Рассылка приходит даже после отписки",
                  "Опрос о впечатлении от покупки не открывается")
SLACK_USERS = ("U0SALES1", "U0LOG1", "U0SUP1", "U0BENCH1", "U0BENCH2", "U0BENCH3", "U0BENCH4",
               "U0BENCH5")
CLICKER = "U0ADMIN"  # an admin may acknowledge any department's card
TELEGRAM_USERS = tuple(range(700_001, 700_001 + CONCURRENCY))
BARE_GROUP = -1001001
NOT_CARDS = {"C0GENERAL", "C0LEADERS"}  # where `/voc` is typed; leadership (no cards there)
# Seconds from one arrival to the next request (one at a time), and from a burst's last
# arrival to the next burst: the requests stay within what the platforms allow over time, so
# the figures are the pipeline's, not the rate limits' (the dispatcher follows the limits).
# Slack: 1 message/s per channel (six channels here), chat.update 50/min per workspace (Tier 3),
# which voc spends as 10 at once then 40 a minute (handlers/slack/port.py: UPDATES), so the
# clicks come a little slower than that (at 8 per 11 s, one edit in a later burst waited for its
# token, up to 1.5 s); Telegram: 20 messages/min per group (five groups here). A burst of 8 at
# once is the test.
PACING = {"slack card": (0.3, 3.0), "slack click": (1.6, 13.0), "telegram card": (0.8, 8.0)}
MARKER = re.compile(r"zq\d+zq")  # in every text, to find its card at the fake
_numbers = itertools.count(1)


def marker() -> str:
    """A word no department's keywords contain, unique in the run."""
    return f"zq{next(_numbers)}zq"


# -- the fakes, noting when each card and update arrives ---------------------------------------
class Arrivals:
    """When a card (by marker) or an update (by channel and ts) reached a fake."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.cards: dict[str, tuple[float, str, str]] = {}  # marker -> (time, channel, ts)
        self.updates: dict[tuple[str, str], list[float]] = {}

    def card(self, text: str, at: float, channel: str = "", ts: str = "") -> None:
        with self._changed:
            for found in MARKER.findall(text):
                self.cards.setdefault(found, (at, channel, ts))
            self._changed.notify_all()

    def update(self, channel: str, ts: str, at: float) -> None:
        with self._changed:
            self.updates.setdefault((channel, ts), []).append(at)
            self._changed.notify_all()

    def wait(self, find: Callable[[], float | None], timeout: float = WAIT) -> float | None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while (found := find()) is None and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            return found

    def card_at(self, mark: str, timeout: float = WAIT) -> float | None:
        return self.wait(lambda: self.cards[mark][0] if mark in self.cards else None, timeout)

    def update_after(self, channel: str, ts: str, sent: float) -> float | None:
        return self.wait(lambda: next((t for t in self.updates.get((channel, ts), [])
                                       if t >= sent), None))


@dataclass
class Fakes:
    """The fake Slack and Telegram servers, and when the cards reached each."""

    slack: Any  # tests.support.fake_slack.FakeSlack
    telegram: Any  # tests.support.fake_telegram.FakeTelegram
    slack_arrivals: Arrivals = field(default_factory=Arrivals)
    telegram_arrivals: Arrivals = field(default_factory=Arrivals)

    def __post_init__(self) -> None:
        """Each fake looks its methods up by name on the instance: note the arrival, then
        answer as the fake does."""
        post, update = self.slack.m_chat_postMessage, self.slack.m_chat_update
        send = self.telegram._api_sendMessage

        def posted(args: dict[str, Any]) -> dict[str, Any]:
            at = time.perf_counter()
            result: dict[str, Any] = post(args)
            channel = str(result.get("channel", ""))
            if result.get("ok") and channel.startswith("C") and channel not in NOT_CARDS:
                self.slack_arrivals.card(json.dumps([args.get("text"), args.get("blocks")],
                                                    ensure_ascii=False), at, channel,
                                         result["ts"])
            return result

        def updated(args: dict[str, Any]) -> dict[str, Any]:
            at = time.perf_counter()
            result: dict[str, Any] = update(args)
            if result.get("ok"):
                self.slack_arrivals.update(str(result["channel"]), str(result["ts"]), at)
            return result

        def sent(params: dict[str, Any]) -> dict[str, Any]:
            at = time.perf_counter()
            result: dict[str, Any] = send(params)
            if int(params["chat_id"]) < 0:  # a group, not the reporter's private chat
                self.telegram_arrivals.card(str(params.get("text", "")), at)
            return result

        self.slack.m_chat_postMessage, self.slack.m_chat_update = posted, updated
        self.telegram._api_sendMessage = sent


# -- the requests ------------------------------------------------------------------------------
_local = threading.local()


def http() -> Any:
    """This thread's HTTP client (kept alive: no connection or TLS set-up inside a timing)."""
    if not hasattr(_local, "client"):
        import httpx

        _local.client = httpx.Client(timeout=WAIT)
    return _local.client


def send_signed(user: Any, body: str, content_type: str, **_: Any) -> Any:
    """What `SlackUser.send` does (signed as Slack signs), over this thread's client."""
    from slack_sdk.signature import SignatureVerifier

    ts = str(int(time.time()))
    signature = SignatureVerifier(user.secret).generate_signature(timestamp=ts, body=body)
    return http().post(user.events_url, content=body.encode(), headers={
        "Content-Type": content_type, "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature or ""})


def telegram_update(user_id: int, text: str) -> dict[str, Any]:
    """A private `/complaint TEXT`, shaped as Telegram sends it."""
    number = next(_numbers)
    user = {"id": user_id, "is_bot": False, "first_name": f"Bench{user_id % 100}",
            "language_code": "ru"}
    return {"update_id": 20_000_000 + number, "message": {
        "message_id": number, "from": user, "date": int(time.time()),
        "chat": {"id": user_id, "first_name": user["first_name"], "type": "private"},
        "text": f"/complaint {text}", "entities": [{"type": "bot_command", "offset": 0,
                                                    "length": 10}]}}


@dataclass
class Target:
    """One server under test and what it has posted so far."""

    server: Server
    fakes: Fakes
    cards: list[tuple[str, str]] = field(default_factory=list)  # (channel, ts) not yet pressed

    def user(self, user_id: str) -> Any:
        """A person in the fake workspace (tests.support.fake_slack.SlackUser)."""
        from tests.support.fake_slack import SIGNING_SECRET, SlackUser

        user = SlackUser(self.fakes.slack, self.server.url("/slack/events"), user_id,
                         secret=SIGNING_SECRET)
        user.send = functools.partial(send_signed, user)
        return user

    def slack_card(self, n: int, mark: str | None = None) -> float | None:
        """Seconds from `/voc complaint` to its card's chat.postMessage (None: lost)."""
        mark = mark or marker()
        user = self.user(SLACK_USERS[n % len(SLACK_USERS)])
        sent = time.perf_counter()
        response = user.command(f"complaint {SLACK_TEXTS[n % len(SLACK_TEXTS)]} {mark}")
        if response.status_code != 200:
            return None
        arrived = self.fakes.slack_arrivals.card_at(mark)
        if arrived is None:
            return None
        _, channel, ts = self.fakes.slack_arrivals.cards[mark]
        self.cards.append((channel, ts))
        return arrived - sent

    def slack_click(self, _n: int) -> float | None:
        """Seconds from pressing Acknowledge on a card to the card's chat.update."""
        if not self.cards:  # its card was lost
            return None
        channel, ts = self.cards.pop(0)
        card = next(m for m in self.fakes.slack.in_channel(channel) if m.ts == ts)
        label = next(b["text"]["text"] for b in card.buttons()
                     if b["action_id"].startswith("voc:ack:"))
        sent = time.perf_counter()
        response = self.user(CLICKER).press(card, label)
        if response.status_code != 200:
            return None
        arrived = self.fakes.slack_arrivals.update_after(channel, ts, sent)
        return None if arrived is None else arrived - sent

    def telegram_card(self, n: int) -> float | None:
        """Seconds from a webhook POST of `/complaint` to the group's sendMessage."""
        mark = marker()
        update = telegram_update(TELEGRAM_USERS[n % len(TELEGRAM_USERS)],
                                 f"{TELEGRAM_TEXTS[n % len(TELEGRAM_TEXTS)]} {mark}")
        sent = time.perf_counter()
        response = http().post(self.server.url("/telegram/webhook"), json=update, headers={
            "X-Telegram-Bot-Api-Secret-Token": WEBHOOK_SECRET})
        if response.status_code != 200:
            return None
        arrived = self.fakes.telegram_arrivals.card_at(mark)
        return None if arrived is None else arrived - sent


SCENARIOS = {"slack card": Target.slack_card, "slack click": Target.slack_click,
             "telegram card": Target.telegram_card}


def one_at_a_time(target: Target, scenario: str, count: int, gap: float) -> list[float | None]:
    measure = SCENARIOS[scenario]
    results = []
    for n in range(count):
        results.append(measure(target, n))
        time.sleep(gap)
    return results


def in_bursts(target: Target, scenario: str, bursts: int, gap: float) -> list[float | None]:
    """`bursts` times: CONCURRENCY requests released together, all awaited."""
    measure = SCENARIOS[scenario]
    results: list[float | None] = []
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        for burst in range(bursts):
            start = threading.Barrier(CONCURRENCY)

            def one(n: int, start: threading.Barrier = start) -> float | None:
                http()  # this thread's client exists before the clock starts
                start.wait()
                return measure(target, n)

            results += pool.map(one, range(burst * CONCURRENCY, (burst + 1) * CONCURRENCY))
            time.sleep(gap)
    return results


# -- a department on both platforms, with the Telegram group at its limit ---------------------
MIXED_GAP = 1.2  # a report every 1.2 s: under Slack's one post a second per channel
SURVEYED = tuple(f"U0SURVEY{n:02d}" for n in range(50))  # the bulk DMs of a survey


@dataclass
class Mixed:
    """What the mixed scenarios measured: Slack cards and edits (seconds), and the logistics
    group's cards of the first phase as (request sent, arrived at the fake)."""

    cards: list[float | None] = field(default_factory=list)
    survey_cards: list[float | None] = field(default_factory=list)
    edits: list[float | None] = field(default_factory=list)
    group: list[tuple[float, float | None]] = field(default_factory=list)


def paced(seconds: float, measure: Callable[[int], float | None]) -> list[float | None]:
    """`measure(n)` every MIXED_GAP s for `seconds` (on a schedule, not after each arrival)."""
    results, start = [], time.perf_counter()
    for n in range(max(1, int(seconds / MIXED_GAP))):
        time.sleep(max(0.0, start + n * MIXED_GAP - time.perf_counter()))
        results.append(measure(n))
    return results


def queue_survey(database_url: str) -> None:
    """A survey's DMs, queued as the pulse job queues them (bulk by their key), at once."""
    from datetime import UTC, datetime

    from bot.core.presentation.messages import OutboundMessage
    from storage import outbox
    from storage.db import Database

    db = Database.connect(database_url)
    try:
        with db.write() as session:
            outbox.enqueue(session=session, now=datetime.now(UTC), messages=[
                outbox.NewMessage(f"pulse:bench-{marker()}:{person}", f"slack:{person}",
                                  "send", {"message": OutboundMessage("How was it?").to_json()})
                for person in SURVEYED])
    finally:
        db.dispose()


def mixed(target: Target, database_url: str, seconds: float) -> Mixed:
    """Reports into logistics (a Slack channel and a Telegram group) every MIXED_GAP s for
    `seconds`; the same for a third of that during a survey's 50 DMs; then clicks on the
    first phase's Slack cards while the group works through its backlog."""
    found = Mixed()
    marks: list[tuple[str, float]] = []

    def report(n: int) -> float | None:
        marks.append((mark := marker(), time.perf_counter()))
        return target.slack_card(0, mark)  # the courier: logistics

    target.cards.clear()
    found.cards = paced(seconds, report)
    first = list(marks)
    queue_survey(database_url)
    found.survey_cards = paced(seconds / 3, report)
    cards = target.cards
    target.cards = cards[:len(found.cards)]
    found.edits = paced(seconds / 3, target.slack_click)
    target.cards = []
    for mark, sent in first:  # in order: one every four seconds past the group's burst
        found.group.append((sent, target.fakes.telegram_arrivals.card_at(mark, timeout=300)))
    return found


def earliest_allowed(sent: list[float], burst: int, per_second: float) -> list[float]:
    """When each of these messages to one group may go at the earliest: its request, or its
    token (the bucket full at the start, as the bench rests before)."""
    tokens, at, found = float(burst), sent[0] if sent else 0.0, []
    for moment in sent:
        tokens = min(float(burst), tokens + (max(moment, at) - at) * per_second)
        at = max(moment, at)
        if tokens < 1.0:
            at += (1.0 - tokens) / per_second
            tokens = 1.0
        tokens -= 1.0
        found.append(at)
    return found


def mixed_lines(found: Mixed, baseline: dict[str, list[float | None]]) -> list[str]:
    """p50/p90/max of the Slack cards and edits against one at a time, and the group's."""
    from handlers.telegram.port import GROUP

    lines = []
    for name, results, alone in (
            ("slack card, group limited", found.cards, baseline.get("slack card")),
            ("slack card, survey of 50", found.survey_cards, baseline.get("slack card")),
            ("slack edit, group limited", found.edits, baseline.get("slack click"))):
        p50, p90, top, lost = summary(results)
        text = f"  {name:26} p50 {p50:6.0f} p90 {p90:6.0f} max {top:6.0f} ms"
        if alone:
            a50, a90, _, _ = summary(alone)
            text += (f"   one at a time p50 {a50:5.0f} p90 {a90:5.0f} ms   p90 ratio "
                     f"{p90 / a90:4.1f}: max < 300 ms and p90 within 2x: "
                     f"{verdict(top < 300 and p90 <= 2 * a90 and not lost)}")
        lines.append(text + (f"   LOST {lost}" if lost else ""))
    arrived = [at for _, at in found.group]
    sent = [moment for moment, _ in found.group]
    allowed = earliest_allowed(sent, GROUP.burst, GROUP.per_second)
    late = [at - ok for at, ok in zip(arrived, allowed, strict=True) if at is not None]
    in_order = all(a is not None for a in arrived) and arrived == sorted(arrived)  # type: ignore[type-var]
    lines.append(f"  telegram group cards: {len(late)} of {len(arrived)} arrived, in order: "
                 f"{in_order}; after the earliest moment its limit allows: p50 "
                 f"{statistics.median(late) * 1000 if late else float('nan'):.0f} max "
                 f"{max(late, default=float('nan')) * 1000:.0f} ms (the last "
                 f"{(max(a for a in arrived if a is not None) - sent[0]) if late else 0:.0f} s "
                 "after the first report)")
    return lines


# -- the floor (run as: python bench/latency.py --bare PORT SLACK_API TELEGRAM_API) -----------
def serve_bare(port: int, slack_api: str, telegram_api: str) -> None:
    """Bolt and python-telegram-bot, each posting the card from its handler; no database."""
    import contextlib as ctx

    import aiohttp
    import uvicorn
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from handlers.telegram.request import AiohttpRequest

    # The same settings as voc's (named as in docs/configuration.md), from the environment.
    slack = AsyncApp(signing_secret=os.environ["SLACK_SIGNING_SECRET"],
                     process_before_response=True, client=AsyncWebClient(
                         token=os.environ["SLACK_BOT_TOKEN"], base_url=slack_api))

    def card(text: str) -> list[dict[str, Any]]:
        return [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Complaint*\n> {text}"}},
                {"type": "actions", "elements": [{
                    "type": "button", "action_id": "voc:ack:0", "value": "{}",
                    "text": {"type": "plain_text", "text": "Acknowledge"}}]}]

    @slack.command("/voc")
    async def command(ack, body, client):  # type: ignore[no-untyped-def]
        await ack(text="Thank you!")
        text = body["text"]
        await client.chat_postMessage(channel="C0LOGISTICS", text=text, blocks=card(text))

    @slack.action(re.compile(r"voc:ack:\d+"))
    async def press(ack, body, client):  # type: ignore[no-untyped-def]
        await ack()
        message = body["message"]
        await client.chat_update(channel=body["channel"]["id"], ts=message["ts"],
                                 text="Acknowledged", blocks=card("Acknowledged")[:1])

    slack_handler = AsyncSlackRequestHandler(slack)
    telegram = (ApplicationBuilder().token(os.environ["TELEGRAM_BOT_TOKEN"]).base_url(telegram_api)
                .request(AiohttpRequest()).updater(None).job_queue(None).build())

    async def complaint(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message
        await context.bot.send_message(BARE_GROUP, f"Complaint: {update.effective_message.text}")

    telegram.add_handler(CommandHandler("complaint", complaint))

    async def slack_events(request: Request) -> Response:
        return await slack_handler.handle(request)

    async def webhook(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != WEBHOOK_SECRET:
            return Response(status_code=403)
        await telegram.process_update(Update.de_json(await request.json(), telegram.bot))
        return Response()

    @ctx.asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        # One pooled session, as voc's: slack_sdk alone opens a connection per call.
        async with telegram, aiohttp.ClientSession() as session:
            slack.client.session = session
            yield

    app = Starlette(routes=[Route("/slack/events", slack_events, methods=["POST"]),
                            Route("/telegram/webhook", webhook, methods=["POST"])],
                    lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# -- what a process does while idle ------------------------------------------------------------
def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def database_rows(url: str) -> set[tuple[str, str]]:
    """(table, digest of a row) for every row of voc's tables."""
    from sqlalchemy import MetaData, select

    from storage.db import Database

    db = Database.connect(url)
    try:
        metadata = MetaData()
        metadata.reflect(db.engine)
        with db.engine.connect() as connection:
            return {(table.name, hashlib.sha1(repr(tuple(row)).encode()).hexdigest())
                    for table in metadata.sorted_tables
                    for row in connection.execute(select(table))}
    finally:
        db.dispose()


def idle(servers: list[Server], seconds: float, database_url: str
         ) -> dict[str, tuple[float, float, float, int]]:
    """Each server's (CPU share of a core, RSS MiB at the end, peak RSS MiB, rows of voc's
    database changed) over `seconds` of idleness."""
    before_rows = database_rows(database_url)
    cpu = {s.name: s.cpu() for s in servers}
    peak = {s.name: 0.0 for s in servers}
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        for server in servers:
            peak[server.name] = max(peak[server.name], rss_mib(server.process.pid))
        time.sleep(0.5)
    elapsed = time.monotonic() - started
    changed = len(before_rows ^ database_rows(database_url))
    return {server.name: ((server.cpu() - cpu[server.name]) / elapsed,
                          rss_mib(server.process.pid), peak[server.name], changed)
            for server in servers}


BARE_LIBRARIES = ("uvicorn", "slack_bolt.adapter.starlette.async_handler", "slack_bolt.async_app",
                  "slack_sdk.web.async_client", "starlette.applications", "telegram.ext")
# What voc must carry on top, by the stack the project chose: SQLModel on SQLAlchemy's ORM,
# pydantic-settings, and the database's driver.
STACK_LIBRARIES = ("sqlalchemy.orm", "sqlmodel", "pydantic_settings")
IMPORT_AND_MEASURE = """
import importlib, sys
if sys.argv[1] == "--as-voc":  # without httpx's command-line client, as bot/__init__.py does
    sys.modules["httpx._main"] = None
for name in sys.argv[2:]:
    importlib.import_module(name)
with open("/proc/self/status") as status:
    print(next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")))
"""


def libraries_rss(database_url: str) -> tuple[float, float]:
    """RSS MiB of a process that only imports the bare app's libraries, and of one that also
    imports the storage stack and driver voc must use: the floor under voc's RSS before any of
    its own code or data."""
    driver = ("psycopg", "sqlalchemy.dialects.postgresql.psycopg") if database_url.startswith(
        "postgres") else ("sqlite3", "sqlalchemy.dialects.sqlite.pysqlite")
    figures = []
    for names in (("--as-bare", *BARE_LIBRARIES),
                  ("--as-voc", *BARE_LIBRARIES, *STACK_LIBRARIES, *driver)):
        out = subprocess.run([sys.executable, "-c", IMPORT_AND_MEASURE, *names], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout
        figures.append(int(out.split()[-1]) / 1024)
    return figures[0], figures[1]


def help_time(runs: int) -> tuple[list[float], list[float]]:
    """Wall times of `voc --help` and of `python -c pass`."""
    script = Path(sys.executable).parent / "voc"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "bot"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}

    def timed(argv: list[str]) -> float:
        started = time.perf_counter()
        subprocess.run(argv, env=env, cwd=tempfile.gettempdir(), check=True,
                       stdout=subprocess.DEVNULL)
        return time.perf_counter() - started

    timed([*command, "--help"])  # the first run reads the files from disk
    voc = [timed([*command, "--help"]) for _ in range(runs)]
    python = [timed([sys.executable, "-c", "pass"]) for _ in range(runs)]
    return voc, python


# -- report ------------------------------------------------------------------------------------
def summary(results: list[float | None]) -> tuple[float, float, float, int]:
    """(p50, p90, max) in ms and how many were lost."""
    times = sorted(r * 1000 for r in results if r is not None)
    lost = len(results) - len(times)
    if len(times) < 2:
        return float("nan"), float("nan"), float("nan"), lost
    q = statistics.quantiles(times, n=10, method="inclusive")
    return statistics.median(times), q[8], times[-1], lost


def line(name: str, voc: list[float | None], bare: list[float | None]) -> str:
    v, b = summary(voc), summary(bare)
    text = (f"  {name:17} voc p50 {v[0]:6.0f} p90 {v[1]:6.0f} max {v[2]:6.0f} ms   "
            f"bare p50 {b[0]:5.0f} p90 {b[1]:5.0f} ms   ratio p50 {v[0] / b[0]:5.1f} "
            f"p90 {v[1] / b[1]:5.1f}")
    if v[3] or b[3]:
        text += f"   LOST voc {v[3]} bare {b[3]}"
    return text


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


# -- orchestration -----------------------------------------------------------------------------
@contextlib.contextmanager
def running_fakes() -> Iterator[Fakes]:
    """The fake Slack (the example company's channels and people) and the fake Bot API."""
    from bot.core.shared.platforms import SLACK
    from bot.departments import load_company
    from tests.support.fake_slack import FakeSlack, workspace_people
    from tests.support.fake_telegram import FakeTelegram

    company = load_company(DEPARTMENTS)
    channels = [c for d in company.departments if (c := SLACK.target(d.addresses))]
    people = workspace_people(company) | {user: {"name": user}
                                          for user in (*SLACK_USERS, *SURVEYED)}
    with FakeSlack([*channels, "C0LEADERS", "C0GENERAL"], people) as slack, \
            FakeTelegram() as telegram:
        yield Fakes(slack, telegram)


def children(pid: int) -> list[str]:
    """The processes `pid` has started and not yet reaped (voc's digest is built in one)."""
    found: list[str] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            found += (task / "children").read_text().split()
    return found


def wait_no_children(servers: list[Server], timeout: float = 300.0) -> None:
    """Wait until no server has a child process (the start-up catch-up of the digest runs in
    one: its CPU and its writes are not idleness)."""
    deadline = time.monotonic() + timeout
    while any(children(s.process.pid) for s in servers) and time.monotonic() < deadline:
        time.sleep(0.5)


def wait_delivered(database_url: str, timeout: float = 120.0) -> int:
    """Wait until voc's outbox has nothing pending or in flight; what is left after `timeout`."""
    from sqlalchemy import text

    from storage.db import Database

    db = Database.connect(database_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            with db.engine.connect() as connection:
                left = int(connection.execute(text(
                    "SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending')"
                )).scalar_one())
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.5)
    finally:
        db.dispose()


def measure(target: Target, scenario: str, level: int, args: argparse.Namespace
            ) -> list[float | None]:
    gap, burst_gap = PACING[scenario]
    if level == 1:
        return one_at_a_time(target, scenario, args.count, gap)
    return in_bursts(target, scenario, args.bursts, burst_gap)


def bench(label: str, database_url: str, args: argparse.Namespace) -> list[str]:
    from storage.db import Database
    from tests.support import fake_slack, fake_telegram

    db = Database.connect(database_url)
    db.upgrade()
    db.dispose()
    lines = [f"{label}:"]
    print(lines[0], flush=True)

    def report(text: str) -> None:
        lines.append(text)
        print(text, flush=True)

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env |= {"PYTHONPATH": str(ROOT), "VOC_DEPARTMENTS": str(DEPARTMENTS),
            "SLACK_BOT_TOKEN": fake_slack.TOKEN, "SLACK_SIGNING_SECRET": fake_slack.SIGNING_SECRET,
            "TELEGRAM_BOT_TOKEN": fake_telegram.TOKEN, "TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET}
    results: dict[tuple[str, str, int], list[float | None]] = {}
    idle_figures: dict[str, tuple[float, float, float, int]] = {}
    with running_fakes() as fakes:
        voc_port, bare_port = free_port(), free_port()
        specs = [("voc", ["-m", "bot", "serve", "--port", str(voc_port)], env | {
            "DATABASE_URL": database_url, "SLACK_API_URL": fakes.slack.api_url,
            "TELEGRAM_API_URL": fakes.telegram.url}, voc_port),
                 ("bare", [__file__, "--bare", str(bare_port), fakes.slack.api_url,
                           fakes.telegram.url], env, bare_port)]
        with running(specs) as servers:
            targets = {s.name: Target(s, fakes) for s in servers}
            for target in targets.values():  # users, caches, connections
                for scenario in ("slack card", "telegram card"):
                    lost = sum(r is None for r in in_bursts(target, scenario, 1, 0.0))
                    if lost:
                        report(f"  {target.server.name}: {lost} of 8 {scenario}s lost "
                               "in the warm-up")
                target.cards.clear()
            wait_no_children(servers)
            wait_delivered(database_url)
            report(f"  both servers {wait_quiet(servers, windows=3, timeout=60)[1]}")
            idle_figures = idle(servers, args.idle, database_url)
            bare_libraries, with_stack = libraries_rss(database_url)
            report(f"  libraries alone (imported, nothing running): the bare app's "
                   f"{bare_libraries:.0f} MiB; with the SQLModel/SQLAlchemy ORM, "
                   f"pydantic-settings and the driver voc must use {with_stack:.0f} MiB")
            for name, (share, rss, peak, written) in idle_figures.items():
                report(f"  idle {args.idle:.0f} s, {name}: cpu {share:.2%} of a core, rss "
                       f"{rss:.0f} MiB (peak {peak:.0f})" + (
                           f", database rows written {written}" if name == "voc" else ""))
            if args.only_idle:
                report(idle_target(idle_figures["voc"]))
                return lines
            # A click presses a card of the `slack card` scenario: it brings that one along.
            wanted = set(args.scenarios) | ({"slack card"} if "slack click" in args.scenarios
                                            else set())
            chosen = [name for name in SCENARIOS if name in wanted]
            for index, (scenario, level) in enumerate(itertools.product(chosen, (1, 8))):
                order = list(targets.values())[::1 if index % 2 == 0 else -1]
                for target in order:
                    if target.server.name == "voc":  # its queue empty, its buckets full
                        if left := wait_delivered(database_url):
                            report(f"  before voc {scenario} c={level}: {left} messages "
                                   "still undelivered after 120 s")
                        time.sleep(args.settle)
                    quiet, note = wait_quiet(servers, windows=3)
                    if not quiet:
                        report(f"  before {target.server.name} {scenario} c={level}: {note}")
                    results[target.server.name, scenario, level] = measure(
                        target, scenario, level, args)
                report(line(f"{scenario} c={level}", results["voc", scenario, level],
                            results["bare", scenario, level]))
            if "mixed" in args.scenarios:
                wait_delivered(database_url)
                time.sleep(args.settle)
                wait_quiet(servers, windows=3)
                report(f"  mixed: logistics (Slack channel and Telegram group), a report every "
                       f"{MIXED_GAP} s for {args.mixed_seconds:.0f} s, then during a survey, "
                       "then clicks (voc only; one at a time: voc's c=1 above)")
                found = mixed(targets["voc"], database_url, args.mixed_seconds)
                for text in mixed_lines(found, {name: results["voc", name, 1] for name in (
                        "slack card", "slack click") if ("voc", name, 1) in results}):
                    report(text)
            for server in servers:
                report(f"  after the run, {server.name}: rss {rss_mib(server.process.pid):.0f} "
                       f"MiB, cpu {cpu_seconds(server.process.pid):.1f} s in all")
    if len(chosen) == len(SCENARIOS):  # the targets are judged on a run of every scenario
        for text in targets_met(results, idle_figures["voc"]):
            report(text)
    return lines


def targets_met(results: dict[tuple[str, str, int], list[float | None]],
                idle_voc: tuple[float, float, float, int]) -> list[str]:
    """The latency targets (cards and clicks one at a time and eight at once, idle cost), each
    with its figure."""
    texts = []
    for scenario in ("slack card", "slack click"):
        p50, p90, _, lost = summary(results["voc", scenario, 1])
        texts.append(f"  target {scenario}, one at a time: p50 {p50:.0f} < 150 ms, p90 "
                     f"{p90:.0f} < 300 ms, none lost: "
                     f"{verdict(p50 < 150 and p90 < 300 and not lost)}")
        ratio = summary(results["voc", scenario, 8])[0] / summary(
            results["bare", scenario, 8])[0]
        texts.append(f"  target {scenario}, concurrency 8: p50 within 2x of bare "
                     f"({ratio:.1f}x): {verdict(ratio <= 2)}")
    texts.append(idle_target(idle_voc))
    return texts


def idle_target(idle_voc: tuple[float, float, float, int]) -> str:
    share, rss, _, written = idle_voc
    return (f"  target idle: cpu {share:.2%} < 1%, rss {rss:.0f} < 100 MiB, no database "
            f"write ({written} rows): {verdict(share < 0.01 and rss < 100 and not written)}")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--bare":
        serve_bare(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    # Stopped from outside: still stop the servers it started (SystemExit runs the finally's).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--count", type=int, default=20, help="requests one at a time")
    parser.add_argument("--bursts", type=int, default=4, help="bursts of 8 requests")
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds voc rests (its queue empty) before each measurement")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle measured")
    parser.add_argument("--help-runs", type=int, default=10)
    parser.add_argument("--postgres", default=os.environ.get(
        "VOC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--scenarios", nargs="+", choices=[*SCENARIOS, "mixed"],
                        default=list(SCENARIOS),
                        help="measure only these (the targets are judged on a run of all); "
                             "mixed: a department on both platforms with its Telegram group "
                             "at its limit, during a survey, and clicks meanwhile")
    parser.add_argument("--mixed-seconds", type=float, default=60.0,
                        help="how long the mixed scenario's first phase sends reports")
    parser.add_argument("--only-idle", action="store_true",
                        help="only the idle CPU, RSS and database writes (after the warm-up), "
                             "for each database: about a minute each")
    args = parser.parse_args()
    args.count = max(2, min(args.count, 1000))
    args.bursts = max(1, min(args.bursts, 100))

    report = []
    if not args.only_idle:
        voc_help, python = help_time(args.help_runs)
        median = statistics.median(voc_help)
        report.append(f"voc --help: median {median:.2f} s (min {min(voc_help):.2f}, max "
                      f"{max(voc_help):.2f}) over {len(voc_help)} runs; python -c pass "
                      f"{statistics.median(python):.2f} s; ratio "
                      f"{median / statistics.median(python):.0f}; target < 0.5 s: "
                      f"{verdict(median < 0.5)}")
        print(report[0], flush=True)
    with tempfile.TemporaryDirectory(prefix="voc-latency-") as folder:
        report += bench("SQLite", f"sqlite:///{folder}/voc.db", args)
    if not args.no_postgres:
        from scratch import postgres_scratch  # bench/scratch.py, beside this script

        with postgres_scratch(args.postgres) as url:
            if url:
                report += bench("PostgreSQL", url, args)
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
