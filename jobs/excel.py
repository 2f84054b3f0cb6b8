"""Excel workbooks (openpyxl write-only, streamed with lxml) and the customer-score import.

Sheets: Summary (weekly NPS and signals, with a line chart), Departments (loop health, with a
bar chart), Signals, Events, Scores. Cells are typed (dates as dates in company time, scores
as numbers), headers frozen and filterable. Rows are streamed from the database in batches,
so memory stays flat whatever the size. Text is always written as text: a string that looks like
a formula (= + - @ tab CR, as OWASP lists them) or an error code is a quote-prefixed string
cell, never a formula, and characters XML cannot carry are dropped (rows stored before imports
cleaned them must not break the export or the digest).

The workbook keeps the bot's promises: an anonymous reporter is named nowhere (not as the actor
of their own events, not through the department of their handling rating), and pulse answers
appear only as totals per rated department and round (whole rounds, from the digest's
MIN_RESPONDENTS people up), never one by one.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlmodel import Session

from bot.core.actions import RULES
from bot.core.cadence import Week, round_bounds
from bot.core.digest import MIN_RESPONDENTS
from bot.core.i18n import Translator
from bot.core.nps import Nps
from bot.core.service import VocService
from storage import digest_queries as dq

Progress = Callable[[int], None]  # called with the number of rows just written
BATCH = 5000
_BOLD = Font(bold=True)
# Characters XML 1.0 cannot carry: openpyxl's ILLEGAL_CHARACTERS_RE, plus U+FFFE and U+FFFF,
# which lxml refuses too (none of them is printable, so most strings skip the search).
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_FORMULA_START = frozenset("=+-@\t\r")  # what spreadsheets may read as a formula (OWASP's list)
_CAREFUL_START = _FORMULA_START | {"#"}  # and "#N/A", which openpyxl writes as an error
# What a reporter does on their own case: on an anonymous one its actor is never named, even
# if the event's actor no longer matches the signal's reporter (accounts merged since).
_REPORTER_EVENTS = frozenset({"captured"} | {rule.event for rule in RULES.values()
                                              if rule.by == "reporter"})


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

    def local(self, moment: datetime | None) -> datetime | None:
        """Excel has no time zones: company wall-clock time, as people read it."""
        return None if moment is None else moment.astimezone(self.t.timezone).replace(
            tzinfo=None, microsecond=0)

    def sheet(self, title: str, headers: list[tuple[str, int]], rows: int) -> Any:
        """A sheet with widths, a frozen bold header and an autofilter over `rows` rows."""
        ws = self.book.create_sheet(title)
        for index, (_, width) in enumerate(headers, 1):
            ws.column_dimensions[get_column_letter(index)].width = width
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(rows, 0) + 1}"
        header_cells = []
        for label, _ in headers:
            cell = WriteOnlyCell(ws, value=_NOT_XML.sub("", label))
            cell.font = _BOLD
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
        headers = [(t.gettext("Week"), 11), (t.gettext("Starts"), 12),
                   (t.gettext("Customer NPS"), 14), (t.gettext("Answers"), 10),
                   (t.gettext("Margin ±"), 10), (t.gettext("Complaints"), 12),
                   (t.gettext("Praise"), 10), (t.gettext("Ideas"), 10)]
        ws = self.sheet(t.gettext("Summary"), headers, len(weeks))
        for week, counts, kind in zip(weeks, nps, kinds, strict=True):
            value = Nps(counts.promoters, counts.passives, counts.detractors)
            ws.append([str(week), week.monday, _round(value.score), value.n,
                       _round(value.margin), kind.get("complaint", 0), kind.get("praise", 0),
                       kind.get("idea", 0)])
        ws.append([])
        ws.append([t.gettext("Period"), self.local(self.start), self.local(self.end)])
        ws.append([t.gettext("Customer NPS"), _round(total.score), total.n,
                   _round(total.margin)])
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
        headers = [(t.gettext("Department"), 22), (t.gettext("Slug"), 12),
                   (t.gettext("Signals"), 10), (t.gettext("Complaints"), 12),
                   (t.gettext("Praise"), 10), (t.gettext("Ideas"), 10),
                   (t.gettext("Acknowledged within SLA"), 14),
                   (t.gettext("Median hours to acknowledge"), 14), (t.gettext("Resolved"), 10),
                   (t.gettext("Open"), 8), (t.gettext("Overdue"), 10)]
        ws = self.sheet(t.gettext("Departments"), headers, len(ids))
        for dept in ids:
            row, kinds = loop.get(dept, dq.LoopRow(dept)), per_kind.get(dept, {})
            share = WriteOnlyCell(ws, value=row.within_sla / row.due if row.due else None)
            share.number_format = "0%"
            ws.append(_row(ws, [names[dept][1], names[dept][0], sum(kinds.values()),
                                kinds.get("complaint", 0), kinds.get("praise", 0),
                                kinds.get("idea", 0), share, _round(row.median_ack_hours, 1),
                                row.resolved, row.open, row.open_overdue]))
        if ids:
            bars = BarChart()
            bars.type = "bar"
            _chart(ws, bars, t.gettext("Signals per department"), rows=len(ids), at="M2")

    def signals(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        s, p = dq.signal_t.c, dq.person_t.c
        where = (s.created_at >= self.start, s.created_at < self.end)
        total = session.execute(select(func.count()).where(*where)).scalar_one()
        headers = [(t.gettext("Ref"), 10), (t.gettext("Created"), 17), (t.gettext("Kind"), 11),
                   (t.gettext("Status"), 13), (t.gettext("Department"), 20),
                   (t.gettext("Text"), 60), (t.gettext("Customer"), 20),
                   (t.gettext("Customer score"), 10), (t.gettext("Reported by"), 20),
                   (t.gettext("Acknowledge by"), 17), (t.gettext("Acknowledged"), 17),
                   (t.gettext("Resolved"), 17)]
        ws = self.sheet(t.gettext("Signals"), headers, int(total))
        anonymous = t.gettext("anonymous")
        statement = (select(s.id, s.created_at, s.kind, s.status, s.department_id, s.text,
                            s.customer, s.score, s.anonymous, p.display_name, s.ack_due_at,
                            s.acknowledged_at, s.resolved_at)
                     .join(dq.person_t, p.id == s.reporter_id).where(*where).order_by(s.id))
        local = self.local
        for r in self.stream(session, statement):
            ws.append(_row(ws, [f"VOC-{r[0]}", local(r[1]), r[2], r[3], names[r[4]][1], r[5],
                                r[6], r[7], anonymous if r[8] else r[9], local(r[10]),
                                local(r[11]), local(r[12])]))

    def events(self, session: Session) -> None:
        t = self.t
        s, p, e = dq.signal_t.c, dq.person_t.c, _event_t().c
        where = (s.created_at >= self.start, s.created_at < self.end)
        joined = _event_t().join(dq.signal_t, s.id == e.signal_id).outerjoin(
            dq.person_t, p.id == e.actor_id)
        total = session.execute(select(func.count()).select_from(joined).where(*where)
                                ).scalar_one()
        headers = [(t.gettext("Ref"), 10), (t.gettext("At"), 17), (t.gettext("Action"), 14),
                   (t.gettext("By"), 20), (t.gettext("Details"), 60)]
        ws = self.sheet(t.gettext("Events"), headers, int(total))
        statement = (select(e.signal_id, e.at, e.action, p.display_name, e.actor_id,
                            s.reporter_id, s.anonymous, e.details)
                     .select_from(joined).where(*where).order_by(e.signal_id, e.at, e.id))
        anonymous = t.gettext("anonymous")
        for r in self.stream(session, statement):
            hidden = r[6] and (r[4] == r[5] or r[2] in _REPORTER_EVENTS)  # stays anonymous
            ws.append(_row(ws, [f"VOC-{r[0]}", self.local(r[1]), r[2],
                                anonymous if hidden else r[3], _details(r[7])]))

    def scores(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        sc, s = dq.score_t.c, dq.signal_t.c
        where = (sc.at >= self.start, sc.at < self.end, ~_is_pulse())
        answers = session.execute(select(func.count()).where(*where)).scalar_one()
        totals = _pulse_totals(session, self.start, self.end)
        headers = [(t.gettext("At"), 17), (t.gettext("Kind"), 10), (t.gettext("Source"), 10),
                   (t.gettext("Score"), 8), (t.gettext("Customer"), 20),
                   (t.gettext("Segment"), 12), (t.gettext("Comment"), 50),
                   (t.gettext("Rating department"), 20), (t.gettext("Rated department"), 20),
                   (t.gettext("Pulse round"), 12), (t.gettext("Signal"), 10),
                   (t.gettext("Answers"), 10), (t.gettext("Internal NPS"), 12),
                   (t.gettext("Margin ±"), 10)]
        ws = self.sheet(t.gettext("Scores"), headers, int(answers) + len(totals))
        # Customer scores and handling ratings, one by one (pulse answers never: see below).
        statement = (select(sc.at, sc.kind, sc.source, sc.value, sc.customer, sc.segment,
                            sc.comment, sc.rater_department_id, sc.rated_department_id,
                            sc.pulse_round, sc.signal_id, s.anonymous)
                     .select_from(dq.score_t.outerjoin(dq.signal_t, s.id == sc.signal_id))
                     .where(*where).order_by(sc.at, sc.id))

        def name(dept: int | None) -> str | None:
            return None if dept is None else names[dept][1]

        for r in self.stream(session, statement):
            rater = None if r[11] else name(r[7])  # an anonymous reporter's department: never
            ws.append(_row(ws, [self.local(r[0]), r[1], r[2], r[3], r[4], r[5], r[6],
                                rater, name(r[8]), r[9],
                                None if r[10] is None else f"VOC-{r[10]}"]))
        # Pulse answers: totals per rated department and round, hidden below the digest's floor.
        hidden = t.gettext("fewer than %(min)d people answered, not shown") % {
            "min": MIN_RESPONDENTS}
        for round_id, rated, nps, people in sorted(
                totals, key=lambda row: (row[0] or "", name(row[1]) or "")):
            shown = people >= MIN_RESPONDENTS
            ws.append(_row(ws, [self.local(self._round_start(round_id)), "internal", "pulse",
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
    """A native chart of column 3 against the labels of column 1, `rows` rows below the header."""
    chart.title = title
    chart.height, chart.width = 8, 18
    chart.add_data(Reference(ws, min_col=3, min_row=1, max_row=rows + 1), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=2, max_row=rows + 1))
    ws.add_chart(chart, at)


def _round(value: float | None, digits: int = 0) -> float | int | None:
    if value is None:
        return None
    return round(value) if digits == 0 else round(value, digits)


def _details(details: dict[str, Any] | None) -> str | None:
    if not details:
        return None
    parts = [f"{key}: {', '.join(map(str, value)) if isinstance(value, list) else value}"
             for key, value in details.items() if key not in ("card",)]
    return "; ".join(parts) or None

