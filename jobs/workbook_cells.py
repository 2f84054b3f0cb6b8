"""Cells of the Excel workbook (openpyxl write-only): typed, safe and sized to be read.

Text is always written as text: a string that looks like a formula (= + - @ tab CR, as OWASP
lists them) or an error code is a quote-prefixed string cell, never a formula, and characters
XML cannot carry are dropped. Columns are wide enough for their words (a Chinese character is
two widths); headers wrap onto at most HEADER_LINES lines.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import LineChart, Reference
from openpyxl.chart.marker import Marker
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from bot.core.shared.i18n import Translator

# The workbook's own font, named: a font without a name is drawn in the tool's fallback
# (LibreOffice: a wider serif), which breaks headers sized for this one.
BOLD = Font(name="Calibri", size=11, bold=True)
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
DATE_ALIGNMENT = Alignment(horizontal="left", vertical="top")
TOP = Alignment(vertical="top")
LONG_TEXT_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
NOTE_FONT = Font(name="Calibri", size=11, italic=True)
NOTE_WIDTH = 60  # the note a sheet prints instead of its rows
DATE_TIME = "yyyy-mm-dd hh:mm"  # 16 characters: columns of dates are 17 wide
DATE_WIDTH = 17
A4 = "9"  # openpyxl Worksheet.PAPERSIZE_A4 (write-only sheets lack the constant)
# A printed page is read at 9 pt or more: the 11 pt font scaled to no less than 9/11 when a
# sheet is fitted one page wide. An A4 landscape page between margins of 0.3 in (11.09 in)
# holds PRINTED_PIXELS of columns (96 dpi) at PRINT_POINTS: 9.3 in Excel, 9.0 in LibreOffice,
# which lays the same columns out some 3.5% wider.
PRINT_POINTS = 9.3
PRINTED_PIXELS = int(11.09 * 96 * 11 / PRINT_POINTS)
HEADER_LINES = 3  # a header wraps onto at most this many lines; its column widens instead
# Characters XML 1.0 cannot carry: openpyxl's ILLEGAL_CHARACTERS_RE, plus U+FFFE and U+FFFF,
# which lxml refuses too (none of them is printable, so most strings skip the search).
NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
FORMULA_START = frozenset("=+-@\t\r")  # what spreadsheets may read as a formula (OWASP's list)
CAREFUL_START = FORMULA_START | {"#"}  # and "#N/A", which openpyxl writes as an error

class DateCell:
    """Date-and-time cells of one column, shown as yyyy-mm-dd hh:mm and aligned left, so a
    date never runs into the text of the column after it. A write-only sheet writes each row
    while it is appended, so one styled cell serves the column's every row."""

    def __init__(self, ws: Any) -> None:
        self.cell = WriteOnlyCell(ws)
        self.cell.number_format = DATE_TIME
        self.cell.alignment = DATE_ALIGNMENT

    def __call__(self, value: datetime | None) -> Any:
        if value is None:
            return None
        self.cell.value = value
        return self.cell


class LongTextCell:
    """Cells of a column of long text (a signal's text, an event's details), wrapped within
    the column `letter` so the sheet prints one page wide at a size people read; `lines` is
    how many lines the last one wraps onto."""

    def __init__(self, ws: Any, letter: str) -> None:
        self.cell = WriteOnlyCell(ws)
        self.cell.alignment = LONG_TEXT_ALIGNMENT
        self.width = ws.column_dimensions[letter].width
        self.lines = 1

    def __call__(self, value: str | None) -> Any:
        self.lines = 1
        if value is None:
            return None
        if len(value) > self.width - 3 or "\n" in value:  # (most texts fit on one line)
            self.lines = sum(len(wrapped(part, self.width, bold=False))
                             for part in value.split("\n"))
        safe = row_cells(self.cell.parent, [value])[0]
        if not isinstance(safe, str):
            safe.alignment = LONG_TEXT_ALIGNMENT  # a quote-prefixed cell of its own
            return safe
        self.cell.value = safe
        return self.cell


class TallRows:
    """Appends the rows of a write-only sheet, each as tall as its wrapped texts (`texts`)
    take. LibreOffice keeps a row one line tall when it opens a file, whatever its wrapped
    text, so a printed text would run over the rows below it; the height is set for the row
    being written only and dropped after, so memory stays flat."""

    def __init__(self, ws: Any, *texts: LongTextCell, first: int = 2) -> None:
        self.ws, self.texts, self.row = ws, texts, first

    def append(self, values: list[Any]) -> None:
        lines = max(text.lines for text in self.texts)
        if lines > 1:  # at most Excel's tallest row, 409 pt
            self.ws.row_dimensions[self.row].height = min(409, 15 * lines)
            values = [self.at_top(value) for value in values]
        self.ws.append(values)
        if lines > 1:
            del self.ws.row_dimensions[self.row]
            for text in self.texts:  # the next row may have none
                text.lines = 1
        self.row += 1

    def at_top(self, value: Any) -> Any:
        """A value of a tall row, at the top of its cell as its wrapped text is (a cell is
        aligned at the bottom by default: the row's figures would stand lines below it)."""
        if value is None or isinstance(value, Cell):
            return value  # (dates and long texts are aligned at the top already)
        cell = WriteOnlyCell(self.ws, value=value)  # (row_cells made risky text a Cell)
        cell.alignment = TOP
        return cell


def date_cell(ws: Any, value: datetime | None) -> Any:
    """One date-and-time cell (for the rows written once)."""
    return DateCell(ws)(value)


def words_of(mapping: Mapping[Any, str], t: Translator) -> dict[str, str]:
    """code -> the word the reader reads for it."""
    return {str(code): t.gettext(message) for code, message in mapping.items()}


def is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def display_width(text: str) -> float:
    """Roughly how many character widths of Excel's default font `text` takes (a Chinese
    character takes two)."""
    return sum(2.0 if is_wide(c) else 1.0 for c in text)


BREAKABLE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff"
                        r"\uf900-\ufaff\uff00-\uffef]+")


def wrapped(text: str, width: float, *, bold: bool = True) -> list[str]:
    """`text` broken into lines that fit a column `width` wide, as Excel wraps it, with some
    padding (a column is as wide as so many digits; a bold header takes about 1.1 digits a
    character, plain text, mostly letters, 0.9): words stay whole, Chinese breaks between
    characters."""
    room = (width - 1.5) / (1.1 if bold else 0.9)
    lines: list[str] = []
    line, used = "", 0.0
    for word in BREAKABLE.findall(text):
        space = 0.0 if not line or (is_wide(word[0]) and is_wide(line[-1])) else 1.0
        if line and used + space + display_width(word) > room:
            lines.append(line)
            line, used = word, display_width(word)
        else:
            line, used = line + " " * int(space) + word, used + space + display_width(word)
    return [*lines, line]


def header_width(label: str, minimum: float) -> float:
    """A column width at least `minimum` in which the header's longest word fits and the
    header takes at most HEADER_LINES lines."""
    words = BREAKABLE.findall(label) or [""]
    width = max(minimum, math.ceil(max(map(display_width, words)) * 1.1 + 1.5))
    while len(wrapped(label, width)) > HEADER_LINES:
        width += 1
    return width


def widest(values: Any, minimum: float) -> float:
    """A column width for a column of short known values (names, labels), at most 40."""
    return min(40.0, max([minimum, *(display_width(v) + 2 for v in values)]))


def new_sheet(book: Any, title: str, headers: Sequence[tuple[str, float]], rows: int, *,
              printed: int | None = None, print_note: str | None = None) -> Any:
    """A sheet with widths that fit, a frozen bold header that wraps, an autofilter over
    `rows` rows, and a print setup (landscape, one page wide, the header on every page).
    Only the first `printed` columns print, if given; with a `print_note`, the note
    (beside the header) is all that prints: the rows stay in the file, for filtering."""
    ws = book.create_sheet(title)
    widths = [header_width(label, minimum) for label, minimum in headers]
    lines = max(len(wrapped(label, width))
                for (label, _), width in zip(headers[:printed], widths, strict=False))
    for index, ((label, _), width) in enumerate(zip(headers, widths, strict=True), 1):
        while len(wrapped(label, width)) > lines:  # an unprinted header: no taller row
            width += 1
        ws.column_dimensions[get_column_letter(index)].width = width
    note_column = get_column_letter(len(headers) + 2)  # one empty column apart
    if print_note is not None:
        ws.column_dimensions[note_column].width = NOTE_WIDTH
        lines = max(lines, len(wrapped(print_note, NOTE_WIDTH)))
    ws.row_dimensions[1].height = 15 * lines + 2
    ws.freeze_panes = "A2"
    last_row = max(rows, 0) + 1
    ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{last_row}"
    print_setup(ws, f"{note_column}1" if print_note is not None
                else None if printed is None else f"A1:{get_column_letter(printed)}{last_row}")
    header_cells: list[Any] = []
    for label, _ in headers:
        cell = WriteOnlyCell(ws, value=NOT_XML.sub("", label))
        cell.font = BOLD
        cell.alignment = HEADER_ALIGNMENT
        header_cells.append(cell)
    if print_note is not None:
        note = WriteOnlyCell(ws, value=print_note)
        note.font, note.alignment = NOTE_FONT, HEADER_ALIGNMENT
        header_cells += [None, note]
    ws.append(header_cells)
    return ws


def column_pixels(width: float) -> float:
    """How wide a column of `width` characters prints, in pixels at 96 dpi (as Excel and
    LibreOffice lay out the default 11 pt font: 7 per character and 5 of padding)."""
    return 7 * width + 5


def fill_width(others: Sequence[float], minimum: float) -> float:
    """The width of a column that takes what `others` leave of an A4 landscape page printed
    at PRINT_POINTS (at least `minimum`)."""
    left = PRINTED_PIXELS - sum(column_pixels(w) for w in others) - 5
    return max(minimum, left // 7)


def print_setup(ws: Any, area: str | None = None) -> None:
    """A4 landscape, one page wide (as many pages tall as it takes), the header row on every
    page, narrow margins, "sheet - page n of m" at the foot; only `area` prints if given."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    if area is not None:
        ws.print_area = area
    ws.page_margins.left = ws.page_margins.right = 0.3
    ws.page_margins.top, ws.page_margins.bottom = 0.25, 0.35
    ws.page_margins.header, ws.page_margins.footer = 0.15, 0.15
    ws.oddFooter.center.text = "&A — &P / &N"


def bold_cell(ws: Any, value: Any) -> Any:
    cell = WriteOnlyCell(ws, value=value)
    cell.font = BOLD
    return cell


def bold_row(ws: Any, values: list[Any]) -> list[Any]:
    """A totals row: bold figures (user text never appears in one)."""
    row = []
    for value in values:
        if isinstance(value, Cell):
            value.font = BOLD
        row.append(value if value is None or isinstance(value, Cell)
                   else bold_cell(ws, value))
    return row


def share_cell(ws: Any, part: int, whole: int) -> Any:
    """part / whole as a percentage cell, empty when there is no whole."""
    cell = WriteOnlyCell(ws, value=part / whole if whole else None)
    cell.number_format = "0%"
    return cell


def row_cells(ws: Any, values: list[Any]) -> list[Any]:
    """A row whose strings stay text in any spreadsheet tool (see the module docstring)."""
    return [text_cell(ws, v) if type(v) is str and (
        v[:1] in CAREFUL_START or (not v.isprintable() and NOT_XML.search(v))) else v
        for v in values]


def text_cell(ws: Any, value: str) -> Any:
    value = NOT_XML.sub("", value)
    if value[:1] not in FORMULA_START and value not in ERROR_CODES:
        return value
    cell = WriteOnlyCell(ws, value=value)  # openpyxl binds "=..." as a formula, "#N/A" as an error
    cell.data_type = "s"
    cell.quotePrefix = True  # and it stays text when someone edits it in Excel or LibreOffice
    return cell


def add_chart(ws: Any, chart: Any, title: str, *, rows: int, at: str, first: int = 2) -> None:
    """A native chart of column 3 against the labels of column 1, over `rows` rows from row
    `first`: one series, so no legend; axes shown (openpyxl 3.1 leaves Excel to hide them),
    labels at the low edge rather than across the bars or the line where values go below zero;
    a line's points marked, so a single week shows as a point rather than nothing."""
    chart.title = title
    chart.height, chart.width = 8, 18
    chart.legend = None
    last = first + rows - 1
    chart.add_data(Reference(ws, min_col=3, min_row=first, max_row=last))
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    for axis in (chart.x_axis, chart.y_axis):
        axis.delete = False
    chart.x_axis.tickLblPos = "low"
    for series in chart.series:
        series.smooth = False
        if isinstance(chart, LineChart):
            series.marker = Marker(symbol="circle", size=7)
    ws.add_chart(chart, at)


def rounded(value: float | None, digits: int = 0) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
