"""/healthz says a database that answers but cannot write is unhealthy, within its 3 s bound,
and its probe leaves nothing behind; /readyz adds the schema. The real ASGI app on loopback."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections import namedtuple
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from bot.config import Settings
from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.runtime import Runtime
from bot.server import create_app
from storage.db import Database
from tests.conftest import postgres_url
from tests.support.fake_slack import ServedApp


@contextmanager
def serving(db: Database, company: Company) -> Iterator[str]:
    """`voc serve`'s app without chat platforms on `db`; its base URL."""
    runtime = Runtime.build(Settings(_env_file=None), VocService(db, company), http_mode=True)
    runtime.components = []  # no scheduled jobs: only the probes touch the database
    with ServedApp(create_app(runtime)) as served:
        yield served.url


def health(url: str, path: str = "/healthz") -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = httpx.get(url + path, timeout=10)
    return response.status_code, response.json(), time.monotonic() - started


def sqlite_copy(tmp_path: Path, template: Path) -> Path:
    path = tmp_path / "voc.db"
    shutil.copy(template, path)
    return path


def leftovers(db: Database) -> tuple[list[str], int]:
    """Tables named like the probe's, and rows in alembic_version."""
    with db.engine.connect() as connection:
        if db.dialect == "sqlite":
            names = connection.execute(text("SELECT name FROM sqlite_master")).scalars()
        else:
            names = connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")).scalars()
        versions = connection.execute(text("SELECT count(*) FROM alembic_version")).scalar()
    return [n for n in names if "probe" in n], int(versions or 0)


def test_a_healthy_database_passes_and_the_probe_leaves_nothing(db: Database,
                                                                company: Company) -> None:
    with serving(db, company) as url:
        for _ in range(3):
            status, body, _took = health(url)
            assert (status, body["database"]) == (200, "ok"), body
        status, body, _took = health(url, "/readyz")
        assert status == 200 and body == {"status": "ok", "database": "ok",
                                          "dispatcher": "ok", "schema": "ok"}
    assert leftovers(db) == ([], 1)


def test_sqlite_that_may_not_grow_is_unhealthy(tmp_path: Path, sqlite_template: Path,
                                               company: Company) -> None:
    """`PRAGMA max_page_count` at the current size: what a full disk is to SQLite's writes."""
    path = sqlite_copy(tmp_path, sqlite_template)
    with closing(sqlite3.connect(path, isolation_level=None)) as plain:
        plain.execute("VACUUM")  # no free pages to reuse (a migration that rebuilt a table
    db = Database.connect(f"sqlite:///{path}")  # leaves some): every write must grow it

    @event.listens_for(db.engine, "connect")
    def full(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    with serving(db, company) as url:
        status, body, took = health(url)
    assert status == 503 and body["status"] == "unhealthy"
    assert body["database"] == "cannot write: database or disk is full"
    assert took < 3.5
    db.dispose()


def test_sqlite_on_a_full_file_system_is_unhealthy(tmp_path: Path, sqlite_template: Path,
                                                   company: Company,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database.connect(f"sqlite:///{sqlite_copy(tmp_path, sqlite_template)}")
    real = os.statvfs
    Stats = namedtuple("Stats", "f_bavail f_frsize")

    def nearly_full(path: Any) -> Any:
        return Stats(5, 4096) if Path(path) == tmp_path.resolve() else real(path)

    monkeypatch.setattr(os, "statvfs", nearly_full)
    with serving(db, company) as url:
        status, body, _took = health(url)
    assert status == 503 and body["database"] == "cannot write: disk full (20 KiB free)"
    db.dispose()


def test_a_held_write_lock_answers_within_the_bound(tmp_path: Path, sqlite_template: Path,
                                                    company: Company) -> None:
    path = sqlite_copy(tmp_path, sqlite_template)
    db = Database.connect(f"sqlite:///{path}")
    with serving(db, company) as url:
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # a writer that never finishes
        try:
            first = health(url)
            second = health(url)  # the first probe still waits: no second one starts
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        for status, body, took in (first, second):
            assert status == 503 and took < 3.5
            assert body["database"] == "unreachable: no answer within 3 s"
        deadline = time.monotonic() + 10
        while health(url)[0] != 200:
            assert time.monotonic() < deadline, "never healthy again"
    db.dispose()


def test_a_read_only_postgresql_is_unhealthy(postgres_schema: str, company: Company) -> None:
    """A standby, or a server set read-only: reads work, every write is refused."""
    url = postgres_url(postgres_schema) + "%20-cdefault_transaction_read_only%3Don"
    db = Database.connect(url)
    with serving(db, company) as base:
        status, body, took = health(base)
    db.dispose()
    assert status == 503 and took < 3.5
    assert body["database"] == ("cannot write: cannot execute UPDATE in a read-only "
                                "transaction")


def test_readyz_wants_the_schema_the_code_needs(tmp_path: Path, company: Company) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'empty.db'}")  # never migrated
    with serving(db, company) as url:
        status, body, _took = health(url, "/readyz")
    db.dispose()
    assert status == 503 and body["schema"] == "not current: SchemaOutOfDate"
