"""Excel workbooks (openpyxl write-only, streamed with lxml) and the customer-score import.

Sheets: Summary (weekly NPS and signals, with a line chart and a totals row), Departments (loop
health, with a bar chart and a totals row), Signals, Events, Scores. Everything is in the
reader's language: sheet names, headers, kinds, statuses, actions, score kinds and sources, and
each event's details as a short phrase. Cells are typed (dates as dates in company time, shown
as yyyy-mm-dd hh:mm, aligned left; scores as numbers); headers wrap within columns wide enough
for their words, stay frozen and filter; long texts wrap; every sheet prints A4 landscape, one
page wide, the header row repeated on each page, so that the whole workbook prints in a few
pages at 9 pt or more: the Signals print the columns a reader needs (number, date, kind,
status, department, text), the Events and Scores a note instead of their rows (which stay in
the file, for filtering), and the charts sit below their tables. The Summary marks a week the
workbook covers only in part (the running one) and charts whole weeks only, each as a marked
point. Rows are streamed from the database in batches (the queries:
storage/workbook_queries.py; the cells: jobs/workbook_cells.py), so memory stays flat whatever
the size. Text is always written as text: a string that looks like a formula (= + - @
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
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart
from sqlmodel import Session

from bot.core.handling.rules import RULES
from bot.core.presentation.event_words import EVENTS, in_reader_language, raw_details
from bot.core.presentation.render import STATUS_LABELS
from bot.core.reporting.digest import MIN_RESPONDENTS
from bot.core.reporting.nps import Nps
from bot.core.reporting.periods import Week, round_bounds
from bot.core.service import VocService
from bot.core.shared.domain import Kind, ScoreKind, ScoreSource
from bot.core.shared.i18n import N_, Translator
from jobs.customers_sheet import customers_sheet
from jobs.workbook_cells import (
    DATE_WIDTH,
    DateCell,
    LongTextCell,
    TallRows,
    add_chart,
    bold_cell,
    bold_row,
    date_cell,
    fill_width,
    header_width,
    new_sheet,
    rounded,
    row_cells,
    share_cell,
    widest,
    words_of,
)
from storage import digest_queries as dq
from storage import workbook_queries as wq

Progress = Callable[[int], None]  # called with the number of rows just written
BATCH = 5000
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
    with service.db.read() as session:
        return (wq.signal_count(session=session, start=start, end=end)
                + wq.event_count(session=session, start=start, end=end)
                + wq.score_count(session=session, start=start, end=end)
                + len(wq.pulse_totals(session=session, start=start, end=end)))


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
        names = {number: (slug, t.department(slug, name), sla)  # in the reader's language
                 for number, (slug, name, sla) in dq.department_names(session=session).items()}
        sheets.summary(session)
        sheets.departments(session, names)
        sheets.signals(session, names)
        sheets.events(session)
        sheets.scores(session, names)
        customers_sheet(sheets, session)
    book.save(target)  # openpyxl accepts paths and binary files


def _range(service: VocService, start: datetime | None, end: datetime | None
           ) -> tuple[datetime, datetime]:
    if end is None:
        end = service.clock() + timedelta(seconds=1)
    if start is None:
        with service.db.read() as session:
            first = wq.first_recorded(session=session)
        start = first if first is not None else end - timedelta(weeks=1)
        start = min(start, end - timedelta(seconds=1))
        # From the Monday of the first record's week: nothing came before, so that week is
        # whole in the Summary.
        tz = service.company.timezone
        start = Week.containing(start, tz).bounds(tz)[0]
    return start, end


class _Sheets:
    """One workbook being written; each method adds one sheet."""

    def __init__(self, service: VocService, book: Workbook, t: Translator, start: datetime,
                 end: datetime, progress: Progress) -> None:
        self.service, self.book, self.t = service, book, t
        self.start, self.end, self.progress = start, end, progress
        self.tz = service.company.timezone
        self.kinds = words_of(KIND_WORDS, t)
        self.statuses = words_of(STATUS_LABELS, t)
        self.actions = words_of(EVENT_WORDS, t)
        self.score_kinds = words_of(SCORE_KIND_WORDS, t)
        self.sources = words_of(SOURCE_WORDS, t)

    def local(self, moment: datetime | None) -> datetime | None:
        """Excel has no time zones: company wall-clock time, as people read it."""
        return None if moment is None else moment.astimezone(self.t.timezone).replace(
            tzinfo=None, microsecond=0)

    def sheet(self, title: str, headers: Sequence[tuple[str, float]], rows: int, *,
              printed: int | None = None, print_note: str | None = None) -> Any:
        """A sheet of `rows` rows under `headers` (see jobs/workbook_cells.py new_sheet)."""
        return new_sheet(self.book, title, headers, rows, printed=printed, print_note=print_note)

    def unprinted(self, rows: int) -> str:
        """The note a sheet prints instead of its rows (a printed workbook stays short)."""
        return self.t.ngettext(
            "%(rows)d row, for filtering on screen: printed, this sheet is this note. To print "
            "the rows, clear the sheet's print area.",
            "%(rows)d rows, for filtering on screen: printed, this sheet is this note. To "
            "print the rows, clear the sheet's print area.", rows) % {"rows": rows}

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
        # A week the workbook covers only in part (the running one, or cut by --from/--to) is
        # marked, and left out of the chart: its NPS is not the week's.
        whole = [self.start <= week.bounds(self.tz)[0] and week.bounds(self.tz)[1] <= min(
            self.end, self.service.clock()) for week in weeks]
        labels = [str(week) if complete else t.gettext("%(week)s (incomplete)") % {
            "week": str(week)} for week, complete in zip(weeks, whole, strict=True)]
        headers = [(t.gettext("Week"), widest(labels, 10)), (t.gettext("Starts"), DATE_WIDTH),
                   (t.gettext("Customer NPS"), DATE_WIDTH), (t.gettext("Answers"), 9),
                   (t.gettext("Margin ±"), 9), (t.gettext("Complaints"), 9),
                   (t.gettext("Praise"), 9), (t.gettext("Ideas"), 9)]
        ws = self.sheet(t.gettext("Summary"), headers, len(weeks))
        for week, counts, kind, label in zip(weeks, nps, kinds, labels, strict=True):
            value = Nps(counts.promoters, counts.passives, counts.detractors)
            ws.append([label, week.monday, rounded(value.score), value.n,
                       rounded(value.margin), kind.get("complaint", 0), kind.get("praise", 0),
                       kind.get("idea", 0)])
        ws.append([])
        # Totals under the weeks' own headers; then the period the workbook covers.
        ws.append(bold_row(ws, [t.gettext("Total"), None, rounded(total.score), total.n,
                             rounded(total.margin),
                             *(sum(k.get(kind, 0) for k in kinds)
                               for kind in ("complaint", "praise", "idea"))]))
        ws.append([bold_cell(ws, t.gettext("Period")),
                   date_cell(ws, self.local(self.start)), date_cell(ws, self.local(self.end))])
        if any(whole):  # complete weeks are consecutive: incomplete ones sit at either end
            line = LineChart()
            line.y_axis.title = t.gettext("Customer NPS")
            add_chart(ws, line, t.gettext("Customer NPS by week"), rows=sum(whole),
                      at=f"A{len(weeks) + 6}",
                      first=2 + whole.index(True))

    def departments(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        loop = dq.loop_health(session=session, start=self.start, end=self.end,
                              as_of=min(self.service.clock(), self.end),
                              business_hours=self.service.company.business_hours)
        per_kind = wq.kinds_by_department(session=session, start=self.start, end=self.end)
        ids = sorted(set(loop) | set(per_kind), key=lambda d: names[d][1])
        headers = [(t.gettext("Department"), widest([names[d][1] for d in ids], 14)),
                   (t.gettext("Slug"), widest([names[d][0] for d in ids], 8)),
                   (t.gettext("Signals"), 9), (t.gettext("Complaints"), 9),
                   (t.gettext("Praise"), 9), (t.gettext("Ideas"), 9),
                   (t.gettext("Acknowledged within SLA"), 12),
                   (t.gettext("Median business hours to acknowledge"), 12),
                   (t.gettext("Resolved"), 9),
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
            ws.append(row_cells(ws, [names[dept][1], names[dept][0], *figures[:4],
                                share_cell(ws, row.within_sla, row.due),
                                rounded(row.median_ack_hours, 1), row.resolved, row.open,
                                row.open_overdue]))
        if ids:
            ws.append([])
            ws.append(bold_row(ws, [t.gettext("Total"), None, *sums[:4],
                                 share_cell(ws, sums[5], sums[4]), None, sums[6], sums[7],
                                 overdue]))
            bars = BarChart()
            bars.type = "bar"
            add_chart(ws, bars, t.gettext("Signals per department"), rows=len(ids),
                      at=f"A{len(ids) + 5}")

    def signals(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        total = wq.signal_count(session=session, start=self.start, end=self.end)
        # What prints: number, date, kind, status, department and the text, which takes the
        # rest of the page (wrapping within it); the other columns are for filtering on screen.
        printed = [(t.gettext("Ref"), 11.0), (t.gettext("Created"), float(DATE_WIDTH)),
                   (t.gettext("Kind"), widest(self.kinds.values(), 9)),
                   (t.gettext("Status"), widest(self.statuses.values(), 10)),
                   (t.gettext("Department"), widest([n[1] for n in names.values()], 14))]
        text_width = fill_width([header_width(*header) for header in printed], 40)
        headers = [*printed, (t.gettext("Text"), text_width), (t.gettext("Customer"), 16),
                   (t.gettext("Customer score"), 9), (t.gettext("Reported by"), 16),
                   (t.gettext("Acknowledge by"), DATE_WIDTH),
                   (t.gettext("Acknowledged"), DATE_WIDTH), (t.gettext("Resolved"), DATE_WIDTH),
                   (t.gettext("Attachments"), 9), (t.gettext("Resolution code"), 12)]
        ws = self.sheet(t.gettext("Signals"), headers, int(total), printed=len(printed) + 1)
        company = self.service.company
        anonymous = t.gettext("anonymous")
        statement = wq.signal_rows(self.start, self.end)
        local, kinds, statuses = self.local, self.kinds, self.statuses
        created, due, acknowledged, resolved = (DateCell(ws) for _ in range(4))
        text = LongTextCell(ws, "F")
        rows = TallRows(ws, text)
        for r in self.stream(session, statement):
            rows.append(row_cells(ws, [f"VOC-{r[0]}", created(local(r[1])), kinds.get(r[2], r[2]),
                                  statuses.get(r[3], r[3]), names[r[4]][1], text(r[5]), r[6],
                                  r[7],
                                  anonymous if r[8] else r[9], due(local(r[10])),
                                  acknowledged(local(r[11])), resolved(local(r[12])), r[13],
                                  company.resolution_label(r[14], t.locale) if r[14] else None]))

    def events(self, session: Session) -> None:
        t = self.t
        total = wq.event_count(session=session, start=self.start, end=self.end)
        headers = [(t.gettext("Ref"), 11), (t.gettext("At"), DATE_WIDTH),
                   (t.gettext("Action"), widest(self.actions.values(), 10)),
                   (t.gettext("By"), 20), (t.gettext("Details"), 50)]
        ws = self.sheet(t.gettext("Events"), headers, int(total),
                        print_note=self.unprinted(int(total)))
        statement = wq.event_rows(self.start, self.end)
        anonymous = t.gettext("anonymous")
        at, actions, details = DateCell(ws), self.actions, _Details(t)
        text = LongTextCell(ws, "E")
        rows = TallRows(ws, text)
        for r in self.stream(session, statement):
            hidden = r[6] and (r[4] == r[5] or r[2] in _REPORTER_EVENTS)  # stays anonymous
            rows.append(row_cells(ws, [f"VOC-{r[0]}", at(self.local(r[1])), actions.get(r[2], r[2]),
                                  anonymous if hidden else r[3], text(details(r[2], r[7]))]))

    def scores(self, session: Session, names: dict[int, tuple[str, str, float]]) -> None:
        t = self.t
        answers = wq.score_count(session=session, start=self.start, end=self.end)
        totals = [(round_id, rated, Nps(good, neutral, bad), people)
                  for round_id, rated, good, neutral, bad, people
                  in wq.pulse_totals(session=session, start=self.start, end=self.end)]
        department = widest([n[1] for n in names.values()], 14)
        headers = [(t.gettext("At"), DATE_WIDTH),
                   (t.gettext("Kind"), widest(self.score_kinds.values(), 9)),
                   (t.gettext("Source"), widest(self.sources.values(), 9)),
                   (t.gettext("Score"), 8), (t.gettext("Customer"), 20),
                   (t.gettext("Segment"), 12), (t.gettext("Comment"), 40),
                   (t.gettext("Rating department"), department),
                   (t.gettext("Rated department"), department),
                   (t.gettext("Pulse round"), 10), (t.gettext("Signal"), 11),
                   (t.gettext("Answers"), 9), (t.gettext("Internal NPS"), 9),
                   (t.gettext("Margin ±"), 9)]
        count = int(answers) + len(totals)
        ws = self.sheet(t.gettext("Scores"), headers, count, print_note=self.unprinted(count))
        # Customer scores and handling ratings, one by one (pulse answers never: see below).
        statement = wq.score_rows(self.start, self.end)

        def name(dept: int | None) -> str | None:
            return None if dept is None else names[dept][1]

        at, kinds, sources = DateCell(ws), self.score_kinds, self.sources
        text = LongTextCell(ws, "G")
        rows = TallRows(ws, text)
        for r in self.stream(session, statement):
            rater = None if r[11] else name(r[7])  # an anonymous reporter's department: never
            rows.append(row_cells(ws, [at(self.local(r[0])), kinds.get(r[1], r[1]),
                                  sources.get(r[2], r[2]), r[3], r[4], r[5], text(r[6]), rater,
                                  name(r[8]), r[9], None if r[10] is None else f"VOC-{r[10]}"]))
        # Pulse answers: totals per rated department and round, hidden below the digest's floor.
        hidden = t.gettext("fewer than %(min)d people answered, not shown") % {
            "min": MIN_RESPONDENTS}
        internal, pulse = kinds[ScoreKind.INTERNAL], sources[ScoreSource.PULSE]
        for round_id, rated, nps, people in sorted(
                totals, key=lambda row: (row[0] or "", name(row[1]) or "")):
            shown = people >= MIN_RESPONDENTS
            rows.append(row_cells(ws, [at(self.local(self._round_start(round_id))), internal, pulse,
                                  None, None, None, None if shown else hidden, None, name(rated),
                                  round_id, None, nps.n if shown else None,
                                  rounded(nps.score) if shown else None,
                                  rounded(nps.margin) if shown else None]))
        self.progress(len(totals))

    def _round_start(self, round_id: str | None) -> datetime | None:
        try:
            return None if round_id is None else round_bounds(round_id, self.tz)[0]
        except ValueError:  # not a round this version knows: the row still says which
            return None


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
        d = in_reader_language(details or {}, self.t)  # department names too
        words = EVENTS.get(action)
        return raw_details(d) if words is None else words.phrase(d, self.say)
