"""Dates in the reader's language, in the locale's own patterns, from a table Babel wrote.

Each language orders a date its own way: "Dec 9, 17:22", "9 дек., 17:22", "12月9日 17:22".
The patterns are CLDR's (Babel's `datetime_skeletons` "MMMd" and "Hm", joined by the locale's
short date-time format), applied here to the few fields they use. Babel's locale data costs a
serving process about 7 MiB for three languages (it loads each locale's whole CLDR file to name
one month), and a freed copy does not give the memory back; so the patterns, month names and
time-zone cities are written once by Babel into `bot/locale/calendar.json`
(`python -m bot.core.presentation.dates`, run with the catalog update). tests/unit/test_i18n.py
checks that the file is exactly what the installed Babel says and that every date rendered
here equals Babel's `format_skeleton`/`format_datetime`, so neither can go stale unnoticed.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

TABLE = Path(__file__).parents[2] / "locale" / "calendar.json"
LOCALES = ("en", "ru", "zh")  # SUPPORTED_LOCALES of bot.core.shared.i18n, which imports this module
DAY_SKELETON, TIME_SKELETON = "MMMd", "Hm"  # a day with its short month; a 24-hour time
# A pattern's parts: a quoted literal ('' is a quote), a run of one field letter, other text.
_PARTS = re.compile(r"'(?:[^']|'')*'|([A-Za-z])\1*|[^'A-Za-z]+")
FIELDS = {"d", "M", "L", "H", "m"}  # what the table's patterns may use: build() refuses others


@cache
def _table() -> dict[str, Any]:
    with TABLE.open(encoding="utf-8") as handle:
        table: dict[str, Any] = json.load(handle)
    return table


def apply(pattern: str, moment: date, locale: str) -> str:
    """`moment` written by a CLDR pattern of the fields in FIELDS ("d MMM", "M月d日 HH:mm")."""
    out = []
    for match in _PARTS.finditer(pattern):
        part = match.group(0)
        if part.startswith("'"):
            out.append(part[1:-1].replace("''", "'") if part != "''" else "'")
        elif match.group(1):
            out.append(_field(part, moment, locale))
        else:
            out.append(part)
    return "".join(out)


def _field(run: str, moment: date, locale: str) -> str:
    letter, width = run[0], len(run)
    if letter in "ML":
        if width >= 3:
            context = "months" if letter == "M" else "standalone_months"
            return str(_table()[locale][context][moment.month - 1])
        return f"{moment.month:0{width}d}"
    if letter == "d":
        return f"{moment.day:0{width}d}"
    if isinstance(moment, datetime) and letter in "Hm":
        return f"{moment.hour if letter == 'H' else moment.minute:0{width}d}"
    raise ValueError(f"the date pattern field {run!r} is not one dates.py writes")


def day_month(day: date, locale: str) -> str:
    """"Dec 3", "3 дек.", "12月3日": the locale's pattern for a day of a short month."""
    return apply(_table()[locale]["patterns"]["day"], day, locale)


def when(moment: datetime, locale: str) -> str:
    """"Nov 25, 17:00", "25 нояб., 17:00", "11月25日 17:00": the locale's short day and time
    of a moment already in local time."""
    return apply(_table()[locale]["patterns"]["moment"], moment, locale)


def zone_city(zone: str, locale: str) -> str:
    """The zone's city in the reader's language ("Moscow", "Москва", "莫斯科"), as Babel's
    get_timezone_location(return_city=True) names it; an unknown zone by its own last part."""
    city = _table()[locale]["zones"].get(zone)
    return str(city) if city else zone.rsplit("/", 1)[-1].replace("_", " ")


def build() -> dict[str, Any]:
    """The table from the installed Babel: patterns, month names, every zone of the system's
    tz database."""
    import zoneinfo

    from babel import Locale
    from babel.dates import get_timezone_location

    zones = sorted(zoneinfo.available_timezones())
    table: dict[str, Any] = {}
    for name in LOCALES:
        locale = Locale.parse(name)
        day = str(locale.datetime_skeletons[DAY_SKELETON])
        time = str(locale.datetime_skeletons[TIME_SKELETON])
        patterns = {"day": day, "moment": str(locale.datetime_formats["short"]).replace(
            "{1}", day).replace("{0}", time)}
        for pattern in patterns.values():
            letters = {m.group(1) for m in _PARTS.finditer(pattern) if m.group(1)}
            if not letters <= FIELDS:
                raise ValueError(f"{name}: {pattern!r} uses {letters - FIELDS}, which "
                                 "dates.py does not write")
        months = locale.months["format"]["abbreviated"]
        standalone = locale.months["stand-alone"]["abbreviated"]
        table[name] = {
            "patterns": patterns,
            "months": [months[number] for number in range(1, 13)],
            "standalone_months": [standalone[number] for number in range(1, 13)],
            "zones": {zone: get_timezone_location(zoneinfo.ZoneInfo(zone), locale=locale,
                                                  return_city=True) for zone in zones}}
    return table


def render(table: dict[str, Any]) -> str:
    """The file's text: stable, so a rebuild with the same Babel changes nothing."""
    return json.dumps(table, ensure_ascii=False, sort_keys=True, indent=1) + "\n"


if __name__ == "__main__":
    TABLE.write_text(render(build()), encoding="utf-8")
    sys.stdout.write(f"wrote {TABLE}\n")
