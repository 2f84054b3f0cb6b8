"""Engine set-up for SQLite and PostgreSQL, transactions, and the schema check at start."""

from __future__ import annotations

import ast
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlmodel import Session

if TYPE_CHECKING:
    # Alembic (with mako and pygments, about 10 MiB) is imported only to migrate: the schema
    # check at start and in /readyz reads the revision ids itself (`revisions`).
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "alembic_version"  # Alembic's default, where the database's revision is kept
_WRITE = "voc_write"
DEFAULT_TIMEOUT = 30.0  # seconds: connect, pool checkout, statement (PostgreSQL), lock wait
# What a database that is down, unreachable, locked, full or too slow raises (not a bug of
# ours: an IntegrityError, say, is not among them).
_OUTAGES = (OperationalError, InterfaceError, PoolTimeout)


class StoreUnavailable(RuntimeError):
    """The database did not answer in time or refused to work; the transaction changed nothing.

    The message is safe to log (no URL, no password); the cause is chained.
    """


class SchemaOutOfDate(RuntimeError):
    """The database is behind the code; the message says which command fixes it."""


def insert_or_ignore(dialect: str, table: Any, unique: str) -> Any:
    """INSERT ... ON CONFLICT (`unique`) DO NOTHING on the database in use, importing that
    dialect's module only: a process needs one, and the other costs 1-2 MiB."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).on_conflict_do_nothing(index_elements=[unique])
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table).on_conflict_do_nothing(index_elements=[unique])


def normalise_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3 (the only PostgreSQL driver we ship)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def safe_url(url: str) -> str:
    """The URL with its password hidden, for logs and error messages."""
    return make_url(url).render_as_string(hide_password=True)


def create_db_engine(url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> Engine:
    """An engine configured for concurrent use: WAL and up-front write locks on SQLite.

    `timeout` bounds every wait on the database (connecting, a pooled connection, a statement,
    a lock), so a database that hangs fails requests instead of holding them indefinitely.
    """
    url = normalise_url(url)
    _require_supported(url)
    if not url.startswith("sqlite"):
        return create_engine(_postgres_timeouts(make_url(url), timeout), pool_pre_ping=True,
                             pool_timeout=timeout,
                             connect_args={"connect_timeout": max(2, round(timeout))},
                             **kwargs)
    busy_ms = max(1, round(timeout * 1000))
    turns = write_turns(url)
    engine = create_engine(url, connect_args={"timeout": timeout}, **kwargs)

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        # We issue BEGIN ourselves so writers can take the lock up front (BEGIN IMMEDIATE):
        # deferred read-then-write transactions fail with "database is locked" under load.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in ("journal_mode=WAL", f"busy_timeout={busy_ms}", "foreign_keys=ON",
                       "synchronous=NORMAL"):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection: Any) -> None:
        if connection.get_execution_options().get(_WRITE, False):
            _begin_immediate(connection.connection.driver_connection, turns, timeout, busy_ms)
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


# SQLite's own busy handler sleeps 1, 2, 5, 10 ... then 100 ms between tries for the write
# lock, so a writer that arrives while another commits waits tens of ms after the lock is
# free: a burst of eight clicks made the dispatcher's claim wait 58 ms behind 8 writes of
# 6 ms each. A writer takes the lock with BEGIN IMMEDIATE and in WAL mode nothing
# after it waits, so only that statement needs the wait, and we do it ourselves: a writer that
# finds the lock taken sleeps until a write transaction of this process ends (`WriteTurns`),
# or a short pause passes (another process's writer ends unannounced). No lock of ours is held
# meanwhile: a process-wide lock was tried and bursts stalled 1.1 s (see Database.write).
LOCK_PAUSES = (0.001, 0.002, 0.005, 0.01)  # seconds, the last repeated


class WriteTurns:
    """Announces the end of each write transaction of this process on one SQLite file, so
    writers waiting for its lock try again at once instead of after a pause."""

    def __init__(self) -> None:
        self._ended = threading.Condition()
        self.generation = 0  # write transactions ended so far

    def ended(self) -> None:
        with self._ended:
            self.generation += 1
            self._ended.notify_all()

    def wait(self, seen: int, seconds: float) -> None:
        """Sleep until a write ends after generation `seen` was read, at most `seconds`."""
        with self._ended:
            if self.generation == seen:
                self._ended.wait(seconds)


_TURNS: dict[str, WriteTurns] = {}
_TURNS_LOCK = threading.Lock()


def write_turns(url: str) -> WriteTurns:
    """The WriteTurns of one SQLite database (all engines of this process on it share them)."""
    with _TURNS_LOCK:
        return _TURNS.setdefault(str(make_url(url).database), WriteTurns())


def _begin_immediate(raw: Any, turns: WriteTurns, timeout: float, busy_ms: int) -> None:
    """BEGIN IMMEDIATE on a sqlite3 connection, waiting up to `timeout` for the write lock
    (see WriteTurns) instead of in SQLite's busy handler, which stays on for everything else."""
    import sqlite3

    raw.execute("PRAGMA busy_timeout=0")
    try:
        deadline = time.monotonic() + timeout
        for attempt in itertools.count():
            seen = turns.generation
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() >= deadline:
                    # As SQLAlchemy wraps its own statements' errors (an outage: StoreUnavailable)
                    raise OperationalError("BEGIN IMMEDIATE", None, error) from error
            turns.wait(seen, LOCK_PAUSES[min(attempt, len(LOCK_PAUSES) - 1)])
    finally:
        raw.execute(f"PRAGMA busy_timeout={busy_ms}")


def _postgres_timeouts(url: URL, timeout: float) -> URL:
    """The URL with a server-side statement timeout added to any `options` it has."""
    options = url.query.get("options", "")
    if isinstance(options, tuple):
        options = " ".join(options)
    if "statement_timeout" in options:
        return url  # the operator chose one
    limit = f"-c statement_timeout={max(1, round(timeout * 1000))}"
    return url.update_query_dict({"options": f"{options} {limit}".strip()})


SUPPORTED = {"sqlite": ("pysqlite",), "postgresql": ("psycopg",)}  # backend: drivers


def _require_supported(url: str) -> None:
    """Refuse a URL of a database or driver voc-bot does not ship (SQLAlchemy would fail
    importing a driver that is not installed); the message never holds the URL."""
    parsed = make_url(url)
    backend, driver = parsed.get_backend_name(), parsed.get_driver_name()
    if driver not in SUPPORTED.get(backend, ()):
        raise ArgumentError(f"{parsed.drivername}:// is not supported: use sqlite:///FILE "
                            "or postgresql://USER@HOST/DATABASE")


def _damaged(error: BaseException) -> bool:
    """A SQLite file that is not a database, or a damaged one (sqlite3 raises its base
    DatabaseError for both): no transaction can work until it is restored."""
    import sqlite3

    return isinstance(error, DatabaseError) and type(error.orig) is sqlite3.DatabaseError


@contextmanager
def _outage_as_unavailable() -> Iterator[None]:
    try:
        yield
    except (*_OUTAGES, DatabaseError) as error:
        if not isinstance(error, _OUTAGES) and not _damaged(error):
            raise  # a constraint or a bug: not the database's state
        cause = getattr(error, "orig", None) or error
        raise StoreUnavailable(f"the database is unavailable ({type(cause).__name__}: "
                               f"{_first_line(cause)})") from error


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [""])[0][:200]


@cache
def revisions(versions: Path = MIGRATIONS / "versions") -> dict[str, tuple[str, ...]]:
    """Each revision of the migrations folder and the revisions it follows, read from the
    files' `revision` and `down_revision` assignments as Alembic reads them (without importing
    Alembic or the migrations)."""
    graph: dict[str, tuple[str, ...]] = {}
    for path in sorted(versions.glob("*.py")):
        if path.name.startswith("__init__"):
            continue
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(value)
        if isinstance(values.get("revision"), str):
            down = values.get("down_revision")
            graph[values["revision"]] = (() if down is None else (down,) if isinstance(down, str)
                                         else tuple(down))
    return graph


def head_revision(versions: Path = MIGRATIONS / "versions") -> str | None:
    """The newest revision (the one no other follows); an error when there are several."""
    graph = revisions(versions)
    followed = {down for downs in graph.values() for down in downs}
    heads = sorted(set(graph) - followed)
    if len(heads) > 1:
        raise RuntimeError(f"the migrations have several heads ({', '.join(heads)}): "
                           "chain them into one")
    return heads[0] if heads else None


@dataclass
class Database:
    """One engine and the two kinds of transaction the core uses."""

    engine: Engine

    def __post_init__(self) -> None:
        # Built once: `execution_options` makes a new engine proxy each call.
        self._write_engine = self.engine.execution_options(**{_WRITE: True})
        self._turns = (write_turns(str(self.engine.url)) if self.engine.dialect.name == "sqlite"
                       else None)

    @classmethod
    def connect(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> Database:
        """Open a database from a URL (no I/O until first use)."""
        return cls(create_db_engine(url, timeout=timeout, **kwargs))

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One transaction that changes state; committed on success, rolled back on error.

        A database outage surfaces as StoreUnavailable."""
        # No process-wide lock of ours around SQLite writers: measured with bench/latency.py,
        # it sometimes stalled a whole burst of clicks for a second and did not move their
        # median (the figures are in the commit that left it out).
        try:
            with _outage_as_unavailable(), Session(self._write_engine,
                                                   expire_on_commit=False) as session, \
                    session.begin():
                yield session
        finally:
            if self._turns is not None:
                self._turns.ended()  # writers waiting for SQLite's lock try again now

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only transaction: never commits; rows stay readable after the block."""
        with _outage_as_unavailable(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    def alembic_config(self) -> Config:
        """Alembic configured for this database, without an alembic.ini."""
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        # configparser interpolates '%': URL-encoded passwords and options contain it.
        url = self.engine.url.render_as_string(hide_password=False).replace("%", "%%")
        config.set_main_option("sqlalchemy.url", url)
        return config

    def upgrade(self, revision: str = "head") -> None:
        """Apply migrations up to `revision`; SchemaOutOfDate when the database is at a
        revision this code does not know (a newer voc-bot upgraded it)."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        config = self.alembic_config()
        with self.engine.begin() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            if current is not None and not self._knows(current):
                raise SchemaOutOfDate(self._newer_than_code(current))
            if self.dialect == "postgresql":  # an index on a large table may take a while
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)

    def schema_revisions(self) -> tuple[str | None, str | None]:
        """(current revision of the database, newest revision the code knows)."""
        head = head_revision()
        with _outage_as_unavailable(), self.engine.connect() as connection:
            current = None
            if inspect(connection).has_table(VERSION_TABLE):
                rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")
                                          ).scalars().all()
                if len(rows) > 1:  # what Alembic's get_current_revision refuses too
                    raise SchemaOutOfDate(f"The database is at several revisions at once "
                                          f"({', '.join(sorted(rows))}): fix {VERSION_TABLE}.")
                current = rows[0] if rows else None
            connection.rollback()
        return current, head

    def require_current_schema(self) -> None:
        """Refuse to run on a schema older (or newer) than the code."""
        current, head = self.schema_revisions()
        if current == head:
            return
        where = safe_url(str(self.engine.url))
        if current is None:
            raise SchemaOutOfDate(f"The database {where} has no voc-bot tables yet. "
                                  "Run `voc db upgrade` to create them.")
        if not self._knows(current):
            raise SchemaOutOfDate(self._newer_than_code(current))
        raise SchemaOutOfDate(f"The database {where} is at schema {current}, this voc-bot needs "
                              f"{head}. Run `voc db upgrade` (back up the database first).")

    def _knows(self, revision: str) -> bool:
        """Whether this code's migrations include `revision`."""
        return revision in revisions()

    def _newer_than_code(self, current: str) -> str:
        head = head_revision()
        return (f"The database {safe_url(str(self.engine.url))} is at schema {current}, which "
                f"this voc-bot does not know (its newest is {head}): a newer voc-bot upgraded "
                "it. Run that version, or restore the backup taken before the upgrade.")

    def dispose(self) -> None:
        """Close pooled connections."""
        self.engine.dispose()
