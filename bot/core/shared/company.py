"""The company as the departments file describes it, validated: the core's input.

Parsing and validating the file is the composition root's job (bot/departments.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.shared.business_hours import BusinessHours
from bot.core.shared.platforms import Addresses


@dataclass(frozen=True)
class DepartmentSpec:
    """One `[[department]]` table, validated."""

    slug: str
    name: str
    description: str = ""
    keywords: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    members: tuple[str, ...] = ()
    # Its chat on each platform, by platform: {"telegram": {"telegram_chat": -1001}}.
    addresses: Addresses = field(default_factory=dict)
    ack_sla_hours: float = 24.0
    suppliers: tuple[str, ...] = ()
    # The name in other languages ([department.names]); `name` for any language not listed.
    names: dict[str, str] = field(default_factory=dict)

    def name_in(self, locale: str) -> str:
        """The department's name as people reading `locale` see it."""
        return self.names.get(locale, self.name)


@dataclass(frozen=True)
class PersonSpec:
    """One optional `[[person]]` table: several identities that are one person, with a name."""

    name: str
    identities: tuple[str, ...]
    locale: str | None = None


@dataclass(frozen=True)
class AtRiskRule:
    """When a customer is at risk (`[company.at_risk]`): any one of these makes it so."""

    complaints_in_30_days: int = 2  # this many complaints in 30 days (0: not a reason)
    detractor_with_open_complaint: bool = True  # a score of 0-6 while a complaint is open
    overdue_case: bool = True  # one of its cases waits past its acknowledge SLA


@dataclass(frozen=True)
class Company:
    """The whole validated file: the company settings, its departments and named people."""

    timezone: str
    locale: str
    triage: str
    business_hours: BusinessHours
    digest: str = "mon 09:00"
    pulse: str = "monthly"  # internal NPS pulse cadence: off, weekly, monthly, quarterly
    retention_days: int | None = None  # closed cases lose texts and names after this (privacy)
    leadership: tuple[str, ...] = ()
    admins: tuple[str, ...] = ()
    # Leadership's chat on each platform, under the departments' field names.
    leadership_addresses: Addresses = field(default_factory=dict)
    departments: tuple[DepartmentSpec, ...] = ()
    people: tuple[PersonSpec, ...] = ()
    # An anonymous reporter asked a question sees the head's name, not only the department.
    anonymous_see_askers: bool = False
    # Why cases happen, chosen when resolving (none: Resolve asks only for the note), and
    # their labels by language (a code without a label reads as itself).
    resolution_codes: tuple[str, ...] = ()
    resolution_labels: dict[str, dict[str, str]] = field(default_factory=dict)
    at_risk: AtRiskRule = AtRiskRule()
    source: str = "departments.toml"

    def resolution_label(self, code: str, locale: str) -> str:
        """A resolution code as people reading `locale` see it."""
        return self.resolution_labels.get(locale, {}).get(code, code)

    def listed_identities(self) -> set[str]:
        """Every identity the file names: leadership, admins, heads, members, people."""
        found = set(self.leadership) | set(self.admins)
        for department in self.departments:
            found |= set(department.heads) | set(department.members)
        for person in self.people:
            found |= set(person.identities)
        return found

    def department(self, slug: str) -> DepartmentSpec | None:
        """The department with this slug, if any."""
        return next((d for d in self.departments if d.slug == slug), None)
