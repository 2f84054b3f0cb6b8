"""Business-hours SLA arithmetic: hand-worked instants, DST days, parsing and properties."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.shared.business_hours import BusinessHours

MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
ZONES = [MOSCOW, BERLIN, NEW_YORK, ZoneInfo("Asia/Shanghai")]
ALL_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Early-morning windows on every day, so the DST switch (around 02:00-03:00) falls inside one.
NIGHT_BERLIN = BusinessHours.parse("Europe/Berlin", "01:00-05:00", ALL_DAYS)
NIGHT_NEW_YORK = BusinessHours.parse("America/New_York", "01:00-05:00", ALL_DAYS)
MSK = BusinessHours.parse("Europe/Moscow")

# 2026-03-02 is a Monday.
MON, TUE, WED, FRI, SAT = (date(2026, 3, d) for d in (2, 3, 4, 6, 7))
NEXT_MON, NEXT_TUE = date(2026, 3, 9), date(2026, 3, 10)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = MOSCOW) -> datetime:
    """A wall-clock instant in the given zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """An instant written in UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        (at(FRI, 17), 2, at(NEXT_MON, 10)),
        (at(SAT, 12), 1, at(NEXT_MON, 10)),
        (at(MON, 8), 9, at(MON, 18)),
        (at(MON, 9), 24, at(WED, 15)),
        (at(MON, 17), 1, at(MON, 18)),  # ends exactly at closing: not next morning
        (at(MON, 17, 30), 0.75, at(TUE, 9, 15)),
        (at(MON, 18), 0.5, at(TUE, 9, 30)),
        (at(MON, 12), 0, at(MON, 12)),
        (at(MON, 6), 0, at(MON, 9)),
        (at(MON, 18), 0, at(TUE, 9)),
        (at(SAT, 9), 0, at(NEXT_MON, 9)),
        (at(MON, 9), 45, at(FRI, 18)),
        (at(MON, 9), 450, at(MON + timedelta(weeks=9, days=4), 18)),
        (at(MON, 9), 10_000, at(MON + timedelta(weeks=222, days=1), 10)),  # 222 weeks + 10 h
        (utc(2026, 3, 6, 14), 2, at(NEXT_MON, 10)),  # start given in UTC (= Fri 17:00 MSK)
    ],
)
def test_add_moscow(start: datetime, hours: float, expected: datetime) -> None:
    result = MSK.add(start, hours)
    assert result == expected
    assert result.tzinfo is UTC


def test_holidays_are_skipped() -> None:
    hours = BusinessHours.parse("Europe/Moscow", holidays=["2026-03-09"])
    assert hours.add(at(FRI, 17), 2) == at(NEXT_TUE, 10)
    assert hours.add(at(date(2026, 3, 8), 12), 0) == at(NEXT_TUE, 9)
    assert hours.elapsed(at(FRI, 9), at(NEXT_TUE, 12)) == timedelta(hours=12)


def test_holidays_inside_a_long_sla() -> None:
    # Five holidays spread over ten weeks push the end back by five business days.
    holidays = [str(MON + timedelta(weeks=w, days=w % 5)) for w in (1, 3, 5, 7, 9)]
    hours = BusinessHours.parse("Europe/Moscow", holidays=holidays)
    assert hours.add(at(MON, 9), 450) == at(MON + timedelta(weeks=10, days=4), 18)


def test_berlin_spring_forward_window_has_three_real_hours() -> None:
    day = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST; window 00:00-03:00 UTC
    opening = at(day, 1, tz=BERLIN)
    assert opening == utc(2026, 3, 29, 0)
    assert NIGHT_BERLIN.elapsed(at(day, 0, tz=BERLIN), at(day, 12, tz=BERLIN)) == timedelta(hours=3)
    assert NIGHT_BERLIN.add(opening, 3) == utc(2026, 3, 29, 3)
    assert NIGHT_BERLIN.add(opening, 3) == at(day, 5, tz=BERLIN)
    assert NIGHT_BERLIN.add(opening, 1.5) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
    assert NIGHT_BERLIN.add(opening, 3.5) == utc(2026, 3, 29, 23, 30)  # Monday 01:30 CEST


def test_berlin_fall_back_window_has_five_real_hours() -> None:
    day = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET; window 23:00 (day before)-04:00 UTC
    opening = at(day, 1, tz=BERLIN)
    assert opening == utc(2026, 10, 24, 23)
    assert NIGHT_BERLIN.elapsed(at(day, 0, tz=BERLIN), at(day, 12, tz=BERLIN)) == timedelta(hours=5)
    assert NIGHT_BERLIN.add(opening, 5) == utc(2026, 10, 25, 4)
    assert NIGHT_BERLIN.add(opening, 5) == at(day, 5, tz=BERLIN)
    assert NIGHT_BERLIN.add(opening, 4) == utc(2026, 10, 25, 3)  # 04:00 CET
    assert NIGHT_BERLIN.add(opening, 6) == utc(2026, 10, 26, 1)  # Monday 02:00 CET


@pytest.mark.parametrize(
    ("monday", "expected", "gained"),
    [
        (date(2026, 3, 2), utc(2026, 4, 13, 0), -1),  # 02:00 CEST on day 43: one hour was lost
        (date(2026, 10, 5), utc(2026, 11, 15, 3), 1),  # 04:00 CET on day 42: one hour was gained
    ],
)
def test_six_weeks_across_a_dst_switch(monday: date, expected: datetime, gained: int) -> None:
    start = at(monday, 1, tz=BERLIN)
    assert NIGHT_BERLIN.add(start, 6 * 7 * 4) == expected
    six_weeks_later = at(monday + timedelta(weeks=6), 0, tz=BERLIN)
    assert NIGHT_BERLIN.elapsed(start, six_weeks_later) == timedelta(hours=6 * 7 * 4 + gained)


def test_new_york_dst_days() -> None:
    spring, fall = date(2026, 3, 8), date(2026, 11, 1)
    assert NIGHT_NEW_YORK.add(at(spring, 1, tz=NEW_YORK), 3) == utc(2026, 3, 8, 9)  # 05:00 EDT
    assert NIGHT_NEW_YORK.elapsed(at(spring, 0, tz=NEW_YORK), at(spring, 6, tz=NEW_YORK)) == (
        timedelta(hours=3)
    )
    # 01:00 happens twice on 1 November; the window opens at the first (EDT) one.
    assert NIGHT_NEW_YORK.add(at(fall, 1, tz=NEW_YORK), 5) == utc(2026, 11, 1, 10)  # 05:00 EST
    assert NIGHT_NEW_YORK.elapsed(at(fall, 0, tz=NEW_YORK), at(fall, 6, tz=NEW_YORK)) == (
        timedelta(hours=5)
    )


@pytest.mark.parametrize(
    ("zone", "friday"),
    [
        (BERLIN, date(2026, 3, 27)),
        (BERLIN, date(2026, 10, 23)),
        (NEW_YORK, date(2026, 3, 6)),
        (NEW_YORK, date(2026, 10, 30)),
    ],
)
def test_dst_weekend_keeps_wall_clock_result(zone: ZoneInfo, friday: date) -> None:
    office = BusinessHours(zone)
    plain = ZoneInfo("UTC")
    no_dst = BusinessHours(plain)
    for start, hours in [(17, 2), (9, 45), (12, 100)]:
        result = office.add(at(friday, start, tz=zone), hours).astimezone(zone)
        expected = no_dst.add(at(friday, start, tz=plain), hours)
        assert result.replace(tzinfo=None) == expected.replace(tzinfo=None)
    monday = friday + timedelta(days=3)
    assert office.add(at(friday, 17, tz=zone), 2) == at(monday, 10, tz=zone)


def test_large_sla_spanning_dst_and_years() -> None:
    office = BusinessHours(BERLIN)
    monday = date(2026, 3, 23)  # ten weeks later, Berlin has switched to summer time
    assert office.add(at(monday, 9, tz=BERLIN), 450) == at(date(2026, 5, 29), 18, tz=BERLIN)
    end = office.add(at(monday, 9, tz=BERLIN), 10_000)
    assert office.elapsed(at(monday, 9, tz=BERLIN), end) == timedelta(hours=10_000)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (at(MON, 9), at(MON, 18), timedelta(hours=9)),
        (at(MON, 7), at(MON, 20), timedelta(hours=9)),
        (at(MON, 12), at(MON, 12, 30), timedelta(minutes=30)),
        (at(FRI, 17), at(NEXT_MON, 10), timedelta(hours=2)),  # over a weekend
        (at(FRI, 19), at(NEXT_MON, 8), timedelta()),
        (at(SAT, 0), at(date(2026, 3, 8), 23), timedelta()),
        (at(MON, 9), at(NEXT_MON, 9), timedelta(hours=45)),
        (at(MON, 12), at(MON, 11), timedelta()),  # end before start
        (at(MON, 12), at(MON, 12), timedelta()),
        (utc(2026, 3, 2, 6), utc(2026, 3, 4, 12), timedelta(hours=24)),  # Mon 09:00-Wed 15:00
    ],
)
def test_elapsed(start: datetime, end: datetime, expected: timedelta) -> None:
    assert MSK.elapsed(start, end) == expected


def test_naive_datetimes_rejected() -> None:
    naive = datetime(2026, 3, 2, 9)
    with pytest.raises(ValueError, match="timezone-aware"):
        MSK.add(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        MSK.elapsed(naive, at(MON, 10))
    with pytest.raises(ValueError, match="timezone-aware"):
        MSK.elapsed(at(MON, 10), naive)


@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf")])
def test_bad_sla_hours_rejected(hours: float) -> None:
    with pytest.raises(ValueError, match="SLA hours"):
        MSK.add(at(MON, 9), hours)


def test_no_business_time_at_all_fails_fast() -> None:
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(11 * 366))
    hours = BusinessHours(MOSCOW, holidays=every_day)
    with pytest.raises(ValueError, match="no business hours"):
        hours.add(at(MON, 9), 1)
    assert hours.elapsed(at(MON, 9), at(NEXT_MON, 9)) == timedelta()


def test_parse_builds_the_configuration() -> None:
    hours = BusinessHours.parse(
        "America/New_York", " 8:30 - 17:00 ", ["Mon", "WED", " fri"], ["2026-12-25"]
    )
    assert hours == BusinessHours(
        NEW_YORK, time(8, 30), time(17), frozenset({0, 2, 4}), frozenset({date(2026, 12, 25)})
    )
    assert BusinessHours.parse("Europe/Moscow") == BusinessHours(MOSCOW)


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [
        ({"timezone": "Mars/Olympus"}, "Mars/Olympus"),
        ({"timezone": "Europe"}, "Europe"),
        ({"timezone": ""}, "''"),
        ({"hours": "9-18"}, "9-18"),
        ({"hours": "25:00-26:00"}, "25:00-26:00"),
        ({"hours": "09:60-18:00"}, "09:60-18:00"),
        ({"hours": "22:00-06:00"}, "22:00-06:00"),
        ({"hours": "09:00-09:00"}, "09:00-09:00"),
        ({"hours": "09:00-18:00-20:00"}, "09:00-18:00-20:00"),
        ({"days": ["mon", "funday"]}, "funday"),
        ({"days": []}, "[]"),
        ({"days": "mon"}, "'mon'"),
        ({"holidays": ["2026-02-30"]}, "2026-02-30"),
        ({"holidays": ["31.12.2026"]}, "31.12.2026"),
        ({"holidays": ["20261231"]}, "20261231"),
    ],
)
def test_parse_errors_name_the_bad_value(kwargs: dict[str, object], bad: str) -> None:
    arguments: dict[str, object] = {"timezone": "Europe/Moscow", **kwargs}
    with pytest.raises(ValueError) as excinfo:
        BusinessHours.parse(**arguments)  # type: ignore[arg-type]
    assert bad in str(excinfo.value)


def test_crossing_midnight_message_is_clear() -> None:
    with pytest.raises(ValueError, match="crossing midnight"):
        BusinessHours.parse("Europe/Moscow", "22:00-06:00")


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ValueError, match="later than opening"):
        BusinessHours(MOSCOW, time(18), time(9))
    with pytest.raises(ValueError, match="weekdays"):
        BusinessHours(MOSCOW, weekdays=frozenset())
    with pytest.raises(ValueError, match="weekdays"):
        BusinessHours(MOSCOW, weekdays=frozenset({7}))


# Properties. Starts are aware instants in any of the zones; configurations vary hours, days,
# holidays and zone so that DST switches land inside windows as well as outside them.
starts = st.datetimes(
    datetime(2020, 1, 1),
    datetime(2030, 12, 31),
    timezones=st.sampled_from(ZONES),
    allow_imaginary=False,
)
sla_hours = st.floats(0, 200, allow_nan=False).map(lambda h: round(h, 4))
default_offices = st.sampled_from(ZONES).map(BusinessHours)


@st.composite
def offices(draw: st.DrawFn) -> BusinessHours:
    """A random valid configuration."""
    # At least an hour a day keeps 200-hour SLAs within a few years.
    first = draw(st.integers(0, 23 * 60 - 1))
    last = draw(st.integers(first + 60, 24 * 60 - 1))
    opens, closes = (time(m // 60, m % 60) for m in (first, last))
    weekdays = draw(st.frozensets(st.integers(0, 6), min_size=1))
    holidays = draw(st.frozensets(st.dates(date(2020, 1, 1), date(2031, 12, 31)), max_size=30))
    return BusinessHours(draw(st.sampled_from(ZONES)), opens, closes, weekdays, holidays)


def in_business_hours(office: BusinessHours, moment: datetime) -> bool:
    """Whether an instant lies in a window [opening, closing] of its local day."""
    day = moment.astimezone(office.timezone).date()
    if day.weekday() not in office.weekdays or day in office.holidays:
        return False
    opening = datetime.combine(day, office.opens, tzinfo=office.timezone)
    return opening <= moment <= datetime.combine(day, office.closes, tzinfo=office.timezone)


@settings(max_examples=300)
@given(default_offices, starts, sla_hours)
def test_elapsed_inverts_add(office: BusinessHours, start: datetime, hours: float) -> None:
    end = office.add(start, hours)
    assert end.tzinfo is UTC
    assert end >= start
    assert office.elapsed(start, end) == timedelta(hours=hours)


@settings(max_examples=300)
@given(offices(), starts, sla_hours)
def test_elapsed_inverts_add_any_configuration(
    office: BusinessHours, start: datetime, hours: float
) -> None:
    assert office.elapsed(start, office.add(start, hours)) == timedelta(hours=hours)


@given(st.one_of(default_offices, offices()), starts, sla_hours, sla_hours)
def test_add_is_monotonic(office: BusinessHours, start: datetime, h1: float, h2: float) -> None:
    low, high = sorted((h1, h2))
    assert office.add(start, low) <= office.add(start, high)


@given(default_offices, starts, sla_hours)
def test_result_is_in_business_hours(office: BusinessHours, start: datetime, hours: float) -> None:
    end = office.add(start, hours)
    assert in_business_hours(office, end)
    local = end.astimezone(office.timezone)
    if local.timetz() == office.closes.replace(tzinfo=office.timezone):
        assert hours > 0  # a closing instant is only reached by spending time up to it
    if hours == 0:
        assert end == start or local.time() == office.opens


@settings(max_examples=50)
@given(offices(), starts, st.floats(1.5, 60))
def test_long_slas_agree_with_day_by_day_sum(
    office: BusinessHours, start: datetime, weeks: float
) -> None:
    nominal = datetime.combine(date.min, office.closes) - datetime.combine(date.min, office.opens)
    hours = round(weeks * len(office.weekdays) * nominal / timedelta(hours=1), 2)
    end = office.add(start, hours)
    # Independent reference: sum each day's window, clipped to [start, end]. Subtract in UTC:
    # two datetimes sharing a tzinfo subtract as wall clocks, wrong on daylight-saving days.
    total, day = timedelta(), start.astimezone(office.timezone).date() - timedelta(days=1)
    while day <= end.astimezone(office.timezone).date():
        if day.weekday() in office.weekdays and day not in office.holidays:
            opens = datetime.combine(day, office.opens, tzinfo=office.timezone).astimezone(UTC)
            closes = datetime.combine(day, office.closes, tzinfo=office.timezone).astimezone(UTC)
            lo, hi = max(opens, start), min(closes, end)
            total += max(hi - lo, timedelta())
        day += timedelta(days=1)
    assert total == timedelta(hours=hours)
