"""The workbook and the chart a manager would forward. The workbook is read back
with openpyxl in Russian: every header and value in the reader's language, totals under their
own headers, dates as dates, a print setup, no formula. The chart is drawn in English, Russian
and Chinese with every glyph in a font (matplotlib's "Glyph ... missing" warning fails the test)
and whole numbers on the counts panel."""

from __future__ import annotations

import io
import logging
import re
import unicodedata
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from matplotlib.figure import Figure
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.reporting.digest import DigestFigures, digest_figures
from bot.core.reporting.periods import Week
from bot.core.service import Draft, VocService
from bot.core.shared.i18n import Translator
from jobs import charts
from jobs.excel import EVENT_WORDS, KIND_WORDS, SCORE_KIND_WORDS, SOURCE_WORDS, export_workbook
from jobs.imports import import_scores
from jobs.sla_sweep import sweep
from tests.conftest import FakeClock
from tests.support.workbook import HEADERS
from tests.unit.test_export_safety import formulas_in

KATE, IVAN, OLGA = "slack:U0SALES1", "slack:U0LOG1", "slack:U0LOGHEAD"
IT_HEAD, SUP1, FINHEAD = "slack:U0ITHEAD", "slack:U0SUP1", "slack:U0FINHEAD"
WEEK = Week(2026, 48)  # the fixture clock is Tuesday of that week
CODES = ({str(code) for words in (KIND_WORDS, EVENT_WORDS, SCORE_KIND_WORDS, SOURCE_WORDS)
          for code in words} | {"new", "routed", "acknowledged", "resolved"})
DETAIL_KEYS = re.compile(r"\b(to_name|from_name|to|from|by|note|reason|matched|fallback|"
                         r"suggestion|value|kind):")
CYRILLIC = re.compile(r"[\u0400-\u04ff]")
# What people typed and what the departments file names: written as they are, in any language.
TYPED = {"Text", "Customer", "Reported by", "By", "Comment", "Segment", "Department", "Slug",
         "Rating department", "Rated department"}


def russian_case_history(service: VocService, clock: FakeClock, tmp_path: Path) -> None:
    """A complaint that goes the whole loop and back, an anonymous praise, an idea left late
    (reminded and escalated), imported customer scores and a pulse round."""
    ref = service.capture(KATE, Draft("complaint", "The courier was late", customer="Acme",
                                      score=3)).signal.ref
    clock.advance(hours=1)
    service.reassign(OLGA, ref, "it", "The tracking page is broken, not the courier")
    clock.advance(hours=1)
    service.acknowledge(IT_HEAD, ref)
    service.resolve(IT_HEAD, ref, "Fixed the tracking page")
    service.reopen(KATE, ref, "Still broken on mobile")
    service.resolve(IT_HEAD, ref, "Fixed on mobile too")
    service.rate(KATE, ref, 8)
    service.capture(IVAN, Draft("praise", "Lovely sofa, says the customer", anonymous=True))
    service.capture(KATE, Draft("idea", "Send an SMS when the courier leaves the warehouse"))
    scores = tmp_path / "scores.csv"
    scores.write_text("date,score,customer,segment\n2026-11-23,9,Acme,b2b\n"
                      "2026-11-23,4,Bolt,retail\n", encoding="utf-8")
    assert import_scores(service, scores).imported == 2
    for person, value in ((KATE, 9), (SUP1, 10), (IVAN, 3), (FINHEAD, 8)):
        service.answer_pulse(person, "2026-11:it", value)
    clock.advance(days=30)  # the praise and the idea waited past twice their SLA
    late = sweep(service)
    assert (late.reminded, late.escalated) == (2, 2)


def rows(ws: Worksheet) -> list[dict[str, Any]]:
    """Data rows as {English header: cell}, by position."""
    names = HEADERS[SHEET_ORDER[ws.parent.worksheets.index(ws)]]
    return [dict(zip(names, row, strict=False)) for row in ws.iter_rows(min_row=2)
            if any(cell.value is not None for cell in row)]


SHEET_ORDER = list(HEADERS)


def width_of(text: str) -> float:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def test_the_russian_workbook_speaks_russian_prints_and_adds_up(
        service: VocService, clock: FakeClock, tmp_path: Path) -> None:
    russian_case_history(service, clock, tmp_path)
    ru = Translator("ru", "Europe/Moscow")
    content = export_workbook(service, t=ru)
    book = load_workbook(io.BytesIO(content))
    assert book.sheetnames == [ru.gettext(name) for name in SHEET_ORDER]
    assert formulas_in(content) == []
    assert all(cell.data_type != "f" for ws in book for row in ws.iter_rows() for cell in row)

    for english, ws in zip(SHEET_ORDER, book.worksheets, strict=True):
        row = ws[1][:len(HEADERS[english])]  # (the Events and Scores print a note beside)
        headers = [cell.value for cell in row]
        assert headers == [ru.gettext(h) for h in HEADERS[english]], english
        for header, cell in zip(headers, row, strict=True):
            assert CYRILLIC.search(header) or header == "NPS", header  # translated, all of them
            assert cell.font.b and cell.alignment.wrap_text
            width = ws.column_dimensions[cell.column_letter].width
            assert max(width_of(word) for word in header.split()) + 1 <= width, (header, width)
            if width_of(header) + 2 > width:  # wraps: the header row is tall enough for it
                assert ws.row_dimensions[1].height >= 30, header
        # Printing: landscape, one page wide, the header row on every page.
        assert ws.page_setup.orientation == "landscape"
        assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        assert ws.print_title_rows == "$1:$1"
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, datetime):  # dates as dates, in a column they fit
                    assert cell.is_date and "yyyy" in cell.number_format, cell.coordinate
                    assert ws.column_dimensions[cell.column_letter].width >= len(
                        cell.number_format) + 1, cell.coordinate
                elif isinstance(cell.value, str):
                    assert cell.value not in CODES, (english, cell.coordinate, cell.value)
                    assert not DETAIL_KEYS.search(cell.value), (english, cell.value)

    signals, events, scores = (rows(book.worksheets[i]) for i in (2, 3, 4))
    for row in signals:
        assert row["Kind"].value in {ru.gettext(w) for w in KIND_WORDS.values()}
        assert CYRILLIC.search(row["Status"].value)
    assert {row["Action"].value for row in events} == {ru.gettext(EVENT_WORDS[a]) for a in (
        "captured", "routed", "reassigned", "acknowledged", "resolved", "reopened", "rated",
        "reminded", "escalated")}
    details = [row["Details"].value for row in events if row["Details"].value]
    assert ru.gettext("from %(from)s to %(to)s: %(text)s") % {
        "from": "Logistics", "to": "IT",
        "text": "The tracking page is broken, not the courier"} in details
    assert ru.gettext("note: %(text)s") % {"text": "Fixed on mobile too"} in details
    assert ru.gettext("reason: %(text)s") % {"text": "Still broken on mobile"} in details
    assert "8/10" in details
    assert all(CYRILLIC.search(d) or re.fullmatch(r"\d+/10", d) for d in details), details
    for row in scores:
        assert CYRILLIC.search(row["Kind"].value) and CYRILLIC.search(row["Source"].value)
    for row in signals + events + scores:  # every other text cell is Russian or a figure
        for header, cell in row.items():
            if isinstance(cell.value, str) and header not in TYPED | {"Details"}:
                assert CYRILLIC.search(cell.value) or re.fullmatch(
                    r"VOC-\d+|\d{4}-\d{2}", cell.value), (header, cell.value)


def test_totals_sit_under_their_own_headers(
        service: VocService, clock: FakeClock, tmp_path: Path) -> None:
    russian_case_history(service, clock, tmp_path)
    ru = Translator("ru", "Europe/Moscow")
    book = load_workbook(io.BytesIO(export_workbook(service, t=ru)))
    summary, departments = book.worksheets[0], book.worksheets[1]

    weeks = [r for r in rows(summary) if re.fullmatch(r"\d{4}-W\d{2}", str(r["Week"].value))]
    total = next(r for r in rows(summary) if r["Week"].value == ru.gettext("Total"))
    for header in ("Answers", "Complaints", "Praise", "Ideas"):
        assert total[header].value == sum(r[header].value for r in weeks), header
    assert total["Answers"].value == 3  # the signal's score and the two imported answers
    assert total["Customer NPS"].value == -33 and total["Starts"].value is None  # 1 of 3 - 2 of 3
    assert isinstance(total["Margin ±"].value, int)
    period = next(r for r in rows(summary) if r["Week"].value == ru.gettext("Period"))
    assert period["Starts"].is_date and period["Customer NPS"].is_date
    assert period["Starts"].value < period["Customer NPS"].value
    assert all(r["Starts"].is_date for r in weeks)

    listed = [r for r in rows(departments) if r["Slug"].value]
    total = next(r for r in rows(departments) if r["Department"].value == ru.gettext("Total"))
    for header in ("Signals", "Complaints", "Praise", "Ideas", "Resolved", "Open", "Overdue"):
        assert total[header].value == sum(r[header].value for r in listed), header
    assert total["Signals"].value == 3
    assert total["Median business hours to acknowledge"].value is None
    assert total["Acknowledged within SLA"].number_format == "0%"
    assert departments._charts and summary._charts  # the native charts stay


# -- the chart ---------------------------------------------------------------------------------
@pytest.fixture
def figures(service: VocService, clock: FakeClock, tmp_path: Path) -> DigestFigures:
    russian_case_history(service, clock, tmp_path)
    return digest_figures(service, WEEK)


def drawn(figure: Figure) -> None:
    """Render to PNG with every warning an error: a glyph missing from the fonts fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure.savefig(io.BytesIO(), format="png")


@pytest.mark.parametrize("locale", ["en", "ru", "zh"])
def test_the_chart_has_two_aligned_panels_in_every_language(
        figures: DigestFigures, locale: str, caplog: pytest.LogCaptureFixture) -> None:
    t = Translator(locale, "Europe/Moscow")
    with caplog.at_level(logging.WARNING, logger="jobs.charts"):
        figure = charts.digest_figure(figures, t)
        drawn(figure)
    assert not caplog.records  # the language's own labels, not the English fallback
    nps, counts = figure.axes
    assert nps.get_shared_x_axes().joined(nps, counts)
    assert nps.get_position().x0 == pytest.approx(counts.get_position().x0)
    assert nps.get_ylabel() == t.gettext("Customer NPS")
    assert counts.get_ylabel() == t.gettext("Signals per week")
    assert figure.get_suptitle() == t.gettext("Customer NPS and signals, 12 weeks")
    assert nps.get_ylim() == (-100, 100)
    assert not counts.lines  # the NPS zero line stays in the NPS panel, away from the bars
    assert sum(p.get_height() for p in counts.patches) == sum(
        k.get("complaint", 0) + k.get("praise", 0) for k in figures.kinds)
    ticks = counts.get_yticks()
    assert len(ticks) >= 2 and all(float(tick).is_integer() for tick in ticks), ticks
    legend = [text.get_text() for text in figure.legends[0].get_texts()]
    assert legend == [t.gettext(label) for label in (
        "Customer NPS", "95% margin", "Complaints", "Praise")]
    assert charts.digest_chart(figures, t).startswith(b"\x89PNG")


def test_a_chart_without_a_font_for_its_language_falls_back_to_english(
        figures: DigestFigures, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(charts, "_cjk_family", lambda: None)  # as on a machine without one
    with caplog.at_level(logging.WARNING, logger="jobs.charts"):
        figure = charts.digest_figure(figures, Translator("zh", "Europe/Moscow"))
        drawn(figure)  # no boxes
    assert figure.get_suptitle() == "Customer NPS and signals, 12 weeks"
    assert "drawing the chart in English" in caplog.text
    russian = charts.digest_figure(figures, Translator("ru", "Europe/Moscow"))
    assert CYRILLIC.search(russian.get_suptitle())  # DejaVu Sans has Cyrillic of its own
