"""Exactly-once markers for scheduled work, taken inside the transaction doing the work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from storage.models import JobClaim


def claim(*, session: Session, job: str, period: str, owner: str, now: datetime) -> bool:
    """Insert the (job, period) claim; False if another run (or replica) already has it.

    On PostgreSQL a concurrent claimer waits on the unique index until the first transaction
    ends: if it commits, this one gets False; if it rolls back, this one takes over.
    """
    try:
        with session.begin_nested():  # a savepoint: losing must not end the caller's transaction
            session.add(JobClaim(job=job, period=period, owner=owner[:120], claimed_at=now))
            session.flush()
    except IntegrityError:
        return False
    return True


def claimed_at(*, session: Session, job: str, period: str) -> datetime | None:
    """When the (job, period) ran, if it did."""
    return session.exec(select(JobClaim.claimed_at).where(
        JobClaim.job == job, JobClaim.period == period)).first()
