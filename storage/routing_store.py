"""The routing model's rows and the history it learns from."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from sqlalchemy import delete, desc
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from storage.models import Department, RoutingModel, Signal

KEEP = 3  # models kept (the newest is used; two before it for a look back)


class HistoryRow(NamedTuple):
    """A routed case: its id, text, final owner (slug), status, routing details and date."""

    id: int
    text: str
    slug: str
    status: str
    routing: dict[str, object]
    created_at: datetime


def history(*, session: Session) -> list[HistoryRow]:
    """Every signal with the department that owns it now, oldest first; a report merged into
    another case ("me too") is that case's, which counts once."""
    rows = session.execute(
        sa_select(col(Signal.id), col(Signal.text), col(Department.slug), col(Signal.status),
                  col(Signal.routing), col(Signal.created_at))
        .join(Department, col(Department.id) == col(Signal.department_id))
        .where(col(Signal.merged_into_id).is_(None))
        .order_by(col(Signal.created_at), col(Signal.id))).all()
    return [HistoryRow(int(r[0] or 0), r[1], r[2], r[3], dict(r[4] or {}), r[5]) for r in rows]


def save(*, session: Session, payload: bytes, cases: int, now: datetime) -> int:
    """Store a new model and drop all but the newest KEEP; its id."""
    row = RoutingModel(trained_at=now, cases=cases, payload=payload)
    session.add(row)
    session.flush()
    assert row.id is not None
    kept = session.exec(select(RoutingModel.id).order_by(desc(col(RoutingModel.id)))
                        .limit(KEEP)).all()
    session.execute(delete(RoutingModel).where(col(RoutingModel.id).not_in(kept)))
    return row.id


def latest_id(*, session: Session) -> int | None:
    """The id of the newest model, if any."""
    return session.exec(select(RoutingModel.id).order_by(desc(col(RoutingModel.id)))
                        .limit(1)).first()


def load(*, session: Session, model_id: int) -> RoutingModel | None:
    """One model row."""
    return session.get(RoutingModel, model_id)
