"""Business-hours arithmetic for the acknowledge SLA."""

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DAY = timedelta(days=1)
_WEEK = timedelta(weeks=1)
_FOREVER = datetime.max.replace(tzinfo=UTC)
# A misconfiguration (e.g. holidays covering every business day) must fail, not loop forever.
_MAX_IDLE_DAYS = 3660


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours of a company in its own timezone, for counting SLA time."""

    timezone: ZoneInfo
    opens: time = time(9, 0)
    closes: time = time(18, 0)
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday=0
    holidays: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        """Reject configurations the arithmetic below cannot handle."""
        if not self.opens < self.closes:
            raise ValueError(f"closing time {self.closes} must be later than opening {self.opens}")
        if not self.weekdays or not self.weekdays <= set(range(7)):
            raise ValueError(f"weekdays {sorted(self.weekdays)} must be a non-empty subset of 0-6")

    @classmethod
    def parse(
        cls,
        timezone: str,
        hours: str = "09:00-18:00",
        days: Sequence[str] = ("mon", "tue", "wed", "thu", "fri"),
        holidays: Sequence[str] = (),
    ) -> Self:
        """Build from the departments-file strings; raise ValueError naming the bad value."""
        try:
            tz = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
            raise ValueError(f"unknown timezone {timezone!r}") from None
        opens, closes = _parse_hours(hours)
        if isinstance(days, str) or not days:
            raise ValueError(f"business days {days!r} must be a non-empty list like ['mon', 'fri']")
        weekdays = frozenset(_parse_day(day) for day in days)
        return cls(tz, opens, closes, weekdays, frozenset(_parse_date(h) for h in holidays))

    def add(self, start: datetime, hours: float) -> datetime:
        """The aware UTC instant when `hours` business hours have elapsed after aware `start`."""
        _require_aware(start, "start")
        if not math.isfinite(hours) or hours < 0:
            raise ValueError(f"SLA hours must be a finite non-negative number, got {hours!r}")
        return self._walk(start, timedelta(hours=hours), _FOREVER)[0]

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two aware instants (zero if end <= start)."""
        _require_aware(start, "start")
        _require_aware(end, "end")
        if end <= start:
            return timedelta()
        return self._walk(start, timedelta.max, end.astimezone(UTC))[1]

    def _at(self, day: date, wall: time) -> datetime:
        """The UTC instant of a wall-clock time on a local date; zoneinfo resolves DST."""
        return datetime.combine(day, wall, tzinfo=self.timezone).astimezone(UTC)

    def _window(self, day: date) -> tuple[datetime, datetime] | None:
        """The day's business window in UTC, or None on a day off."""
        if day.weekday() not in self.weekdays or day in self.holidays:
            return None
        opens, closes = self._at(day, self.opens), self._at(day, self.closes)
        # Opening inside a spring-forward gap can land after closing; such a day has no window.
        return (opens, closes) if closes > opens else None

    def _walk(
        self, start: datetime, budget: timedelta, until: datetime
    ) -> tuple[datetime, timedelta]:
        """Spend up to `budget` business time from `start`, not past `until`; give (end, spent)."""
        span = datetime.combine(date.min, self.closes) - datetime.combine(date.min, self.opens)
        full_week = span * len(self.weekdays)
        cursor, used = start.astimezone(UTC), timedelta()
        day = start.astimezone(self.timezone).date()
        idle = 0
        while idle < _MAX_IDLE_DAYS:
            midnight, week_later = self._at(day, time.min), self._at(day + _WEEK, time.min)
            if midnight >= until:
                return cursor, used
            # A week with no holidays and no net UTC-offset change holds exactly `full_week`
            # (zones never switch twice within a week), so it can be skipped whole.
            if (
                cursor <= midnight
                and budget - used > full_week
                and week_later <= until
                and week_later - midnight == _WEEK
                and not any(day + _DAY * i in self.holidays for i in range(7))
            ):
                used += full_week
                cursor, day, idle = week_later, day + _WEEK, 0
                continue
            window = self._window(day)
            day += _DAY
            if window is None:
                idle += 1
                continue
            idle = 0
            lo, hi = max(window[0], cursor), min(window[1], until)
            if hi > lo:
                take = min(hi - lo, budget - used)
                used += take
                cursor = lo + take
                if used == budget:
                    return cursor, used
        raise ValueError(f"no business hours in {_MAX_IDLE_DAYS} days after {start.isoformat()}")


def _require_aware(moment: datetime, name: str) -> None:
    """Raise ValueError if a datetime is naive."""
    if moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {moment.isoformat()}")


def _parse_hours(hours: str) -> tuple[time, time]:
    """Parse 'HH:MM-HH:MM' into opening and closing times within one day."""
    match = _HOURS.fullmatch(hours.strip()) if isinstance(hours, str) else None
    if match is None:
        raise ValueError(f"business hours {hours!r} must look like '09:00-18:00'")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        opens, closes = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"business hours {hours!r} contain an invalid time of day") from None
    if closes <= opens:
        raise ValueError(
            f"business hours {hours!r} must close later the same day; "
            "windows crossing midnight are not supported"
        )
    return opens, closes


def _parse_day(day: str) -> int:
    """Map 'mon'..'sun' (any case) to Monday=0..Sunday=6."""
    name = day.strip().lower() if isinstance(day, str) else None
    if name not in DAY_NAMES:
        raise ValueError(f"unknown business day {day!r}; use {', '.join(DAY_NAMES)}")
    return DAY_NAMES.index(name)


def _parse_date(text: str) -> date:
    """Parse a holiday written as YYYY-MM-DD."""
    try:
        if isinstance(text, str) and _DATE.fullmatch(text.strip()):
            return date.fromisoformat(text.strip())
    except ValueError:
        pass
    raise ValueError(f"holiday {text!r} is not a valid date like '2026-12-31'")
