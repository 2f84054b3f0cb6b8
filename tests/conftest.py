"""Shared fixtures: every database test runs on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.departments import load_company
from bot.sync import sync_company
from storage.db import Database

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_COMPANY = ROOT / "departments.example.toml"
POSTGRES_URL = os.environ.get("VOC_TEST_POSTGRES_URL",
                              "postgresql+psycopg://root@127.0.0.1:5432/test")
# Tuesday 24 Nov 2026, 10:00 in Moscow (UTC+3, no DST): inside business hours.
TUESDAY_10_MSK = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
_postgres_missing: list[str] = []


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = TUESDAY_10_MSK) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def _postgres_reason() -> str | None:
    try:
        db = Database.connect(POSTGRES_URL)
        with db.engine.connect() as connection:
            connection.execute(text("select 1"))
        db.dispose()
    except Exception as exc:  # any failure to reach it means "absent" for the skip message
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file; each test gets a copy (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("template") / "voc.db"
    db = Database.connect(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@contextmanager
def throwaway_postgres_schema(prefix: str = "voc_test") -> Iterator[str]:
    """A new empty schema in the `test` database, dropped afterwards; skips without PostgreSQL."""
    if reason := _postgres_reason():
        _postgres_missing.append(reason)
        pytest.skip(reason)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = Database.connect(POSTGRES_URL)
    with admin.engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """One schema for the session, migrated from empty."""
    with throwaway_postgres_schema() as schema:
        db = postgres_database(schema)
        db.upgrade()
        db.dispose()
        yield schema


def postgres_url(schema: str) -> str:
    """The test database URL with `schema` first on the search path."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def postgres_database(schema: str) -> Database:
    """A Database whose connections use `schema`."""
    return Database.connect(postgres_url(schema))


def _truncate(db: Database) -> None:
    tables = ("account_event", "account_alias", "account", "routing_model", "admin_event",
              "job_claim", "outbox", "attachment", "file_blob", "score", "event", "signal",
              "identity", "department_head", "department_supplier", "person", "department")
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "voc.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    schema = request.getfixturevalue("postgres_schema")
    db = postgres_database(schema)
    _truncate(db)
    db.dispose()
    yield postgres_url(schema)


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    database = Database.connect(db_url)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def company() -> Company:
    """The example company shipped in departments.example.toml."""
    return load_company(EXAMPLE_COMPANY)


@pytest.fixture
def clock() -> FakeClock:
    """Tuesday 10:00 in Moscow, moved by the test."""
    return FakeClock()


@pytest.fixture
def service(db: Database, company: Company, clock: FakeClock) -> VocService:
    """The core service on a synced example company."""
    sync_company(db, company, now=clock())
    return VocService(db, company, clock=clock)


@pytest.fixture
def bot(service: VocService) -> Iterator[Any]:
    """The Telegram bot under test on `service`, against the fake Bot API (test_telegram_flows)."""
    from tests.adapters.test_telegram_flows import running_bot

    with running_bot(service) as running:
        yield running


@pytest.fixture
def served(db: Database, company: Company) -> Iterator[tuple[Any, Any]]:
    """`voc serve` with Slack and the Telegram webhook on each database: (the fake Slack
    workspace, the fake Bot API)."""
    from tests.adapters.test_telegram_flows import SECRET
    from tests.support import fake_telegram
    from tests.support.fake_slack import running_workspace

    with fake_telegram.FakeTelegram() as telegram, running_workspace(
            db, company, telegram_bot_token=fake_telegram.TOKEN, telegram_api_url=telegram.url,
            telegram_webhook_secret=SECRET) as workspace:
        yield workspace, telegram


@pytest.fixture
def chat(service: VocService, company: Company) -> Iterator[Any]:
    """Kate Brown (Sales) at the terminal chat, in process (tests/support/dialog.py)."""
    from tests.support.dialog import TerminalDialog

    dialog = TerminalDialog(service, company, "slack:U0SALES1")
    dialog.expect(r"Kate Brown> ")
    yield dialog
    dialog.say("/quit")
    dialog.close()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say loudly when the PostgreSQL half of the suite did not run (the skips come from
    pytest-xdist's workers as reports, so they are read from the reports)."""
    skipped = [report.longrepr for report in terminalreporter.stats.get("skipped", [])]
    reasons = [str(why[2] if isinstance(why, tuple) else why).removeprefix("Skipped: ")
               for why in skipped if "PostgreSQL not reachable" in str(why)]
    if _postgres_missing or reasons:
        reason = (_postgres_missing or reasons)[0]
        terminalreporter.section("PostgreSQL tests SKIPPED", sep="!", red=True, bold=True)
        terminalreporter.write_line(reason + ": start PostgreSQL or set "
                                    "VOC_TEST_POSTGRES_URL; only SQLite was exercised.")
