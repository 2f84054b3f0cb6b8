"""SQLite writers wait for the write lock in short pauses of ours (storage/db.py): a writer
that arrives while another holds the lock goes through once it is free, one that waits past
the timeout fails as an outage, and the connection keeps SQLite's busy timeout for reads."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import Database, StoreUnavailable


@pytest.fixture
def db(tmp_path: Path) -> Database:
    database = Database.connect(f"sqlite:///{tmp_path / 'voc.db'}", timeout=5.0)
    with database.write() as session:
        session.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    return database


def hold_the_write_lock(db: Database) -> sqlite3.Connection:
    holder = sqlite3.connect(db.engine.url.database or "", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO note (body) VALUES ('first')")
    return holder


def test_a_writer_behind_another_goes_through_when_the_lock_is_free(db: Database) -> None:
    holder = hold_the_write_lock(db)
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with db.write() as session:
                session.execute(text("INSERT INTO note (body) VALUES ('second')"))
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    writer = threading.Thread(target=second_writer)
    writer.start()
    writer.join(0.3)
    assert writer.is_alive()  # it waits for the lock rather than failing
    holder.execute("COMMIT")
    holder.close()
    writer.join(5)
    assert not writer.is_alive() and errors == []
    with db.read() as session:
        assert session.execute(text("SELECT body FROM note ORDER BY id")).scalars().all() == [
            "first", "second"]


def test_a_writer_that_waits_past_the_timeout_fails_as_an_outage(tmp_path: Path) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'voc.db'}", timeout=0.3)
    with db.write() as session:
        session.execute(text("CREATE TABLE note (id INTEGER PRIMARY KEY, body TEXT)"))
    holder = hold_the_write_lock(db)
    try:
        with pytest.raises(StoreUnavailable, match="locked"), db.write() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('second')"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with db.write() as session:  # the same pooled connection writes again afterwards
        session.execute(text("INSERT INTO note (body) VALUES ('third')"))
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 300


def test_a_writer_is_woken_when_a_write_of_this_process_ends(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    # Pauses far longer than the test: only the announcement of the first write's end can
    # let the second writer through in time.
    monkeypatch.setattr("storage.db.LOCK_PAUSES", (60.0,))
    first_inside, first_may_end = threading.Event(), threading.Event()

    def first_writer() -> None:
        with db.write() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('first')"))
            first_inside.set()
            first_may_end.wait(5)

    def second_writer() -> None:
        with db.write() as session:
            session.execute(text("INSERT INTO note (body) VALUES ('second')"))

    first = threading.Thread(target=first_writer)
    first.start()
    assert first_inside.wait(5)
    second = threading.Thread(target=second_writer)
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waiting for the lock
    first_may_end.set()
    first.join(5)
    second.join(5)
    assert not second.is_alive()
    with db.read() as session:
        assert session.execute(text("SELECT body FROM note ORDER BY id")).scalars().all() == [
            "first", "second"]
