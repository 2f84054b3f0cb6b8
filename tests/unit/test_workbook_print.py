"""A workbook a manager forwards: whole weeks in the Summary (the running one marked and kept
out of the chart), a single week still visible as a point, dates apart from the next column,
and a print setup people rely on: every sheet A4 landscape, one page wide, its header on every
page; of the Signals, the columns a reader needs (number, date, kind, status, department, text)
at 9 pt or more, 300 signals in seven or eight pages; the Events and Scores print a note, not their
rows, which all stay in the file. (LibreOffice prints such a workbook on 12 pages:
bench/export.py --print measures it.)"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import column_index_from_string, range_boundaries
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import func, select

from bot.core.capture.reports import Draft
from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from jobs.excel import export_workbook
from jobs.workbook_cells import column_pixels, display_width
from storage.models import Event
from tests.support.workbook import HEADERS, SHEETS

A4_LANDSCAPE_INCHES = (11.69, 8.27)


def print_columns(ws: Worksheet) -> tuple[int, int, int]:
    """(first column, last column, last row) that print: the print area, or the whole sheet."""
    if not ws.print_area:
        return 1, ws.max_column, ws.max_row
    area = ws.print_area.split("!")[-1].replace("$", "")
    first, _, last, bottom = range_boundaries(area if ":" in area else f"{area}:{area}")
    return int(first or 1), int(last or first or 1), int(bottom or 1)


def printed(ws: Worksheet) -> tuple[float, int]:
    """(point size, pages) of the 11 pt text of a sheet printed one page wide on A4 landscape,
    as a spreadsheet lays it out: a column of width w is 7w + 5 px at 96 dpi; a row is 15 pt
    per wrapped line."""
    first, last, bottom = print_columns(ws)
    widths = {letter: d.width for letter, d in ws.column_dimensions.items()
              if first <= column_index_from_string(letter) <= last}
    margins = ws.page_margins
    across = (A4_LANDSCAPE_INCHES[0] - margins.left - margins.right) * 72
    down = (A4_LANDSCAPE_INCHES[1] - margins.top - margins.bottom) * 72
    scale = min(1.0, across / (sum(column_pixels(w) for w in widths.values()) * 0.75))
    lines = 0
    for row in ws.iter_rows(min_row=2, max_row=bottom, min_col=first, max_col=last):
        lines += max([1, *(math.ceil(display_width(str(c.value)) / (widths[c.column_letter] - 1))
                           for c in row if c.value and c.alignment.wrap_text)])
    header = ws.row_dimensions[1].height * scale
    return 11 * scale, math.ceil(lines * 15 * scale / (down - header))


def test_a_300_signal_export_prints_the_columns_a_reader_needs(
        service: VocService, demo: Callable[..., Any]) -> None:
    demo(signals=300, weeks=8)
    ru = Translator("ru", service.company.timezone)
    book = load_workbook(io.BytesIO(export_workbook(service, t=ru)))

    for ws in book.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
            "landscape", 9, 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title  # the header on every page

    signals = book.worksheets[SHEETS.index("Signals")]
    assert signals.max_row == 301 and signals.max_column == len(HEADERS["Signals"])  # all kept
    assert signals.print_area == f"'{signals.title}'!$A$1:$F$301"
    assert [c.value for c in signals[1][:6]] == [
        ru.gettext(h) for h in ("Ref", "Created", "Kind", "Status", "Department", "Text")]
    points, pages = printed(signals)
    assert points >= 9 and pages <= 8, (points, pages)  # LibreOffice: 9.0 pt, 7 pages
    assert signals["F2"].alignment.wrap_text  # the text wraps within its column
    assert signals["B2"].is_date and signals["B2"].alignment.horizontal == "left"

    with service.db.read() as session:
        events = session.exec(select(func.count()).select_from(Event)).one()
    for name, rows in (("Events", events), ("Scores", None)):
        ws = book.worksheets[SHEETS.index(name)]
        first, last, bottom = print_columns(ws)
        assert first == last == len(HEADERS[name]) + 2 and bottom == 1, ws.print_area
        note = str(ws.cell(1, first).value)
        assert f"{ws.max_row - 1} " in note and "print" not in note, note  # in Russian
        assert rows is None or ws.max_row == rows + 1  # every event stays in the file
        assert ws.auto_filter.ref == f"A1:{ws.cell(1, len(HEADERS[name])).column_letter}" \
                                     f"{ws.max_row}"

    for name in ("Summary", "Departments", "Customers"):  # whole, on one page each
        ws = book.worksheets[SHEETS.index(name)]
        assert not ws.print_area, name
        points, pages = printed(ws)
        assert points >= 9 and pages == 1, (name, points, pages)

    summary = book.worksheets[SHEETS.index("Summary")]
    labels = [str(row[0].value) for row in summary.iter_rows(min_row=2)
              if str(row[0].value).startswith("20")]  # the weeks, not the totals
    running = Week.containing(service.clock(), service.company.timezone)
    assert labels[-1] == f"{running} (неполная неделя)"  # the running week, marked
    assert all("(" not in label for label in labels[:-1])  # the rest are whole weeks
    chart = summary._charts[0]
    categories = chart.series[0].cat.strRef or chart.series[0].cat.numRef
    assert categories.f.endswith(f"$A${len(labels)}")  # the chart stops before it
    # Below the table (beside it, the page would print at 8 pt).
    assert chart.anchor._from.col == 0 and chart.anchor._from.row > summary.max_row - 1


def test_a_single_weeks_chart_shows_its_point(service: VocService,
                                              demo: Callable[..., Any]) -> None:
    demo(signals=40, weeks=2)
    week = Week.last_complete(service.clock(), service.company.timezone)
    start, end = week.bounds(service.company.timezone)
    book = load_workbook(io.BytesIO(export_workbook(service, start=start, end=end,
                                                    t=Translator("en", "Europe/Moscow"))))
    summary = book.worksheets[SHEETS.index("Summary")]
    assert summary["A2"].value == str(week) and summary["C2"].value is not None
    series = summary._charts[0].series[0]
    assert series.marker is not None and series.marker.symbol == "circle"


def test_a_long_text_makes_its_row_tall_enough_to_print(service: VocService) -> None:
    long = "The sofa arrived scratched and the courier left before we could check it. " * 4
    service.capture("slack:U0SALES1", Draft("complaint", long))
    service.capture("slack:U0SALES1", Draft("complaint", "The courier was late"))
    book = load_workbook(io.BytesIO(export_workbook(service, t=Translator("en", "UTC"))))
    signals = book.worksheets[SHEETS.index("Signals")]
    width = signals.column_dimensions["F"].width
    lines = math.ceil(display_width(long) / width)  # 300 characters: four lines or so
    # LibreOffice keeps a row as tall as the file says, so the file says it.
    assert signals.row_dimensions[2].height >= 15 * lines, (signals.row_dimensions[2].height,
                                                            lines)
    assert all(cell.alignment.vertical == "top" for cell in signals[2] if cell.value is not None)
    assert signals.row_dimensions[3].height is None  # a short text: one line, as by default
