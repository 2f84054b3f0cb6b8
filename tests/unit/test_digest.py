"""The weekly digest: figures against an independent computation, weeks in company time,
rights, rendering, and posting once per audience."""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bot.core.presentation.messages import OutboundFile, OutboundMessage
from bot.core.reporting.digest import MIN_RESPONDENTS, digest_figures, digest_preview, render_digest
from bot.core.reporting.nps import Nps
from bot.core.reporting.periods import Week
from bot.core.service import Draft, VocService
from bot.core.shared.delivery_port import RateLimit
from bot.core.shared.errors import Forbidden, InvalidInput
from jobs.digest import post_digest
from jobs.dispatcher import Dispatcher
from storage.db import Database
from storage.models import Department, JobClaim, Outbox, Person, Score, Signal
from tests.conftest import FakeClock

MSK = ZoneInfo("Europe/Moscow")
WEEK = Week(2026, 47)  # Mon 16 Nov - Sun 22 Nov 2026; the fixture clock is Tue 24 Nov
KATE, OLGA, CEO, ADMIN = "slack:U0SALES1", "slack:U0LOGHEAD", "slack:U0CEO", "slack:U0ADMIN"


class RecordingPort:
    """A fake platform that records what it was asked to post."""

    platforms = ("slack", "telegram")
    rate_limit = RateLimit(per_destination=(1000, 1.0))

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, OutboundMessage | OutboundFile]] = []

    async def send(self, destination: str, message: OutboundMessage, *, dedupe_key: str) -> str:
        self.sent.append((destination, dedupe_key, message))
        return f"m{len(self.sent)}"

    async def update(self, destination: str, message_id: str, message: OutboundMessage) -> None:
        self.sent.append((destination, "update:" + message_id, message))

    async def send_file(self, destination: str, file: OutboundFile, *, dedupe_key: str) -> str:
        self.sent.append((destination, dedupe_key, file))
        return f"f{len(self.sent)}"

    async def find_sent(self, destination: str, dedupe_key: str) -> str | None:
        return None


def ids(db: Database) -> tuple[dict[str, int], int, list[int]]:
    with db.read() as session:
        departments = {d.slug: d.id for d in session.exec(select(Department)).scalars()}
        people = [p.id for p in session.exec(select(Person)).scalars()]
    return departments, people[0], people  # type: ignore[return-value]


def generate(db: Database, rng: random.Random, *, signals: int, scores: int,
             start: datetime, end: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Random signals and scores between start and end, inserted with Core; returned as dicts."""
    departments, reporter, people = ids(db)
    span = (end - start).total_seconds()
    signal_rows = []
    for i in range(signals):
        created = start + timedelta(seconds=rng.uniform(0, span))
        due = created + timedelta(hours=rng.choice((8, 16, 24, 48)))
        status = rng.choice(("routed", "routed", "acknowledged", "resolved", "resolved"))
        acked = (created + timedelta(hours=rng.uniform(0.1, 80))
                 if status != "routed" else None)
        resolved = (acked + timedelta(hours=rng.uniform(1, 100))
                    if status == "resolved" and acked else None)
        kind = rng.choice(("complaint", "praise", "idea"))
        signal_rows.append({
            "kind": kind, "status": status, "text": f"signal {i} {kind}",
            "anonymous": rng.random() < 0.2, "reporter_id": reporter,
            "reporter_identity": KATE, "department_id": rng.choice(list(departments.values())),
            "routing": {}, "created_at": created, "routed_at": created, "ack_due_at": due,
            "acknowledged_at": acked, "resolved_at": resolved, "updated_at": created,
            "score": rng.choice((None, *range(11)))})
    score_rows = []
    for i in range(scores):
        internal = rng.random() < 0.4
        score_rows.append({
            "kind": "internal" if internal else "customer",
            "source": "pulse" if internal else "import", "value": rng.randint(0, 10),
            "at": start + timedelta(seconds=rng.uniform(0, span)),
            "person_id": rng.choice(people) if internal else None,
            "rated_department_id": rng.choice(list(departments.values())) if internal else None,
            "dedupe_key": f"gen:{i}"})
    with db.write() as session:
        session.execute(insert(Signal.__table__), signal_rows)  # type: ignore[attr-defined]
        session.execute(insert(Score.__table__), score_rows)  # type: ignore[attr-defined]
    return signal_rows, score_rows


def week_of(moment: datetime) -> Week:
    iso = moment.astimezone(MSK).isocalendar()
    return Week(iso.year, iso.week)


def test_figures_match_an_independent_computation(service: VocService, db: Database,
                                                  clock: FakeClock) -> None:
    rng = random.Random(4)
    start = datetime(2026, 8, 10, tzinfo=UTC)
    end = datetime(2026, 11, 24, tzinfo=UTC)
    signals, scores = generate(db, rng, signals=600, scores=500, start=start, end=end)
    figures = digest_figures(service, WEEK)
    weeks = [WEEK.shift(i - 11) for i in range(12)]
    assert figures.weeks == tuple(weeks)

    # Customer NPS per week and signals per kind per week, recounted in Python.
    for index, week in enumerate(weeks):
        values = [s["value"] for s in scores if s["kind"] == "customer"
                  and week_of(s["at"]) == week]
        assert figures.nps[index] == Nps.of(values), week
        kinds = Counter(s["kind"] for s in signals if week_of(s["created_at"]) == week)
        assert figures.kinds[index] == dict(kinds), week

    # Loop health of the reported week, per department.
    as_of = clock()
    week_start, week_end = WEEK.bounds("Europe/Moscow")
    as_of = min(as_of, week_end)
    expected: dict[int, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    hours: dict[int, list[float]] = defaultdict(list)
    for s in signals:
        dept = expected[s["department_id"]]
        if week_of(s["created_at"]) == WEEK:
            dept["routed"] += 1
            if s["acknowledged_at"] is not None or s["ack_due_at"] < as_of:
                dept["due"] += 1
            if s["acknowledged_at"] is not None:
                dept["within_sla"] += s["acknowledged_at"] <= s["ack_due_at"]
                hours[s["department_id"]].append(service.company.business_hours.elapsed(
                    s["routed_at"], s["acknowledged_at"]).total_seconds() / 3600)
        if s["resolved_at"] is not None and week_start <= s["resolved_at"] < week_end:
            dept["resolved"] += 1
        if s["status"] in ("routed", "acknowledged"):
            dept["open"] += 1
            dept["open_overdue"] += s["status"] == "routed" and s["ack_due_at"] < as_of
    got = {h.row.department_id: h.row for h in figures.loop}
    assert set(got) == set(expected)
    for department_id, values in expected.items():
        row = got[department_id]
        for name in ("routed", "due", "within_sla", "resolved", "open", "open_overdue"):
            assert getattr(row, name) == values[name], (department_id, name)
        if hours[department_id]:
            assert row.median_ack_hours == pytest.approx(statistics.median(hours[department_id]),
                                                         abs=1e-3)
        else:
            assert row.median_ack_hours is None
    keys = [h.problem for h in figures.loop]
    assert keys == sorted(keys), "problems first"

    # Internal NPS over the last four weeks, with distinct respondents.
    window = set(weeks[-4:])
    internal: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for s in scores:
        if s["kind"] == "internal" and week_of(s["at"]) in window:
            internal[s["rated_department_id"]].append(s)
    names = {d: n for d, (_, n, _) in figures.departments.items()}
    got_internal = {s.name: s for s in figures.internal}
    assert set(got_internal) == {names[d] for d in internal}
    for department_id, rows in internal.items():
        supplier = got_internal[names[department_id]]
        assert supplier.nps == Nps.of(r["value"] for r in rows)
        assert supplier.respondents == len({r["person_id"] for r in rows})

    # Top praise (highest customer score first) and complaints (lowest first).
    for kind, rows, best in (("praise", figures.praise, max), ("complaint", figures.complaints,
                                                                  min)):
        of_week = [s for s in signals if s["kind"] == kind and week_of(s["created_at"]) == WEEK]
        scored = [s["score"] for s in of_week if s["score"] is not None]
        assert len(rows) == min(3, len(of_week))
        assert rows[0].score == best(scored)
        for row in rows:
            original = next(s for s in of_week if s["text"] == row.text)
            assert (row.reporter is None) == original["anonymous"]


def test_week_boundaries_follow_company_time_across_daylight_saving(
        service: VocService, db: Database) -> None:
    berlin = replace(service.company, timezone="Europe/Berlin")
    in_berlin = VocService(db, berlin, clock=service.clock)
    # Berlin moves to summer time on Sun 29 Mar 2026: week 13 lasts 167 hours.
    week = Week(2026, 13)
    start, end = week.bounds("Europe/Berlin")
    assert (end - start) == timedelta(hours=167)
    assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)  # Mon 23 Mar 00:00 CET
    assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # Mon 30 Mar 00:00 CEST
    departments, reporter, _ = ids(db)
    moments = [end - timedelta(minutes=20), end + timedelta(minutes=10),
               start - timedelta(minutes=1), start]
    with db.write() as session:
        session.execute(insert(Signal.__table__), [{  # type: ignore[attr-defined]
            "kind": "complaint", "status": "routed", "text": "t", "anonymous": False,
            "reporter_id": reporter, "reporter_identity": KATE,
            "department_id": departments["it"], "routing": {}, "created_at": m,
            "routed_at": m, "ack_due_at": m, "updated_at": m} for m in moments])
    figures = digest_figures(in_berlin, week)
    # Sunday 23:40 local and Monday 00:00 local are in week 13; 00:10 Monday is week 14.
    assert figures.kinds[-1] == {"complaint": 2}
    assert figures.kinds[-2] == {"complaint": 1}
    assert digest_figures(in_berlin, week.shift(1)).kinds[-1] == {"complaint": 1}


def test_iso_weeks_across_the_new_year() -> None:
    assert str(Week.of(datetime(2027, 1, 1).date())) == "2026-W53"
    assert Week.parse("2026-W53").shift(1) == Week(2027, 1)
    assert Week.last_complete(datetime(2027, 1, 4, 6, 0, tzinfo=UTC), "Europe/Moscow") == Week(
        2026, 53)
    with pytest.raises(ValueError, match="2027 has no week 53"):
        Week.parse("2027-W53")


def test_only_leadership_and_admins_see_the_company_digest(service: VocService) -> None:
    service.identify(KATE)
    with pytest.raises(Forbidden) as refused:
        digest_preview(service, KATE)
    assert "leadership" in str(refused.value)
    with pytest.raises(InvalidInput):
        digest_preview(service, ADMIN, "2026-48")
    company = digest_preview(service, ADMIN, str(WEEK))
    assert company.title.startswith("📊 Weekly VoC digest, week 2026-W47")
    head = digest_preview(service, OLGA)
    assert "Logistics" in head.title


def test_digest_reads_like_a_report(service: VocService, clock: FakeClock) -> None:
    clock.now = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)  # inside week 47
    late = service.capture(KATE, Draft("complaint", "Courier three hours late, sofa scratched",
                                       score=2)).signal
    service.capture(KATE, Draft("praise", "The driver carried the sofa upstairs", score=10,
                                anonymous=True))
    for value in (10, 9, 3):
        service.record_score(KATE, value)
    clock.now = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    message = render_digest(digest_figures(service, WEEK), service.translator("en"),
                            "Europe/Moscow")
    text = message.plain_text()
    # The two signals' scores (2, 10) are customer answers too: 3 promoters, 2 detractors of 5.
    assert "Customer NPS: +20 ±86 (n=5) · too few answers" in text
    assert "Complaints: 1 (last week 0)" in text
    assert f"“Courier three hours late, sofa scratched” — Kate Brown, Logistics ({late.ref})" \
        in text
    assert "“The driver carried the sofa upstairs” — anonymous" in text
    assert ("🔴 Logistics: routed 2, acknowledged within the SLA of 24 business hours 0%, "
            "median – business hours to acknowledge, resolved 0, open 2 (overdue 2)") in text


def test_internal_nps_is_hidden_below_the_minimum_of_respondents(
        service: VocService, db: Database, clock: FakeClock) -> None:
    departments, _, people = ids(db)
    with db.write() as session:
        session.add_all(Score(kind="internal", source="pulse", value=9, person_id=p,
                              rated_department_id=departments[slug],
                              at=clock() - timedelta(days=5), dedupe_key=f"t:{slug}:{p}")
                        for slug, count in (("it", MIN_RESPONDENTS - 1),
                                            ("finance", MIN_RESPONDENTS))
                        for p in people[:count])
    text = render_digest(digest_figures(service, WEEK), service.translator("en"),
                         "Europe/Moscow").plain_text()
    assert f"IT: fewer than {MIN_RESPONDENTS} people answered, not shown" in text
    assert f"Finance: +100 ±0 (n={MIN_RESPONDENTS}) · too few answers" in text


def test_posting_twice_posts_once_per_audience(service: VocService, db: Database) -> None:
    first = post_digest(service, WEEK)
    second = post_digest(service, WEEK)
    assert "leadership" in first.posted and len(first.posted) == 9  # 8 departments + leadership
    assert second.posted == [] and sorted(second.skipped) == sorted(first.posted)
    with db.read() as session:
        claims = session.exec(select(JobClaim)).scalars().all()
        rows = session.exec(select(Outbox)).scalars().all()
    assert sorted(c.period for c in claims) == sorted(f"{WEEK}:{a}" for a in first.posted)
    port = RecordingPort()
    dispatcher = Dispatcher(db, [port], clock=service.clock)
    while asyncio.run(dispatcher.run_once()):
        pass
    assert len(port.sent) == len(rows)
    leadership = [(d, item) for d, _, item in port.sent if d in ("slack:C0LEADERS",
                                                                 "telegram:-1001000")]
    assert len(leadership) == 6  # text, chart and workbook to the channel and the group
    files = [item for _, item in leadership if isinstance(item, OutboundFile)]
    assert {f.filename for f in files} == {f"voc-digest-{WEEK}.png", f"voc-{WEEK}.xlsx"}
    assert all(f.content[:4] in (b"\x89PNG", b"PK\x03\x04") for f in files)
    heads = {d for d, _, item in port.sent if d.startswith(("slack:U", "telegram:1"))}
    assert heads == {"slack:U0CCOHEAD", "slack:U0SALESHEAD", "slack:U0SUPHEAD",
                     "slack:U0LOGHEAD", "slack:U0FINHEAD", "slack:U0ITHEAD", "slack:U0PRODHEAD"}
