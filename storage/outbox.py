"""Outbox rows: enqueue in the caller's transaction, claim for delivery, record the outcome.

A claimed row is `sending` under a lease (`lease_until`). The lease is also the claim's token:
the dispatcher that holds a row renews it while the row waits in its memory (`renew_leases`),
and hands it back only under the same token (`postpone(..., lease=...)`). A row whose lease
ran out may be claimed by another dispatcher, which sets a later lease; the first one's
renewal then finds its token gone and it leaves the row alone. No column beyond the lease is
needed, and two claims can never hold the same token (the second one's lease starts after the
first one's ended).

Waking the dispatchers when rows are queued: storage/outbox_wake.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, false, func, not_, update
from sqlmodel import Session, col, or_, select
from sqlmodel.sql.expression import SelectOfScalar

from storage.db import insert_or_ignore
from storage.models import Outbox
from storage.outbox_wake import announce

PENDING, SENDING, SENT, DEAD, SUPERSEDED, SKIPPED = (
    "pending", "sending", "sent", "dead", "superseded", "skipped")
T = TypeVar("T")
# Rows nobody is waiting for at that moment (surveys and their reminders, SLA reminders and
# escalations, digests), by their dedupe key: they use what the rate limits leave over.
BULK_KEYS = ("pulse:", "pulse-reminder:", "remind:", "escalate:", "digest:", "at_risk:")


@dataclass(frozen=True)
class NewMessage:
    """One message to queue. `bulk`: whether it goes after what people are waiting for (cards,
    edits, replies, confirmations); None: told by its dedupe key (`BULK_KEYS`)."""

    dedupe_key: str
    destination: str
    operation: str  # "send" | "update" | "send_file" | "react" | "reply" (to card_key's card)
    payload: dict[str, Any]
    card_key: str | None = None
    bulk: bool | None = None

    @property
    def is_bulk(self) -> bool:
        return self.dedupe_key.startswith(BULK_KEYS) if self.bulk is None else self.bulk


@dataclass
class Skip:
    """Rows a claim leaves where they are: those of `exact` destinations, of `groups` and
    their parts (a Telegram group's forum topics), of `platforms`, and all but the edits of
    `posts_of` platforms."""

    exact: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    platforms: list[str] = field(default_factory=list)
    posts_of: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.exact or self.groups or self.platforms or self.posts_of)

    def condition(self) -> ColumnElement[bool]:
        """SQL: the rows this leaves alone."""
        found: list[ColumnElement[bool]] = []
        destination = col(Outbox.destination)
        if self.exact or self.groups:
            found.append(destination.in_(sorted({*self.exact, *self.groups})))
        found += [destination.startswith(f"{group}/", autoescape=True)
                  for group in sorted(set(self.groups))]
        if self.platforms:
            found.append(col(Outbox.platform).in_(sorted(set(self.platforms))))
        if self.posts_of:
            found.append(and_(col(Outbox.platform).in_(sorted(set(self.posts_of))),
                              col(Outbox.operation) != "update"))
        return or_(*found) if found else false()


@dataclass(frozen=True)
class Claimed:
    """A row taken for delivery. `uncertain`: an earlier attempt may have reached the
    platform (it died mid-delivery, or failed without a clear answer: a timeout, a dropped
    connection, a 5xx), so ask the platform before sending it again."""

    row: Outbox
    uncertain: bool
    card: CardState | None = None  # an edit's or a reply's card, read with the claim


@dataclass(frozen=True)
class CardState:
    """What an edit or a reply needs to know of its card: whether a later edit of the same
    card is queued or shown (`superseded`: this one is stale), and the status and platform
    message id of the card's newest post (None: no post was ever queued)."""

    superseded: bool
    post: tuple[str, str | None] | None

    @property
    def settled(self) -> bool:
        """Whether the post can no longer change: no post, or one sent, dead or skipped (a
        post still on its way is read again when its edit's turn comes)."""
        return self.post is None or self.post[0] in (SENT, DEAD, SKIPPED)


def enqueue(*, session: Session, messages: Sequence[NewMessage], now: datetime) -> None:
    """Queue messages; a dedupe key seen before is skipped (the first one stands)."""
    if not messages:
        return
    values = [
        {"dedupe_key": m.dedupe_key, "destination": m.destination,
         "platform": m.destination.split(":", 1)[0], "operation": m.operation,
         "card_key": m.card_key, "bulk": m.is_bulk, "payload": m.payload,
         "status": PENDING, "attempts": 0, "not_before": now, "created_at": now}
        for m in messages
    ]
    # On the connection, not through the ORM: nothing here needs its flush (capture path).
    connection = session.connection()
    connection.execute(_insert_ignoring_duplicates(connection.dialect.name), values)
    announce(session, connection, frozenset(
        (m.destination, m.is_bulk, m.operation == "update") for m in messages))


@cache
def _insert_ignoring_duplicates(dialect: str) -> Any:
    """INSERT ... ON CONFLICT (dedupe_key) DO NOTHING, built once per dialect (capture path)."""
    table = Outbox.__table__  # type: ignore[attr-defined]
    return insert_or_ignore(dialect, table, "dedupe_key")


def claim_due(*, session: Session, platforms: Sequence[str], now: datetime, limit: int,
              lease: timedelta, skip: Skip | None = None, skip_bulk: Skip | None = None,
              admit: Callable[[Outbox], bool] | None = None) -> list[Claimed]:
    """Take due rows (and rows whose delivery lease expired) of `platforms` for this
    dispatcher: what people are waiting for first, then bulk rows, each oldest first, those
    `admit` takes (the rate limits can serve them soon). Rows `skip` leaves (rate-limited just
    now, or in a queue of this dispatcher's already), and bulk rows `skip_bulk` leaves, stay
    where they are. Each row's `lease_until` is the claim's token (see the module
    docstring)."""
    if not platforms:
        return []
    query = _due(select(Outbox), now, platforms, skip, skip_bulk)
    query = (query.order_by(col(Outbox.bulk), col(Outbox.id)).limit(limit)
             .with_for_update(skip_locked=True))  # replicas on PostgreSQL share the outbox
    claimed = []
    for row in session.exec(query).all():
        if admit is not None and not admit(row):
            continue  # left pending: its rate limits would only make it wait here
        # Attempts count only failures and crashes (a 429 or a release gives its attempt
        # back), and any of those may have reached the platform before it failed.
        claimed.append(Claimed(row=row, uncertain=row.status == SENDING or row.attempts > 0))
        row.status, row.lease_until = SENDING, now + lease
        row.attempts += 1
        session.add(row)
    session.flush()
    states = card_states(session=session, rows=[
        c.row for c in claimed if c.row.card_key and c.row.operation in ("update", "reply")])
    return [replace(c, card=states[c.row.id]) if c.row.id in states else c for c in claimed]


def _due(query: SelectOfScalar[T], now: datetime, platforms: Sequence[str], skip: Skip | None,
         skip_bulk: Skip | None) -> SelectOfScalar[T]:
    """Rows due now (or whose lease ran out) outside what `skip` and `skip_bulk` leave."""
    due = (col(Outbox.status) == PENDING) & (col(Outbox.not_before) <= now)
    stale = (col(Outbox.status) == SENDING) & (col(Outbox.lease_until) < now)
    return query.where(col(Outbox.platform).in_(platforms), or_(due, stale),
                       *_outside(skip, skip_bulk))


def _outside(skip: Skip | None, skip_bulk: Skip | None) -> list[ColumnElement[bool]]:
    conditions = []
    if skip:
        conditions.append(not_(skip.condition()))
    if skip_bulk:
        conditions.append(not_(and_(col(Outbox.bulk), skip_bulk.condition())))
    return conditions


def card_states(*, session: Session, rows: Sequence[Outbox]) -> dict[int, CardState]:
    """The card state of each of these rows of a card (edits, replies, attachments), by row
    id, in two statements whatever their number: a claimed batch needs no read per row."""
    keys = sorted({row.card_key for row in rows if row.card_key is not None})
    if not keys:
        return {}
    newest_edit: dict[str | None, int | None] = dict(session.exec(
        select(Outbox.card_key, func.max(Outbox.id)).where(
            col(Outbox.card_key).in_(keys), Outbox.operation == "update",
            col(Outbox.status).in_((PENDING, SENDING, SENT)))
        .group_by(col(Outbox.card_key))).all())
    posts: dict[str, tuple[int, str, str | None]] = {}
    for key, post_id, status, message_id in session.exec(
            select(Outbox.card_key, Outbox.id, Outbox.status, Outbox.message_id).where(
                col(Outbox.card_key).in_(keys), Outbox.operation == "send")).all():
        assert key is not None and post_id is not None
        if key not in posts or post_id > posts[key][0]:
            posts[key] = (post_id, status, message_id)
    states = {}
    for row in rows:
        assert row.id is not None and row.card_key is not None
        post = posts.get(row.card_key)
        states[row.id] = CardState(
            superseded=row.operation == "update" and (newest_edit.get(row.card_key) or 0) > row.id,
            post=None if post is None else post[1:])
    return states


def next_due(*, session: Session, platforms: Sequence[str], skip: Skip | None = None,
             skip_bulk: Skip | None = None) -> datetime | None:
    """When `claim_due` will next find a row of these platforms outside what `skip` and
    `skip_bulk` leave: the earliest `not_before` of a pending row or `lease_until` of a sending
    one (its dispatcher may have died). None: there is none. A read, for an idle dispatcher to
    know how long to sleep."""
    if not platforms:
        return None
    found = []
    for status, column in ((PENDING, col(Outbox.not_before)),
                           (SENDING, col(Outbox.lease_until))):
        query = select(column).where(col(Outbox.status) == status,
                                     col(Outbox.platform).in_(platforms),
                                     *_outside(skip, skip_bulk))
        # ORDER BY ... LIMIT 1 rather than MIN(): the (status, not_before) index serves it.
        at = session.exec(query.order_by(column).limit(1)).first()
        if at is not None:
            found.append(at)
    return min(found, default=None)


def renew_leases(*, session: Session, held: Mapping[int, datetime], until: datetime
                 ) -> set[int]:
    """Extend to `until` the lease of each row still `sending` under the token it was claimed
    or last renewed with (`held`: id -> token). Return the ids renewed; a missing one was
    finished already, or lost (its lease ran out and another dispatcher took it)."""
    by_token: dict[datetime, list[int]] = defaultdict(list)
    for outbox_id, token in held.items():
        by_token[token].append(outbox_id)
    renewed: set[int] = set()
    for token, ids in by_token.items():  # one statement per claim: rows claimed together
        result = session.execute(
            update(Outbox).where(col(Outbox.id).in_(ids), col(Outbox.status) == SENDING,
                                 col(Outbox.lease_until) == token)
            .values(lease_until=until).returning(col(Outbox.id)))
        renewed.update(int(outbox_id) for outbox_id in result.scalars())
    return renewed


def sent_with_prefix(*, session: Session, destination: str, message_id: str, prefix: str
                     ) -> str | None:
    """The dedupe key of the message sent to `destination` as `message_id`, if that key starts
    with `prefix` (which message a person replied to)."""
    return session.exec(
        select(Outbox.dedupe_key).where(
            Outbox.destination == destination, Outbox.message_id == message_id,
            col(Outbox.dedupe_key).startswith(prefix, autoescape=True))
    ).first()


def in_flight_with_prefix(*, session: Session, destination: str, prefix: str) -> bool:
    """Whether a message to `destination` under a key starting with `prefix` is queued or
    being sent (its platform id not recorded yet)."""
    return session.exec(
        select(Outbox.id).where(
            Outbox.destination == destination, col(Outbox.status).in_((PENDING, SENDING)),
            col(Outbox.dedupe_key).startswith(prefix, autoescape=True))
    ).first() is not None


def finish(*, session: Session, outbox_id: int, status: str, now: datetime,
           message_id: str | None = None, error: str | None = None) -> None:
    """Record a final outcome: sent, dead, superseded or skipped."""
    values: dict[str, Any] = {"status": status, "lease_until": None, "last_error": error}
    if status == SENT:
        values |= {"sent_at": now, "message_id": message_id}
    session.execute(update(Outbox).where(col(Outbox.id) == outbox_id).values(**values))


def postpone(*, session: Session, outbox_id: int, not_before: datetime, error: str | None,
             count_attempt: bool, lease: datetime | None = None) -> bool:
    """Put a row back to pending until `not_before`; with `lease`, only if it is still held
    under that token (a row another dispatcher took over is left to it). True if it was."""
    values: dict[str, Any] = {"status": PENDING, "lease_until": None, "not_before": not_before,
                              "last_error": error}
    if not count_attempt:
        values["attempts"] = col(Outbox.attempts) - 1
    statement = update(Outbox).where(col(Outbox.id) == outbox_id)
    if lease is not None:
        statement = statement.where(col(Outbox.status) == SENDING,
                                    col(Outbox.lease_until) == lease)
    result = session.execute(statement.values(**values))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def list_by_status(*, session: Session, status: str, limit: int = 100) -> Sequence[Outbox]:
    """Rows in one status, oldest first."""
    return session.exec(
        select(Outbox).where(Outbox.status == status).order_by(col(Outbox.id)).limit(limit)
    ).all()


def retry_dead(*, session: Session, ids: Sequence[int] | None, now: datetime) -> int:
    """Send dead rows (all, or the given ids) back to pending with a fresh attempt count: each
    gets the dispatcher's `max_attempts` again before it can be dead-lettered (its age, past
    the limit already, no longer holds it back)."""
    statement = update(Outbox).where(col(Outbox.status) == DEAD)
    if ids is not None:
        statement = statement.where(col(Outbox.id).in_(ids))
    result = session.execute(statement.values(status=PENDING, attempts=0, not_before=now,
                                              lease_until=None))
    count = int(result.rowcount)  # type: ignore[attr-defined]
    if count:  # queued again: wake the dispatchers as for new rows
        announce(session, session.connection(), None)
    return count


def skip_pending(*, session: Session, created_before: datetime, reason: str) -> int:
    """Mark undelivered rows older than a moment as skipped (used for generated demo history)."""
    result = session.execute(
        update(Outbox).where(col(Outbox.status) == PENDING,
                             col(Outbox.created_at) < created_before)
        .values(status=SKIPPED, last_error=reason))
    return int(result.rowcount)  # type: ignore[attr-defined]
