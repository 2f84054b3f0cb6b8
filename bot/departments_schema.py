"""Pydantic models of the departments file's tables, speaking today's messages.

A model refuses unknown fields and values of the wrong type; its validators check what a value
means (a slug, an identity, a timezone, a digest time...) and refuse with the very sentence the
admin reads. `describe` turns any error of these models into that sentence and its field.

The fields addressing a department or leadership on a chat platform (`slack_channel`,
`telegram_chat`...) are each platform's registration (bot/core/shared/platforms.py):
bot/departments_addresses.py adds them to these models.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from bot.core.reporting.periods import PULSE_CADENCES
from bot.core.shared.business_hours import BusinessHours
from bot.core.shared.company import AtRiskRule, Company, DepartmentSpec, PersonSpec
from bot.core.shared.domain import MAX_RESOLUTION_CODE
from bot.core.shared.i18n import SUPPORTED_LOCALES
from bot.core.shared.identity import IDENTITY_HELP, is_valid_identity
from bot.core.shared.platforms import NON_EMPTY_STRING, addresses_from

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
DIGEST_RE = re.compile(r"(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-3]):([0-5]\d)")
MAX_SLA_HOURS = 24 * 90
MAX_RETENTION_DAYS = 36500

LIST_OF_STRINGS = "must be a list of strings"
RETENTION_DAYS = (f"must be a whole number of days from 1 to {MAX_RETENTION_DAYS} (leave it "
                  "out to keep everything)")
BOOLEAN = "must be true or false"
LABELS = ("must be tables of labels by language, e.g. [company.resolution_labels.ru] "
          'process = "Процесс"')
NAMES = ('must be a table of names by language, e.g. [department.names] ru = "Логистика" '
         'zh = "物流"')
MAX_COMPLAINTS = 1000
AT_RISK = ("must be a table of the at-risk rule's thresholds, e.g. [company.at_risk] "
           "complaints_in_30_days = 2")
SLA_HOURS = f"must be a number of business hours between 0 and {MAX_SLA_HOURS}"

ACROSS_TABLES = {"across_tables": True}
"""Validation context for the checks across tables: slugs and identities count as written."""
FORMAT_ERRORS = frozenset({"slug", "identity"})
"""Refusals that leave the value usable by the checks across tables (ACROSS_TABLES)."""


@dataclass(frozen=True)
class Shape:
    """Field metadata: what to say when the field's value has the wrong type."""

    message: str


def refusal(kind: str, message: str) -> PydanticCustomError:
    """A validation error whose text is `message`, exactly (no template is applied to it)."""
    return PydanticCustomError(kind, "{message}", {"message": message})


def _across_tables(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("across_tables"))


def _non_blank(text: str) -> str:
    if not text.strip():
        raise refusal("blank", NON_EMPTY_STRING)
    return text


def _slug(slug: str, info: ValidationInfo) -> str:
    if not _across_tables(info) and not SLUG_RE.fullmatch(slug):
        raise refusal("slug", f"slug {slug!r} must be lowercase letters, digits, '-' or '_'")
    return slug


def _identity(identity: str, info: ValidationInfo) -> str:
    if not _across_tables(info) and not is_valid_identity(identity):
        raise refusal("identity", f"malformed identity {identity!r}: {IDENTITY_HELP}")
    return identity


Text = Annotated[str, Shape(NON_EMPTY_STRING)]
OptionalText = Annotated[str | None, Shape(NON_EMPTY_STRING)]
RequiredText = Annotated[str, Shape(NON_EMPTY_STRING), AfterValidator(_non_blank)]
Slug = Annotated[str, Shape(NON_EMPTY_STRING), AfterValidator(_non_blank), AfterValidator(_slug)]
Texts = Annotated[list[str], Shape(LIST_OF_STRINGS)]
Identities = Annotated[list[Annotated[str, AfterValidator(_identity)]], Shape(LIST_OF_STRINGS)]
SlaHours = Annotated[int | float, Shape(SLA_HOURS)]
RetentionDays = Annotated[int | None, Shape(RETENTION_DAYS)]


class Table(BaseModel):
    """A table of the file: no unknown field, no type conversion (TOML has the types)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    header: ClassVar[str]
    # The platforms' address fields go before this field; `field_order` has them in place.
    addresses_before: ClassVar[str | None] = None
    field_order: ClassVar[tuple[str, ...]] = ()


class CompanyTable(Table):
    """`[company]`: settings of the whole company."""

    header = "[company]"
    addresses_before = "triage"
    timezone: Text = "UTC"
    locale: Text = "en"
    digest: Text = "mon 09:00"
    pulse: Text = "monthly"
    business_days: Texts = ["mon", "tue", "wed", "thu", "fri"]
    holidays: Texts = []
    business_hours: Text = Field("09:00-18:00", validate_default=True)  # after what it uses
    leadership: Identities = []
    admins: Identities = []
    # (here: each platform's leadership address fields, `leadership_slack_channel`...)
    triage: RequiredText
    # Days after a case closes before its texts and names are removed (`voc retention`); unset
    # keeps everything.
    retention_days: RetentionDays = None
    anonymous_see_askers: Annotated[bool, Shape(BOOLEAN)] = False
    resolution_codes: Texts = []
    resolution_labels: Annotated[dict[str, dict[str, str]], Shape(LABELS)] = {}
    at_risk: Annotated[dict[str, object], Shape(AT_RISK)] = {}  # [company.at_risk]

    @field_validator("at_risk")
    @classmethod
    def _at_risk(cls, rule: dict[str, object]) -> dict[str, object]:
        for name, value in rule.items():
            if name not in AtRiskRule.__dataclass_fields__:
                allowed = ", ".join(AtRiskRule.__dataclass_fields__)
                raise refusal("at_risk", f"[company.at_risk] has no {name!r} (allowed: "
                              f"{allowed})")
            if name == "complaints_in_30_days":
                if not isinstance(value, int) or isinstance(value, bool) or not (
                        0 <= value <= MAX_COMPLAINTS):
                    raise refusal("at_risk", f"[company.at_risk] complaints_in_30_days must be "
                                  f"a whole number from 0 (not a reason) to {MAX_COMPLAINTS}")
            elif not isinstance(value, bool):
                raise refusal("at_risk", f"[company.at_risk] {name} {BOOLEAN}")
        return rule

    @field_validator("resolution_codes")
    @classmethod
    def _usable_codes(cls, codes: list[str]) -> list[str]:
        for code in codes:
            if not code.strip() or code != code.strip():
                raise refusal("resolution_codes", "a code must be a non-empty string without "
                                                  f"spaces around it, not {code!r}")
            if len(code.encode()) > MAX_RESOLUTION_CODE:
                raise refusal("resolution_codes", f"code {code!r} is longer than "
                              f"{MAX_RESOLUTION_CODE} bytes (UTF-8): shorten it and give it a "
                              "label in resolution_labels")
        if len(set(codes)) != len(codes):
            repeated = sorted({c for c in codes if codes.count(c) > 1})
            raise refusal("resolution_codes", f"code {repeated[0]!r} is listed twice")
        return codes

    @field_validator("resolution_labels")
    @classmethod
    def _labels_of_codes(cls, labels: dict[str, dict[str, str]], info: ValidationInfo
                         ) -> dict[str, dict[str, str]]:
        codes = info.data.get("resolution_codes") or []
        for locale, named in labels.items():
            if locale not in SUPPORTED_LOCALES:
                raise refusal("resolution_labels", f"unsupported locale {locale!r} (supported: "
                              f"{', '.join(SUPPORTED_LOCALES)})")
            for code, label in named.items():
                if code not in codes:
                    raise refusal("resolution_labels", f"[company.resolution_labels.{locale}] "
                                  f"names {code!r}, which is not in resolution_codes")
                if not label.strip():
                    raise refusal("resolution_labels", f"the {locale} label of {code!r} is "
                                                       "empty")
        return labels

    @model_validator(mode="before")
    @classmethod
    def _empty_means_default(cls, data: Any) -> Any:
        """`timezone = ""` and the like mean the default, as they always have."""
        if not isinstance(data, dict):
            return data
        defaulted = {"timezone", "locale", "digest", "pulse", "business_hours"}
        return {key: value for key, value in data.items()
                if not (key in defaulted and value == "")}

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise refusal(
                "timezone", f"unknown timezone {name!r} (use an IANA name like Europe/Moscow)"
            ) from None
        return name

    @field_validator("locale")
    @classmethod
    def _supported_locale(cls, locale: str) -> str:
        if locale not in SUPPORTED_LOCALES:
            supported = ", ".join(SUPPORTED_LOCALES)
            raise refusal("locale", f"unsupported locale {locale!r} (supported: {supported})")
        return locale

    @field_validator("digest")
    @classmethod
    def _weekly_time(cls, digest: str) -> str:
        if not DIGEST_RE.fullmatch(digest):
            raise refusal("digest", f"{digest!r} is not like \"mon 09:00\"")
        return digest

    @field_validator("pulse")
    @classmethod
    def _pulse_cadence(cls, pulse: str) -> str:
        if pulse not in PULSE_CADENCES:
            cadences = ", ".join(PULSE_CADENCES)
            raise refusal("pulse", f"unknown pulse cadence {pulse!r} (use {cadences})")
        return pulse

    @field_validator("retention_days")
    @classmethod
    def _retention(cls, days: int | None) -> int | None:
        if days is not None and not 1 <= days <= MAX_RETENTION_DAYS:
            raise refusal("retention_days", f"{days} {RETENTION_DAYS}")
        return days

    @field_validator("business_hours")
    @classmethod
    def _opening_hours(cls, hours: str, info: ValidationInfo) -> str:
        """Checked with the timezone, days and holidays validated before it (or their defaults,
        or nothing when they are invalid)."""
        try:
            BusinessHours.parse(info.data.get("timezone", "UTC"), hours,
                                tuple(info.data.get("business_days", ())),
                                tuple(info.data.get("holidays", ())))
        except ValueError as exc:
            raise refusal("business_hours", str(exc)) from None
        return hours

    def to_company(self, *, departments: Sequence[DepartmentTable],
                   people: Sequence[PersonTable], source: str) -> Company:
        """The core's view of the company, with the file's valid departments and people."""
        return Company(
            timezone=self.timezone, locale=self.locale, triage=self.triage,
            business_hours=BusinessHours.parse(self.timezone, self.business_hours,
                                               tuple(self.business_days), tuple(self.holidays)),
            digest=self.digest, pulse=self.pulse, retention_days=self.retention_days,
            leadership=tuple(self.leadership), admins=tuple(self.admins),
            leadership_addresses=addresses_from(dict(self), leadership=True),
            departments=tuple(d.spec() for d in departments),
            people=tuple(p.spec() for p in people), source=source,
            anonymous_see_askers=self.anonymous_see_askers,
            resolution_codes=tuple(self.resolution_codes),
            resolution_labels={locale: dict(named)
                               for locale, named in self.resolution_labels.items()},
            at_risk=AtRiskRule(**self.at_risk),  # type: ignore[arg-type]
        )


class DepartmentTable(Table):
    """One `[[department]]`."""

    header = "[[department]]"
    addresses_before = "ack_sla_hours"
    slug: Slug
    name: RequiredText
    description: Text = ""
    keywords: Texts = []
    heads: Identities = []
    members: Identities = []
    # (here: each platform's address fields, `slack_channel`, `telegram_chat`...)
    ack_sla_hours: SlaHours = 24
    suppliers: Texts = []
    names: Annotated[dict[str, str], Shape(NAMES)] = {}

    @field_validator("names")
    @classmethod
    def _names_by_language(cls, names: dict[str, str]) -> dict[str, str]:
        for locale, name in names.items():
            if locale not in SUPPORTED_LOCALES:
                raise refusal("names", f"unknown language code {locale!r} (supported: "
                              f"{', '.join(SUPPORTED_LOCALES)})")
            if not name.strip():
                raise refusal("names", f"the {locale} name is empty")
        return names

    @field_validator("ack_sla_hours")
    @classmethod
    def _sla_in_range(cls, hours: float) -> float:
        if not 0 < hours <= MAX_SLA_HOURS:
            raise refusal("ack_sla_hours", SLA_HOURS)
        return hours

    def spec(self) -> DepartmentSpec:
        """The core's view of this department."""
        return DepartmentSpec(
            slug=self.slug, name=self.name, description=self.description,
            keywords=tuple(self.keywords), heads=tuple(self.heads), members=tuple(self.members),
            addresses=addresses_from(dict(self)), ack_sla_hours=float(self.ack_sla_hours),
            suppliers=tuple(self.suppliers), names=dict(self.names),
        )


class PersonTable(Table):
    """One optional `[[person]]`: identities that are one person."""

    header = "[[person]]"
    name: RequiredText
    identities: Identities = Field([], validate_default=True)
    locale: OptionalText = None

    @field_validator("identities")
    @classmethod
    def _at_least_one(cls, identities: list[str]) -> list[str]:
        if not identities:
            raise refusal("no_identity", "must list at least one identity")
        return identities

    @field_validator("locale")
    @classmethod
    def _supported_locale(cls, locale: str | None) -> str | None:
        if locale is not None and locale not in SUPPORTED_LOCALES:
            raise refusal("locale", f"unsupported locale {locale!r}")
        return locale

    def spec(self) -> PersonSpec:
        """The core's view of this person."""
        return PersonSpec(name=self.name, identities=tuple(self.identities), locale=self.locale)


def describe(model: type[Table], error: ErrorDetails) -> tuple[str | None, str]:
    """The field an error of `model` is about (None: the table itself) and what to say."""
    if not error["loc"]:
        return None, f"{model.header} must be a table"
    field_name = str(error["loc"][0])
    if error["type"] == "missing":
        return field_name, "is required"
    if error["type"] == "extra_forbidden":
        return field_name, f"unknown field (allowed: {', '.join(sorted(model.model_fields))})"
    if "message" in error.get("ctx", {}):
        return field_name, error["msg"]
    shape = next(m for m in model.model_fields[field_name].metadata if isinstance(m, Shape))
    return field_name, shape.message

