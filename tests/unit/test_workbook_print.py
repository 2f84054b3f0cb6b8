"""A workbook a manager forwards: whole weeks in the Summary (the running one marked and kept
out of the chart), a single week still visible as a point, dates apart from the next column,
and every sheet printing A4 landscape, one page wide, its header on every page; the Signals
sheet of 300 signals in about ten pages at a size people read."""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from typing import Any

from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from bot.core.reporting.periods import Week
from bot.core.service import VocService
from bot.core.shared.i18n import Translator
from jobs.excel import export_workbook
from jobs.workbook_cells import display_width
from tests.support.workbook import SHEETS

A4_LANDSCAPE_INCHES = (11.69, 8.27)


def printed(ws: Worksheet) -> tuple[float, int]:
    """(scale, pages) of a sheet printed one page wide on A4 landscape, as a spreadsheet lays
    it out: a column of width w is 7w + 5 px at 96 dpi; a row is 15 pt per wrapped line."""
    widths = {letter: d.width for letter, d in ws.column_dimensions.items()}
    margins = ws.page_margins
    across = (A4_LANDSCAPE_INCHES[0] - margins.left - margins.right) * 72
    down = (A4_LANDSCAPE_INCHES[1] - margins.top - margins.bottom) * 72
    scale = min(1.0, across / (sum(7 * w + 5 for w in widths.values()) * 0.75))
    lines = 0
    for row in ws.iter_rows(min_row=2):
        lines += max([1, *(math.ceil(display_width(str(c.value)) / (widths[c.column_letter] - 1))
                           for c in row if c.value and c.alignment.wrap_text)])
    header = 3 * 15 * scale
    return scale, math.ceil(lines * 15 * scale / (down - header))


def test_a_300_signal_export_prints_one_page_wide_legibly(
        service: VocService, demo: Callable[..., Any]) -> None:
    demo(signals=300, weeks=8)
    book = load_workbook(io.BytesIO(export_workbook(service, t=Translator(
        "ru", service.company.timezone))))

    for ws in book.worksheets:
        setup = ws.page_setup
        assert (setup.orientation, setup.paperSize, setup.fitToWidth, setup.fitToHeight) == (
            "landscape", 9, 1, 0), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.print_title_rows == "$1:$1", ws.title  # the header on every page

    signals = book.worksheets[SHEETS.index("Signals")]
    assert signals.max_row == 301
    scale, pages = printed(signals)
    assert scale >= 0.6 and pages <= 12, (scale, pages)  # 6.8 pt, about 11 pages (ru)
    assert signals["F2"].alignment.wrap_text  # the text wraps within its column
    assert signals["B2"].is_date and signals["B2"].alignment.horizontal == "left"

    summary = book.worksheets[SHEETS.index("Summary")]
    labels = [str(row[0].value) for row in summary.iter_rows(min_row=2)
              if str(row[0].value).startswith("20")]  # the weeks, not the totals
    running = Week.containing(service.clock(), service.company.timezone)
    assert labels[-1] == f"{running} (неполная неделя)"  # the running week, marked
    assert all("(" not in label for label in labels[:-1])  # the rest are whole weeks
    chart = summary._charts[0]
    categories = chart.series[0].cat.strRef or chart.series[0].cat.numRef
    assert categories.f.endswith(f"$A${len(labels)}")  # the chart stops before it


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
