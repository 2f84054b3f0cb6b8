"""Calendar periods in company time: ISO weeks for digests, pulse rounds, schedule strings.

Every boundary is a local midnight converted to UTC, so a week in Moscow and a week in Berlin
(where a day may last 23 or 25 hours) both start exactly where their people's Monday starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"(\d{4})-W(\d{2})")
PULSE_CADENCES = ("off", "weekly", "monthly", "quarterly")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, order=True)
class Week:
    """An ISO week, e.g. 2026-W48."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Week:
        """`2026-W48` (raises ValueError with the expected form)."""
        match = WEEK_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week like 2026-W48")
        year, number = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, number, 1)
        except ValueError:
            raise ValueError(f"{year} has no week {number}") from None
        return cls(year, number)

    @classmethod
    def of(cls, day: date) -> Week:
        """The ISO week a date falls in."""
        iso = day.isocalendar()
        return cls(iso.year, iso.week)

    @classmethod
    def containing(cls, moment: datetime, timezone: str) -> Week:
        """The ISO week an instant falls in, in company time."""
        return cls.of(moment.astimezone(ZoneInfo(timezone)).date())

    @classmethod
    def last_complete(cls, moment: datetime, timezone: str) -> Week:
        """The latest week that ended before `moment` (the week a Monday digest reports)."""
        return cls.containing(moment, timezone).shift(-1)

    @property
    def monday(self) -> date:
        """Its first day."""
        return date.fromisocalendar(self.year, self.number, 1)

    def shift(self, weeks: int) -> Week:
        """The week `weeks` later (earlier when negative)."""
        return Week.of(self.monday + timedelta(weeks=weeks))

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) in UTC: Monday 00:00 to the next Monday 00:00, company time."""
        return local_midnight(self.monday, timezone), local_midnight(
            self.monday + timedelta(weeks=1), timezone)

    def __str__(self) -> str:
        return f"{self.year}-W{self.number:02d}"


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC instant a local date starts."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def parse_weekly(spec: str) -> tuple[str, int, int]:
    """`mon 09:00` -> ("mon", 9, 0) (the departments file validated the form)."""
    day, _, clock = spec.partition(" ")
    hour, _, minute = clock.partition(":")
    if day not in _DAYS:
        raise ValueError(f"{spec!r} is not like 'mon 09:00'")
    return day, int(hour), int(minute)


# -- pulse rounds --------------------------------------------------------------------------
def pulse_round(moment: datetime, cadence: str, timezone: str) -> str:
    """The round an instant falls in: 2026-W48 (weekly), 2026-11 (monthly), 2026-Q4."""
    day = moment.astimezone(ZoneInfo(timezone)).date()
    if cadence == "weekly":
        return str(Week.of(day))
    if cadence == "monthly":
        return f"{day.year}-{day.month:02d}"
    if cadence == "quarterly":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    raise ValueError(f"no pulse rounds with cadence {cadence!r}")


_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")
_QUARTER_RE = re.compile(r"(\d{4})-Q([1-4])")


def round_bounds(round_id: str, timezone: str) -> tuple[datetime, datetime]:
    """[start, end) of a pulse round in UTC; ValueError for something that is not a round."""
    if WEEK_RE.fullmatch(round_id):
        return Week.parse(round_id).bounds(timezone)
    if match := _MONTH_RE.fullmatch(round_id):
        year, month = int(match.group(1)), int(match.group(2))
        if not 1 <= month <= 12:
            raise ValueError(f"{round_id!r} is not a month")
        first = date(year, month, 1)
    elif match := _QUARTER_RE.fullmatch(round_id):
        year, month = int(match.group(1)), (int(match.group(2)) - 1) * 3 + 1
        first = date(year, month, 1)
        month += 2
    else:
        raise ValueError(f"{round_id!r} is not a pulse round")
    following = date(year + month // 12, month % 12 + 1, 1)
    return local_midnight(first, timezone), local_midnight(following, timezone)


def reminder_lead(cadence: str) -> timedelta:
    """How long before a round closes its non-responders are reminded."""
    return timedelta(days=2) if cadence == "weekly" else timedelta(days=3)
