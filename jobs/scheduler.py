"""The scheduler inside `voc run` / `voc serve`: weekly digest, SLA sweep, pulse rounds, the
nightly routing model (bot/core/routing/training.py).

APScheduler 3 keeps the schedule in memory in every replica (no shared job store: its FAQ says
several processes cannot share one). Exactly-once comes from the claim rows each job takes in
the transaction doing its work, so every replica may fire and only one posts. A run missed
while the bot was down is caught up at start, through the same claims, except for periods
before the bot's first start on the database (jobs/startup.py): a new install sends nothing
on its own until its first digest, pulse round or late case comes due. Each start logs what
is scheduled next and for how many people.

The digest's chart and workbook are the heaviest work the bot does: matplotlib and openpyxl
alone hold about 50 MiB once imported, and a process keeps what it imported. A run whose every
audience is already posted (a restart, the replicas that lost) builds neither; with
`isolated_digest` (what `voc run` and `voc serve` want) a run that has something to post does
it in a child process, which exits when done and takes that memory with it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlmodel import col, select

from bot import logs
from bot.core.handling.reminders import leadership_destinations
from bot.core.meaning.layer import Stored
from bot.core.people.privacy import ErasureReport
from bot.core.reporting.periods import Week, parse_weekly
from bot.core.routing import training
from bot.core.routing.training import TrainReport
from bot.core.service import VocService
from bot.core.shared.company import Company
from bot.core.shared.telemetry import emit
from jobs.digest import PostReport, head_audiences, post_digest
from jobs.pulse import PULSE_TIME, PulseReport, pulse_tick
from jobs.retention import retention_tick
from jobs.sla_sweep import SweepReport, sweep
from jobs.startup import FirstStart, announce, record_first_start
from storage.db import Database
from storage.models import JobClaim

log = logging.getLogger(__name__)
T = TypeVar("T")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
RETENTION_TIME = (3, 30)  # daily, company time: personal data past the retention period goes
ROUTING_TIME = (3, 30)  # the routing model is retrained nightly at 03:30 company time
DIGEST_PROCESS_TIMEOUT = 900  # seconds: a week of signals and its workbook take a few


def digest_trigger(company: Company) -> CronTrigger:
    """The weekly digest time (`digest = "mon 09:00"`) in company time."""
    day, hour, minute = parse_weekly(company.digest)
    return CronTrigger(day_of_week=day, hour=hour, minute=minute,
                       timezone=ZoneInfo(company.timezone))


def digest_slot(week: Week, company: Company) -> datetime:
    """When the digest is due during `week` (it reports the week before)."""
    day, hour, minute = parse_weekly(company.digest)
    local = datetime.combine(week.monday + timedelta(days=DAYS.index(day)),
                             datetime.min.time().replace(hour=hour, minute=minute),
                             tzinfo=ZoneInfo(company.timezone))
    return local.astimezone(ZoneInfo("UTC"))


def due_digest_week(now: datetime, company: Company) -> Week:
    """The week reported by the latest digest slot at or before `now`."""
    current = Week.containing(now, company.timezone)
    return current.shift(-1) if now >= digest_slot(current, company) else current.shift(-2)


class Scheduler:
    """A runtime component: schedules the jobs in the company timezone, catches up at start."""

    name = "scheduler"

    def __init__(self, service: VocService, *, sweep_minutes: float = 5.0,
                 misfire_grace_seconds: int = 6 * 3600, owner: str | None = None,
                 isolated_digest: bool = False) -> None:
        self.service = service
        self.isolated_digest = isolated_digest  # build the digest in a child process
        self.sweep_minutes = sweep_minutes
        self.misfire_grace_seconds = misfire_grace_seconds
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler: AsyncIOScheduler | None = None
        self._catch_up: asyncio.Task[None] | None = None
        self.first_start: FirstStart | None = None
        self.guarded = False  # started: nothing for periods before the first start

    def build(self, loop: asyncio.AbstractEventLoop | None = None) -> AsyncIOScheduler:
        """The scheduler with its three jobs (not started)."""
        company = self.service.company
        tz = ZoneInfo(company.timezone)
        # A late run still runs (up to the grace), piled-up runs collapse into one.
        options: dict[str, Any] = {"coalesce": True, "max_instances": 1,
                                   "misfire_grace_time": self.misfire_grace_seconds,
                                   "replace_existing": True}
        scheduler = AsyncIOScheduler(event_loop=loop, timezone=tz)
        scheduler.add_job(self.digest, digest_trigger(company), id="voc-digest",
                          name="weekly digest", **options)
        scheduler.add_job(self.sweep, IntervalTrigger(minutes=self.sweep_minutes, timezone=tz),
                          id="voc-sla-sweep", name="SLA sweep", **options)
        scheduler.add_job(self.train_routing, CronTrigger(hour=ROUTING_TIME[0],
                                                          minute=ROUTING_TIME[1], timezone=tz),
                          id="voc-routing-train", name="routing model training", **options)
        if company.pulse != "off":
            scheduler.add_job(self.pulse, CronTrigger(hour=PULSE_TIME[0], minute=PULSE_TIME[1],
                                                      timezone=tz),
                              id="voc-pulse", name="internal NPS pulse", **options)
        if company.retention_days is not None:
            scheduler.add_job(self.retention, CronTrigger(
                hour=RETENTION_TIME[0], minute=RETENTION_TIME[1], timezone=tz),
                id="voc-retention", name="retention", **options)
        return scheduler

    async def start(self) -> None:
        """Schedule the jobs, and catch up whatever was missed while the bot was down (in the
        background: a failing job, or a database down, must not keep the bot from starting).
        From then on nothing is sent for periods before the bot's first start."""
        self.guarded = True
        self.scheduler = self.build(asyncio.get_running_loop())
        self.scheduler.start()
        self._catch_up = asyncio.create_task(self.catch_up(), name="scheduler-catch-up")

    async def first(self) -> FirstStart | None:
        """The bot's first start on this database (recorded now if it is this one), once
        started; None before start() (a job run by hand is not held back)."""
        if self.guarded and self.first_start is None:
            self.first_start = await asyncio.to_thread(record_first_start, self.service,
                                                       owner=self.owner)
        return self.first_start

    def announce(self, first: FirstStart) -> list[str]:
        """Log what is scheduled next and for how many (the first digest that will go out)."""
        company = self.service.company
        for fire in next_runs(digest_trigger(company), self.service.clock(), 3):
            week = due_digest_week(fire, company)
            if first.reports(week, company.timezone):
                break
        return announce(self.service, first, digest_at=fire, digest_week=week,
                        audiences=digest_audiences(self.service),
                        sweep_minutes=self.sweep_minutes)

    async def stop(self) -> None:
        """Stop scheduling (a job in its worker thread finishes its transaction)."""
        if self._catch_up is not None:
            await self._catch_up  # it logs its own failures
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    async def catch_up(self) -> None:
        """Run the latest due digest (claimed: posted only if it never was), a sweep, a pulse
        tick (only after the day's pulse time, as the schedule would). Each runs whatever
        happened to the one before; a failure is logged and that job runs again on schedule.
        First, the first start is read (or recorded) and what comes next is logged; if the
        database cannot say, nothing is caught up."""
        try:
            first = await self.first()
            assert first is not None
            await asyncio.to_thread(self.announce, first)
        except Exception:
            log.exception("the database could not say when the bot first started: nothing is "
                          "caught up now, the jobs run on schedule")
            return
        for name, job in (("weekly digest", self.digest), ("SLA sweep", self.sweep),
                          ("internal NPS pulse", self._pulse_if_due),
                          ("retention", self._retention_if_due),
                          ("routing model training", self._train_routing_if_missing)):
            try:
                await job()
            except Exception:
                log.exception("catching up the %s failed; it runs again on schedule", name)
        log.info("start-up catch-up done")

    async def _retention_if_due(self) -> None:
        now = self.service.clock().astimezone(ZoneInfo(self.service.company.timezone))
        if self.service.company.retention_days is not None and (
                (now.hour, now.minute) >= RETENTION_TIME):
            await self.retention()

    async def _pulse_if_due(self) -> None:
        now = self.service.clock().astimezone(ZoneInfo(self.service.company.timezone))
        if self.service.company.pulse != "off" and (now.hour, now.minute) >= PULSE_TIME:
            await self.pulse()

    async def digest(self) -> PostReport:
        """Post the digest of the week the latest slot reports (once per audience)."""
        week = due_digest_week(self.service.clock(), self.service.company)
        return await counted("digest", self._post_digest_unless_before_first_start(week))

    async def _post_digest_unless_before_first_start(self, week: Week) -> PostReport:
        first = await self.first()
        if first is not None and not first.reports(week, self.service.company.timezone):
            log.info("digest %s: not sent, the week ended before the bot's first start on "
                     "this database", week)
            return PostReport(week)
        return await asyncio.to_thread(self._post_digest, week)

    def _post_digest(self, week: Week) -> PostReport:
        posted = posted_audiences(self.service, week)
        audiences = digest_audiences(self.service)
        if audiences <= posted:  # nothing to post: build nothing
            return PostReport(week, skipped=sorted(audiences))
        if self.isolated_digest:
            return post_digest_in_child(self.service, week, owner=self.owner)
        return post_digest(self.service, week, owner=self.owner)

    async def sweep(self) -> SweepReport:
        """Remind and escalate overdue items."""
        return await counted("sla_sweep", self._since_first_start(sweep, self.service))

    async def retention(self) -> ErasureReport | None:
        """Erase personal data past the retention period (once a day across replicas)."""
        return await counted("retention", asyncio.to_thread(retention_tick, self.service,
                                                            owner=self.owner))

    async def train_routing(self) -> TrainReport | None:
        """Retrain the routing model on the history, once a day across replicas."""
        day = self.service.clock().astimezone(ZoneInfo(self.service.company.timezone)).date()
        return await counted("routing_training", asyncio.to_thread(
            training.train_once, self.service, day.isoformat(), owner=self.owner))

    async def _train_routing_if_missing(self) -> None:
        """At start: train when the database has no model yet (a new install, an upgrade)."""
        with self.service.db.read() as session:
            training.refresh(self.service, session, force=True)
        if self.service.router.model_id is None:
            await self.train_routing()

    async def pulse(self) -> PulseReport:
        """Open or remind the current pulse round."""
        return await counted("pulse", self._since_first_start(pulse_tick, self.service,
                                                              owner=self.owner))

    async def _since_first_start(self, job: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """`job(*args, first_start=..., **kwargs)` in a worker thread."""
        first = await self.first()
        return await asyncio.to_thread(job, *args, first_start=first.at if first else None,
                                       **kwargs)


async def counted(job: str, work: Awaitable[T]) -> T:
    """Await a job's run and tell the metrics how it ended (`ok` or `failed`); its log lines
    carry the job's name and a run id."""
    try:
        with logs.context(job=job, job_id=uuid.uuid4().hex[:12]):
            result = await work
    except BaseException:
        emit("job_run", job=job, outcome="failed")
        raise
    emit("job_run", job=job, outcome="ok")
    return result


def digest_audiences(service: VocService) -> set[str]:
    """Who gets the digest, named as jobs/digest.py claims them: `leadership` (when it has a
    channel or chat) and `head:<department>:<person id>`."""
    heads = {f"head:{slug}:{person_id}" for slug, person_id, *_ in head_audiences(service)}
    return heads | ({"leadership"} if leadership_destinations(service) else set())


def posted_audiences(service: VocService, week: Week) -> set[str]:
    """The audiences whose digest of `week` has been claimed (by any replica)."""
    prefix = f"{week}:"
    with service.db.read() as session:
        periods = session.exec(select(JobClaim.period).where(
            JobClaim.job == "digest", col(JobClaim.period).startswith(prefix))).all()
    return {period.removeprefix(prefix) for period in periods}


def post_digest_in_child(service: VocService, week: Week, *, owner: str) -> PostReport:
    """`post_digest` in a Python process of its own (`digest_child`), the same database and
    company handed over on its stdin (the URL's password never shows in a process list)."""
    url = service.db.engine.url.render_as_string(hide_password=False)
    request = pickle.dumps((url, service.company, week, owner, service.meaning.model))
    done = subprocess.run([sys.executable, "-c", "from jobs.scheduler import digest_child; "
                           "digest_child()"], input=request, capture_output=True,
                          timeout=DIGEST_PROCESS_TIMEOUT, check=False)
    if done.returncode != 0:
        said = (done.stderr.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
        if password := service.db.engine.url.password:
            said = said.replace(str(password), "***")
        raise RuntimeError(f"the digest process exited with {done.returncode}: {said[:300]}")
    report: PostReport = pickle.loads(done.stdout)
    log.info("%s (built in a child process)", report.summary())
    return report


def digest_child() -> None:
    """The child's side: read (database URL, company, week, owner), post, write the report."""
    url, company, week, owner, language = pickle.loads(sys.stdin.buffer.read())
    db = Database.connect(url)
    # The themes read the vectors the parent's language layer stored; nothing is embedded here.
    service = VocService(db, company, embedder=Stored(language))
    try:
        report = post_digest(service, week, owner=owner)
    finally:
        service.captures.close()
        db.dispose()
    sys.stdout.buffer.write(pickle.dumps(report))


def next_runs(trigger: CronTrigger, after: datetime, count: int) -> list[datetime]:
    """The trigger's next `count` fire times after `after` (for tests and `voc digest`)."""
    runs: list[datetime] = []
    previous: datetime | None = None
    moment = after
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None:
            break
        runs.append(fire)
        previous, moment = fire, fire + timedelta(microseconds=1)
    return runs

