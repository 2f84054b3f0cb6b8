"""Shared fixtures: every database test runs on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from functools import cache, partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import SQLModel

import storage.models  # noqa: F401  (registers the tables for _tables())
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
_sequence_names: list[str] = []


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


@pytest.fixture
def migrated(tmp_path: Path, sqlite_template: Path) -> Path:
    """tmp_path holding voc.db as `voc db upgrade` leaves it, for a `voc` subprocess run there
    (a copy: each upgrade is a process of a second's CPU; test_migrations runs the real ones)."""
    shutil.copy(sqlite_template, tmp_path / "voc.db")
    return tmp_path


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
    """The test database URL with `schema` first on the search path. Commits don't wait for
    the server's disk (synchronous_commit off: what others see is unchanged, only a crash of
    the server itself could lose the last ones), which roughly halves each commit's time."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}%20-csynchronous_commit%3Doff"


def postgres_database(schema: str) -> Database:
    """A Database whose connections use `schema`."""
    return Database.connect(postgres_url(schema))


def _tables() -> list[str]:
    """Every table of the models, parents before children (foreign keys)."""
    return [table.name for table in SQLModel.metadata.sorted_tables]


def _sequences(connection: Any) -> list[str]:
    """The id counters of a migrated schema (the same names in every one: read once)."""
    if not _sequence_names:
        _sequence_names.extend(connection.execute(text(
            "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
            "ORDER BY sequencename")).scalars())
    return _sequence_names


def _empty(db: Database) -> None:
    """Every row gone and every id counting from 1 again, as after TRUNCATE ... RESTART
    IDENTITY: DELETE on a test's few rows takes milliseconds where TRUNCATE of every table
    took 0.3 s (it swaps and syncs each table's files), and this runs before every test. The
    statements go in one round trip (one by one they took ~40 ms a test). The counters go back
    with setval, not ALTER SEQUENCE, which changes the catalog and so makes every other
    worker's connections reload their caches (and cost the server 1.5 ms, against 0.5)."""
    with db.engine.begin() as connection:
        statements = [f'DELETE FROM "{table}"' for table in reversed(_tables())]
        statements += [f"SELECT setval('\"{sequence}\"', 1, false)"
                       for sequence in _sequences(connection)]
        connection.exec_driver_sql(";\n".join(statements))


@pytest.fixture(scope="session")
def postgres_session_db(postgres_schema: str) -> Iterator[Database]:
    """The session schema's database, its connection kept between tests for emptying it."""
    db = postgres_database(postgres_schema)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """A migrated, empty database URL on each engine."""
    if request.param == "sqlite":
        path = tmp_path / "voc.db"
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    _empty(request.getfixturevalue("postgres_session_db"))
    yield postgres_url(request.getfixturevalue("postgres_schema"))


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    """A migrated, empty database on each engine."""
    database = Database.connect(db_url)
    yield database
    database.dispose()


@cache
def example_company() -> Company:
    """The example company shipped in departments.example.toml, loaded once."""
    return load_company(EXAMPLE_COMPANY)


@pytest.fixture(scope="session")
def bundled_model(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The bundled language model, loaded once per worker (seconds) and remembering the
    vectors of texts it has embedded, the large batches once a run (tests/support/language.py);
    skips where not installed."""
    from bot.language.bundled import installed
    from tests.support.language import RememberingModel

    if not installed():
        pytest.skip("the bundled model is not installed")
    return RememberingModel(run_folder(tmp_path_factory))


def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary folder, shared by the xdist workers (each has its own below it)."""
    folder = tmp_path_factory.getbasetemp()
    return folder.parent if os.environ.get("PYTEST_XDIST_WORKER") else folder


@pytest.fixture(scope="session")
def company() -> Company:
    """The example company shipped in departments.example.toml."""
    return example_company()


@pytest.fixture
def clock() -> FakeClock:
    """Tuesday 10:00 in Moscow, moved by the test."""
    return FakeClock()


@pytest.fixture(scope="session")
def synced_sqlite(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file holding the example company synced at Tuesday 10:00."""
    path = tmp_path_factory.mktemp("synced") / "voc.db"
    shutil.copy(sqlite_template, path)
    db = Database.connect(f"sqlite:///{path}")
    sync_company(db, example_company(), now=TUESDAY_10_MSK)
    db.dispose()
    return path


@pytest.fixture(scope="session")
def synced_postgres_schema() -> Iterator[str]:
    """A migrated schema holding the example company synced at Tuesday 10:00."""
    with throwaway_postgres_schema("voc_synced") as schema:
        db = postgres_database(schema)
        db.upgrade()
        sync_company(db, example_company(), now=TUESDAY_10_MSK)
        db.dispose()
        yield schema


def _copy_synced_rows(request: pytest.FixtureRequest, db: Database) -> None:
    """The rows sync_company writes for the example company at Tuesday 10:00, copied from
    a database synced once per session (syncing takes ~130 round trips: 0.3 s per test on
    SQLite, 0.8 s on PostgreSQL), ids and counters included."""
    tables = [table for table in _tables() if table != "alembic_version"]
    if db.dialect == "sqlite":
        snapshot = request.getfixturevalue("synced_sqlite")
        with closing(sqlite3.connect(db.engine.url.database or "")) as connection:
            connection.execute("ATTACH DATABASE ? AS synced", (str(snapshot),))
            for table in tables:
                connection.execute(f'INSERT INTO main."{table}" SELECT * FROM synced."{table}"')
            connection.commit()
        return
    schema = request.getfixturevalue("synced_postgres_schema")
    with db.engine.begin() as connection:  # in one round trip, as _empty
        statements = [f'INSERT INTO "{table}" SELECT * FROM "{schema}"."{table}"'
                      for table in tables]
        statements += [f'SELECT setval(\'"{sequence}"\', last_value, is_called) '
                       f'FROM "{schema}"."{sequence}"' for sequence in _sequences(connection)]
        connection.exec_driver_sql(";\n".join(statements))


@pytest.fixture
def service(request: pytest.FixtureRequest, db: Database, company: Company,
            clock: FakeClock) -> VocService:
    """The core service on the example company, synced at the clock's start."""
    with db.engine.connect() as connection:
        empty = connection.execute(text("SELECT count(*) FROM department")).scalar() == 0
    if empty and clock() == TUESDAY_10_MSK and company == example_company():
        _copy_synced_rows(request, db)
    else:
        sync_company(db, company, now=clock())
    return VocService(db, company, clock=clock)


@pytest.fixture
def demo(service: VocService, synced_sqlite: Path,
         tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """`fill_demo` on `service` (keywords `signals`, `weeks`), its rows copied from one fill
    per test run shared by the workers (tests/support/demo_snapshot.py)."""
    from tests.support.demo_snapshot import demo_history

    return partial(demo_history, service, run_folder(tmp_path_factory), synced_sqlite)


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


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto`: two workers more than cores. Half of a worker's time is waiting (on the
    `voc` processes it starts, sockets, a rate limit or a lease running out), and the extra
    workers fill it (docs/decisions/0021-a-suite-under-four-minutes.md)."""
    return (os.cpu_count() or 1) + 2


LANES = ("tests/system/", "tests/adapters/", "tests/unit/")


def _lane(item: pytest.Item) -> int:
    path = item.path.relative_to(ROOT).as_posix()
    return next((rank for rank, lane in enumerate(LANES) if path.startswith(lane)), len(LANES))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that runs on PostgreSQL `postgresql`, so `-m "not postgresql"` leaves
    them out (the fast lane) and `-m postgresql` picks them. Then the slowest lane first,
    each module's tests together: pytest-xdist hands the list out from its front, so the
    seconds-long process tests start first on both workers and the millisecond ones even
    out the finish."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgres = callspec is not None and "postgresql" in callspec.params.values()
        if on_postgres or "postgres_schema" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgresql)
    items.sort(key=_lane)  # stable: the order within a lane stays pytest's


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
