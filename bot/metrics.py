"""`GET /metrics` in Prometheus text format.

Two kinds of figures. What this process did (captures, delivery latency and attempts, rate-limit
waits, job runs) is counted as it happens from the events of bot/core/shared/telemetry.py:
each replica reports its own, and Prometheus sums them across replicas. What the database
holds (outbox
pending and dead, SLA overdue) is read at scrape time with a few grouped queries on indexed
columns, cached for a few seconds, so every replica reports the same shared figures (use `max`
across replicas, not `sum`, for those). Each replica reports its own dispatcher's heartbeat
(labelled with the replica's name): Prometheus scrapes every replica, and a replica that is
gone shows as its target's `up` 0. Keeping heartbeats in the database would cost a write every
few seconds on an idle bot, which an idle bot must not do.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func
from sqlmodel import col, select

from bot.core.shared import telemetry as observe
from bot.core.shared.platforms import PLATFORMS
from storage import outbox
from storage.db import Database
from storage.models import Department, Outbox, Signal

log = logging.getLogger(__name__)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
CACHE_SECONDS = 5.0  # scrapes closer together than this share one set of database queries
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DELIVERY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0, 3600.0)

# -- what this process does (one set per process, whatever number of runtimes it builds) -----
PROCESS = CollectorRegistry(auto_describe=True)
CAPTURES = Counter("voc_captures", "Signals captured, by the reporter's platform and kind",
                   ["platform", "kind"], registry=PROCESS)
CAPTURE_SECONDS = Histogram("voc_capture_seconds", "From a capture request to its signal stored "
                            "with its cards queued", ["platform"], buckets=LATENCY_BUCKETS,
                            registry=PROCESS)
DELIVERY_SECONDS = Histogram("voc_delivery_seconds", "From a message queued in the outbox to "
                             "the platform accepting it", ["platform"], buckets=DELIVERY_BUCKETS,
                             registry=PROCESS)
DELIVERY_ATTEMPTS = Histogram("voc_delivery_attempts", "Attempts a delivered message took",
                              ["platform"], buckets=(1, 2, 3, 5, 8, 13, 21), registry=PROCESS)
DELIVERY_OUTCOMES = Counter("voc_deliveries", "Delivery attempts by outcome (sent, failed: "
                            "retried later, dead: given up)", ["platform", "outcome"],
                            registry=PROCESS)
RATE_LIMIT_WAITS = Counter("voc_rate_limit_waits", "Deliveries held by a rate limit: `platform` "
                           "(HTTP 429 / flood control) or `voc` (our own token buckets)",
                           ["platform", "by"], registry=PROCESS)
RATE_LIMIT_SECONDS = Counter("voc_rate_limit_wait_seconds", "Seconds of rate-limit waits",
                             ["platform", "by"], registry=PROCESS)
JOB_RUNS = Counter("voc_job_runs", "Scheduled job runs by job and outcome (ok, failed)",
                   ["job", "outcome"], registry=PROCESS)


def _record(event: str, fields: dict[str, Any]) -> None:
    """Turn one observed event into metric updates."""
    if event == "captured":
        CAPTURES.labels(fields["platform"], fields["kind"]).inc()
    elif event == "capture_latency":
        CAPTURE_SECONDS.labels(fields["platform"]).observe(fields["seconds"])
    elif event == "delivered":
        DELIVERY_SECONDS.labels(fields["platform"]).observe(fields["seconds"])
        DELIVERY_ATTEMPTS.labels(fields["platform"]).observe(fields["attempts"])
    elif event == "delivery_attempt":
        DELIVERY_OUTCOMES.labels(fields["platform"], fields["outcome"]).inc()
    elif event == "rate_limited":
        RATE_LIMIT_WAITS.labels(fields["platform"], fields["by"]).inc()
        RATE_LIMIT_SECONDS.labels(fields["platform"], fields["by"]).inc(fields["seconds"])
    elif event == "job_run":
        JOB_RUNS.labels(fields["job"], fields["outcome"]).inc()


_subscribed = threading.Lock()
_unsubscribe: Callable[[], None] | None = None


def start_counting() -> None:
    """Count this process's events from now on (idempotent)."""
    global _unsubscribe
    with _subscribed:
        if _unsubscribe is None:
            _unsubscribe = observe.subscribe(_record)


# -- what the database holds (the same on every replica) ---------------------------------------
@dataclass(frozen=True)
class Shared:
    """One reading of the database's figures."""

    outbox: dict[tuple[str, str], int]  # (platform, status) -> rows
    oldest_pending: dict[str, float]  # platform -> age in seconds of its oldest due row
    overdue: dict[str, int]  # department slug -> signals past their acknowledgement SLA


def read_shared(db: Database, now: datetime) -> Shared:
    """The figures, in one read transaction of three grouped queries."""
    waiting = (outbox.PENDING, outbox.SENDING, outbox.DEAD)
    with db.read() as session:
        counts = session.exec(
            select(Outbox.platform, Outbox.status, func.count(), func.min(Outbox.not_before))
            .where(col(Outbox.status).in_(waiting))
            .group_by(Outbox.platform, Outbox.status)).all()
        overdue = session.exec(
            select(Department.slug, func.count())
            .join(Signal, and_(col(Signal.department_id) == Department.id,
                               col(Signal.status) == "routed", col(Signal.ack_due_at) < now))
            .group_by(Department.slug)).all()
    oldest: dict[str, float] = {}
    for platform, status, _, first_due in counts:
        if status == outbox.PENDING and first_due is not None:
            oldest[platform] = max(0.0, (now - first_due).total_seconds())
    return Shared(outbox={(platform, status): n for platform, status, n, _ in counts},
                  oldest_pending=oldest, overdue=dict(overdue))


class SharedCollector(Collector):
    """The database's figures at scrape time (cached `CACHE_SECONDS`)."""

    def __init__(self, db: Database, clock: Callable[[], datetime],
                 platforms: Iterable[str] = tuple(PLATFORMS)) -> None:
        self.db = db
        self.clock = clock
        self.platforms = tuple(platforms)
        self._lock = threading.Lock()
        self._cached: tuple[float, Shared | None] = (-CACHE_SECONDS, None)

    def _reading(self) -> Shared | None:
        with self._lock:
            at, shared = self._cached
            if time.monotonic() - at >= CACHE_SECONDS:
                try:
                    shared = read_shared(self.db, self.clock())
                except Exception as exc:  # the type only: connection errors name hosts
                    log.warning("metrics: cannot read the database (%s)", type(exc).__name__)
                    shared = None
                self._cached = (time.monotonic(), shared)
            return shared

    def collect(self) -> Iterator[Metric]:
        shared = self._reading()
        up = GaugeMetricFamily("voc_database_up", "1 when this scrape could read the database")
        up.add_metric([], 0.0 if shared is None else 1.0)
        yield up
        if shared is None:
            return
        messages = GaugeMetricFamily("voc_outbox_messages", "Outbox messages waiting (pending, "
                                     "sending) or given up (dead), by platform",
                                     labels=["platform", "status"])
        platforms = sorted(set(self.platforms) | {p for p, _ in shared.outbox})
        for platform in platforms:
            for status in (outbox.PENDING, outbox.SENDING, outbox.DEAD):
                messages.add_metric([platform, status],
                                    float(shared.outbox.get((platform, status), 0)))
        yield messages
        oldest = GaugeMetricFamily("voc_outbox_oldest_pending_seconds", "How long the oldest "
                                   "due pending message has waited", labels=["platform"])
        for platform in platforms:
            oldest.add_metric([platform], shared.oldest_pending.get(platform, 0.0))
        yield oldest
        overdue = GaugeMetricFamily("voc_sla_overdue", "Open signals past their acknowledgement "
                                    "SLA, by department", labels=["department"])
        for slug, count in sorted(shared.overdue.items()):
            overdue.add_metric([slug], float(count))
        yield overdue


class HeartbeatCollector(Collector):
    """This replica's dispatcher: seconds since its last turn or idle heartbeat."""

    def __init__(self, replica: str, alive_at: Callable[[], datetime | None],
                 clock: Callable[[], datetime]) -> None:
        self.replica, self.alive_at, self.clock = replica, alive_at, clock

    def collect(self) -> Iterator[Metric]:
        beats = GaugeMetricFamily("voc_dispatcher_heartbeat_age_seconds", "Seconds since this "
                                  "replica's outbox dispatcher last reported alive",
                                  labels=["replica"])
        if (alive_at := self.alive_at()) is not None:
            beats.add_metric([self.replica],
                             max(0.0, (self.clock() - alive_at).total_seconds()))
        yield beats


class _Process(Collector):
    """This process's own figures, inside a runtime's registry."""

    def collect(self) -> Iterator[Metric]:
        yield from PROCESS.collect()


class Metrics:
    """A runtime's `/metrics`: this process's figures and the database's."""

    def __init__(self, db: Database, clock: Callable[[], datetime], *,
                 replica: str = "", alive_at: Callable[[], datetime | None] | None = None
                 ) -> None:
        start_counting()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Process())
        self.registry.register(SharedCollector(db, clock))
        if alive_at is not None:
            self.registry.register(HeartbeatCollector(replica, alive_at, clock))

    def exposition(self) -> bytes:
        """The text format Prometheus scrapes (database work: call it from a worker thread)."""
        return generate_latest(self.registry)
