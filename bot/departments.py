"""The departments file (DESIGN 5.3): validation with errors naming file, line and field."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.cadence import PULSE_CADENCES
from bot.core.company import Company, DepartmentSpec, PersonSpec
from bot.core.i18n import SUPPORTED_LOCALES
from bot.core.identity import IDENTITY_HELP, is_valid_identity
from bot.core.sla import BusinessHours

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
DIGEST_RE = re.compile(r"(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)")

_COMPANY_KEYS = {
    "timezone", "locale", "triage", "leadership", "admins", "leadership_slack_channel",
    "leadership_telegram_chat", "digest", "business_hours", "business_days", "holidays",
    "pulse",
}
_DEPARTMENT_KEYS = {
    "slug", "name", "description", "keywords", "heads", "members", "slack_channel",
    "telegram_chat", "telegram_topic", "ack_sla_hours", "suppliers",
}
_PERSON_KEYS = {"name", "identities", "locale"}


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
    return _Validator(text, source).company(data, timezone=timezone, locale=locale)


@dataclass
class _Validator:
    text: str
    source: str
    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lines = self.text.splitlines()
        self.department_lines = self._header_lines("[[department]]")
        self.person_lines = self._header_lines("[[person]]")
        company = self._header_lines("[company]")
        self.company_line = company[0] if company else None

    def _header_lines(self, header: str) -> list[int]:
        return [i + 1 for i, line in enumerate(self.lines) if line.strip().startswith(header)]

    def _field_line(self, start: int | None, name: str) -> int | None:
        """First line assigning `name` in the table that starts at line `start`."""
        if start is None:
            return None
        pattern = re.compile(rf"^\s*{re.escape(name)}\s*=")
        for index in range(start, len(self.lines)):  # `start` is 1-based: this begins below it
            line = self.lines[index]
            if line.strip().startswith("["):
                break
            if pattern.match(line):
                return index + 1
        return start

    def fail(self, message: str, *, table_line: int | None = None, department: str | None = None,
             field_name: str | None = None) -> None:
        line = self._field_line(table_line, field_name) if field_name else table_line
        self.problems.append(Problem(self.source, line, message, department, field_name))

    # -- typed getters -------------------------------------------------------------------------
    def _get_str(self, table: Mapping[str, Any], key: str, line: int | None, dept: str | None,
                 *, required: bool = False, default: str | None = None) -> str | None:
        value = table.get(key)
        if value is None:
            if required:
                self.fail("is required", table_line=line, department=dept, field_name=key)
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.fail("must be a non-empty string", table_line=line, department=dept,
                      field_name=key)
            return default
        return value

    def _get_list(self, table: Mapping[str, Any], key: str, line: int | None,
                  dept: str | None) -> tuple[str, ...]:
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail("must be a list of strings", table_line=line, department=dept,
                      field_name=key)
            return ()
        return tuple(value)

    def _get_chat(self, table: Mapping[str, Any], key: str, line: int | None,
                  dept: str | None) -> int | None:
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail("must be a Telegram chat id (an integer such as -1001001)",
                      table_line=line, department=dept, field_name=key)
            return None
        return value

    def _identities(self, values: Iterable[str], key: str, line: int | None,
                    dept: str | None) -> None:
        for value in values:
            if not is_valid_identity(value):
                self.fail(f"malformed identity {value!r}: {IDENTITY_HELP}", table_line=line,
                          department=dept, field_name=key)

    def _unknown_keys(self, table: Mapping[str, Any], allowed: set[str], line: int | None,
                      dept: str | None) -> None:
        for key in sorted(set(table) - allowed):
            self.fail(f"unknown field (allowed: {', '.join(sorted(allowed))})",
                      table_line=line, department=dept, field_name=key)

    # -- sections ----------------------------------------------------------------------------
    def company(self, data: Mapping[str, Any], *, timezone: str | None,
                locale: str | None) -> Company:
        for key in sorted(set(data) - {"company", "department", "person"}):
            self.problems.append(Problem(self.source, None, f"unknown table [{key}]"))
        raw = data.get("company")
        line = self.company_line
        if not isinstance(raw, dict):
            self.problems.append(Problem(self.source, None, "the [company] table is missing"))
            raw = {}
        self._unknown_keys(raw, _COMPANY_KEYS, line, None)
        tz = timezone or self._get_str(raw, "timezone", line, None, default="UTC") or "UTC"
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail(f"unknown timezone {tz!r} (use an IANA name like Europe/Moscow)",
                      table_line=line, field_name="timezone")
            tz = "UTC"
        lang = locale or self._get_str(raw, "locale", line, None, default="en") or "en"
        if lang not in SUPPORTED_LOCALES:
            self.fail(f"unsupported locale {lang!r} (supported: {', '.join(SUPPORTED_LOCALES)})",
                      table_line=line, field_name="locale")
            lang = "en"
        digest = self._get_str(raw, "digest", line, None, default="mon 09:00") or "mon 09:00"
        if not DIGEST_RE.fullmatch(digest):
            self.fail(f"{digest!r} is not like \"mon 09:00\"", table_line=line,
                      field_name="digest")
        pulse = self._get_str(raw, "pulse", line, None, default="monthly") or "monthly"
        if pulse not in PULSE_CADENCES:
            self.fail(f"unknown pulse cadence {pulse!r} (use {', '.join(PULSE_CADENCES)})",
                      table_line=line, field_name="pulse")
        hours = self._business_hours(raw, tz, line)
        leadership = self._get_list(raw, "leadership", line, None)
        admins = self._get_list(raw, "admins", line, None)
        self._identities(leadership, "leadership", line, None)
        self._identities(admins, "admins", line, None)

        tables = self._tables(data, "department")
        departments = [(self._line(self.department_lines, i), self.department(d, i))
                       for i, d in enumerate(tables)]
        departments_ok = [(at, d) for at, d in departments if d is not None]
        self._cross_check(departments_ok)
        triage = self._get_str(raw, "triage", line, None, required=True) or ""
        written = {t.get("slug") for t in tables if isinstance(t, dict)}  # even invalid ones
        if triage and triage not in written:
            self.fail(f"unknown triage department {triage!r}", table_line=line,
                      field_name="triage")
        people = [(self._line(self.person_lines, i), self.person(p, i))
                  for i, p in enumerate(self._tables(data, "person"))]
        self._check_people([(at, p) for at, p in people if p is not None])
        if self.problems:
            raise DepartmentsFileError(self.problems)
        return Company(
            timezone=tz, locale=lang, triage=triage, business_hours=hours, digest=digest,
            pulse=pulse,
            leadership=leadership, admins=admins,
            leadership_slack_channel=self._get_str(raw, "leadership_slack_channel", line, None),
            leadership_telegram_chat=self._get_chat(raw, "leadership_telegram_chat", line, None),
            departments=tuple(d for _, d in departments_ok),
            people=tuple(p for _, p in people if p is not None),
            source=self.source,
        )

    @staticmethod
    def _line(lines: list[int], index: int) -> int | None:
        """The line of the index-th table of a kind, counting every table (valid or not)."""
        return lines[index] if index < len(lines) else None

    def _tables(self, data: Mapping[str, Any], key: str) -> list[Any]:
        tables = data.get(key, [])
        if not isinstance(tables, list):
            self.problems.append(Problem(self.source, None,
                                         f"[[{key}]] must be an array of tables"))
            return []
        return tables

    def _business_hours(self, raw: Mapping[str, Any], tz: str, line: int | None) -> BusinessHours:
        hours = self._get_str(raw, "business_hours", line, None, default="09:00-18:00")
        days = self._get_list(raw, "business_days", line, None) if "business_days" in raw else (
            "mon", "tue", "wed", "thu", "fri")
        holidays = self._get_list(raw, "holidays", line, None)
        try:
            return BusinessHours.parse(tz, hours or "09:00-18:00", days, holidays)
        except ValueError as exc:
            self.fail(str(exc), table_line=line, field_name="business_hours")
            return BusinessHours.parse("UTC")

    def department(self, raw: Any, index: int) -> DepartmentSpec | None:
        line = self.department_lines[index] if index < len(self.department_lines) else None
        if not isinstance(raw, dict):
            self.problems.append(Problem(self.source, line, "[[department]] must be a table"))
            return None
        slug = self._get_str(raw, "slug", line, None, required=True)
        label = slug or f"#{index + 1}"
        if slug is not None and not SLUG_RE.fullmatch(slug):
            self.fail(f"slug {slug!r} must be lowercase letters, digits, '-' or '_'",
                      table_line=line, department=label, field_name="slug")
        self._unknown_keys(raw, _DEPARTMENT_KEYS, line, label)
        name = self._get_str(raw, "name", line, label, required=True)
        heads = self._get_list(raw, "heads", line, label)
        members = self._get_list(raw, "members", line, label)
        self._identities(heads, "heads", line, label)
        self._identities(members, "members", line, label)
        slack_channel = self._get_str(raw, "slack_channel", line, label)
        telegram_chat = self._get_chat(raw, "telegram_chat", line, label)
        telegram_topic = raw.get("telegram_topic")
        if telegram_topic is not None and (isinstance(telegram_topic, bool) or not isinstance(
                telegram_topic, int) or telegram_topic <= 0 or telegram_chat is None):
            self.fail("must be a positive forum topic id, with telegram_chat set",
                      table_line=line, department=label, field_name="telegram_topic")
            telegram_topic = None
        if slack_channel is None and telegram_chat is None:
            self.fail("has no slack_channel and no telegram_chat: its cards could not be posted",
                      table_line=line, department=label)
        sla = raw.get("ack_sla_hours", 24)
        if isinstance(sla, bool) or not isinstance(sla, int | float) or not 0 < sla <= 24 * 90:
            self.fail("must be a number of business hours between 0 and 2160",
                      table_line=line, department=label, field_name="ack_sla_hours")
            sla = 24
        if slug is None or name is None:
            return None
        return DepartmentSpec(
            slug=slug, name=name,
            description=self._get_str(raw, "description", line, label, default="") or "",
            keywords=self._get_list(raw, "keywords", line, label), heads=heads, members=members,
            slack_channel=slack_channel, telegram_chat=telegram_chat,
            telegram_topic=telegram_topic, ack_sla_hours=float(sla),
            suppliers=self._get_list(raw, "suppliers", line, label),
        )

    def _cross_check(self, departments: list[tuple[int | None, DepartmentSpec]]) -> None:
        seen: dict[str, int] = {}
        member_of: dict[str, str] = {}
        for line, dept in departments:
            if dept.slug in seen:
                self.fail(f"duplicate slug (first defined at line {seen[dept.slug]})",
                          table_line=line, department=dept.slug, field_name="slug")
            else:
                seen[dept.slug] = line or 0
            for identity in dept.members:
                if identity in member_of and member_of[identity] != dept.slug:
                    self.fail(f"{identity} is already a member of {member_of[identity]!r}",
                              table_line=line, department=dept.slug, field_name="members")
                member_of.setdefault(identity, dept.slug)
        slugs = set(seen)
        for line, dept in departments:
            for supplier in dept.suppliers:
                if supplier == dept.slug:
                    self.fail("a department cannot be its own supplier", table_line=line,
                              department=dept.slug, field_name="suppliers")
                elif supplier not in slugs:
                    self.fail(f"unknown supplier {supplier!r} (known: {', '.join(sorted(slugs))})",
                              table_line=line, department=dept.slug, field_name="suppliers")

    def person(self, raw: Any, index: int) -> PersonSpec | None:
        line = self.person_lines[index] if index < len(self.person_lines) else None
        if not isinstance(raw, dict):
            self.problems.append(Problem(self.source, line, "[[person]] must be a table"))
            return None
        self._unknown_keys(raw, _PERSON_KEYS, line, None)
        name = self._get_str(raw, "name", line, None, required=True)
        identities = self._get_list(raw, "identities", line, None)
        if not identities:
            self.fail("must list at least one identity", table_line=line,
                      field_name="identities")
        self._identities(identities, "identities", line, None)
        locale = self._get_str(raw, "locale", line, None)
        if locale is not None and locale not in SUPPORTED_LOCALES:
            self.fail(f"unsupported locale {locale!r}", table_line=line, field_name="locale")
        if name is None:
            return None
        return PersonSpec(name=name, identities=identities, locale=locale)

    def _check_people(self, people: list[tuple[int | None, PersonSpec]]) -> None:
        owner: dict[str, str] = {}
        for line, person in people:
            for identity in person.identities:
                if identity in owner:
                    self.fail(f"{identity} already belongs to {owner[identity]!r}",
                              table_line=line, field_name="identities")
                owner[identity] = person.name
