"""Slack capture over HTTP: signed `/voc complaint ...` against `voc serve` and two baselines.

    python bench/slack_capture.py [--count 1000] [--concurrency 1 8 32] [--postgres URL]
                                  [--no-postgres]

For each database (a SQLite file, and PostgreSQL when reachable, in a throwaway schema) it
starts, each as its own process on a loopback port, with the same server stack (uvicorn,
1 worker, Starlette, Bolt's AsyncApp with process_before_response=True, signature checks on):
  voc       `voc serve`: the real app (users.info cached, capture, outbox, ephemeral reply;
            its dispatcher delivers the cards to a fake Slack Web API meanwhile)
  ack       a bare Bolt app whose `/voc` handler only calls ack()
  insert    the same, inserting and committing one SQLModel row per request in a worker
            thread (the floor for "store something per request" without blocking the loop)
  insert@loop  the same insert run on the event loop, as naive code does
and sends `count` signed slash commands at each concurrency, printing requests/s, p50/p99
latency and voc's ratio to each baseline. Targets: p99 < 250 ms at concurrency 32, and
throughput >= 0.5x the `insert` baseline. The load generator shares the machine: compare
ratios measured in the same run rather than absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scratch import postgres_scratch  # noqa: E402  (bench/scratch.py, beside this script)

from tests.support.fake_slack import SIGNING_SECRET as SECRET  # noqa: E402
from tests.support.fake_slack import TOKEN  # noqa: E402

TEXTS = ("The courier was three hours late", "Курьер опоздал на три часа",
         "The website checkout crashes on payment", "Support answered quickly and politely")
USERS = ("U0SALES1", "U0LOG1", "U0SUP1", "U0BENCH1", "U0BENCH2", "U0BENCH3")


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
        __tablename__ = "bench_row"
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
def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read().decode() if process.stdout else ""
            raise SystemExit(f"server exited: {output}")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit(f"{url} never answered")


def start(kind: str, database_url: str, port: int, slack_api: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env |= {"DATABASE_URL": database_url, "PYTHONPATH": str(ROOT),
            "VOC_DEPARTMENTS": str(ROOT / "departments.example.toml")}
    if kind == "voc":
        env |= {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": slack_api}
        args = [sys.executable, "-m", "bot", "serve", "--port", str(port)]
    else:
        args = [sys.executable, __file__, "--baseline", kind, "--port", str(port),
                "--database", database_url, "--slack-api", slack_api]
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def row(name: str, rate: float, latencies: list[float], failures: int) -> str:
    q = statistics.quantiles(latencies, n=100)
    bad = f"  {failures} failed" if failures else ""
    return (f"  {name:12} {rate:7.0f} req/s  p50 {q[49] * 1000:7.1f} ms  "
            f"p99 {q[98] * 1000:7.1f} ms{bad}")


def bench(label: str, database_url: str, count: int, levels: list[int], slack_api: str
          ) -> list[str]:
    from storage.db import Database

    db = Database.connect(database_url)
    db.upgrade()
    db.dispose()
    kinds = ["voc", "ack", "insert", "insert@loop"]
    results: dict[tuple[str, int], float] = {}
    lines = [f"{label}:"]
    for kind in kinds:
        port = free_port()
        server = start(kind, database_url, port, slack_api)
        try:
            wait_up(f"http://127.0.0.1:{port}/healthz", server)
            url = f"http://127.0.0.1:{port}/slack/events"
            asyncio.run(load(url, 60, 4))  # warm up: imports, users.info, pools
            for level in levels:
                rate, latencies, failures = asyncio.run(load(url, count, level))
                results[(kind, level)] = rate
                lines.append(row(f"{kind} c={level}", rate, latencies, failures))
                print(lines[-1], flush=True)
        finally:
            server.terminate()
            server.wait(30)
    for level in levels:
        voc = results[("voc", level)]
        lines.append(f"  ratios c={level}: voc/ack {voc / results[('ack', level)]:.2f}  "
                     f"voc/insert {voc / results[('insert', level)]:.2f}  "
                     f"voc/insert@loop {voc / results[('insert@loop', level)]:.2f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
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


    from bot.departments import load_company
    from tests.support.fake_slack import FakeSlack, workspace_people

    company = load_company(ROOT / "departments.example.toml")
    people = workspace_people(company) | {u: {"name": u} for u in USERS}
    channels = [d.slack_channel for d in company.departments if d.slack_channel]
    report: list[str] = []
    with FakeSlack([*channels, "C0LEADERS"], people) as slack, \
            tempfile.TemporaryDirectory() as tmp:
        report += bench("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", args.count,
                        args.concurrency, slack.api_url)
        if not args.no_postgres:
            with postgres_scratch(args.postgres) as url:
                if url:
                    report += bench("PostgreSQL", url, args.count, args.concurrency,
                                    slack.api_url)
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
