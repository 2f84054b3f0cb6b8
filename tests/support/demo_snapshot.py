"""`voc demo`'s history for a test, filled once per test run and copied.

Filling 300 reports through the core takes ~11 s of CPU on SQLite and ~16 s (and the server's)
on PostgreSQL; copying the rows takes a fraction of a second. The fill is deterministic (the
example company synced at Tuesday 10:00, the demo's seed), so the copy holds exactly the rows
the fill would write, ids included; a service in any other state is filled for real. The
snapshots live in the run's temporary folder, shared by the xdist workers under a file lock.
"""

from __future__ import annotations

import fcntl
import os
import pickle
import shutil
from pathlib import Path

from sqlmodel import SQLModel, func, select

from bot.core.service import VocService
from bot.demo import DemoReport, fill_demo
from storage.db import Database
from storage.models import Signal
from tests.conftest import TUESDAY_10_MSK, FakeClock, example_company


def demo_history(service: VocService, folder: Path, synced: Path, *, signals: int,
                 weeks: int) -> DemoReport:
    """`fill_demo(service, signals=signals, weeks=weeks)`, copied from a snapshot where the
    service is the freshly synced example company at Tuesday 10:00."""
    with service.db.read() as session:
        empty = session.exec(select(func.count()).select_from(Signal)).one() == 0
    if not (empty and service.clock() == TUESDAY_10_MSK and service.company == example_company()):
        return fill_demo(service, signals=signals, weeks=weeks)
    snapshot, report = _snapshot(folder, synced, signals, weeks)
    _copy_rows(snapshot, service.db)
    return report


def _snapshot(folder: Path, synced: Path, signals: int, weeks: int) -> tuple[Path, DemoReport]:
    """The snapshot's file and the fill's report, made by the first worker that asks, from
    `synced`: a SQLite file of the example company synced at Tuesday 10:00."""
    path = folder / f"demo-{signals}-{weeks}.db"
    with open(folder / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not path.exists():
            filling = path.with_suffix(".filling")
            shutil.copy(synced, filling)
            db = Database.connect(f"sqlite:///{filling}")
            report = fill_demo(VocService(db, example_company(), clock=FakeClock()),
                               signals=signals, weeks=weeks)
            db.dispose()
            path.with_suffix(".report").write_bytes(pickle.dumps(report))
            os.replace(filling, path)  # complete, or absent
    return path, pickle.loads(path.with_suffix(".report").read_bytes())


def _copy_rows(snapshot: Path, db: Database) -> None:
    """Every row of `snapshot` into `db` in place of its own, through the models' column types
    (the same values on either engine), the id counters moved past them."""
    tables = [t for t in SQLModel.metadata.sorted_tables if t.name != "alembic_version"]
    source = Database.connect(f"sqlite:///{snapshot}")
    try:
        with source.engine.connect() as reading, db.engine.begin() as writing:
            for table in reversed(tables):
                writing.execute(table.delete())
            for table in tables:
                rows = [dict(row._mapping) for row in reading.execute(table.select())]
                if rows:
                    writing.execute(table.insert(), rows)
            if db.dialect == "postgresql":  # the counters, in one round trip (as conftest._empty)
                writing.exec_driver_sql(";\n".join(
                    f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), "
                    f'coalesce(max(id), 0) + 1, false) FROM "{table.name}"'
                    for table in tables
                    if "id" in table.c and table.c.id.autoincrement in (True, "auto")))
    finally:
        source.dispose()
