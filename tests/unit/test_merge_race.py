"""Two heads merge two cases into each other at the same moment, on two replicas (two
services, each with its own connection pool), on SQLite and PostgreSQL: one merge happens, the
other head is told the cases are already one, and nobody is told the database is unreachable.

On PostgreSQL the two transactions are made to meet where a deadlock would happen: each waits,
before its second row lock, until the other one has taken its first (or is waiting for a lock),
observed on the database's own connections (SQLAlchemy's cursor events), not by patching ours.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy import event, text

from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.core.shared.errors import StoreUnavailable, VocError
from bot.sync import sync_company
from storage.db import Database
from tests.conftest import FakeClock

HEAD = "slack:U0LOGHEAD"


class LockMeeting:
    """Holds each replica's transaction before its second signal row lock until the other
    replica has taken one too, or is waiting for one (PostgreSQL's pg_locks says so)."""

    def __init__(self, engines: list[Any], admin: Database) -> None:
        self.admin = admin
        self.locks: dict[int, int] = {}  # backend pid -> signal row locks taken
        self.changed = threading.Condition()
        for engine in engines:
            event.listen(engine, "before_cursor_execute", self._before)
            event.listen(engine, "after_cursor_execute", self._after)

    @staticmethod
    def _locking(statement: str, cursor: Any) -> int | None:
        """The backend's pid when `statement` locks signal rows."""
        if "FOR UPDATE" in statement and "FROM signal" in statement:
            return int(cursor.connection.info.backend_pid)
        return None

    def _before(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        me = self._locking(statement, cursor)
        if me is None:
            return
        with self.changed:
            self.locks.setdefault(me, 0)
            self.changed.notify_all()
            if self.locks[me] != 1:
                return
            deadline = time.monotonic() + 10
            while not self._other_locked_or_waits(me):
                assert time.monotonic() < deadline, "the other merge never came"
                self.changed.wait(0.02)

    def _after(self, _conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        me = self._locking(statement, cursor)
        if me is not None:
            with self.changed:
                self.locks[me] += 1
                self.changed.notify_all()

    def _other_locked_or_waits(self, me: int) -> bool:
        others = [pid for pid in self.locks if pid != me]
        if any(self.locks[pid] >= 1 for pid in others):
            return True
        if not others:
            return False
        with self.admin.engine.connect() as connection:
            return bool(connection.execute(text(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = ANY(:others)"),
                {"others": others}).scalar())


def test_opposite_merges_at_once_merge_once_and_the_other_head_is_told(
        db_url: str, company: Company, clock: FakeClock) -> None:
    first = Database.connect(db_url)
    second = Database.connect(db_url)
    try:
        one, two = (VocService(first, company, clock=clock),
                    VocService(second, company, clock=clock))
        sync_company(first, company, now=clock())
        for words in ("The courier was late", "The courier did not call"):
            one.capture("slack:U0SALES1", Draft("complaint", words, department="logistics"))
        if first.engine.dialect.name == "postgresql":
            LockMeeting([first.engine, second.engine], first)
        with ThreadPoolExecutor(2) as pool:
            runs = [pool.submit(one.merge, HEAD, "VOC-1", "VOC-2"),
                    pool.submit(two.merge, HEAD, "VOC-2", "VOC-1")]
            outcomes = [run.exception() or run.result() for run in runs]
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        assert len(refused) == 1, outcomes
        assert not isinstance(refused[0], StoreUnavailable), refused[0]
        assert isinstance(refused[0], VocError)
        said = refused[0].render(one.translator("en"))
        assert said in ("VOC-1 has just been merged into VOC-2: they are one case already.",
                        "VOC-2 has just been merged into VOC-1: they are one case already.")
        merged = [one.show(HEAD, ref).merged_into for ref in ("VOC-1", "VOC-2")]
        assert sorted(map(str, merged)) == ["None", "VOC-1"] or sorted(
            map(str, merged)) == ["None", "VOC-2"]
    finally:
        first.dispose()
        second.dispose()
