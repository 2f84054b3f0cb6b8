"""Excel export read back cell by cell; score import with bad rows; the CLI around both."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlmodel import select

from bot.core.service import Draft, VocService
from jobs.excel import export_workbook
from jobs.imports import ImportFileError, import_scores
from storage.db import Database
from storage.models import Score
from tests.conftest import FakeClock
from tests.unit.test_cli import invoke

KATE, OLGA = "slack:U0SALES1", "slack:U0LOGHEAD"


def small_case(service: VocService, clock: FakeClock) -> str:
    ref = service.capture(KATE, Draft("complaint", "The courier was late", customer="Acme",
                                      score=3)).signal.ref
    clock.advance(hours=2)
    service.acknowledge(OLGA, ref)
    service.capture(KATE, Draft("praise", "Lovely sofa, says the customer", anonymous=True))
    return ref


def test_export_reads_back_cell_by_cell(service: VocService, clock: FakeClock) -> None:
    ref = small_case(service, clock)
    book = load_workbook(io.BytesIO(export_workbook(service, t=service.translator("en"))))
    assert book.sheetnames == ["Summary", "Departments", "Signals", "Events", "Scores",
                               "Customers"]

    signals = book["Signals"]
    assert [c.value for c in signals[1]] == [
        "Ref", "Created", "Kind", "Status", "Department", "Text", "Customer", "Customer score",
        "Reported by", "Acknowledge by", "Acknowledged", "Resolved", "Attachments",
        "Resolution code"]
    first = [c.value for c in signals[2]]
    assert first[:9] == [ref, datetime(2026, 11, 24, 10, 0), "complaint", "acknowledged",
                         "Logistics", "The courier was late", "Acme", 3, "Kate Brown"]
    assert isinstance(first[9], datetime) and first[10] == datetime(2026, 11, 24, 12, 0)
    assert first[11] is None and first[12] == 0 and first[13] is None  # no files, no code
    assert signals["B2"].is_date and signals["H2"].data_type == "n"
    second = [c.value for c in signals[3]]
    assert second[2] == "praise" and second[8] == "anonymous"  # the reporter stays hidden
    assert signals.freeze_panes == "A2" and signals.auto_filter.ref == "A1:N3"
    # The text takes what the other printed columns leave of the page, and wraps within it.
    assert signals.column_dimensions["F"].width >= 80 and signals["F2"].alignment.wrap_text

    events = book["Events"]
    assert [c.value for c in events[2]][:4] == [ref, datetime(2026, 11, 24, 10, 0),
                                                 "captured", "Kate Brown"]
    actions = [row[2].value for row in events.iter_rows(min_row=2)]
    assert actions.count("acknowledged") == 1
    anonymous_capture = [row for row in events.iter_rows(min_row=2)
                         if row[0].value != ref and row[2].value == "captured"]
    assert anonymous_capture[0][3].value == "anonymous"

    scores = book["Scores"]
    assert [c.value for c in scores[2]][:5] == [datetime(2026, 11, 24, 10, 0), "customer",
                                                "chat", 3, "Acme"]
    departments = book["Departments"]
    logistics = next(r for r in departments.iter_rows(min_row=2, values_only=True)
                     if r[0] == "Logistics")
    assert logistics[:7] == ("Logistics", "logistics", 1, 1, 0, 0, 1)  # 100% within SLA
    assert departments._charts  # native charts (none in Summary: its one week is running)
    summary = book["Summary"]
    assert summary["A2"].value == "2026-W48 (incomplete)" and summary["D2"].value == 1


def write_xlsx(path: Path, rows: list[list[object]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def test_import_reports_bad_rows_and_is_idempotent(service: VocService, db: Database,
                                                   tmp_path: Path) -> None:
    path = write_xlsx(tmp_path / "scores.xlsx", [
        ["Date", "Score", "Customer", "Segment", "Comment"],
        [datetime(2026, 11, 2), 9, "Acme", "b2b", "Great"],
        ["2026-11-03", "10", None, "retail", None],
        ["2026-11-03", "10", None, "retail", None],  # the same answer twice: both count
        ["03.11.2026", 11, "Bad", None, None],
        [None, 5, "No date", None, None],
        ["2030-01-01", 5, "Future", None, None],
        ["yesterday", 5, None, None, None],
        ["2026-11-04", 7.0, "Float", None, "x" * 2001],
    ])
    first = import_scores(service, path)
    assert first.imported == 3 and first.already == 0
    assert first.errors == [
        (5, "score '11' is not a whole number from 0 to 10"), (6, "date is missing"),
        (7, "date 2030-01-01 is in the future"),
        (8, "date 'yesterday' is not like 2026-11-24"),
        (9, "comment is 2001 characters long; the limit is 2000")]
    again = import_scores(service, path)
    assert (again.imported, again.already) == (0, 3)
    with db.read() as session:
        stored = session.exec(select(Score).order_by(Score.at)).all()
    assert [(s.value, s.customer, s.source) for s in stored] == [
        (9, "Acme", "import"), (10, None, "import"), (10, None, "import")]
    assert stored[0].at == datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a date: midday in Moscow


def test_import_csv_and_file_level_errors(service: VocService, tmp_path: Path) -> None:
    good = tmp_path / "scores.csv"
    good.write_text("date;score;customer\n2026-11-02;8;Acme\n2026-11-02;x;Acme\n",
                    encoding="utf-8")
    report = import_scores(service, good)
    assert report.imported == 1 and report.errors == [
        (3, "score 'x' is not a whole number from 0 to 10")]
    missing = tmp_path / "missing.csv"
    missing.write_text("when,value\n2026-11-02,8\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="missing: date, score"):
        import_scores(service, missing)
    with pytest.raises(ImportFileError, match=r"expected a \.xlsx or \.csv"):
        import_scores(service, tmp_path / "scores.txt")


def test_cli_export_import_and_digest(db_url: str, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("date,score\n2026-11-02,9\n2026-11-02,12\n", encoding="utf-8")
    result = invoke("import-scores", str(source), db_url=db_url)
    assert result.exit_code == 1
    assert "row 3: score '12' is not a whole number from 0 to 10" in result.output
    assert "imported 1 customer score(s); 0 already imported; 1 bad row(s)" in result.output
    out = tmp_path / "out.xlsx"
    result = invoke("export", "--from", "2026-11-01", "--to", "2026-11-30", "-o", str(out),
                    db_url=db_url)
    assert result.exit_code == 0, result.output
    assert load_workbook(out).worksheets[4]["D2"].value == 9  # Scores, in the company language
    assert invoke("export", "-o", str(tmp_path / "x.csv"), db_url=db_url).exit_code == 2
    result = invoke("digest", "--week", "2026-W45", "--dry-run", db_url=db_url, VOC_LOCALE="en")
    assert result.exit_code == 0, result.output
    assert "Weekly VoC digest, week 2026-W45" in result.output
    assert "Customer NPS: +100 ±0 (n=1)" in result.output
    assert invoke("digest", "--week", "2026-45", db_url=db_url).exit_code == 2
