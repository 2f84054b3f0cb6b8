"""Retention and deletion requests, on both databases: `voc retention` removes the
texts and names of cases closed long ago and keeps the numbers; `voc forget` removes a person."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sqlmodel import col, select

from bot.core.capture.reports import Draft
from bot.core.people.privacy import FORGOTTEN_NAME, forget, retention
from bot.core.reporting.digest import digest_figures
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from jobs.retention import retention_tick
from jobs.scheduler import Scheduler
from storage.models import AdminEvent, Event, Identity, Outbox, Person, Score, Signal
from tests.conftest import EXAMPLE_COMPANY, FakeClock
from tests.unit.test_cli import invoke

HEAD = "slack:U0LOGHEAD"  # Olga Petrova, head of Logistics
KATE = "slack:U0SALES1"
ANNA = "telegram:2001"
STRANGER = "telegram:5005"  # wrote to the bot; the departments file does not list them


def old_history(service: VocService, clock: FakeClock) -> tuple[str, str, str]:
    """Three cases of one week: one closed, one acknowledged, one open; and NPS answers."""
    closed = service.capture(KATE, Draft("complaint", "Courier Boris was rude to Mrs Ivanova",
                                         customer="Maria Ivanova", score=3,
                                         source_link="https://chat.example/p1",
                                         department="logistics")).signal.ref
    acked = service.capture(ANNA, Draft("complaint", "Sofa delivered scratched",
                                        customer="Petr Petrov", department="logistics")).signal.ref
    still_open = service.capture(KATE, Draft("praise", "Great assembly team",
                                             customer="ACME", score=10,
                                             department="logistics")).signal.ref
    service.record_score(KATE, 9, customer="Globex", comment="Fast delivery, thanks Ivan")
    clock.advance(hours=2)
    service.acknowledge(HEAD, closed)
    service.acknowledge(HEAD, acked)
    service.resolve(HEAD, closed, "Called Mrs Ivanova at +7 999 123-45-67 and apologised")
    service.reopen(KATE, closed, "Mrs Ivanova says nobody called")
    service.acknowledge(HEAD, closed)
    service.resolve(HEAD, closed, "Called again, refund issued")
    return closed, acked, still_open


def signal(service: VocService, ref: str) -> Signal:
    with service.db.read() as session:
        row = session.get(Signal, int(ref.removeprefix("VOC-")))
        assert row is not None
        return row


def numbers(figures) -> tuple:
    """What a digest counts: NPS, kinds, loop health, internal NPS, the quoted cases' ids."""
    return (figures.nps, figures.kinds, figures.loop, figures.internal)


def test_retention_keeps_the_numbers_of_an_old_week_and_removes_its_words(
        service: VocService, clock: FakeClock) -> None:
    service.company = dataclasses.replace(service.company, retention_days=30)
    week = Week.containing(clock(), service.company.timezone)
    closed, acked, still_open = old_history(service, clock)
    clock.advance(days=31)
    before = digest_figures(service, week)
    assert "Courier Boris" in before.complaints[-1].text or any(
        "Courier Boris" in v.text for v in before.complaints)

    dry = retention(service, actor="test", dry_run=True)
    assert dry.cases == 1 and "would erase the personal data of 1 case(s)" in dry.summary()
    assert signal(service, closed).text.startswith("Courier Boris")  # a dry run changes nothing

    report = retention(service, actor="cli:ops@host")
    assert report.cases == 1
    assert "retention: erased the personal data of 1 case(s) (signals: 1" in report.summary()
    after = digest_figures(service, week)
    assert numbers(after) == numbers(before)  # the NPS trend and loop health are unchanged
    assert all("Courier Boris" not in v.text for v in after.complaints)

    gone = signal(service, closed)
    assert (gone.text, gone.customer, gone.source_link) == ("", None, None)
    assert gone.erased_at == clock() and gone.score == 3 and gone.status == "resolved"
    assert signal(service, acked).customer == "Petr Petrov"  # not closed: kept
    assert signal(service, still_open).text == "Great assembly team"
    with service.db.read() as session:
        notes = [e.details for e in session.exec(select(Event).where(
            Event.signal_id == gone.id, col(Event.action).in_(["resolved", "reopened"])))]
        assert notes and all("note" not in d and "reason" not in d for d in notes)
        scores = session.exec(select(Score).order_by(col(Score.id))).all()
        by_signal = next(s for s in scores if s.signal_id == gone.id)
        assert (by_signal.value, by_signal.customer, by_signal.comment) == (3, None, None)
        imported = next(s for s in scores if s.signal_id is None)
        assert (imported.value, imported.customer, imported.comment) == (9, None, None)
        assert all("Courier Boris" not in str(row.payload) for row in session.exec(
            select(Outbox).where(col(Outbox.status) != "pending")))
        audit = session.exec(select(AdminEvent)).one()
        assert audit.action == "retention" and audit.actor == "cli:ops@host"
        assert audit.details["cases"] == 1 and audit.details["days"] == 30
        assert session.exec(select(Event).where(Event.signal_id == gone.id,
                                                Event.action == "erased")).one()
    view = service.show(HEAD, closed)  # the case still opens, with its history
    assert view.ref == closed

    again = retention(service, actor="test")
    assert again.cases == 0 and numbers(digest_figures(service, week)) == numbers(before)


def test_without_retention_days_nothing_is_removed(service: VocService,
                                                   clock: FakeClock) -> None:
    closed, *_ = old_history(service, clock)
    clock.advance(days=3650)
    report = retention(service, actor="test")
    assert "retention_days is not set" in report.summary()
    assert signal(service, closed).customer == "Maria Ivanova"


def test_forget_removes_a_person_and_makes_their_reports_anonymous(service: VocService,
                                                                   clock: FakeClock) -> None:
    ref = service.capture(STRANGER, Draft("complaint", "Sofa delivered scratched",
                                      department="logistics")).signal.ref
    with service.db.read() as session:
        person_id = session.get(Identity, STRANGER).person_id  # type: ignore[union-attr]
    report = forget(service, STRANGER, actor="cli:ops@host")
    assert report.cases == 1
    assert report.summary() == (f"forget: person #{person_id} is now 'Forgotten person': 1 "
                                "account(s) removed, 1 report(s) made anonymous")
    with service.db.read() as session:
        assert session.get(Identity, STRANGER) is None
        assert session.get(Person, person_id).display_name == FORGOTTEN_NAME  # type: ignore
        audit = session.exec(select(AdminEvent)).one()
        assert audit.action == "forget" and audit.details["person_id"] == person_id
        assert STRANGER not in str(audit.details)
    row = signal(service, ref)
    assert row.anonymous and row.reporter_identity == "forgotten"
    assert service.show(HEAD, ref).reporter is None  # anonymous to the department
    # Their case goes on; nothing is sent to them any more.
    service.acknowledge(HEAD, ref)
    service.resolve(HEAD, ref, "Replaced the sofa")
    with service.db.read() as session:
        to_them = session.exec(select(Outbox).where(
            col(Outbox.destination).in_([STRANGER, "forgotten"]),
            Outbox.status == "pending")).all()
    assert to_them == []
    assert "nobody has the account" in forget(service, STRANGER, actor="x").summary()
    assert "is not an identity" in forget(service, "anna", actor="x").summary()


def test_the_daily_run_is_claimed_once_across_replicas(service: VocService,
                                                       clock: FakeClock) -> None:
    service.company = dataclasses.replace(service.company, retention_days=30)
    old_history(service, clock)
    clock.advance(days=40)
    first = retention_tick(service, owner="replica-a")
    second = retention_tick(service, owner="replica-b")
    assert first is not None and first.cases == 1 and second is None
    clock.advance(days=1)
    assert retention_tick(service, owner="replica-b") is not None  # the next day runs again
    jobs = {job.id for job in Scheduler(service).build().get_jobs()}
    assert "voc-retention" in jobs


def test_voc_retention_and_voc_forget_say_what_they_did(db_url: str, tmp_path: Path) -> None:
    departments = tmp_path / "departments.toml"
    departments.write_text(EXAMPLE_COMPANY.read_text().replace(
        'pulse = "monthly"', 'pulse = "monthly"\nretention_days = 90', 1))
    dry = invoke("retention", "--dry-run", db_url=db_url, departments=departments)
    assert dry.exit_code == 0, dry.output
    assert "would erase the personal data of 0 case(s)" in dry.output
    done = invoke("retention", db_url=db_url, departments=departments)
    assert done.exit_code == 0 and "retention: erased" in done.output
    unknown = invoke("forget", "telegram:424242", db_url=db_url, departments=departments)
    assert unknown.exit_code == 1 and "nobody has the account telegram:424242" in unknown.output
    listed = invoke("forget", "slack:U0LOG1", db_url=db_url, departments=departments)
    assert listed.exit_code == 0, listed.output
    assert "'Forgotten person'" in listed.output and "still lists slack:U0LOG1" in listed.output
    bad = tmp_path / "bad.toml"
    bad.write_text(departments.read_text().replace("retention_days = 90", "retention_days = 0"))
    refused = invoke("departments", "check", db_url=db_url, departments=bad)
    assert refused.exit_code == 2
    assert "field 'retention_days': 0 must be a whole number of days" in refused.output
    bad.write_text(departments.read_text().replace("retention_days = 90",
                                                   'retention_days = "90"'))
    text = invoke("departments", "check", db_url=db_url, departments=bad)
    assert text.exit_code == 2 and "Traceback" not in text.output
    assert "field 'retention_days': must be a whole number of days" in text.output


def test_voc_help_lists_the_operations_commands_and_settings(tmp_path: Path) -> None:
    from tests.unit.test_cli_small_things import invoke as plain_invoke
    from tests.unit.test_cli_small_things import plain

    url = f"sqlite:///{tmp_path / 'voc.db'}"
    top = " ".join(plain(plain_invoke("--help", db_url=url).output).split())
    for said in ("retention Remove texts and names", "forget Remove one person's name",
                 "VOC_LOG_FORMAT", "VOC_METRICS_PORT", "VOC_METRICS_HOST"):
        assert said in top, top
    serve = " ".join(plain(plain_invoke("serve", "--help", db_url=url).output).split())
    assert "/readyz" in serve and "/metrics" in serve
    retention_help = " ".join(plain(plain_invoke("retention", "--help", db_url=url).output
                                    ).split())
    assert "--dry-run" in retention_help
    forget_help = " ".join(plain(plain_invoke("forget", "--help", db_url=url).output).split())
    assert "{identity}" in forget_help and "slack:U0123" in forget_help


def test_retention_removes_the_files_of_old_closed_cases_and_keeps_shared_ones(
        service: VocService, clock: FakeClock) -> None:
    from bot.core.capture.evidence import IncomingFile
    from storage import files as stored

    service.company = dataclasses.replace(service.company, retention_days=30)
    photo = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"scratched sofa" * 50
    receipt = b"%PDF-1.4\n" + b"order 12345, Maria Ivanova" * 20
    old = service.capture(KATE, Draft("complaint", "Sofa scratched", department="logistics",
                                      files=(IncomingFile("sofa.jpg", photo, len(photo)),
                                             IncomingFile("receipt.pdf", receipt,
                                                          len(receipt))))).signal
    service.acknowledge(HEAD, old.ref)
    service.resolve(HEAD, old.ref, "Replaced")
    clock.advance(days=31)
    recent = service.capture(ANNA, Draft("complaint", "Same sofa again", department="logistics",
                                         files=(IncomingFile("same.jpg", photo,
                                                             len(photo)),))).signal
    report = retention(service, actor="test")
    assert report.cases == 1 and "attachments: 2" in report.summary()
    with service.db.read() as session:
        assert stored.names_of(session=session, signal_id=old.id) == ()
        assert stored.names_of(session=session, signal_id=recent.id) == ("same.jpg",)
        [kept] = stored.attachments_of(session=session, signal_id=recent.id)
        assert stored.content(session=session, sha256=kept.sha256) == photo  # still shared
        assert session.exec(select(Outbox)).all()  # the history of deliveries stays


def test_retention_erases_the_questions_and_answers_of_old_closed_cases(
        service: VocService, clock: FakeClock) -> None:
    service.company = dataclasses.replace(service.company, retention_days=30)
    ref = service.capture(KATE, Draft("complaint", "Sofa scratched",
                                      department="logistics")).signal.ref
    service.ask(HEAD, ref, "Which order was it, and the customer's phone?")
    service.answer(KATE, ref, "Order 12345, Maria Ivanova, +7 999 123-45-67")
    service.acknowledge(HEAD, ref)
    service.resolve(HEAD, ref, "Replaced")
    clock.advance(days=31)
    assert retention(service, actor="test").cases == 1
    with service.db.read() as session:
        said = [str(e.details) for e in session.exec(select(Event).where(
            col(Event.action).in_(["asked", "answered"])))]
    assert len(said) == 2 and not any("12345" in d or "phone" in d for d in said)
