"""Core capture throughput against the floor of "store one row per request", same database.

    python bench/core_capture.py [--count 2000] [--threads 1 8] [--postgres URL]

For each engine (SQLite file, and PostgreSQL if reachable) and each thread count it runs:
  baseline  one SQLModel insert + commit per request (the least any capture must do)
  capture   VocService.capture: person, routing, signal, 2 events, cards queued in the outbox
and prints requests/s, p50/p99 latency and the ratio capture/baseline measured in the same
run (the machine is shared and noisy: compare ratios, not absolute numbers).
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from scratch import on_each_database  # bench/scratch.py, beside this script
from sqlalchemy import text
from sqlmodel import Field, Session, SQLModel

from bot.core.service import Draft, VocService
from bot.departments import load_company
from bot.sync import sync_company
from storage.db import Database

TEXTS = ("Курьер опоздал на три часа", "The website checkout crashes on payment",
         "Support answered quickly and politely", "Let customers pick a delivery window")


class BenchRow(SQLModel, table=True):
    """The baseline's one row per request."""

    __tablename__ = "bench_row"
    id: int | None = Field(default=None, primary_key=True)
    text: str
    created_at: datetime


def timed(calls: int, threads: int, work) -> tuple[float, list[float]]:
    latencies: list[float] = []

    def one(i: int) -> None:
        started = time.perf_counter()
        work(i)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(calls)))
    return calls / (time.perf_counter() - started), latencies


def report(name: str, rate: float, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return f"{name:9} {rate:8.0f} req/s  p50 {q[49] * 1000:6.1f} ms  p99 {q[98] * 1000:6.1f} ms"


def bench(url: str, label: str, count: int, threads: list[int]) -> None:
    db = Database.connect(url)
    db.upgrade()
    BenchRow.metadata.create_all(db.engine, tables=[BenchRow.__table__])  # type: ignore[list-item]
    company = load_company(Path(__file__).resolve().parent.parent / "departments.example.toml")
    sync_company(db, company, now=datetime.now(UTC))
    service = VocService(db, company)
    reporters = [d.members[0] for d in company.departments if d.members]

    def baseline(i: int) -> None:
        with db.write() as session:
            session.add(BenchRow(text=TEXTS[i % 4], created_at=datetime.now(UTC)))

    def capture(i: int) -> None:
        service.capture(reporters[i % len(reporters)], Draft("complaint", TEXTS[i % 4]))

    for n in threads:
        base_rate, base_lat = timed(count, n, baseline)
        cap_rate, cap_lat = timed(count, n, capture)
        print(f"{label}, {n} thread(s), {count} requests")
        print("  " + report("baseline", base_rate, base_lat))
        print("  " + report("capture", cap_rate, cap_lat))
        print(f"  capture/baseline throughput ratio: {cap_rate / base_rate:.2f}")
    with Session(db.engine) as session:
        session.execute(text("DROP TABLE bench_row"))
        session.commit()
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--postgres", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    args = parser.parse_args()
    on_each_database(lambda url, label: bench(url, label, args.count, args.threads),
                     postgres=args.postgres)


if __name__ == "__main__":
    main()
