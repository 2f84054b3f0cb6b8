"""`/complaint ...` through the Telegram webhook, against bare python-telegram-bot webhook apps.

    python bench/telegram_capture.py [--count 600] [--rounds 3] [--concurrency 1 8 32]
                                     [--postgres URL] [--no-postgres]

Processes on 127.0.0.1: the fake Bot API server (tests/support/fake_telegram.py), the servers
under test, and this load generator (aiohttp, N requests in flight; every answer must be a
200). For each engine (SQLite files, one per server; PostgreSQL in a throwaway schema, if
reachable) it starts at once:
  bare          Starlette + python-telegram-bot (`process_update`), a CommandHandler that
                inserts one row through SQLModel (in a worker thread) and replies with one
                sendMessage, over PTB's default transport (HTTPXRequest)
  bare-aiohttp  the same app with `.request(AiohttpRequest())`
                (handlers/telegram/request.py, the transport voc uses)
  voc           `voc serve`: secret check, identify + capture (routing, events, outbox) in
                worker threads, the localized HTML reply with its button; the dispatcher and
                scheduler run in the same process, delivering the cards
voc/bare-aiohttp is the like-for-like comparison (same transport) and the one the targets
apply to: throughput >= 0.5x, and voc's p99 < 250 ms at concurrency 32. voc/bare is shown
beside it. Every update is a distinct private `/complaint` from one of 50 users.

Method (bench/servers.py): after 100 warm-up updates to each server, it waits until all are
quiet (< 5% of a core over 0.5 s, read from /proc; voc's scheduler catches up at start-up).
Then for each concurrency level it runs `rounds` rounds; each round sends `count` updates to
every server in turn, in an order rotated from round to round, so machine noise and drift
spread over all servers, and before each turn it waits until all are quiet again. Each line
shows the median updates/s of the rounds (each round's in parentheses), p50/p99 over all
rounds' latencies, and the server's CPU time per update in its turns (+ outside them: work it
deferred, such as voc's dispatcher); ratios are of the medians. The machine is shared and
noisy: compare ratios measured in the same run rather than absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scratch import postgres_scratch  # bench/scratch.py, beside this script
from servers import Server, free_port, measure_level, ratios, running, wait_quiet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "123456:TEST-fake-token"
SECRET = "bench-webhook-secret"
TEXTS = ("Курьер опоздал на три часа", "The website checkout crashes on payment",
         "Support answered quickly and politely", "Менеджер обещал скидку и отказал")
KINDS = ("voc", "bare", "bare-aiohttp")


# -- the bare apps (run as a subprocess: `--bare KIND PORT DATABASE_URL API_URL`) -------------
def serve_bare(kind: str, port: int, url: str, api_url: str) -> None:
    """Starlette + python-telegram-bot + one SQLModel insert per /complaint, and a reply."""
    import uvicorn
    from sqlmodel import Field, SQLModel
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Update
    from telegram.ext import ApplicationBuilder, CommandHandler, ContextTypes

    from storage.db import Database

    class BareRow(SQLModel, table=True):
        # A table per app: they start at once and may share a database (PostgreSQL).
        __tablename__ = "bench_" + kind.replace("-", "_") + "_row"
        id: int | None = Field(default=None, primary_key=True)
        user_id: int
        text: str
        created_at: datetime

    db = Database.connect(url)
    BareRow.metadata.create_all(db.engine, tables=[BareRow.__table__])  # type: ignore[attr-defined]
    builder = ApplicationBuilder().token(TOKEN).base_url(api_url).updater(None).job_queue(None)
    if kind == "bare-aiohttp":
        from handlers.telegram.request import AiohttpRequest

        builder = builder.request(AiohttpRequest())
    application = builder.build()

    def insert(user_id: int, text: str) -> None:
        with db.write() as session:
            session.add(BareRow(user_id=user_id, text=text, created_at=datetime.now(UTC)))

    async def complaint(update: Update, _context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message and update.effective_user
        await asyncio.to_thread(insert, update.effective_user.id,
                                update.effective_message.text or "")
        await update.effective_message.reply_text("Thank you!")

    application.add_handler(CommandHandler("complaint", complaint))

    async def webhook(request: Request) -> Response:
        if request.headers.get("X-Telegram-Bot-Api-Secret-Token") != SECRET:
            return Response(status_code=403)
        await application.process_update(Update.de_json(await request.json(), application.bot))
        return Response()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> Any:
        async with application:
            yield

    app = Starlette(routes=[Route("/telegram/webhook", webhook, methods=["POST"])],
                    lifespan=lifespan)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- the load --------------------------------------------------------------------------------
def update(n: int) -> dict[str, Any]:
    """A private /complaint, shaped like Telegram's (one of 50 users)."""
    user = {"id": 500_000 + n % 50, "is_bot": False, "first_name": f"User{n % 50}",
            "language_code": "ru" if n % 2 else "en"}
    text = f"/complaint {TEXTS[n % len(TEXTS)]} #{n}"
    return {"update_id": 10_000_000 + n, "message": {
        "message_id": n + 1, "from": user, "date": int(time.time()),
        "chat": {"id": user["id"], "first_name": user["first_name"], "type": "private"},
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": 10}]}}


async def load(url: str, first: int, count: int, concurrency: int
               ) -> tuple[float, list[float], int]:
    """Updates first.. first+count-1, `concurrency` in flight: (updates/s, latencies, failures);
    the first failure of a run is printed."""
    import aiohttp

    numbers = iter(range(first, first + count))
    latencies: list[float] = []
    failures = 0
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal failures
        for n in numbers:
            body = json.dumps(update(n))
            started = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                text = await response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != 200:
                if not failures:
                    print(f"  {url}: HTTP {response.status}: {text[:300]!r}", flush=True)
                failures += 1

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return count / elapsed, latencies, failures


# -- orchestration ---------------------------------------------------------------------------
def bench(label: str, url_of: dict[str, str], count: int, rounds: int, levels: list[int],
          api_url: str) -> list[str]:
    """Every server of one database at once; `url_of[kind]` is each one's database."""
    from storage.db import Database

    db = Database.connect(url_of["voc"])
    db.upgrade()
    db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env |= {"PYTHONPATH": str(ROOT), "VOC_DEPARTMENTS": str(ROOT / "departments.example.toml"),
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET}
    specs = []
    for kind in KINDS:
        port = free_port()
        args = (["-m", "bot", "serve", "--port", str(port)] if kind == "voc" else
                [__file__, "--bare", kind, str(port), url_of[kind], api_url])
        specs.append((kind, args, env | {"DATABASE_URL": url_of[kind]}, port))
    lines = [f"{label} ({rounds} rounds of {count} updates per server and level):"]
    print(lines[0], flush=True)

    def report(line: str) -> None:
        lines.append(line)
        print(line, flush=True)

    first = 0  # update ids stay distinct across servers, levels and rounds

    def run(server: Server, count: int, concurrency: int) -> tuple[float, list[float], int]:
        nonlocal first
        first += count
        return asyncio.run(load(server.url("/telegram/webhook"), first - count, count,
                                concurrency))

    with running(specs) as servers:
        for server in servers:  # warm up connections, caches, people
            _, _, failed = run(server, 100, 8)
            if failed:
                report(f"  {server.name}: {failed} of 100 warm-up updates failed")
        report(f"  all servers {wait_quiet(servers)[1]}")
        for index, level in enumerate(levels):
            results = measure_level(servers, rounds, index * rounds,
                                    lambda server, level=level: run(server, count, level),
                                    report)
            for kind in KINDS:
                report(results[kind].line(f"{kind} c={level}", "updates"))
            report(f"  ratios c={level}: "
                   + ratios(results, "voc", ["bare-aiohttp", "bare"])
                   + "  (voc/bare-aiohttp: same transport, the target's)")
    return lines


def main() -> None:
    if len(sys.argv) == 6 and sys.argv[1] == "--bare":
        serve_bare(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--count", type=int, default=600, help="updates per measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--postgres", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    fake_port = free_port()
    fake = ("fake Bot API", ["-m", "tests.support.fake_telegram", str(fake_port)],
            {**os.environ, "PYTHONPATH": str(ROOT)}, fake_port)
    api_url = f"http://127.0.0.1:{fake_port}/bot"
    report: list[str] = []
    with running([fake]):
        with tempfile.TemporaryDirectory() as folder:
            report += bench("SQLite", {kind: f"sqlite:///{folder}/{kind}.db" for kind in KINDS},
                            args.count, args.rounds, args.concurrency, api_url)
        if not args.no_postgres:
            with postgres_scratch(args.postgres) as url:
                if url:
                    report += bench("PostgreSQL", dict.fromkeys(KINDS, url), args.count,
                                    args.rounds, args.concurrency, api_url)
    print("\n" + "\n".join(report))


if __name__ == "__main__":
    main()
