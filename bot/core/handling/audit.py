"""The audit trail: every change to a signal is an event (who, what, when, why)."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot.core.shared.context import Core
from bot.core.shared.rows import row_id
from storage import queries as q
from storage.models import Event, Person, Signal

History = list[tuple[Event, str | None]]  # events of one signal with their actors' names


def record_event(core: Core, session: Session, signal: Signal, actor: Person | None,
                 action: str, details: dict[str, Any]) -> Event:
    """Write `signal`'s pending changes and the event that explains them."""
    session.add(signal)  # add_event's flush writes the signal's changes too
    event = q.add_event(session=session, signal_id=row_id(signal),
                        actor_id=actor.id if actor else None, action=action,
                        at=core.clock(), details=details)
    cache = _cache(session)
    if signal.id in cache:
        cache[row_id(signal)].append((event, actor.display_name if actor else None))
    return event


def history_of(session: Session, signal: Signal) -> History:
    """The signal's events, oldest first: read once per transaction, then kept current by
    `record_event` (a use case renders the same signal several times)."""
    cache = _cache(session)
    if signal.id not in cache:
        cache[row_id(signal)] = q.events_of(session=session, signal_id=row_id(signal))
    return cache[row_id(signal)]


def _cache(session: Session) -> dict[int, History]:
    cache: dict[int, History] = session.info.setdefault("voc_history", {})
    return cache
