"""A digest run with nothing left to post (a restart, the replicas that lost)
builds no chart and no workbook; one with an audience left posts it; an isolated one builds
them in a child process, which takes their memory with it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select

import jobs.digest
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.company import Company
from jobs.scheduler import Scheduler, digest_audiences, post_digest_in_child, posted_audiences
from storage.db import Database
from storage.models import JobClaim, Outbox


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every week whose chart and workbook were built."""
    built: list[str] = []
    real = jobs.digest.leadership_files

    def counted(service: VocService, figures: Any, t: Any) -> Any:
        built.append(str(figures.week))
        return real(service, figures, t)

    monkeypatch.setattr(jobs.digest, "leadership_files", counted)
    return built


def test_a_digest_already_posted_is_not_built_again(service: VocService,
                                                    builds: list[str]) -> None:
    scheduler = Scheduler(service, owner="replica")
    first = asyncio.run(scheduler.digest())
    assert "leadership" in first.posted and len(builds) == 1
    assert set(first.posted) == digest_audiences(service) == posted_audiences(service,
                                                                             first.week)

    again = asyncio.run(Scheduler(service, owner="restarted").digest())

    assert again.posted == [] and sorted(again.skipped) == sorted(first.posted)
    assert len(builds) == 1  # nothing built for nobody


def test_an_audience_left_is_still_posted(service: VocService, builds: list[str]) -> None:
    first = asyncio.run(Scheduler(service, owner="replica").digest())
    head = next(audience for audience in first.posted if audience.startswith("head:"))
    with service.db.write() as session:  # as if this head had been added since
        claim = session.exec(select(JobClaim).where(
            JobClaim.job == "digest", JobClaim.period == f"{first.week}:{head}")).one()
        session.delete(claim)

    again = asyncio.run(Scheduler(service, owner="restarted").digest())

    assert again.posted == [head] and "leadership" in again.skipped


@pytest.mark.slow  # a child process
def test_an_isolated_digest_is_built_and_posted_by_a_child_process(
        db: Database, company: Company, builds: list[str]) -> None:
    service = VocService(db, company)  # the real clock: the child process has no other
    scheduler = Scheduler(service, owner="replica", isolated_digest=True)

    report = asyncio.run(scheduler.digest())

    assert "leadership" in report.posted and builds == []  # built, but not in this process
    with db.read() as session:
        keys = {row.dedupe_key for row in session.exec(select(Outbox)).all()}
    files = {key.split(":")[3].split("@")[0] for key in keys
             if key.startswith(f"digest:{report.week}:leadership:")}
    assert files == {"text", f"voc-digest-{report.week}.png", f"voc-{report.week}.xlsx"}
    again = asyncio.run(scheduler.digest())  # posted: no child process at all
    assert again.posted == [] and "leadership" in again.skipped


@pytest.mark.slow  # a child process
def test_a_failing_digest_process_fails_the_run_with_what_it_said(company: Company) -> None:
    empty = Database.connect("sqlite://")  # the child opens a database without our tables
    service = VocService(empty, company)
    with pytest.raises(RuntimeError, match=r"the digest process exited with 1: .*no such table"):
        post_digest_in_child(service, Week(2026, 47), owner="replica")
