"""A throwaway database for a benchmark run, on each engine (the scripts import this as a
sibling)."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from sqlalchemy import text

from storage.db import Database


@contextmanager
def postgres_scratch(admin_url: str) -> Iterator[str | None]:
    """Yield a URL whose search path is a new schema, dropped afterwards; None if unreachable."""
    schema = f"voc_bench_{uuid.uuid4().hex[:8]}"
    admin = Database.connect(admin_url)
    try:
        with admin.engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # any failure to reach it: report and run SQLite only
        print(f"PostgreSQL skipped: {type(exc).__name__}: {exc}")
        admin.dispose()
        yield None
        return
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def on_each_database(run: Callable[[str, str], None], *, postgres: str,
                     only: str | None = None) -> None:
    """`run(url, label)` on a fresh SQLite file, then on a scratch PostgreSQL schema (unless
    `only` names one engine; PostgreSQL is skipped with a line when unreachable)."""
    if only != "postgresql":
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/bench.db", "SQLite")
    if only == "sqlite":
        return
    with postgres_scratch(postgres) as url:
        if url:
            run(url, "PostgreSQL")
