"""The language layer's vectors of signals: stored, read, found missing, erased.

Data functions never commit: the caller's transaction holds them (bot/core owns it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col

from storage.models import Signal, SignalVector

if TYPE_CHECKING:  # numpy is loaded with the first vector: with the layer off, never
    import numpy as np


def store(*, session: Session, model: str, vectors: Iterable[tuple[int, np.ndarray]],
          now: datetime | None = None) -> int:
    """Each signal's vector from `model`, replacing any it had (of any model)."""
    given = list(vectors)
    if not given:
        return 0
    import numpy as np

    rows = [(signal_id, np.asarray(vector, dtype=np.float32)) for signal_id, vector in given]
    at = now or datetime.now(UTC)
    session.execute(delete(SignalVector).where(
        col(SignalVector.signal_id).in_([signal_id for signal_id, _ in rows])))
    session.add_all([SignalVector(signal_id=signal_id, model=model, vector=vector.tobytes(),
                                  created_at=at) for signal_id, vector in rows])
    session.flush()
    return len(rows)


def read(*, session: Session, model: str, signal_ids: Sequence[int]) -> dict[int, np.ndarray]:
    """The stored vectors of `model` for those signals that have one."""
    if not signal_ids:
        return {}
    import numpy as np

    found = session.execute(sa_select(col(SignalVector.signal_id), col(SignalVector.vector)).where(
        col(SignalVector.model) == model, col(SignalVector.signal_id).in_(signal_ids)))
    return {signal_id: np.frombuffer(blob, dtype=np.float32) for signal_id, blob in found}


def newest(*, session: Session, model: str, kinds: Sequence[str], limit: int
           ) -> list[tuple[str, int, np.ndarray]]:
    """(text, department id, vector) of the newest `limit` signals of `kinds` with a vector of
    `model` whose text is kept, newest first."""
    import numpy as np

    rows = session.execute(
        sa_select(col(Signal.text), col(Signal.department_id), col(SignalVector.vector))
        .join(SignalVector, col(SignalVector.signal_id) == col(Signal.id))
        .where(col(SignalVector.model) == model, col(Signal.kind).in_(list(kinds)),
               col(Signal.erased_at).is_(None))
        .order_by(col(Signal.id).desc()).limit(limit))
    return [(str(text), int(department), np.frombuffer(blob, dtype=np.float32))
            for text, department, blob in rows]


def missing(*, session: Session, model: str, after_id: int = 0, limit: int = 256
            ) -> list[tuple[int, str]]:
    """(id, text) of signals with a text and no vector of `model`, by id after `after_id`."""
    query = (sa_select(col(Signal.id), col(Signal.text))
             .outerjoin(SignalVector, (col(SignalVector.signal_id) == col(Signal.id))
                        & (col(SignalVector.model) == model))
             .where(col(SignalVector.signal_id).is_(None), col(Signal.erased_at).is_(None),
                    col(Signal.id) > after_id, col(Signal.text) != "")
             .order_by(col(Signal.id)).limit(limit))
    return [(int(signal_id), str(text)) for signal_id, text in session.execute(query)]


def counts(*, session: Session, model: str) -> tuple[int, int]:
    """(signals with a vector of `model`, signals with a text that could have one)."""
    indexed = session.execute(sa_select(func.count()).select_from(SignalVector).join(
        Signal, col(Signal.id) == col(SignalVector.signal_id)).where(
        col(SignalVector.model) == model, col(Signal.erased_at).is_(None))).scalar_one()
    total = session.execute(sa_select(func.count()).select_from(Signal).where(
        col(Signal.erased_at).is_(None), col(Signal.text) != "")).scalar_one()
    return int(indexed), int(total)


def erase(*, session: Session, signal_ids: Sequence[int]) -> int:
    """Remove the vectors of these signals (their texts are being erased: a vector is what the
    text meant, and goes with it)."""
    if not signal_ids:
        return 0
    result = session.execute(delete(SignalVector).where(
        col(SignalVector.signal_id).in_(signal_ids)))
    return int(getattr(result, "rowcount", 0) or 0)
