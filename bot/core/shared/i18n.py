"""Languages: gettext catalogs (Babel .po files) per locale, and locale-aware formatting."""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from bot.core.presentation import dates as calendar

SUPPORTED_LOCALES = calendar.LOCALES  # en, ru, zh
LOCALE_DIR = Path(__file__).parents[2] / "locale"  # bot/locale: catalogs ship with the package
DOMAIN = "voc"


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated later, for its reader."""
    return message


def normalise_locale(value: str | None) -> str | None:
    """Map a platform locale (`ru-RU`, `en_US`, `zh-CN`) to a supported one, or None."""
    if not value:
        return None
    language = value.replace("_", "-").split("-", 1)[0].lower()
    return language if language in SUPPORTED_LOCALES else None


@cache
def _translations(locale: str) -> gettext.NullTranslations:
    """The locale's compiled catalog (voc.mo, committed beside its .po; tests/unit/test_i18n.py
    keeps the two equal). Compiling the .po here would keep Babel's catalog code, about
    1.3 MiB, in every serving process."""
    mo_file = LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo"
    if locale == "en" or not mo_file.exists():
        return gettext.NullTranslations()
    with mo_file.open("rb") as handle:
        return gettext.GNUTranslations(handle)


class DepartmentName(str):
    """A department's name among a refusal's parameters: rendered in the reader's language
    when the departments file gives one ([department.names]), else as it is."""

    slug: str

    def __new__(cls, name: str, slug: str) -> DepartmentName:
        named = super().__new__(cls, name)
        named.slug = slug
        return named

    @classmethod
    def of(cls, department: Any) -> DepartmentName:
        """The name of `department` (anything with a `name` and a `slug`)."""
        return cls(department.name, department.slug)


class Translator:
    """Everything a renderer needs to speak one reader's language."""

    def __init__(self, locale: str, timezone: str = "UTC",
                 department_names: Mapping[str, str] | None = None) -> None:
        self.locale = locale if locale in SUPPORTED_LOCALES else "en"
        self._department_names = dict(department_names or {})  # slug -> name in this language
        self.timezone = ZoneInfo(timezone)
        self._catalog = _translations(self.locale)
        # Due dates are in company time, read by people in other zones too: say which.
        self._zone = calendar.zone_city(timezone, self.locale)

    def department(self, slug: str, name: str) -> str:
        """A department's name in the reader's language (the departments file's
        [department.names]), else `name`, the one it has in every language."""
        return self._department_names.get(slug, name)

    def named(self, department: DepartmentName) -> str:
        """`department`'s name in the reader's language."""
        return self.department(department.slug, department)

    def gettext(self, message: str) -> str:
        """The message in the reader's language."""
        return self._catalog.gettext(message)

    def day(self, moment: datetime) -> str:
        """The day of a moment in company time: "3 May", "3 мая"."""
        return calendar.day_month(moment.astimezone(self.timezone).date(), self.locale)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        """The plural form that fits `count` in the reader's language."""
        return self._catalog.ngettext(singular, plural, count)

    def when(self, moment: datetime) -> str:
        """A moment in company time, formatted the reader's way (short date and time) with the
        company's time zone: "25 Nov 17:00 (Moscow)"."""
        return f"{calendar.when(moment.astimezone(self.timezone), self.locale)} ({self._zone})"
