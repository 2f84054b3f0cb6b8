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
