"""What goes wrong outside the program is one clear line on stderr and a
non-zero exit, never a traceback nor the database password: a PostgreSQL database that does not
exist, a read-only SQLite file, a schema newer than the code, a database that is down, an
export to a folder that does not exist (refused before any work)."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from sqlmodel import select

from storage.db import Database
from storage.models import Score
from tests.conftest import POSTGRES_URL
from tests.support.voc_process import voc, voc_in_process

PASSWORD = "s3cr3t-pw-do-not-print"


def one_clear_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The command failed with one short line on stderr saying `expected`, and no secret."""
    assert result.returncode not in (0, None), (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    assert PASSWORD not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert len(lines[0]) < 400, lines[0]
    for words in expected:
        assert words in lines[0], lines[0]
    return lines[0]


def run(folder: Path, *command: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`voc run` as a process (it opens the terminal chat); any other command in this process,
    where it runs the same code without a process's start."""
    if command[:1] == ("run",):
        return voc(folder, *command, **extra)
    return voc_in_process(folder, *command, **extra)


def with_password(url: str, **parts: object) -> str:
    return make_url(url).set(password=PASSWORD, **parts).render_as_string(hide_password=False)


@pytest.fixture
def missing_postgres_database() -> str:
    """A URL (with a password) to a database the local PostgreSQL server does not have."""
    from tests.conftest import _postgres_reason

    if reason := _postgres_reason():
        pytest.skip(reason)
    return with_password(POSTGRES_URL, database=f"voc_missing_{uuid.uuid4().hex[:8]}")


@pytest.fixture
def closed_port_url() -> str:
    """A PostgreSQL URL on a local port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"postgresql+psycopg://voc:{PASSWORD}@127.0.0.1:{port}/voc"


@pytest.fixture
def migrated_file(migrated: Path) -> Path:
    """A migrated SQLite database (nothing synced yet) at tmp_path/voc.db."""
    return migrated / "voc.db"


@pytest.fixture
def read_only(migrated_file: Path) -> Iterator[Path]:
    """The migrated SQLite file, made read-only even for root (immutable) where possible."""
    migrated_file.chmod(0o444)
    immutable = False
    if os.geteuid() == 0:
        attempt = subprocess.run(["chattr", "+i", str(migrated_file)], capture_output=True)
        if attempt.returncode != 0:
            pytest.skip("running as root without chattr: no file is read-only to us")
        immutable = True
    try:
        yield migrated_file
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(migrated_file)], check=True)
        migrated_file.chmod(0o644)


COMMANDS = [("db", "upgrade"), ("departments", "sync"), ("run",), ("digest", "--dry-run"),
            ("outbox", "list")]


@pytest.mark.slow
@pytest.mark.parametrize("command", [("db", "upgrade"), ("run",)], ids=" ".join)
def test_a_postgres_database_that_does_not_exist(tmp_path: Path, missing_postgres_database: str,
                                                 command: tuple[str, ...]) -> None:
    name = make_url(missing_postgres_database).database
    result = run(tmp_path, *command, DATABASE_URL=missing_postgres_database)
    one_clear_line(result, "Cannot use the database", f'database "{name}" does not exist')


@pytest.mark.slow
@pytest.mark.parametrize("command", [("departments", "sync"), ("run",)], ids=" ".join)
def test_a_read_only_sqlite_file(read_only: Path, command: tuple[str, ...]) -> None:
    result = run(read_only.parent, *command)
    one_clear_line(result, f"sqlite:///{read_only}", "readonly database")


@pytest.mark.slow
@pytest.mark.parametrize("command", [("db", "upgrade"), ("departments", "sync"), ("run",)],
                         ids=" ".join)
def test_a_schema_newer_than_the_code(migrated_file: Path, command: tuple[str, ...]) -> None:
    # As a future voc-bot's `db upgrade` leaves it.
    with sqlite3.connect(migrated_file) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    result = run(migrated_file.parent, *command)
    one_clear_line(result, "9999_from_the_future", "newer voc-bot")


@pytest.mark.slow
@pytest.mark.parametrize("command", [*COMMANDS, ("export", "-o", "out.xlsx")], ids=" ".join)
def test_any_command_with_the_database_down(tmp_path: Path, closed_port_url: str,
                                            command: tuple[str, ...]) -> None:
    result = run(tmp_path, *command, DATABASE_URL=closed_port_url)
    one_clear_line(result, "Cannot use the database postgresql+psycopg://voc:***@127.0.0.1:",
                   "Connection refused")


@pytest.mark.slow
def test_an_export_to_a_missing_folder_is_refused_before_the_work(migrated_file: Path) -> None:
    target = migrated_file.parent / "no" / "such" / "folder" / "x.xlsx"
    result = run(migrated_file.parent, "export", "-o", str(target))
    one_clear_line(result, str(target), "does not exist")
    with sqlite3.connect(migrated_file) as connection:  # refused before the start-up sync, too
        assert connection.execute("SELECT count(*) FROM department").fetchone() == (0,)


@pytest.mark.slow
@pytest.mark.parametrize("command", [("db", "status"), ("export", "-o", "out.xlsx"), ("run",)],
                         ids=" ".join)
def test_a_sqlite_file_that_is_not_a_database(tmp_path: Path, command: tuple[str, ...]) -> None:
    (tmp_path / "voc.db").write_bytes(b"these bytes were never a database\n" * 200)
    result = run(tmp_path, *command)
    one_clear_line(result, f"Cannot use the database sqlite:///{tmp_path / 'voc.db'}",
                   "file is not a database")


@pytest.mark.slow
@pytest.mark.parametrize("url", [f"mysql://voc:{PASSWORD}@127.0.0.1/voc",
                                 f"postgresql+psycopg2://voc:{PASSWORD}@127.0.0.1/voc"])
def test_an_unsupported_database_url(tmp_path: Path, url: str) -> None:
    result = run(tmp_path, "db", "status", DATABASE_URL=url)
    one_clear_line(result, "DATABASE_URL", ":// is not supported", "sqlite:///FILE",
                   "postgresql://")


@pytest.mark.slow
def test_import_scores_reads_a_csv_that_russian_excel_wrote(tmp_path: Path,
                                                           db_url: str) -> None:
    """Excel on a Russian Windows saves "CSV" in Windows-1251, with semicolons."""
    rows = "date;score;customer;comment\n2026-11-02;9;Иванов;Отлично, спасибо\n"
    (tmp_path / "scores.csv").write_bytes(rows.encode("cp1251"))
    (tmp_path / "utf8.csv").write_bytes(b"\xef\xbb\xbf" + rows.replace(
        "Иванов", "Петров").encode())  # UTF-8 with a BOM, as Excel's "CSV UTF-8" writes
    for name in ("scores.csv", "utf8.csv"):
        result = run(tmp_path, "import-scores", name, DATABASE_URL=db_url)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        assert "imported 1 customer score(s)" in result.stdout
    db = Database.connect(db_url)
    try:
        with db.read() as session:
            kept = sorted((s.customer, s.comment) for s in session.exec(select(Score)))
    finally:
        db.dispose()
    assert kept == [("Иванов", "Отлично, спасибо"), ("Петров", "Отлично, спасибо")]
