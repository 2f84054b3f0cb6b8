"""`/complaint ...` through the Telegram webhook, against a bare python-telegram-bot webhook app.

    python bench/telegram_capture.py [--count 600] [--concurrency 1 8 32] [--postgres URL]

Three processes on 127.0.0.1: the fake Bot API server (tests/support/fake_telegram.py), the
server under test, and this load generator (httpx, N requests in flight). For each engine
(SQLite file; PostgreSQL if reachable) and concurrency it runs:
  bare  Starlette + python-telegram-bot (`process_update`), a CommandHandler that inserts one
        row through SQLModel (in a worker thread) and replies with one sendMessage
  voc   `voc serve`: secret check, identify + capture (routing, events, outbox) in worker
        threads, the localized HTML reply with its button; the dispatcher and scheduler run
        in the same process, delivering the cards
Every update is a distinct private `/complaint` from one of 50 users. Prints updates/s, p50/p99
and voc/bare, measured in the same run (compare ratios: the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from scratch import postgres_scratch  # bench/scratch.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOKEN = "123456:TEST-fake-token"
SECRET = "bench-webhook-secret"
TEXTS = ("Курьер опоздал на три часа", "The website checkout crashes on payment",
         "Support answered quickly and politely", "Менеджер обещал скидку и отказал")


# -- the bare app (run as a subprocess: `--bare PORT DATABASE_URL API_URL`) -------------------
def serve_bare(port: int, url: str, api_url: str) -> None:
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
        __tablename__ = "bench_bare_row"
        id: int | None = Field(default=None, primary_key=True)
        user_id: int
        text: str
        created_at: datetime

    db = Database.connect(url)
    BareRow.metadata.create_all(db.engine, tables=[BareRow.__table__])  # type: ignore[attr-defined]
    application = ApplicationBuilder().token(TOKEN).base_url(api_url).updater(None) \
        .job_queue(None).build()

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
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_listening(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited with {process.returncode}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def update(n: int) -> dict[str, Any]:
    """A private /complaint, shaped like Telegram's (one of 50 users)."""
    user = {"id": 500_000 + n % 50, "is_bot": False, "first_name": f"User{n % 50}",
            "language_code": "ru" if n % 2 else "en"}
    text = f"/complaint {TEXTS[n % len(TEXTS)]} #{n}"
    return {"update_id": 10_000_000 + n, "message": {
        "message_id": n + 1, "from": user, "date": int(time.time()),
        "chat": {"id": user["id"], "first_name": user["first_name"], "type": "private"},
        "text": text, "entities": [{"type": "bot_command", "offset": 0, "length": 10}]}}


async def load(port: int, first: int, count: int, concurrency: int
               ) -> tuple[float, list[float]]:
    numbers = iter(range(first, first + count))
    latencies: list[float] = []
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=60) as client:
        async def worker() -> None:
            for n in numbers:
                started = time.perf_counter()
                response = await client.post("/telegram/webhook", json=update(n),
                                             headers=headers)
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return count / (time.perf_counter() - started), latencies


def summary(name: str, rate: float, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:5} {rate:8.0f} updates/s  p50 {q[49] * 1000:7.1f} ms  p99 {q[98] * 1000:7.1f} ms"


def start(args: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    # A file, not a pipe: a pipe nobody reads blocks the server once it is full.
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with the process, in stop)
    process = subprocess.Popen([sys.executable, *args], env=env, cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT)
    wait_until_listening(port, process)
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def bench(url: str, label: str, count: int, levels: list[int], api_url: str) -> None:
    from storage.db import Database

    db = Database.connect(url)
    db.upgrade()
    db.dispose()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TELEGRAM_"))}
    env |= {"PYTHONPATH": str(ROOT), "DATABASE_URL": url,
            "VOC_DEPARTMENTS": str(ROOT / "departments.example.toml"),
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_API_URL": api_url,
            "TELEGRAM_WEBHOOK_SECRET": SECRET}
    bare_port, voc_port = free_port(), free_port()
    bare = start([__file__, "--bare", str(bare_port), url, api_url], env, bare_port)
    ours = start(["-m", "bot", "serve", "--port", str(voc_port)], env, voc_port)
    try:
        first = 0
        for port in (bare_port, voc_port):  # warm up connections, caches, people
            asyncio.run(load(port, first, 100, 8))
            first += 100
        for concurrency in levels:
            bare_rate, bare_lat = asyncio.run(load(bare_port, first, count, concurrency))
            first += count
            voc_rate, voc_lat = asyncio.run(load(voc_port, first, count, concurrency))
            first += count
            print(f"{label}, concurrency {concurrency}, {count} updates")
            print("  " + summary("bare", bare_rate, bare_lat))
            print("  " + summary("voc", voc_rate, voc_lat))
            print(f"  voc/bare throughput ratio: {voc_rate / bare_rate:.2f}", flush=True)
    finally:
        stop(ours)
        stop(bare)


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--bare":
        serve_bare(int(sys.argv[2]), sys.argv[3], sys.argv[4])
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--count", type=int, default=600)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--postgres", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    fake_port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    fake = subprocess.Popen([sys.executable, "-m", "tests.support.fake_telegram",
                             str(fake_port)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    wait_until_listening(fake_port, fake)
    api_url = f"http://127.0.0.1:{fake_port}/bot"
    try:
        with tempfile.TemporaryDirectory() as folder:
            bench(f"sqlite:///{folder}/bench.db", "SQLite", args.count, args.concurrency,
                  api_url)
        with postgres_scratch(args.postgres) as url:
            if url:
                bench(url, "PostgreSQL", args.count, args.concurrency, api_url)
    finally:
        stop(fake)


if __name__ == "__main__":
    main()
