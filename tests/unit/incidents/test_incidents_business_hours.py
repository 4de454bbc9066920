"""Business hours: next opening, adding business time, DST days and holidays."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from tocsin.incidents.business_hours import BusinessHours
from tocsin.incidents.holidays_cal import HolidayCalendar

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")
WEEKDAYS = frozenset(range(5))
OFFICE = BusinessHours("office", "Europe/Paris", WEEKDAYS, time(9), time(18), HolidayCalendar("FR"))


def p(*a: int, tz: ZoneInfo = PARIS) -> float:
    return datetime(*a, tzinfo=tz).timestamp()  # type: ignore[misc]


def test_next_open_after_friday_evening() -> None:
    assert OFFICE.next_open(p(2026, 7, 10, 19)) == p(2026, 7, 13, 9)


def test_next_open_skips_christmas() -> None:
    assert OFFICE.next_open(p(2026, 12, 24, 18, 30)) == p(2026, 12, 28, 9)


def test_open_instant_is_returned_unchanged() -> None:
    assert OFFICE.is_open(p(2026, 7, 15, 10))
    assert OFFICE.next_open(p(2026, 7, 15, 10)) == p(2026, 7, 15, 10)
    assert not OFFICE.is_open(p(2026, 7, 15, 18))  # the end is exclusive
    assert not OFFICE.is_open(p(2026, 7, 14, 10))  # Bastille Day


def test_add_business_time_skips_holiday() -> None:
    assert OFFICE.add(p(2026, 7, 13, 17, 30), 4 * 3600) == p(2026, 7, 15, 12, 30)


def test_elapsed_counts_only_open_time() -> None:
    assert OFFICE.elapsed(p(2026, 7, 10, 17), p(2026, 7, 13, 10)) == 2 * 3600


def test_night_shift_spanning_dst_counts_real_length() -> None:
    # 20:00 -> 08:00 desk: the night of 28-29 March 2026 is 11 real hours in Paris.
    nights = BusinessHours("night", "Europe/Paris", frozenset(range(7)), time(20), time(8))
    assert nights.elapsed(p(2026, 3, 28, 12), p(2026, 3, 29, 12)) == 11 * 3600
    assert nights.elapsed(p(2026, 10, 24, 12), p(2026, 10, 25, 12)) == 13 * 3600


def test_new_york_hours_follow_local_time_across_dst() -> None:
    bh = BusinessHours("ny", "America/New_York", WEEKDAYS, time(9), time(17))
    assert bh.next_open(p(2026, 3, 6, 18, tz=NY)) == p(2026, 3, 9, 9, tz=NY)  # EDT after the weekend
    assert bh.next_open(p(2026, 10, 30, 18, tz=NY)) == p(2026, 11, 2, 9, tz=NY)  # EST


def test_bad_definitions() -> None:
    with pytest.raises(ValueError, match="no open days"):
        BusinessHours("x", "UTC", frozenset(), time(9), time(17))
    with pytest.raises(ValueError, match="invalid time zone 'Nowhere/City'"):
        BusinessHours("x", "Nowhere/City", WEEKDAYS, time(9), time(17))
    with pytest.raises(ValueError, match="unknown holiday country 'ZZ'"):
        HolidayCalendar("ZZ")
