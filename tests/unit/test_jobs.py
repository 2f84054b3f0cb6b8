"""Scheduled jobs: the SLA sweep, internal NPS pulses, the scheduler's triggers and catch-up."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, select

from bot.core.presentation.render import pulse_thanks
from bot.core.reporting.periods import Week
from bot.core.reporting.pulses import asks
from bot.core.service import Draft, VocService
from bot.core.shared.errors import Forbidden, InvalidTransition
from jobs.pulse import pulse_tick
from jobs.scheduler import Scheduler, digest_trigger, due_digest_week, next_runs
from jobs.sla_sweep import escalation_due, sweep
from storage.db import Database
from storage.models import Department, JobClaim, Outbox, Signal
from tests.conftest import FakeClock
from tests.unit.test_digest import RecordingPort
from tests.unit.test_first_start import bot_ran_since

IVAN, OLGA, KATE = "slack:U0LOG1", "slack:U0LOGHEAD", "slack:U0SALES1"
LEADERSHIP = {"slack:C0LEADERS", "telegram:-1001000"}


def rows(db: Database, prefix: str) -> list[Outbox]:
    with db.read() as session:
        return [r for r in session.exec(select(Outbox).order_by(col(Outbox.id))).all()
                if r.dedupe_key.startswith(prefix)]


def late_signal(service: VocService) -> Signal:
    ref = service.capture(IVAN, Draft("complaint", "The courier was late again")).signal.ref
    with service.db.read() as session:
        signal = session.get(Signal, int(ref.split("-")[1]))
        assert signal is not None
        return signal


# -- SLA sweep -------------------------------------------------------------------------------
def test_sweep_reminds_once_then_escalates_once_at_twice_the_sla(
        service: VocService, db: Database, clock: FakeClock) -> None:
    signal = late_signal(service)
    clock.now = signal.ack_due_at - timedelta(minutes=1)
    assert sweep(service).reminded == 0

    clock.now = signal.ack_due_at + timedelta(minutes=1)
    assert (sweep(service).reminded, sweep(service).reminded) == (1, 0)
    reminders = rows(db, "remind:")
    assert [r.destination for r in reminders] == [OLGA]  # Olga once, not once per account
    assert reminders[0].payload["message"]["buttons"][0]["action"] == "ack"
    card = rows(db, "card-update:")[-1].payload["message"]
    reminded = service.translator().gettext(  # the card speaks the company's language
        "Overdue: the heads were reminded, %(when)s").split("%(when)s")[0]
    assert any(line.startswith(reminded) for line in card["footer"])

    with db.read() as session:
        department = session.get(Department, signal.department_id)
        assert department is not None
        escalate_at = escalation_due(service, signal, department)
    assert escalate_at > signal.ack_due_at
    clock.now = escalate_at - timedelta(minutes=1)
    assert sweep(service).escalated == 0
    clock.now = escalate_at + timedelta(minutes=1)
    reports = [sweep(service) for _ in range(2)]
    assert [r.escalated for r in reports] == [1, 0]
    assert {r.destination for r in rows(db, "escalate:")} == LEADERSHIP
    card = rows(db, "card-update:")[-1].payload["message"]
    escalated = service.translator().gettext(
        "Escalated to leadership (twice the SLA), %(when)s").split("%(")[0]
    assert any(line.startswith(escalated) for line in card["footer"])
    assert len(rows(db, "remind:")) == 1


def test_concurrent_sweeps_remind_once(service: VocService, db: Database,
                                       clock: FakeClock) -> None:
    signals = [late_signal(service) for _ in range(3)]
    clock.now = max(s.ack_due_at for s in signals) + timedelta(minutes=1)
    barrier = threading.Barrier(3)
    totals: list[int] = []

    def run() -> None:
        barrier.wait()
        totals.append(sweep(service).reminded)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(totals) == 3 and len(rows(db, "remind:")) == 3


def test_acknowledged_items_are_not_chased_and_a_new_routing_is_chased_afresh(
        service: VocService, db: Database, clock: FakeClock) -> None:
    signal = late_signal(service)
    clock.now = signal.ack_due_at + timedelta(minutes=1)
    assert sweep(service).reminded == 1
    moved = service.reassign(OLGA, f"VOC-{signal.id}", "finance", "A refund question")
    clock.now = moved.ack_due_at + timedelta(minutes=1)
    assert sweep(service).reminded == 1  # Finance's heads, for the new routing
    service.acknowledge("slack:U0FINHEAD", moved.ref)
    clock.now += timedelta(days=30)
    assert sweep(service).reminded == sweep(service).escalated == 0


# -- pulses ----------------------------------------------------------------------------------
def test_pulse_round_opens_once_and_reminds_only_those_who_did_not_answer(
        service: VocService, db: Database, clock: FakeClock) -> None:
    questions = asks(service)
    assert {(a.destination, a.supplier) for a in questions if a.destination == IVAN} == {
        (IVAN, "it"), (IVAN, "finance")}
    first = pulse_tick(service)
    assert first.round == "2026-11" and first.asked == len(questions)
    assert pulse_tick(service).asked == 0
    [question] = [r.payload["message"] for r in rows(db, "pulse:2026-11:it:")
                  if r.destination == IVAN]
    assert [b["value"] for b in question["buttons"]] == [str(v) for v in range(11)]
    assert {b["action"] for b in question["buttons"]} == {"pulse"}
    ivan = service.translator(service.person(IVAN).locale)  # type: ignore[union-attr]
    assert question["title"] == ivan.gettext(
        "How likely are you to recommend %(supplier)s's work to a colleague?") % {
        "supplier": "IT"}

    answer = service.answer_pulse(IVAN, "2026-11:it", "9")
    assert (answer.value, answer.supplier.slug, answer.rater_department) == (9, "it",
                                                                              "Logistics")
    thanks = pulse_thanks(answer, service.translator("en"))
    assert thanks.buttons[0].value == "comment"
    with pytest.raises(InvalidTransition, match="already answered the 2026-11 pulse about IT"):
        service.answer_pulse(IVAN, "2026-11:it", 3)
    commented = service.answer_pulse(IVAN, "2026-11:it", "comment", "Faster tickets, please")
    assert commented.comment == "Faster tickets, please" and commented.value == 9

    clock.now = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)  # Sat 10:00 MSK, 3 days before the end
    reminded = pulse_tick(service)
    assert reminded.reminded == len(questions) - 1
    assert pulse_tick(service).reminded == 0
    keys = {r.dedupe_key for r in rows(db, "pulse-reminder:")}
    assert "pulse-reminder:2026-11:it:" + str(answer_person(service)) not in keys


def answer_person(service: VocService) -> int:
    person = service.person(IVAN)
    assert person is not None
    return person.id


def test_pulse_answers_are_refused_when_they_make_no_sense(service: VocService,
                                                           clock: FakeClock) -> None:
    with pytest.raises(Forbidden, match="Only departments that Customer support serves"):
        service.answer_pulse(KATE, "2026-11:support", 7)  # Sales does not rate Support
    with pytest.raises(InvalidTransition, match="2026-10 pulse is closed"):
        service.answer_pulse(IVAN, "2026-10:it", 7)
    with pytest.raises(InvalidTransition, match="Choose a score"):
        service.answer_pulse(IVAN, "2026-11:it", "comment", "no score yet")
    with pytest.raises(Exception, match="not a pulse"):
        service.answer_pulse(IVAN, "yesterday:it", 7)


# -- scheduler -------------------------------------------------------------------------------
def test_digest_trigger_keeps_local_time_across_daylight_saving(service: VocService) -> None:
    from dataclasses import replace

    berlin = replace(service.company, timezone="Europe/Berlin")
    runs = next_runs(digest_trigger(berlin), datetime(2026, 3, 20, tzinfo=UTC), 3)
    assert [r.astimezone(UTC) for r in runs] == [
        datetime(2026, 3, 23, 8, 0, tzinfo=UTC),  # 09:00 CET
        datetime(2026, 3, 30, 7, 0, tzinfo=UTC),  # 09:00 CEST, after the change
        datetime(2026, 4, 6, 7, 0, tzinfo=UTC)]


def test_the_due_digest_week_changes_at_the_digest_time(service: VocService) -> None:
    company = service.company  # Moscow, "mon 09:00"
    monday_0859 = datetime(2026, 11, 23, 5, 59, tzinfo=UTC)
    assert due_digest_week(monday_0859, company) == Week(2026, 46)
    assert due_digest_week(monday_0859 + timedelta(minutes=1), company) == Week(2026, 47)


def test_scheduler_jobs_are_configured_for_replicas(service: VocService) -> None:
    scheduler = Scheduler(service).build()
    jobs = {job.id: job for job in scheduler.get_jobs()}
    assert set(jobs) == {"voc-digest", "voc-sla-sweep", "voc-pulse", "voc-routing-train"}
    for job in jobs.values():
        assert job.coalesce and job.misfire_grace_time >= 3600 and job.max_instances == 1


def test_start_catches_up_a_missed_digest_once_and_it_is_delivered_once(
        service: VocService, db: Database, clock: FakeClock) -> None:
    port = RecordingPort()
    bot_ran_since(service.db, clock.now - timedelta(days=10))  # and was down on Monday

    async def start_and_stop() -> None:
        from jobs.dispatcher import Dispatcher

        scheduler = Scheduler(service, owner="replica")
        await scheduler.start()
        await scheduler.stop()
        dispatcher = Dispatcher(db, [port], clock=service.clock)
        while await dispatcher.run_once():
            pass

    asyncio.run(start_and_stop())  # Tuesday: Monday's digest (week 47) was missed
    asyncio.run(start_and_stop())  # a restart (or a second replica) posts nothing again
    with db.read() as session:
        periods = [c.period for c in session.exec(select(JobClaim)).all() if c.job == "digest"]
    assert "2026-W47:leadership" in periods and len(periods) == len(set(periods))
    texts = [(d, key) for d, key, _ in port.sent if key.startswith("digest:2026-W47:leadership")]
    assert sorted(d for d, _ in texts) == sorted(list(LEADERSHIP) * 3)


def test_everyone_asked_in_a_pulse_may_answer_what_they_are_asked(service: VocService) -> None:
    # The CCO head also heads Marketing: they rate their own department's suppliers, the ones
    # `answer_pulse` lets them rate, and are never asked a question they would be refused.
    questions = asks(service)
    cco_head = service.person("slack:U0CCOHEAD")
    assert cco_head is not None and len(cco_head.heads) == 2
    assert {a.supplier for a in questions if a.person_id == cco_head.id}
    assert len({(a.person_id, a.supplier) for a in questions}) == len(questions)  # once each
    round_id = "2026-11"
    for ask in questions:
        service.answer_pulse(ask.destination, f"{round_id}:{ask.supplier}", 8)
