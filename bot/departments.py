"""The departments file: validation with errors naming file, line and field.

Each table is validated by its pydantic model (bot/departments_schema.py); here every problem
is placed at its line, and the checks that span tables run over what the tables hold:
suppliers, duplicate slugs, memberships, the triage department, people's identities.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import ValidationError

from bot.core.shared.company import Company
from bot.core.shared.platforms import PLATFORMS
from bot.departments_addresses import company_table, department_table, in_field_order
from bot.departments_schema import (
    ACROSS_TABLES,
    FORMAT_ERRORS,
    CompanyTable,
    DepartmentTable,
    PersonTable,
    Table,
    describe,
)

T = TypeVar("T", bound=Table)
_TABLES = ("company", "department", "person")


@dataclass(frozen=True)
class Problem:
    """One validation problem, located as precisely as the file allows."""

    source: str
    line: int | None
    message: str
    department: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        parts = [where]
        if self.department is not None:
            parts.append(f"department {self.department!r}")
        if self.field is not None:
            parts.append(f"field {self.field!r}")
        return ": ".join(parts) + f": {self.message}"


class DepartmentsFileError(Exception):
    """The file is missing, unreadable or invalid; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


def load_company(
    path: Path, *, timezone: str | None = None, locale: str | None = None
) -> Company:
    """Read and validate a departments file; VOC_TIMEZONE / VOC_LOCALE override `[company]`."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DepartmentsFileError(
            [Problem(source, None, "file not found (copy departments.example.toml to start)")]
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DepartmentsFileError([Problem(source, None, f"cannot read: {exc}")]) from None
    return parse_company(text, source=source, timezone=timezone, locale=locale)


def parse_company(
    text: str, *, source: str = "departments.toml", timezone: str | None = None,
    locale: str | None = None,
) -> Company:
    """Validate TOML text; raise DepartmentsFileError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"at line (\d+)", str(exc))
        raise DepartmentsFileError([Problem(source, int(where.group(1)) if where else None,
                                            f"not valid TOML: {exc}")]) from None
    report = _Report(source, text.splitlines())
    company = _check_file(data, report, timezone=timezone, locale=locale)
    if company is None:
        raise DepartmentsFileError(report.problems)
    return company


# -- where problems are ----------------------------------------------------------------------
@dataclass
class _Report:
    """The problems found so far, each at the line of its field (or else of its table)."""

    source: str
    lines: list[str]
    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, *, table_line: int | None = None,
            department: str | None = None, field_name: str | None = None) -> None:
        """Note a problem once, at the line assigning `field_name` in the table if there is one."""
        line = self._field_line(table_line, field_name) if field_name else table_line
        problem = Problem(self.source, line, message, department, field_name)
        if problem not in self.problems:
            self.problems.append(problem)

    def table_lines(self, header: str) -> list[int]:
        """The line of every table with this header (valid or not), in file order."""
        return [i + 1 for i, line in enumerate(self.lines) if line.strip().startswith(header)]

    def _field_line(self, start: int | None, name: str) -> int | None:
        """First line assigning `name` in the table that starts at line `start`, or the header
        of its own sub-table (`[department.names]`) before the next table of the list."""
        if start is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        sub_table = re.compile(rf"^\s*\[\s*[\w-]+\.{re.escape(name)}\s*[\].]")
        in_table = True
        for index in range(start, len(self.lines)):  # `start` is 1-based: this begins below it
            line = self.lines[index]
            if line.strip().startswith("[["):
                break
            if sub_table.match(line):
                return index + 1
            in_table = in_table and not line.strip().startswith("[")
            if in_table and pattern.match(line):
                return index + 1
        return start


# -- one table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Checked(Generic[T]):
    """One table after validation."""

    line: int | None
    valid: T | None  # the table, if it has no problem
    usable: T | None  # its values of the right type, for the checks across tables
    kept: Mapping[str, Any]  # those values as written
    problems: list[tuple[str | None, str]]  # (field or None for the table, message)


def _check(model: type[T], raw: Any, line: int | None) -> _Checked[T]:
    """Validate one table; keep what is usable of it when it has problems."""
    try:
        valid = model.model_validate(raw)
    except ValidationError as exc:
        errors = in_field_order(model, exc.errors())
    else:
        return _Checked(line, valid, valid, raw, [])
    problems = [describe(model, error) for error in errors]
    if not isinstance(raw, dict):
        return _Checked(line, None, None, {}, problems)
    broken = {error["loc"][0] for error in errors if error["type"] not in FORMAT_ERRORS}
    kept = {key: value for key, value in raw.items() if key not in broken}
    try:
        usable = model.model_validate(kept, context=ACROSS_TABLES)
    except ValidationError:
        usable = None  # a required value is missing or unusable
    return _Checked(line, None, usable, kept, problems)


def _nth(lines: list[int], index: int) -> int | None:
    """The line of the index-th table of a kind, counting every table (valid or not)."""
    return lines[index] if index < len(lines) else None


def _tables(data: Mapping[str, Any], key: str, report: _Report) -> list[Any]:
    tables = data.get(key, [])
    if not isinstance(tables, list):
        report.add(f"[[{key}]] must be an array of tables")
        return []
    return tables


# -- the file --------------------------------------------------------------------------------
def _check_file(data: Mapping[str, Any], report: _Report, *, timezone: str | None,
                locale: str | None) -> Company | None:
    """Report every problem of the parsed file; the company if there is none."""
    for key in sorted(set(data) - set(_TABLES)):
        report.add(f"unknown table [{key}]")
    company = _check_company(data, report, timezone=timezone, locale=locale)
    department_tables = _tables(data, "department", report)
    departments = _check_departments(department_tables, report)
    _check_triage(company, department_tables, report)
    people = _check_people(_tables(data, "person", report), report)
    if report.problems or company.valid is None:
        return None
    return company.valid.to_company(departments=[d.valid for d in departments if d.valid],
                                    people=[p.valid for p in people if p.valid],
                                    source=report.source)


def _check_company(data: Mapping[str, Any], report: _Report, *, timezone: str | None,
                   locale: str | None) -> _Checked[CompanyTable]:
    raw = data.get("company")
    if not isinstance(raw, dict):
        report.add("the [company] table is missing")
        raw = {}
    overrides = {"timezone": timezone, "locale": locale}
    raw = raw | {key: value for key, value in overrides.items() if value}
    lines = report.table_lines("[company]")
    company = _check(company_table(), raw, lines[0] if lines else None)
    for field_name, message in company.problems:
        report.add(message, table_line=company.line, field_name=field_name)
    return company


def _check_triage(company: _Checked[CompanyTable], department_tables: list[Any],
                  report: _Report) -> None:
    """The triage department must be written in the file (even if its table has problems)."""
    triage = company.kept.get("triage")  # kept: a non-blank string
    written = {t.get("slug") for t in department_tables
               if isinstance(t, dict) and isinstance(t.get("slug"), str)}
    if triage and triage not in written:
        report.add(f"unknown triage department {triage!r}", table_line=company.line,
                   field_name="triage")


# -- departments -----------------------------------------------------------------------------
def _check_departments(tables: list[Any], report: _Report) -> list[_Checked[DepartmentTable]]:
    lines = report.table_lines("[[department]]")
    checked = [_check_department(raw, i, _nth(lines, i), report) for i, raw in enumerate(tables)]
    usable = [(c.line, c.usable) for c in checked if c.usable is not None]
    _check_slugs_and_members(usable, report)
    _check_suppliers(usable, report)
    return checked


def _check_department(raw: Any, index: int, line: int | None,
                      report: _Report) -> _Checked[DepartmentTable]:
    """Problems name the department by its slug, or by its position when the slug is unusable
    (then a problem with the slug itself, or with the whole table, names no department)."""
    department = _check(department_table(), raw, line)
    slug = department.kept.get("slug")
    named = slug if isinstance(slug, str) and slug.strip() else None
    label = named or f"#{index + 1}"
    for field_name, message in department.problems:
        report.add(message, table_line=line, field_name=field_name,
                   department=named if field_name in (None, "slug") else label)
    chats = [platform.address[0].key for platform in PLATFORMS.values()]
    if isinstance(raw, dict) and not set(chats) & department.kept.keys():
        report.add(f"has no {' and no '.join(chats)}: its cards could not be posted",
                   table_line=line, department=label)
    return department


_Located = list[tuple[int | None, DepartmentTable]]


def _check_slugs_and_members(departments: _Located, report: _Report) -> None:
    """A slug names one department; an identity is a member of one department."""
    first_line: dict[str, int] = {}
    member_of: dict[str, str] = {}
    for line, dept in departments:
        if dept.slug in first_line:
            report.add(f"duplicate slug (first defined at line {first_line[dept.slug]})",
                       table_line=line, department=dept.slug, field_name="slug")
        first_line.setdefault(dept.slug, line or 0)
        for identity in dept.members:
            if member_of.setdefault(identity, dept.slug) != dept.slug:
                report.add(f"{identity} is already a member of {member_of[identity]!r}",
                           table_line=line, department=dept.slug, field_name="members")


def _check_suppliers(departments: _Located, report: _Report) -> None:
    """A department rates other departments of the file."""
    slugs = {dept.slug for _, dept in departments}
    for line, dept in departments:
        for supplier in dept.suppliers:
            if supplier == dept.slug:
                message = "a department cannot be its own supplier"
            elif supplier not in slugs:
                message = f"unknown supplier {supplier!r} (known: {', '.join(sorted(slugs))})"
            else:
                continue
            report.add(message, table_line=line, department=dept.slug, field_name="suppliers")


# -- people ----------------------------------------------------------------------------------
def _check_people(tables: Iterable[Any], report: _Report) -> list[_Checked[PersonTable]]:
    lines = report.table_lines("[[person]]")
    people = [_check(PersonTable, raw, _nth(lines, i)) for i, raw in enumerate(tables)]
    for person in people:
        for field_name, message in person.problems:
            report.add(message, table_line=person.line, field_name=field_name)
    _check_owners([(p.line, p.usable) for p in people if p.usable is not None], report)
    return people


def _check_owners(people: list[tuple[int | None, PersonTable]], report: _Report) -> None:
    """An identity belongs to one person."""
    owner: dict[str, str] = {}
    for line, person in people:
        for identity in person.identities:
            if identity in owner:
                report.add(f"{identity} already belongs to {owner[identity]!r}",
                           table_line=line, field_name="identities")
            owner[identity] = person.name
