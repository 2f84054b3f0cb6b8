"""`voc import-scores`: customer NPS answers from .xlsx or .csv, bad rows reported by number.

Columns (header row, any order, any case): date, score, customer, segment, comment. Each good
row gets a dedupe key made of its content and its occurrence in the file, so importing the same
file again adds nothing, while two identical answers in one file both count. Control characters
are dropped from every cell before anything else (PostgreSQL refuses NUL; XML, hence Excel,
refuses most of the others); only a comment keeps its line breaks and tabs.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from bot.core.service import VocService
from bot.core.shared.inputs import strip_controls
from storage.db import insert_or_ignore
from storage.models import Score

COLUMNS = ("date", "score", "customer", "segment", "comment")
REQUIRED = ("date", "score")
LIMITS = {"customer": 200, "segment": 100, "comment": 2000}
MULTILINE = ("comment",)  # the fields that keep line breaks and tabs
_NONCHARACTERS = str.maketrans("", "", "\ufffe\uffff")  # not Cc, yet refused by XML
_DATE_FORMATS = ("%Y-%m-%d", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
                 "%Y-%m-%dT%H:%M", "%d.%m.%Y", "%d.%m.%Y %H:%M", "%d/%m/%Y")


class ImportFileError(Exception):
    """The file as a whole cannot be read (wrong type, no header, missing columns)."""


@dataclass
class ImportReport:
    """Rows imported, rows already there from an earlier import, and rejected rows."""

    imported: int = 0
    already: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def summary(self) -> str:
        """Lines for the CLI."""
        lines = [f"row {row}: {reason}" for row, reason in self.errors]
        lines.append(f"imported {self.imported} customer score(s); {self.already} already "
                     f"imported; {len(self.errors)} bad row(s)")
        return "\n".join(lines)


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number as a spreadsheet shows it, {column: value}) for every non-empty row."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        yield from _csv_rows(path)
    elif suffix in (".xlsx", ".xlsm"):
        yield from _xlsx_rows(path)
    else:
        raise ImportFileError(f"{path.name}: expected a .xlsx or .csv file")


def _header(cells: list[Any], path: Path) -> list[str | None]:
    names = [strip_controls(str(c)).lower() if c is not None else None for c in cells]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise ImportFileError(f"{path.name}: row 1 must name the columns {', '.join(COLUMNS)} "
                              f"(missing: {', '.join(missing)})")
    return [n if n in COLUMNS else None for n in names]


def csv_text(path: Path) -> str:
    """The file's text: UTF-8 (with or without a BOM), else Windows-1251, what Excel writes
    for "CSV" on a Russian Windows (every byte decodes in it: a file in some third encoding
    shows its wrong letters in the imported comments, and no row is lost)."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1251", errors="replace")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with io.StringIO(csv_text(path), newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.reader(handle, dialect)
        first = next(reader, None)
        if first is None:
            raise ImportFileError(f"{path.name}: the file is empty")
        names = _header(list(first), path)
        for number, cells in enumerate(reader, 2):
            if any(c.strip() for c in cells):
                yield number, {n: v for n, v in zip(names, cells, strict=False) if n}


def _xlsx_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook  # 0.3 s and 33 MB (measured): a CSV import needs none

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise ImportFileError(f"{path.name}: not a readable .xlsx file ({exc})") from None
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        first = next(rows, None)
        if first is None:
            raise ImportFileError(f"{path.name}: the first sheet is empty")
        names = _header(list(first), path)
        for number, cells in enumerate(rows, 2):
            if any(c is not None and str(c).strip() for c in cells):
                yield number, {n: v for n, v in zip(names, cells, strict=False) if n}
    finally:
        book.close()


def parse_row(raw: dict[str, Any], timezone: str, now: datetime) -> dict[str, Any]:
    """A row's typed values; ValueError with the reason otherwise."""
    raw = {name: clean_cell(value, multiline=name in MULTILINE) for name, value in raw.items()}
    moment = _parse_date(raw.get("date"), timezone)
    if moment > now + timedelta(days=1):
        raise ValueError(f"date {moment.date().isoformat()} is in the future")
    score = _parse_score(raw.get("score"))
    values: dict[str, Any] = {"at": moment, "value": score}
    for name, limit in LIMITS.items():
        text = raw.get(name)
        text = None if text is None else str(text).strip() or None
        if text is not None and len(text) > limit:
            raise ValueError(f"{name} is {len(text)} characters long; the limit is {limit}")
        values[name] = text
    return values


def clean_cell(value: Any, *, multiline: bool = False) -> Any:
    """A text cell without control characters (a single-line field's line breaks and tabs become
    spaces); other values as they are."""
    if not isinstance(value, str):
        return value
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = text.replace("\n", " ").replace("\t", " ")
    return strip_controls(text).translate(_NONCHARACTERS)


def _parse_date(value: Any, timezone: str) -> datetime:
    tz = ZoneInfo(timezone)
    if isinstance(value, datetime):
        if value.tzinfo is None and value.time() == time.min:  # a date cell: its midday
            return datetime.combine(value.date(), time(12, 0), tzinfo=tz)
        return (value if value.tzinfo else value.replace(tzinfo=tz)).astimezone(tz)
    if isinstance(value, date):
        return datetime.combine(value, time(12, 0), tzinfo=tz)
    text = "" if value is None else str(value).strip()
    if not text:
        raise ValueError("date is missing")
    for form in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, form)
        except ValueError:
            continue
        if parsed.time() == time.min and ":" not in text:
            parsed = parsed.replace(hour=12)  # a day without a time: midday, far from midnight
        return parsed.replace(tzinfo=tz)
    raise ValueError(f"date {text[:30]!r} is not like 2026-11-24")


def _parse_score(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("score must be a whole number from 0 to 10")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdecimal() and value.strip().isascii():
        value = int(value.strip())
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValueError("score is missing")
    if not isinstance(value, int) or not 0 <= value <= 10:
        raise ValueError(f"score {str(value)[:20]!r} is not a whole number from 0 to 10")
    return value


def _key(values: dict[str, Any], occurrence: int) -> str:
    content = "|".join(str(values[k]) for k in ("at", "value", "customer", "segment", "comment"))
    digest = hashlib.sha256(content.encode()).hexdigest()[:40]
    return f"import:{digest}:{occurrence}"


def import_scores(service: VocService, path: Path) -> ImportReport:
    """Import the good rows of a file in one transaction; report the bad ones by row number."""
    report = ImportReport()
    now = service.clock()
    seen: Counter[str] = Counter()
    good: list[dict[str, Any]] = []
    for number, raw in read_rows(path):
        try:
            values = parse_row(raw, service.company.timezone, now)
        except ValueError as exc:
            report.errors.append((number, str(exc)))
            continue
        base = _key(values, 0)
        seen[base] += 1
        values["dedupe_key"] = _key(values, seen[base])
        values["at"] = values["at"].astimezone(now.tzinfo)
        good.append(values)
    with service.db.write() as session:
        for start in range(0, len(good), 1000):
            batch = good[start:start + 1000]
            keys = [v["dedupe_key"] for v in batch]
            existing = set(session.exec(select(Score.dedupe_key)
                                        .where(col(Score.dedupe_key).in_(keys))))
            new = [{"kind": "customer", "source": "import", **v} for v in batch
                   if v["dedupe_key"] not in existing]
            report.already += len(batch) - len(new)
            if new:
                table = Score.__table__  # type: ignore[attr-defined]
                session.execute(insert_or_ignore(session.get_bind().dialect.name, table,
                                                 "dedupe_key"), new)
                report.imported += len(new)
    return report
