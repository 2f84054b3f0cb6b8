"""Replicas starting together, and concurrent `voc departments sync` runs, all
succeed on PostgreSQL and write each department, person and head once."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlmodel import func, select

from bot.core.shared.company import Company
from bot.sync import sync_company
from storage.db import Database
from storage.models import Department, DepartmentHead, DepartmentSupplier, Identity, Person
from tests.conftest import EXAMPLE_COMPANY, ROOT, FakeClock, postgres_url

RUNS = 3
DEADLINE = 60.0  # seconds any one step may take before the test gives up


@pytest.fixture
def postgres(db: Database, postgres_schema: str) -> Iterator[str]:
    """The schema of the (migrated, empty) PostgreSQL test database."""
    if db.dialect != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE; the race is PostgreSQL's")
    yield postgres_schema


def counts(db: Database) -> dict[str, int]:
    with db.read() as session:
        return {model.__name__: session.exec(select(func.count()).select_from(model)).one()
                for model in (Department, DepartmentSupplier, DepartmentHead, Person, Identity)}


def waiting_backends(db: Database, expected: int) -> None:
    """Wait until `expected` other sessions are blocked on a lock (or fail after DEADLINE)."""
    deadline = time.monotonic() + DEADLINE
    while True:
        with db.engine.connect() as connection:
            waiting = connection.execute(text(
                "SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted "
                "AND pid <> pg_backend_pid()")).scalar_one()
        if waiting >= expected:
            return
        assert time.monotonic() < deadline, f"only {waiting} of {expected} runs reached the lock"
        time.sleep(0.05)


@pytest.mark.slow
def test_three_departments_sync_processes_at_once_all_succeed(
        db: Database, postgres: str, company: Company, clock: FakeClock) -> None:
    env = {**os.environ, "DATABASE_URL": postgres_url(postgres),
           "VOC_DEPARTMENTS": str(EXAMPLE_COMPANY), "SLACK_BOT_TOKEN": "",
           "TELEGRAM_BOT_TOKEN": ""}
    gate = db.engine.connect()
    gate_tx = gate.begin()
    # Hold every reader of `department` back until all three runs are waiting, then let them
    # go at once: the widest possible race, every time.
    gate.execute(text(f'LOCK TABLE "{postgres}".department IN ACCESS EXCLUSIVE MODE'))
    processes = [subprocess.Popen([sys.executable, "-m", "bot", "departments", "sync"],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(RUNS)]
    try:
        waiting_backends(db, RUNS)
    finally:
        gate_tx.rollback()
        gate.close()
    outputs = [p.communicate(timeout=DEADLINE) for p in processes]
    assert [p.returncode for p in processes] == [0] * RUNS, outputs
    summaries = [out.strip() for out, _ in outputs]
    unchanged = "departments: up to date, nothing changed"
    assert summaries.count(unchanged) == RUNS - 1, summaries  # the first one wrote it all
    assert any(s.startswith("departments: added: cco, sales") for s in summaries), summaries
    expected = dict(counts(db))
    assert expected["Department"] == len(company.departments)
    assert not sync_company(db, company, now=clock()).changed  # what they wrote is complete
    assert counts(db) == expected


def test_replicas_starting_together_sync_once(db: Database, postgres: str, company: Company,
                                              clock: FakeClock) -> None:
    """The start-up sync of `voc serve` (the same function), from threads released together."""
    barrier = threading.Barrier(RUNS + 1, timeout=DEADLINE)
    errors: list[BaseException] = []
    reports = []

    def replica() -> None:
        database = Database.connect(postgres_url(postgres))
        try:
            barrier.wait()
            reports.append(sync_company(database, company, now=clock()))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            database.dispose()

    gate = db.engine.connect()
    gate_tx = gate.begin()
    gate.execute(text(f'LOCK TABLE "{postgres}".department IN ACCESS EXCLUSIVE MODE'))
    threads = [threading.Thread(target=replica) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    try:
        barrier.wait()
        waiting_backends(db, RUNS)
    finally:
        gate_tx.rollback()
        gate.close()
    for thread in threads:
        thread.join(DEADLINE)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    assert sorted(r.changed for r in reports) == [False] * (RUNS - 1) + [True]
    assert counts(db)["Department"] == len(company.departments)
