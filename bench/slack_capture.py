"""Slack capture over HTTP: signed `/voc complaint ...` against `voc serve` and three baselines.

    python bench/slack_capture.py [--count 1000] [--rounds 3] [--concurrency 1 8 32]
                                  [--postgres URL] [--no-postgres]

For each database (SQLite files, one per server, and PostgreSQL when reachable, in a throwaway
schema) it starts at once, each as its own process on a loopback port, with the same server
stack (uvicorn, 1 worker, Starlette, Bolt's AsyncApp with process_before_response=True,
signature checks on):
  voc       `voc serve`: the real app (users.info cached, capture, outbox, ephemeral reply;
            its dispatcher delivers the cards to the fake Slack Web API meanwhile)
  ack       a bare Bolt app whose `/voc` handler only calls ack()
  insert    the same, inserting and committing one SQLModel row per request in a worker
            thread (the floor for "store something per request" without blocking the loop)
  insert@loop  the same insert run on the event loop, as naive code does
The fake Slack Web API (tests/support/fake_slack.py) is a process of its own, so it does not
share the load generator's GIL.

Method (bench/servers.py): after 60 warm-up requests to each server, it waits until all are
quiet (< 5% of a core over 0.5 s, read from /proc; voc's scheduler catches up at start-up).
Then for each concurrency level it runs `rounds` rounds; each round sends `count` signed slash
commands to every server in turn, in an order rotated from round to round, so machine noise
and drift spread over all servers, and before each turn it waits until all are quiet again.
Each line shows the median requests/s of the rounds (each round's in parentheses), p50/p99
over all rounds' latencies, and the server's CPU time per request in its turns (+ outside
them: work it deferred); ratios are of the medians.
Targets: p99 < 250 ms at concurrency 32, and throughput >= 0.5x the `insert` baseline. The
load generator shares the machine: compare ratios rather than absolute numbers.
voc runs with the language layer as the environment sets it (VOC_LANGUAGE, `auto` by default:
the bundled model embeds and stores every report, about 3-4 ms of CPU per capture here); with
VOC_LANGUAGE=off it compares like for like with a commit from before the layer.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import postgres_scratch  # noqa: E402  (bench/scratch.py, beside this script)
from servers import Server, free_port, measure_level, ratios, running, wait_quiet  # noqa: E402

from tests.support.fake_slack import SIGNING_SECRET as SECRET  # noqa: E402
from tests.support.fake_slack import TOKEN  # noqa: E402

TEXTS = ("The courier was three hours late", "Курьер опоздал на три часа",
         "The website checkout crashes on payment", "Support answered quickly and politely")
USERS = ("U0SALES1", "U0LOG1", "U0SUP1", "U0BENCH1", "U0BENCH2", "U0BENCH3")
KINDS = ("voc", "ack", "insert", "insert@loop")


# -- the baselines (run as: python bench/slack_capture.py --baseline ack|insert|insert@loop) ----
def baseline_app(kind: str, database_url: str, slack_api: str):  # type: ignore[no-untyped-def]
    """A bare Bolt app on the same stack; `insert` variants store one row per request."""
    from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncApp
    from sqlmodel import Field, SQLModel
    from starlette.applications import Starlette
    from starlette.routing import Route

    from storage.db import Database

    class BenchRow(SQLModel, table=True):
        # A table per baseline: they start at once and may share a database (PostgreSQL).
        __tablename__ = "bench_row_" + kind.replace("@", "_")
        id: int | None = Field(default=None, primary_key=True)
        text: str
        created_at: datetime

    db = Database.connect(database_url)
    BenchRow.metadata.create_all(db.engine, tables=[BenchRow.__table__])  # type: ignore[attr-defined]

    def insert(text: str) -> None:
        with db.write() as session:
            session.add(BenchRow(text=text, created_at=datetime.now(UTC)))

    from slack_sdk.web.async_client import AsyncWebClient

    # Same as voc: Bolt checks the token once (auth.test) against the fake Web API.
    app = AsyncApp(signing_secret=SECRET, client=AsyncWebClient(token=TOKEN, base_url=slack_api),
                   process_before_response=True)

    @app.command("/voc")
    async def voc(ack, command):  # type: ignore[no-untyped-def]
        if kind == "insert":
            await asyncio.to_thread(insert, command["text"])
        elif kind == "insert@loop":
            insert(command["text"])
        await ack(text="ok")

    handler = AsyncSlackRequestHandler(app)

    async def events(request):  # type: ignore[no-untyped-def]
        return await handler.handle(request)

    async def health(_request):  # type: ignore[no-untyped-def]
        from starlette.responses import PlainTextResponse
        return PlainTextResponse("ok")

    return Starlette(routes=[Route("/slack/events", events, methods=["POST"]),
                             Route("/healthz", health)])


# -- load ---------------------------------------------------------------------------------------
def signed(text: str, user: str) -> tuple[bytes, dict[str, str]]:
    """A slash command body and headers, signed as Slack signs them."""
    from slack_sdk.signature import SignatureVerifier

    body = urlencode({"token": "x", "team_id": "T0VOC", "team_domain": "bench",
                      "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user,
                      "user_name": user.lower(), "command": "/voc", "text": text,
                      "api_app_id": "A0VOC", "is_enterprise_install": "false",
                      "response_url": "http://127.0.0.1:9/response", "trigger_id":
                          uuid.uuid4().hex})
    ts = str(int(time.time()))
    signature = SignatureVerifier(SECRET).generate_signature(timestamp=ts, body=body)
    return body.encode(), {"Content-Type": "application/x-www-form-urlencoded",
                           "X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}


async def load(url: str, count: int, concurrency: int) -> tuple[float, list[float], int]:
    """Send `count` commands with `concurrency` in flight: (req/s, latencies, failures)."""
    import aiohttp

    latencies: list[float] = []
    failures = 0
    counter = iter(range(count))

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for i in counter:
            body, headers = signed(f"complaint {TEXTS[i % len(TEXTS)]} #{i}", USERS[i % 6])
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                text = await response.text()
                if response.status != 200 or ("VOC-" not in text and "ok" not in text):
                    failures += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return count / elapsed, latencies, failures


# -- orchestration ------------------------------------------------------------------------------
def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    return env | {"PYTHONPATH": str(ROOT),
                  "VOC_DEPARTMENTS": str(ROOT / "departments.example.toml")} | extra


def spec(kind: str, database_url: str, slack_api: str
         ) -> tuple[str, list[str], dict[str, str], int]:
    port = free_port()
    if kind == "voc":
        return kind, ["-m", "bot", "serve", "--port", str(port)], environment(
            DATABASE_URL=database_url, SLACK_BOT_TOKEN=TOKEN, SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack_api), port
    return kind, [__file__, "--baseline", kind, "--port", str(port), "--database",
                  database_url, "--slack-api", slack_api], environment(
        DATABASE_URL=database_url), port


def bench(label: str, database_url: Callable[[str], str], count: int, rounds: int,
          levels: list[int], slack_api: str) -> list[str]:
    """Every server of one database at once; `database_url(kind)` is each one's database."""
    from storage.db import Database

    db = Database.connect(database_url("voc"))
    db.upgrade()
    db.dispose()
    lines = [f"{label} ({rounds} rounds of {count} requests per server and level):"]
    print(lines[0], flush=True)

    def report(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    with running([spec(kind, database_url(kind), slack_api) for kind in KINDS]) as servers:
        for server in servers:  # warm up: imports, users.info, pools
            _, _, failed = asyncio.run(load(server.url("/slack/events"), 60, 4))
            if failed:
                report(f"  {server.name}: {failed} of 60 warm-up requests failed")
        report(f"  all servers {wait_quiet(servers)[1]}")

        for index, level in enumerate(levels):
            def measure(server: Server, level: int = level) -> tuple[float, list[float], int]:
                return asyncio.run(load(server.url("/slack/events"), count, level))

            results = measure_level(servers, rounds, index * rounds, measure, report)
            for kind in KINDS:
                report(results[kind].line(f"{kind} c={level}", "req"))
            report(f"  ratios c={level}: " + ratios(results, "voc", KINDS[1:]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="requests per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--postgres", default=os.environ.get(
        "VOC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--baseline", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--slack-api", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.baseline:
        import uvicorn

        uvicorn.run(baseline_app(args.baseline, args.database, args.slack_api), host="127.0.0.1",
                    port=args.port, log_level="warning", access_log=False)
        return

    port = free_port()
    fake = ("fake Slack", ["-m", "tests.support.fake_slack", str(port), *USERS],
            environment(), port)
    slack_api = f"http://127.0.0.1:{port}/api/"
    report: list[str] = []
    with running([fake]), tempfile.TemporaryDirectory() as tmp:
        report += bench("SQLite", lambda kind: f"sqlite:///{tmp}/{kind.replace('@', '_')}.db",
                        args.count, args.rounds, args.concurrency, slack_api)
        if not args.no_postgres:
            with postgres_scratch(args.postgres) as url:
                if url:
                    report += bench("PostgreSQL", lambda _kind: url, args.count, args.rounds,
                                    args.concurrency, slack_api)
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
