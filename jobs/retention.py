"""The daily retention run (bot/core/people/privacy.py), claimed once a day across replicas."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from bot.core.people.privacy import ErasureReport, retention
from bot.core.service import VocService
from storage.claims import claim

log = logging.getLogger(__name__)


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
    report = retention(service, actor=f"scheduler:{owner}")
    log.info("%s", report.summary())
    return report
