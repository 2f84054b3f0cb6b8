"""`voc retention` started three times at once (three processes: three services with their own
connection pools), on SQLite and PostgreSQL: one run erases each case once and writes one audit
row; the two others say another run is at work and change nothing.

The first run is held while the two others start, so the three really overlap: on PostgreSQL
inside its erasing transaction, on SQLite (which runs one writer at a time) right after it
commits, before the run ends (SQLAlchemy events on the first run's engine and thread).
"""

from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, select

from bot.core.service import Draft, VocService
from bot.core.shared.company import Company
from bot.sync import sync_company
from jobs.retention import run_once
from storage.db import Database
from storage.models import AdminEvent, Event
from tests.conftest import FakeClock

HEAD, KATE = "slack:U0LOGHEAD", "slack:U0SALES1"


def test_three_retention_runs_at_once_erase_each_case_once(
        db_url: str, company: Company, clock: FakeClock) -> None:
    company = dataclasses.replace(company, retention_days=30)
    databases = [Database.connect(db_url) for _ in range(3)]
    try:
        sync_company(databases[0], company, now=clock())
        services = [VocService(db, company, clock=clock) for db in databases]
        for words in ("The courier was rude", "The sofa was scratched"):
            ref = services[0].capture(KATE, Draft("complaint", words,
                                                  department="logistics")).signal.ref
            services[0].resolve(HEAD, ref, "Apologised to the customer")
        clock.advance(days=31)

        erasing, release = threading.Event(), threading.Event()
        first_thread: list[int] = []

        def hold(*_args: Any) -> None:
            erasing.set()
            release.wait(10)

        def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.startswith("UPDATE signal SET text"):
                first_thread.append(threading.get_ident())
                if not sqlite:
                    hold()  # PostgreSQL: inside its transaction, the cases read, not erased

        def after_commit(_session: Any) -> None:
            if sqlite and threading.get_ident() in first_thread:
                hold()  # SQLite serializes writers: between its transactions instead

        sqlite = databases[0].engine.dialect.name == "sqlite"
        event.listen(databases[0].engine, "before_cursor_execute", before)
        event.listen(Session, "after_commit", after_commit)
        try:
            with ThreadPoolExecutor(3) as pool:
                first = pool.submit(run_once, services[0], actor="cli:ops@host-a")
                assert erasing.wait(10), "the first run never started erasing"
                others = [pool.submit(run_once, service, actor=f"cli:ops@host-{name}")
                          for service, name in zip(services[1:], "bc", strict=True)]
                wait(others, timeout=5)  # refused at once; before the fix they queued behind
                release.set()
                reports = [first.result(), *(run.result() for run in others)]
        finally:
            release.set()
            event.remove(Session, "after_commit", after_commit)

        assert reports[0].cases == 2
        for report in reports[1:]:
            assert report.summary().startswith("retention: another run (cli:ops@host-a, since ")
            assert report.summary().endswith("is at work; nothing was done by this one")
        with databases[0].read() as session:
            erased = session.exec(select(Event.signal_id).where(Event.action == "erased")).all()
            audits = session.exec(select(AdminEvent)).all()
        assert sorted(erased) == [1, 2]  # each case once
        assert [(a.action, a.actor, a.details["cases"]) for a in audits] == [
            ("retention", "cli:ops@host-a", 2)]
        assert run_once(services[1], actor="cli:ops@host-b").cases == 0  # the claim was let go
    finally:
        for db in databases:
            db.dispose()
