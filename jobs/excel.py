"""Excel workbooks (openpyxl write-only, streamed with lxml) and the customer-score import.

Sheets: Summary (weekly NPS and signals, with a line chart and a totals row), Departments (loop
health, with a bar chart and a totals row), Signals, Events, Scores. Everything is in the
reader's language: sheet names, headers, kinds, statuses, actions, score kinds and sources, and
each event's details as a short phrase. Cells are typed (dates as dates in company time, shown
as yyyy-mm-dd hh:mm; scores as numbers); headers wrap within columns wide enough for their
words, stay frozen and filter; every sheet prints landscape, one page wide, the header row
repeated on each page. Rows are streamed from the database in batches, so memory stays flat
whatever the size. Text is always written as text: a string that looks like a formula (= + - @
tab CR, as OWASP lists them) or an error code is a quote-prefixed string cell, never a formula,
and characters XML cannot carry are dropped (rows stored before imports cleaned them must not
break the export or the digest).

The workbook keeps the bot's promises: an anonymous reporter is named nowhere (not as the actor
of their own events, not through the department of their handling rating), and pulse answers
appear only as totals per rated department and round (whole rounds, from the digest's
MIN_RESPONDENTS people up), never one by one.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import Cell, WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import Session, col

from bot.core.handling.rules import RULES
from bot.core.presentation.event_words import EVENTS, raw_details
from bot.core.presentation.render import STATUS_LABELS
from bot.core.reporting.digest import MIN_RESPONDENTS
from bot.core.reporting.nps import Nps
from bot.core.reporting.periods import Week, round_bounds
from bot.core.service import VocService
from bot.core.shared.domain import Kind, ScoreKind, ScoreSource
from bot.core.shared.i18n import N_, Translator
from storage import digest_queries as dq
from storage.models import Attachment

Progress = Callable[[int], None]  # called with the number of rows just written
BATCH = 5000
_BOLD = Font(bold=True)
_HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="top")
_DATE_TIME = "yyyy-mm-dd hh:mm"  # 16 characters: columns of dates are 17 wide
_DATE_WIDTH = 17
_HEADER_LINES = 3  # a header wraps onto at most this many lines; its column widens instead
# Characters XML 1.0 cannot carry: openpyxl's ILLEGAL_CHARACTERS_RE, plus U+FFFE and U+FFFF,
# which lxml refuses too (none of them is printable, so most strings skip the search).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = frozenset("=+-@\t\r")  # what spreadsheets may read as a formula (OWASP's list)
_CAREFUL_START = _FORMULA_START | {"#"}  # and "#N/A", which openpyxl writes as an error
# What a reporter does on their own case: on an anonymous one its actor is never named, even
# if the event's actor no longer matches the signal's reporter (accounts merged since).
_REPORTER_EVENTS = frozenset({"captured"} | {rule.event for rule in RULES.values()
                                              if rule.by == "reporter"})
# The words the sheets use for the domain's codes (lower case: they are values in a table).
KIND_WORDS = {Kind.COMPLAINT: N_("complaint"), Kind.PRAISE: N_("praise"), Kind.IDEA: N_("idea")}
EVENT_WORDS = {action: words.word for action, words in EVENTS.items()}
SCORE_KIND_WORDS = {ScoreKind.CUSTOMER: N_("customer"), ScoreKind.INTERNAL: N_("internal")}
SOURCE_WORDS = {ScoreSource.CHAT: N_("chat"), ScoreSource.IMPORT: N_("import"),
                ScoreSource.HANDLING: N_("handling"), ScoreSource.PULSE: N_("pulse")}


def export_workbook(service: VocService, *, start: datetime | None = None,
                    end: datetime | None = None, t: Translator | None = None) -> bytes:
    """The workbook as bytes (for the digest attachment)."""
    buffer = io.BytesIO()
    write_workbook(service, buffer, start=start, end=end, t=t)
    return buffer.getvalue()


def count_rows(service: VocService, *, start: datetime | None, end: datetime | None) -> int:
    """Signals + events + scores the export of [start, end) will write (for a progress bar)."""
    start, end = _range(service, start, end)
    s, sc = dq.signal_t.c, dq.score_t.c
    e = _event_t().c
    with service.db.read() as session:
        signals = session.execute(select(func.count()).where(
            s.created_at >= start, s.created_at < end)).scalar_one()
        events = session.execute(select(func.count()).select_from(_event_t().join(
            dq.signal_t, s.id == e.signal_id)).where(s.created_at >= start,
                                                      s.created_at < end)).scalar_one()
        scores = session.execute(select(func.count()).where(
            sc.at >= start, sc.at < end, ~_is_pulse())).scalar_one()
        totals = len(_pulse_totals(session, start, end))
    return int(signals) + int(events) + int(scores) + totals


def write_workbook(service: VocService, target: BinaryIO | Path, *,
                   start: datetime | None = None, end: datetime | None = None,
                   t: Translator | None = None, progress: Progress | None = None) -> None:
    """Stream the workbook of signals created in [start, end) (all time by default), their
    events, and the scores given in [start, end)."""
    t = t or service.translator()
    start, end = _range(service, start, end)
    book = Workbook(write_only=True)
    sheets = _Sheets(service, book, t, start, end, progress or (lambda _n: None))
    with service.db.read() as session:
        names = dq.department_names(session=session)
        sheets.summary(session)
        sheets.departments(session, names)
        sheets.signals(session, names)
        sheets.events(session)
        sheets.scores(session, names)
    book.save(target)  # openpyxl accepts paths and binary files


def _is_pulse() -> ColumnElement[bool]:
    sc = dq.score_t.c
    return or_(sc.source == "pulse", sc.pulse_round.is_not(None))


def _pulse_totals(session: Session, start: datetime, end: datetime
                  ) -> list[tuple[str | None, int | None, Nps, int]]:
    """(round, rated department, counts, distinct people) of every pulse round answered in
    [start, end), over the whole round: totals that a narrower date range cannot split into
    the answers of fewer people."""
    sc = dq.score_t.c
    in_range = and_(sc.at >= start, sc.at < end)
    rounds = select(sc.pulse_round).where(_is_pulse(), in_range, sc.pulse_round.is_not(None))
    value = sc.value
    rows = session.execute(
        select(sc.pulse_round, sc.rated_department_id,
               func.sum(case((value >= 9, 1), else_=0)),
               func.sum(case((and_(value >= 7, value <= 8), 1), else_=0)),
               func.sum(case((value <= 6, 1), else_=0)),
               func.count(func.distinct(sc.person_id)))
        .where(_is_pulse(), or_(sc.pulse_round.in_(rounds),
                                and_(sc.pulse_round.is_(None), in_range)))
        .group_by(sc.pulse_round, sc.rated_department_id))
    return [(r[0], None if r[1] is None else int(r[1]), Nps(int(r[2]), int(r[3]), int(r[4])),
             int(r[5])) for r in rows]


def _event_t() -> Any:
    from storage.models import Event

    return Event.__table__  # type: ignore[attr-defined]


def _range(service: VocService, start: datetime | None, end: datetime | None
           ) -> tuple[datetime, datetime]:
    if end is None:
        end = service.clock() + timedelta(seconds=1)
    if start is None:
        with service.db.read() as session:
            first = session.execute(select(func.min(dq.signal_t.c.created_at))).scalar()
            first_score = session.execute(select(func.min(dq.score_t.c.at))).scalar()
        candidates = [d for d in (first, first_score) if d is not None]
        start = min(candidates) if candidates else end - timedelta(weeks=1)
        start = min(start, end - timedelta(seconds=1))
    return start, end


class _Sheets:
    """One workbook being written; each method adds one sheet."""

    def __init__(self, service: VocService, book: Workbook, t: Translator, start: datetime,
                 end: datetime, progress: Progress) -> None:
        self.service, self.book, self.t = service, book, t
        self.start, self.end, self.progress = start, end, progress
        self.tz = service.company.timezone
        self.kinds = _words(KIND_WORDS, t)
        self.statuses = _words(STATUS_LABELS, t)
        self.actions = _words(EVENT_WORDS, t)
        self.score_kinds = _words(SCORE_KIND_WORDS, t)
        self.sources = _words(SOURCE_WORDS, t)

    def local(self, moment: datetime | None) -> datetime | None:
        """Excel has no time zones: company wall-clock time, as people read it."""
        return None if moment is None else moment.astimezone(self.t.timezone).replace(
            tzinfo=None, microsecond=0)

    def sheet(self, title: str, headers: Sequence[tuple[str, float]], rows: int) -> Any:
        """A sheet with widths that fit, a frozen bold header that wraps, an autofilter over
        `rows` rows, and a print setup (landscape, one page wide, the header on every page)."""
        ws = self.book.create_sheet(title)
        lines = 1
        for index, (label, minimum) in enumerate(headers, 1):
            width = _header_width(label, minimum)
            ws.column_dimensions[get_column_letter(index)].width = width
            lines = max(lines, len(_wrap(label, width)))
        ws.row_dimensions[1].height = 15 * lines + 2
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(rows, 0) + 1}"
        _print_setup(ws)
        header_cells = []
        for label, _ in headers:
            cell = WriteOnlyCell(ws, value=_NOT_XML.sub("", label))
            cell.font = _BOLD
            cell.alignment = _HEADER_ALIGNMENT
            header_cells.append(cell)
        ws.append(header_cells)
        return ws

    def stream(self, session: Session, statement: Any) -> Iterator[Any]:
        result = session.execute(statement.execution_options(yield_per=BATCH))
        for partition in result.partitions():
            yield from partition
            self.progress(len(partition))

    # -- sheets ------------------------------------------------------------------------------
    def summary(self, session: Session) -> None:
        t = self.t
        first = Week.containing(self.start, self.tz)
        last = Week.containing(self.end - timedelta(microseconds=1), self.tz)
        weeks = [first]
        while weeks[-1] < last and len(weeks) < 520:
            weeks.append(weeks[-1].shift(1))
        bounds = [w.bounds(self.tz)[0] for w in weeks] + [weeks[-1].bounds(self.tz)[1]]
        bounds[0], bounds[-1] = max(bounds[0], self.start), min(bounds[-1], self.end)
        nps = dq.customer_nps_by_week(session=session, bounds=bounds)
        kinds = dq.signals_by_week_and_kind(session=session, bounds=bounds)
        total = Nps()
        for counts in nps:
            total += Nps(counts.promoters, counts.passives, counts.detractors)
        headers = [(t.gettext("Week"), 10), (t.gettext("Starts"), _DATE_WIDTH),
                   (t.gettext("Customer NPS"), _DATE_WIDTH), (t.gettext("Answers"), 9),
                   (t.gettext("Margin ±"), 9), (t.gettext("Complaints"), 9),
                   (t.gettext("Praise"), 9), (t.gettext("Ideas"), 9)]
        ws = self.sheet(t.gettext("Summary"), headers, len(weeks))
        for week, counts, kind in zip(weeks, nps, kinds, strict=True):
            value = Nps(counts.promoters, counts.passives, counts.detractors)
            ws.append([str(week), week.monday, _round(value.score), value.n,
                       _round(value.margin), kind.get("complaint", 0), kind.get("praise", 0),
                       kind.get("idea", 0)])
        ws.append([])
        # Totals under the weeks' own headers; then the period the workbook covers.
        ws.append(_bold(ws, [t.gettext("Total"), None, _round(total.score), total.n,
                             _round(total.margin),
                             *(sum(k.get(kind, 0) for k in kinds)
                               for kind in ("complaint", "praise", "idea"))]))
        ws.append([_bold_cell(ws, t.gettext("Period")),
                   _dated(ws, self.local(self.start)), _dated(ws, self.local(self.end))])
        line = LineChart()
        line.y_axis.title = t.gettext("Customer NPS")
        _chart(ws, line, t.gettext("Customer NPS by week"), rows=len(weeks), at="J2")

    def departments(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        loop = dq.loop_health(session=session, start=self.start, end=self.end,
                              as_of=min(self.service.clock(), self.end))
        s = dq.signal_t.c
        per_kind: dict[int, dict[str, int]] = {}
        for dept, kind, count in session.execute(
                select(s.department_id, s.kind, func.count())
                .where(s.created_at >= self.start, s.created_at < self.end)
                .group_by(s.department_id, s.kind)):
            per_kind.setdefault(int(dept), {})[str(kind)] = int(count)
        ids = sorted(set(loop) | set(per_kind), key=lambda d: names[d][1])
        headers = [(t.gettext("Department"), _widest([names[d][1] for d in ids], 14)),
                   (t.gettext("Slug"), _widest([names[d][0] for d in ids], 8)),
                   (t.gettext("Signals"), 9), (t.gettext("Complaints"), 9),
                   (t.gettext("Praise"), 9), (t.gettext("Ideas"), 9),
                   (t.gettext("Acknowledged within SLA"), 12),
                   (t.gettext("Median hours to acknowledge"), 12), (t.gettext("Resolved"), 9),
                   (t.gettext("Open"), 8), (t.gettext("Overdue"), 9)]
        ws = self.sheet(t.gettext("Departments"), headers, len(ids))
        sums = [0] * 8  # signals, complaints, praise, ideas, due, within SLA, resolved, open...
        overdue = 0
        for dept in ids:
            row, kinds = loop.get(dept, dq.LoopRow(dept)), per_kind.get(dept, {})
            figures = [sum(kinds.values()), kinds.get("complaint", 0), kinds.get("praise", 0),
                       kinds.get("idea", 0), row.due, row.within_sla, row.resolved, row.open]
            sums = [a + b for a, b in zip(sums, figures, strict=True)]
            overdue += row.open_overdue
            ws.append(_row(ws, [names[dept][1], names[dept][0], *figures[:4],
                                _share(ws, row.within_sla, row.due),
                                _round(row.median_ack_hours, 1), row.resolved, row.open,
                                row.open_overdue]))
        if ids:
            ws.append([])
            ws.append(_bold(ws, [t.gettext("Total"), None, *sums[:4],
                                 _share(ws, sums[5], sums[4]), None, sums[6], sums[7],
                                 overdue]))
            bars = BarChart()
            bars.type = "bar"
            _chart(ws, bars, t.gettext("Signals per department"), rows=len(ids), at="M2")

    def signals(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        s, p = dq.signal_t.c, dq.person_t.c
        where = (s.created_at >= self.start, s.created_at < self.end)
        total = session.execute(select(func.count()).where(*where)).scalar_one()
        headers = [(t.gettext("Ref"), 11), (t.gettext("Created"), _DATE_WIDTH),
                   (t.gettext("Kind"), _widest(self.kinds.values(), 9)),
                   (t.gettext("Status"), _widest(self.statuses.values(), 10)),
                   (t.gettext("Department"), _widest([n[1] for n in names.values()], 14)),
                   (t.gettext("Text"), 60), (t.gettext("Customer"), 20),
                   (t.gettext("Customer score"), 9), (t.gettext("Reported by"), 20),
                   (t.gettext("Acknowledge by"), _DATE_WIDTH),
                   (t.gettext("Acknowledged"), _DATE_WIDTH), (t.gettext("Resolved"), _DATE_WIDTH),
                   (t.gettext("Attachments"), 9), (t.gettext("Resolution code"), 16)]
        ws = self.sheet(t.gettext("Signals"), headers, int(total))
        company = self.service.company
        anonymous = t.gettext("anonymous")
        files = (select(func.count()).select_from(Attachment)
                 .where(col(Attachment.signal_id) == s.id).scalar_subquery())
        statement = (select(s.id, s.created_at, s.kind, s.status, s.department_id, s.text,
                            s.customer, s.score, s.anonymous, p.display_name, s.ack_due_at,
                            s.acknowledged_at, s.resolved_at, files, s.resolution_code)
                     .join(dq.person_t, p.id == s.reporter_id).where(*where).order_by(s.id))
        local, kinds, statuses = self.local, self.kinds, self.statuses
        created, due, acknowledged, resolved = (_DateCell(ws) for _ in range(4))
        for r in self.stream(session, statement):
            ws.append(_row(ws, [f"VOC-{r[0]}", created(local(r[1])), kinds.get(r[2], r[2]),
                                statuses.get(r[3], r[3]), names[r[4]][1], r[5], r[6], r[7],
                                anonymous if r[8] else r[9], due(local(r[10])),
                                acknowledged(local(r[11])), resolved(local(r[12])), r[13],
                                company.resolution_label(r[14], t.locale) if r[14] else None]))

    def events(self, session: Session) -> None:
        t = self.t
        s, p, e = dq.signal_t.c, dq.person_t.c, _event_t().c
        where = (s.created_at >= self.start, s.created_at < self.end)
        joined = _event_t().join(dq.signal_t, s.id == e.signal_id).outerjoin(
            dq.person_t, p.id == e.actor_id)
        total = session.execute(select(func.count()).select_from(joined).where(*where)
                                ).scalar_one()
        headers = [(t.gettext("Ref"), 11), (t.gettext("At"), _DATE_WIDTH),
                   (t.gettext("Action"), _widest(self.actions.values(), 10)),
                   (t.gettext("By"), 20), (t.gettext("Details"), 60)]
        ws = self.sheet(t.gettext("Events"), headers, int(total))
        statement = (select(e.signal_id, e.at, e.action, p.display_name, e.actor_id,
                            s.reporter_id, s.anonymous, e.details)
                     .select_from(joined).where(*where).order_by(e.signal_id, e.at, e.id))
        anonymous = t.gettext("anonymous")
        at, actions, details = _DateCell(ws), self.actions, _Details(t)
        for r in self.stream(session, statement):
            hidden = r[6] and (r[4] == r[5] or r[2] in _REPORTER_EVENTS)  # stays anonymous
            ws.append(_row(ws, [f"VOC-{r[0]}", at(self.local(r[1])), actions.get(r[2], r[2]),
                                anonymous if hidden else r[3], details(r[2], r[7])]))

    def scores(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        sc, s = dq.score_t.c, dq.signal_t.c
        where = (sc.at >= self.start, sc.at < self.end, ~_is_pulse())
        answers = session.execute(select(func.count()).where(*where)).scalar_one()
        totals = _pulse_totals(session, self.start, self.end)
        department = _widest([n[1] for n in names.values()], 14)
        headers = [(t.gettext("At"), _DATE_WIDTH),
                   (t.gettext("Kind"), _widest(self.score_kinds.values(), 9)),
                   (t.gettext("Source"), _widest(self.sources.values(), 9)),
                   (t.gettext("Score"), 8), (t.gettext("Customer"), 20),
                   (t.gettext("Segment"), 12), (t.gettext("Comment"), 50),
                   (t.gettext("Rating department"), department),
                   (t.gettext("Rated department"), department),
                   (t.gettext("Pulse round"), 10), (t.gettext("Signal"), 11),
                   (t.gettext("Answers"), 9), (t.gettext("Internal NPS"), 9),
                   (t.gettext("Margin ±"), 9)]
        ws = self.sheet(t.gettext("Scores"), headers, int(answers) + len(totals))
        # Customer scores and handling ratings, one by one (pulse answers never: see below).
        statement = (select(sc.at, sc.kind, sc.source, sc.value, sc.customer, sc.segment,
                            sc.comment, sc.rater_department_id, sc.rated_department_id,
                            sc.pulse_round, sc.signal_id, s.anonymous)
                     .select_from(dq.score_t.outerjoin(dq.signal_t, s.id == sc.signal_id))
                     .where(*where).order_by(sc.at, sc.id))

        def name(dept: int | None) -> str | None:
            return None if dept is None else names[dept][1]

        at, kinds, sources = _DateCell(ws), self.score_kinds, self.sources
        for r in self.stream(session, statement):
            rater = None if r[11] else name(r[7])  # an anonymous reporter's department: never
            ws.append(_row(ws, [at(self.local(r[0])), kinds.get(r[1], r[1]),
                                sources.get(r[2], r[2]), r[3], r[4], r[5], r[6], rater,
                                name(r[8]), r[9], None if r[10] is None else f"VOC-{r[10]}"]))
        # Pulse answers: totals per rated department and round, hidden below the digest's floor.
        hidden = t.gettext("fewer than %(min)d people answered, not shown") % {
            "min": MIN_RESPONDENTS}
        internal, pulse = kinds[ScoreKind.INTERNAL], sources[ScoreSource.PULSE]
        for round_id, rated, nps, people in sorted(
                totals, key=lambda row: (row[0] or "", name(row[1]) or "")):
            shown = people >= MIN_RESPONDENTS
            ws.append(_row(ws, [at(self.local(self._round_start(round_id))), internal, pulse,
                                None, None, None, None if shown else hidden, None, name(rated),
                                round_id, None, nps.n if shown else None,
                                _round(nps.score) if shown else None,
                                _round(nps.margin) if shown else None]))
        self.progress(len(totals))

    def _round_start(self, round_id: str | None) -> datetime | None:
        try:
            return None if round_id is None else round_bounds(round_id, self.tz)[0]
        except ValueError:  # not a round this version knows: the row still says which
            return None


class _DateCell:
    """Date-and-time cells of one column, shown as yyyy-mm-dd hh:mm. A write-only sheet writes
    each row while it is appended, so one styled cell serves the column's every row."""

    def __init__(self, ws: Any) -> None:
        self.cell = WriteOnlyCell(ws)
        self.cell.number_format = _DATE_TIME

    def __call__(self, value: datetime | None) -> Any:
        if value is None:
            return None
        self.cell.value = value
        return self.cell


def _dated(ws: Any, value: datetime | None) -> Any:
    """One date-and-time cell (for the rows written once)."""
    return _DateCell(ws)(value)


class _Details:
    """An event's details as a short phrase in the reader's language (the event table,
    bot/core/presentation/event_words.py, says which), each phrase translated once per
    workbook."""

    def __init__(self, t: Translator) -> None:
        self.translated: dict[str, str] = {}
        self.t = t

    def say(self, msgid: str) -> str:
        """`msgid` in the reader's language."""
        text = self.translated.get(msgid)
        if text is None:
            text = self.translated[msgid] = self.t.gettext(msgid)
        return text

    def __call__(self, action: str, details: Mapping[str, Any] | None) -> str | None:
        d = details or {}
        words = EVENTS.get(action)
        return raw_details(d) if words is None else words.phrase(d, self.say)


def _words(mapping: Mapping[Any, str], t: Translator) -> dict[str, str]:
    """code -> the word the reader reads for it."""
    return {str(code): t.gettext(message) for code, message in mapping.items()}


def _wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in "WF"


def _display_width(text: str) -> float:
    """Roughly how many character widths of Excel's default font `text` takes (a Chinese
    character takes two)."""
    return sum(2.0 if _wide(c) else 1.0 for c in text)


_BREAKABLE = re.compile(r"[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]|[^\s\u2e80-\u9fff"
                        r"\uf900-\ufaff\uff00-\uffef]+")


def _wrap(text: str, width: float) -> list[str]:
    """`text` broken into lines that fit a column `width` wide, as Excel wraps a bold header
    (about 10% wider than plain text, with some padding): words stay whole, Chinese breaks
    between characters."""
    room = (width - 1.5) / 1.1
    lines: list[str] = []
    line, used = "", 0.0
    for word in _BREAKABLE.findall(text):
        space = 0.0 if not line or (_wide(word[0]) and _wide(line[-1])) else 1.0
        if line and used + space + _display_width(word) > room:
            lines.append(line)
            line, used = word, _display_width(word)
        else:
            line, used = line + " " * int(space) + word, used + space + _display_width(word)
    return [*lines, line]


def _header_width(label: str, minimum: float) -> float:
    """A column width at least `minimum` in which the header's longest word fits and the
    header takes at most _HEADER_LINES lines."""
    words = _BREAKABLE.findall(label) or [""]
    width = max(minimum, math.ceil(max(map(_display_width, words)) * 1.1 + 1.5))
    while len(_wrap(label, width)) > _HEADER_LINES:
        width += 1
    return width


def _widest(values: Any, minimum: float) -> float:
    """A column width for a column of short known values (names, labels), at most 40."""
    return min(40.0, max([minimum, *(_display_width(v) + 2 for v in values)]))


def _print_setup(ws: Any) -> None:
    """Landscape, one page wide (as many pages tall as it takes), the header row on every page,
    "sheet - page n of m" at the foot."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddFooter.center.text = "&A — &P / &N"


def _bold_cell(ws: Any, value: Any) -> Any:
    cell = WriteOnlyCell(ws, value=value)
    cell.font = _BOLD
    return cell


def _bold(ws: Any, values: list[Any]) -> list[Any]:
    """A totals row: bold figures (user text never appears in one)."""
    row = []
    for value in values:
        if isinstance(value, Cell):
            value.font = _BOLD
        row.append(value if value is None or isinstance(value, Cell)
                   else _bold_cell(ws, value))
    return row


def _share(ws: Any, part: int, whole: int) -> Any:
    """part / whole as a percentage cell, empty when there is no whole."""
    cell = WriteOnlyCell(ws, value=part / whole if whole else None)
    cell.number_format = "0%"
    return cell


def _row(ws: Any, values: list[Any]) -> list[Any]:
    """A row whose strings stay text in any spreadsheet tool (see the module docstring)."""
    return [_text(ws, v) if type(v) is str and (
        v[:1] in _CAREFUL_START or (not v.isprintable() and _NOT_XML.search(v))) else v
        for v in values]


def _text(ws: Any, value: str) -> Any:
    value = _NOT_XML.sub("", value)
    if value[:1] not in _FORMULA_START and value not in ERROR_CODES:
        return value
    cell = WriteOnlyCell(ws, value=value)  # openpyxl binds "=..." as a formula, "#N/A" as an error
    cell.data_type = "s"
    cell.quotePrefix = True  # and it stays text when someone edits it in Excel or LibreOffice
    return cell


def _chart(ws: Any, chart: Any, title: str, *, rows: int, at: str) -> None:
    """A native chart of column 3 against the labels of column 1, `rows` rows below the header:
    one series, so no legend; axes shown (openpyxl 3.1 leaves Excel to hide them), labels at
    the low edge rather than across the bars or the line where values go below zero."""
    chart.title = title
    chart.height, chart.width = 8, 18
    chart.legend = None
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
    for axis in (chart.x_axis, chart.y_axis):
        axis.delete = False
    chart.x_axis.tickLblPos = "low"
    for series in chart.series:
        series.smooth = False
    ws.add_chart(chart, at)


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)
