"""Retention runs (bot/core/people/privacy.py): daily, claimed once a day across replicas,
and by hand (`voc retention`). Whichever starts them, one run works at a time: a run holds the
`retention-run` claim while it erases, so runs started at once (three `voc retention`, or one
beside the daily run) do not erase the same cases and audit them twice; the others say who is
at work and change nothing. A claim left by a run that died is taken over after STALE.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from sqlmodel import col, delete, select

from bot.core.people.privacy import ErasureReport, retention
from bot.core.service import VocService
from storage.claims import claim
from storage.models import JobClaim

log = logging.getLogger(__name__)
RUN_JOB, RUNNING = "retention-run", "running"
STALE = timedelta(hours=6)  # longer than any run over years of history takes


def retention_tick(service: VocService, *, owner: str) -> ErasureReport | None:
    """Run retention if the company keeps data for a limited time and no replica has run it
    today (company time); None when there was nothing to do here."""
    if service.company.retention_days is None:
        return None
    now = service.clock()
    today = now.astimezone(ZoneInfo(service.company.timezone)).date().isoformat()
    with service.db.write() as session:
        if not claim(session=session, job="retention", period=today, owner=owner, now=now):
            return None
    report = run_once(service, actor=f"scheduler:{owner}")
    log.info("%s", report.summary())
    return report


def run_once(service: VocService, *, actor: str, dry_run: bool = False) -> ErasureReport:
    """One retention run, unless another one is at work (then its report says so)."""
    if dry_run or service.company.retention_days is None:
        return retention(service, actor=actor, dry_run=dry_run)
    holder = _take(service, actor)
    if holder is not None:
        report = ErasureReport("retention")
        report.note = (f"retention: another run ({holder}) is at work; nothing was done by "
                       "this one")
        return report
    try:
        return retention(service, actor=actor)
    finally:
        with service.db.write() as session:
            session.execute(delete(JobClaim).where(
                col(JobClaim.job) == RUN_JOB, col(JobClaim.period) == RUNNING,
                col(JobClaim.owner) == actor[:120]))


def _take(service: VocService, actor: str) -> str | None:
    """Hold the run's claim; None when taken, else who holds it and since when."""
    now = service.clock()
    with service.db.write() as session:
        if claim(session=session, job=RUN_JOB, period=RUNNING, owner=actor, now=now):
            return None
        held = session.exec(select(JobClaim).where(
            JobClaim.job == RUN_JOB, JobClaim.period == RUNNING).with_for_update()).first()
        if held is None or held.claimed_at < now - STALE:  # ended meanwhile, or its run died
            if held is not None:
                session.delete(held)
                session.flush()
            return None if claim(session=session, job=RUN_JOB, period=RUNNING, owner=actor,
                                 now=now) else "another run"
        return f"{held.owner}, since {held.claimed_at:%Y-%m-%d %H:%M} UTC"
