"""Waking the outbox dispatchers when a transaction queues rows.

A transaction that queues rows wakes, right after it commits, every
dispatcher of this process on the same database (`on_commit`, called from whatever thread
committed), and on PostgreSQL the other processes' too: a NOTIFY (`pg_notify`) in the same
transaction, which PostgreSQL delivers only if it commits. A rolled-back transaction wakes no
one. NOTIFY is database-wide, so the channel is named after the schema of the tables
(`CHANNEL_SQL`): installs in other schemas of the same database wake only their own.
`next_due` (storage/outbox.py) tells an idle dispatcher when the next row falls due, so it
polls only as a safety net.

The wake says what was queued (destinations, classes, edits or not), so a dispatcher whose queue for
those destinations is in flight (or whose rate limit holds them) need not read the outbox.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from collections.abc import Callable

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

CHANNEL = "voc_outbox"  # PostgreSQL LISTEN/NOTIFY channel (prefix): rows were queued
# The channel's full name, computed by PostgreSQL on the connection: the prefix and a digest of
# the schema the tables are in (the first existing one of the search path). Without it every
# commit of any schema's outbox in the database woke every dispatcher (measured: other test
# runs' commits woke an idle bot several times a second).
CHANNEL_SQL = f"'{CHANNEL}_' || left(md5(current_schema()), 12)"
_QUEUED = "voc_outbox_queued"  # session.info: this transaction queued rows: (URL, Queued)
NOTICE_LIMIT = 7000  # characters of a NOTIFY payload (PostgreSQL takes up to 8000 bytes)
_SALT = secrets.token_hex(4)  # with the process id: which process sent a NOTIFY
# What a transaction queued: (destination, bulk, edit) for each of its rows.
Queued = frozenset[tuple[str, bool, bool]]
log = logging.getLogger(__name__)
# Database URL -> what to call after a commit that queued rows there. Replaced, never mutated:
# commits in worker threads read it while the event loop subscribes.
_subscribers: dict[URL, tuple[Callable[[Queued | None], None], ...]] = {}


def on_commit(url: URL, callback: Callable[[Queued | None], None]) -> Callable[[], None]:
    """Call `callback(queued)` after each commit in this process that queued rows in the
    database at `url` (in the committing thread: it must be quick and thread-safe); `queued`:
    what was queued, None when unknown (dead rows retried). Returns the
    function that stops it."""
    _subscribers[url] = (*_subscribers.get(url, ()), callback)

    def unsubscribe() -> None:
        left = tuple(c for c in _subscribers.get(url, ()) if c is not callback)
        if left:
            _subscribers[url] = left
        else:
            _subscribers.pop(url, None)

    return unsubscribe


def announce(session: Session, connection: Connection, queued: Queued | None) -> None:
    """Mark the transaction as one that queued rows: its commit wakes the dispatchers, and
    tells them which destinations it queued for."""
    url, known = session.info.get(_QUEUED, (connection.engine.url, frozenset()))
    session.info[_QUEUED] = (url, None if known is None or queued is None else known | queued)
    if connection.dialect.name == "postgresql":  # delivered to listeners only on commit
        payload = json.dumps({"from": _sender(url), "queued": None if queued is None else
                              sorted(queued)})
        if len(payload) > NOTICE_LIMIT:  # too long for a NOTIFY: wake them to look
            payload = json.dumps({"from": _sender(url), "queued": None})
        connection.execute(text(f"SELECT pg_notify({CHANNEL_SQL}, :payload)"),
                           {"payload": payload})


def _sender(url: URL) -> str:
    """Who sends a NOTIFY: this process, for the database at `url` (its own dispatchers were
    woken by `on_commit` already)."""
    return f"{os.getpid()}-{_SALT}-{hash(url)}"


def notice(payload: str, url: URL) -> tuple[bool, Queued | None]:
    """What a NOTIFY says to a dispatcher on the database at `url`: whether this process sent
    it for that database (then `on_commit` has woken it already), and what was queued."""
    try:
        said = json.loads(payload)
        queued = said["queued"]
        return said["from"] == _sender(url), None if queued is None else frozenset(
            (str(destination), bool(bulk), bool(edit)) for destination, bulk, edit in queued)
    except (ValueError, TypeError, KeyError):
        return False, None


@event.listens_for(OrmSession, "after_commit")
def _queued_and_committed(session: OrmSession) -> None:
    url, queued = session.info.pop(_QUEUED, (None, None))
    for callback in _subscribers.get(url, ()) if url is not None else ():
        try:
            callback(queued)
        except Exception:  # the commit stands; the dispatcher's poll will find the rows
            log.exception("waking the outbox dispatcher failed")


@event.listens_for(OrmSession, "after_rollback")
def _queued_and_rolled_back(session: OrmSession) -> None:
    session.info.pop(_QUEUED, None)


