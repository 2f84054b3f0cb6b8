"""The weekly digest over 1,000,000 signals (two years) next to hand-written SQL doing the same.

    python bench/digest.py [--signals 1000000] [--repeat 5] [--postgres URL] [--only sqlite]

For each engine (a SQLite file, and PostgreSQL if reachable) it bulk-loads synthetic signals
and scores (Core executemany on SQLite, COPY on PostgreSQL), then times, best of `--repeat`:
  digest       bot.core.reporting.digest.digest_figures: this week plus the 12-week
               trend, loop health, internal NPS, top verbatims (everything the leadership
               digest shows)
  hand SQL     the same figures as hand-written SQL strings on the raw connection
and prints both and the ratio digest / hand SQL (targets: < 0.5 s on PostgreSQL, < 1 s on
SQLite, ratio <= 1.5).
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scratch import on_each_database  # bench/scratch.py, beside this script
from sqlalchemy import insert, select, text

from bot.core.reporting.digest import digest_figures
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.departments import load_company
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department, Person, Score, Signal

COMPANY = Path(__file__).resolve().parent.parent / "departments.example.toml"
SIGNAL_COLUMNS = ("kind", "status", "text", "anonymous", "reporter_id", "reporter_identity",
                  "department_id", "routing", "created_at", "routed_at", "ack_due_at",
                  "acknowledged_at", "resolved_at", "updated_at", "score")
SCORE_COLUMNS = ("kind", "source", "value", "at", "person_id", "rated_department_id")


def rows(count: int, end: datetime, departments: list[int], reporter: int,
         rng: random.Random) -> Any:
    span = timedelta(weeks=104).total_seconds()
    start = end - timedelta(weeks=104)
    for i in range(count):
        created = start + timedelta(seconds=span * i / count + rng.random())
        due = created + timedelta(hours=rng.choice((8, 16, 24, 48)))
        roll = rng.random()
        status = "routed" if roll < 0.03 else "acknowledged" if roll < 0.1 else "resolved"
        acked = None if status == "routed" else created + timedelta(hours=rng.uniform(0.1, 60))
        resolved = (acked + timedelta(hours=rng.uniform(1, 90))
                    if status == "resolved" and acked else None)
        yield ("complaint" if roll < 0.55 else "praise" if roll < 0.85 else "idea", status,
               f"synthetic signal {i}", rng.random() < 0.1, reporter, "slack:U0SALES1",
               rng.choice(departments), "{}", created, created, due, acked, resolved, created,
               rng.choice((None, None, *range(11))))


def score_rows(count: int, end: datetime, departments: list[int], people: list[int],
               rng: random.Random) -> Any:
    span = timedelta(weeks=104).total_seconds()
    for i in range(count):
        internal = i % 5 == 0
        yield ("internal" if internal else "customer", "pulse" if internal else "import",
               rng.randint(0, 10), end - timedelta(seconds=rng.uniform(0, span)),
               rng.choice(people) if internal else None,
               rng.choice(departments) if internal else None)


def load(db: Database, signals: int, end: datetime) -> None:
    with db.read() as session:
        departments = [d for d in session.execute(select(Department.id)).scalars()]
        people = [p for p in session.execute(select(Person.id)).scalars()]
    rng = random.Random(1)
    data = rows(signals, end, departments, people[0], rng)
    scores = score_rows(signals // 10, end, departments, people, rng)
    started = time.perf_counter()
    if db.dialect == "postgresql":
        raw = db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            with cursor.copy(f"COPY signal ({', '.join(SIGNAL_COLUMNS)}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
            with cursor.copy(f"COPY score ({', '.join(SCORE_COLUMNS)}) FROM STDIN") as copy:
                for row in scores:
                    copy.write_row(row)
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
        finally:
            raw.close()
    else:
        chunk: list[dict[str, Any]] = []
        with db.engine.begin() as connection:
            for table, columns, source in ((Signal.__table__, SIGNAL_COLUMNS, data),  # type: ignore[attr-defined]
                                           (Score.__table__, SCORE_COLUMNS, scores)):  # type: ignore[attr-defined]
                for row in source:
                    values = dict(zip(columns, row, strict=True))
                    if "routing" in values:
                        values["routing"] = {}
                    chunk.append(values)
                    if len(chunk) == 50_000:
                        connection.execute(insert(table), chunk)
                        chunk = []
                if chunk:
                    connection.execute(insert(table), chunk)
                    chunk = []
            connection.exec_driver_sql("ANALYZE")
    print(f"  loaded {signals:,} signals and {signals // 10:,} scores in "
          f"{time.perf_counter() - started:.1f} s")


def hand_sql(db: Database, week: Week, timezone: str, as_of: datetime) -> list[Any]:
    """The digest's figures as plain SQL strings (what a person would write by hand)."""
    weeks = [week.shift(i - 11) for i in range(12)]
    bounds = [w.bounds(timezone)[0] for w in weeks] + [week.bounds(timezone)[1]]
    sqlite = db.dialect == "sqlite"

    def p(moment: datetime) -> Any:
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ") if sqlite else moment

    params = {f"b{i}": p(b) for i, b in enumerate(bounds)}
    params["asof"], params["i0"] = p(as_of), p(bounds[8])
    bucket = "CASE " + " ".join(f"WHEN {{c}} < :b{i} THEN {i - 1}" for i in range(1, 12)) + \
        " ELSE 11 END"
    hours = ("(julianday(acknowledged_at) - julianday(routed_at)) * 24" if sqlite else
             "extract(epoch from acknowledged_at - routed_at) / 3600.0")
    week_range = "created_at >= :b11 AND created_at < :b12"
    queries = [
        f"SELECT w, kind, count(*) FROM (SELECT {bucket.format(c='created_at')} AS w, kind "
        "FROM signal WHERE created_at >= :b0 AND created_at < :b12) x GROUP BY w, kind",
        f"SELECT w, sum(CASE WHEN value >= 9 THEN 1 ELSE 0 END), sum(CASE WHEN value BETWEEN 7 "
        "AND 8 THEN 1 ELSE 0 END), sum(CASE WHEN value <= 6 THEN 1 ELSE 0 END) FROM (SELECT "
        f"{bucket.format(c='at')} AS w, value FROM score WHERE kind = 'customer' AND at >= :b0 "
        "AND at < :b12) x GROUP BY w",
        "SELECT department_id, count(*), sum(CASE WHEN acknowledged_at IS NOT NULL OR "
        "ack_due_at < :asof THEN 1 ELSE 0 END), sum(CASE WHEN acknowledged_at IS NOT NULL AND "
        f"acknowledged_at <= ack_due_at THEN 1 ELSE 0 END) FROM signal WHERE {week_range} "
        "GROUP BY department_id",
        f"SELECT department_id, avg(h) FROM (SELECT department_id, h, row_number() OVER "
        "(PARTITION BY department_id ORDER BY h) AS rn, count(*) OVER (PARTITION BY "
        f"department_id) AS c FROM (SELECT department_id, {hours} AS h FROM signal WHERE "
        f"{week_range} AND acknowledged_at IS NOT NULL) a) b WHERE rn = (c + 1) / 2 OR "
        "rn = (c + 2) / 2 GROUP BY department_id",
        "SELECT department_id, count(*) FROM signal WHERE resolved_at >= :b11 AND "
        "resolved_at < :b12 GROUP BY department_id",
        "SELECT department_id, count(*), sum(CASE WHEN status = 'routed' AND ack_due_at < :asof "
        "THEN 1 ELSE 0 END) FROM signal WHERE status IN ('routed', 'acknowledged') "
        "GROUP BY department_id",
        "SELECT rated_department_id, sum(CASE WHEN value >= 9 THEN 1 ELSE 0 END), sum(CASE WHEN "
        "value BETWEEN 7 AND 8 THEN 1 ELSE 0 END), sum(CASE WHEN value <= 6 THEN 1 ELSE 0 END), "
        "count(DISTINCT person_id) FROM score WHERE kind = 'internal' AND at >= :i0 AND "
        "at < :b12 AND rated_department_id IS NOT NULL GROUP BY rated_department_id",
    ]
    for kind, order in (("praise", "DESC"), ("complaint", "ASC")):
        queries.append(
            "SELECT s.id, s.kind, s.text, s.department_id, s.anonymous, p.display_name, "
            "s.customer, s.score, s.created_at FROM signal s JOIN person p ON p.id = "
            f"s.reporter_id WHERE s.created_at >= :b11 AND s.created_at < :b12 AND s.kind = "
            f"'{kind}' ORDER BY CASE WHEN s.score IS NULL THEN 1 ELSE 0 END, s.score {order}, "
            "s.created_at DESC, s.id DESC LIMIT 3")
    queries.append("SELECT id, slug, name, ack_sla_hours FROM department")
    with db.engine.connect() as connection:
        return [connection.execute(text(q), params).all() for q in queries]


def best(repeat: int, work: Any) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def bench(url: str, label: str, signals: int, repeat: int) -> None:
    db = Database.connect(url)
    db.upgrade()
    company = load_company(COMPANY)
    end = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    sync_company(db, company, now=end)
    print(label)
    load(db, signals, end)
    service = VocService(db, company, clock=lambda: end)
    week = Week.last_complete(end, company.timezone)
    as_of = min(end, week.bounds(company.timezone)[1])
    digest_figures(service, week)  # warm caches and compiled statements, like a running bot
    hand_sql(db, week, company.timezone, as_of)
    ours = best(repeat, lambda: digest_figures(service, week))
    theirs = best(repeat, lambda: hand_sql(db, week, company.timezone, as_of))
    print(f"  digest (this week + 12-week trend): {ours * 1000:7.1f} ms")
    print(f"  hand-written SQL, same figures:     {theirs * 1000:7.1f} ms")
    print(f"  ratio digest / hand SQL:            {ours / theirs:7.2f}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--signals", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default="postgresql+psycopg://root@127.0.0.1:5432/test")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    on_each_database(lambda url, label: bench(url, label, args.signals, args.repeat),
                     postgres=args.postgres, only=args.only)


if __name__ == "__main__":
    main()
