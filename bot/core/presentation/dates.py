"""Dates in the reader's language from a table Babel wrote: month names and time-zone cities.

Babel's locale data costs a serving process about 7 MiB for three languages (it loads each
locale's whole CLDR file to name one month), and a freed copy does not give the memory back.
The few words we use are written once by Babel into `bot/locale/calendar.json`
(`python -m bot.core.presentation.dates`, run with the catalog update); tests/unit/test_i18n.py
checks that the file is exactly what the installed Babel says, so it cannot go stale unnoticed.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parents[2] / "locale" / "calendar.json"
LOCALES = ("en", "ru", "zh")  # SUPPORTED_LOCALES of bot.core.shared.i18n, which imports this module


@cache
def _table() -> dict[str, Any]:
    with TABLE.open(encoding="utf-8") as handle:
        table: dict[str, Any] = json.load(handle)
    return table


def short_month(day: date, locale: str) -> str:
    """The abbreviated month as it stands after a day number (CLDR format context, "MMM")."""
    return str(_table()[locale]["months"][day.month - 1])


def day_month(day: date, locale: str) -> str:
    """"3 May", "3 мая", "3 5月": Babel's pattern "d MMM"."""
    return f"{day.day} {short_month(day, locale)}"


def zone_city(zone: str, locale: str) -> str:
    """The zone's city in the reader's language ("Moscow", "Москва", "莫斯科"), as Babel's
    get_timezone_location(return_city=True) names it; an unknown zone by its own last part."""
    city = _table()[locale]["zones"].get(zone)
    return str(city) if city else zone.rsplit("/", 1)[-1].replace("_", " ")


def build() -> dict[str, Any]:
    """The table from the installed Babel: every zone of the system's tz database."""
    import zoneinfo

    from babel import Locale
    from babel.dates import get_timezone_location

    zones = sorted(zoneinfo.available_timezones())
    table: dict[str, Any] = {}
    for name in LOCALES:
        locale = Locale.parse(name)
        months = locale.months["format"]["abbreviated"]
        table[name] = {
            "months": [months[number] for number in range(1, 13)],
            "zones": {zone: get_timezone_location(zoneinfo.ZoneInfo(zone), locale=locale,
                                                  return_city=True) for zone in zones}}
    return table


def render(table: dict[str, Any]) -> str:
    """The file's text: stable, so a rebuild with the same Babel changes nothing."""
    return json.dumps(table, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


def when(moment: datetime, locale: str) -> str:
    """"25 Nov 17:00": Babel's pattern "d MMM HH:mm" of a moment already in local time."""
    return f"{day_month(moment.date(), locale)} {moment:%H:%M}"


if __name__ == "__main__":
    TABLE.write_text(render(build()), encoding="utf-8")
    sys.stdout.write(f"wrote {TABLE}\n")
