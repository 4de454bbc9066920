"""Time intervals with Alertmanager's semantics, evaluated on the wall clock of their location."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from tocsin.config import ConfigError, TimeIntervalSpec, load_config_text
from tocsin.engine.timeintervals import (
    TimeInterval,
    TimeIntervalError,
    TimeIntervals,
    parse_day_of_month_range,
    parse_month_range,
    parse_time_of_day,
    parse_weekday_range,
    parse_year_range,
)


def ts(year: int, month: int, day: int, hour: int = 0, minute: int = 0, tz: str = "UTC") -> float:
    zone = UTC if tz == "UTC" else ZoneInfo(tz)
    return datetime(year, month, day, hour, minute, tzinfo=zone).timestamp()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> float:
    return ts(year, month, day, hour, minute)


def interval(**spec: object) -> TimeInterval:
    return TimeInterval.from_spec(TimeIntervalSpec.model_validate(spec))


def test_times_end_is_exclusive_and_start_inclusive() -> None:
    ti = interval(times=[{"start_time": "09:00", "end_time": "17:00"}])
    assert ti.contains(utc(2025, 6, 2, 9, 0))
    assert ti.contains(utc(2025, 6, 2, 16, 59))
    assert not ti.contains(utc(2025, 6, 2, 17, 0))
    assert not ti.contains(utc(2025, 6, 2, 8, 59))


def test_24_00_covers_the_end_of_the_day() -> None:
    ti = interval(times=[{"start_time": "20:00", "end_time": "24:00"}])
    assert ti.contains(utc(2025, 6, 2, 23, 59))
    assert not ti.contains(utc(2025, 6, 3, 0, 0))
    whole_day = interval(times=[{"start_time": "00:00", "end_time": "24:00"}])
    assert whole_day.contains(utc(2025, 6, 3, 0, 0))


def test_business_hours_in_paris_follow_daylight_saving_time() -> None:
    ti = interval(
        weekdays=["monday:friday"],
        times=[{"start_time": "09:00", "end_time": "17:00"}],
        location="Europe/Paris",
    )
    # Friday 2025-03-28 is winter time (UTC+1): 08:30 UTC is 09:30 in Paris.
    assert ti.contains(utc(2025, 3, 28, 8, 30))
    assert not ti.contains(utc(2025, 3, 28, 7, 30))
    # Monday 2025-03-31 is summer time (UTC+2): 07:30 UTC is 09:30, 06:30 UTC is 08:30 in Paris.
    assert ti.contains(utc(2025, 3, 31, 7, 30))
    assert not ti.contains(utc(2025, 3, 31, 6, 30))
    assert not ti.contains(utc(2025, 3, 31, 15, 0))  # 17:00 in Paris: end is exclusive
    # Saturday is outside whatever the time.
    assert not ti.contains(ts(2025, 3, 29, 10, 0, "Europe/Paris"))


def test_new_york_repeated_and_skipped_hours() -> None:
    ti = interval(times=[{"start_time": "01:00", "end_time": "02:00"}], location="America/New_York")
    # 2025-11-02: 01:00-02:00 happens twice (EDT then EST); both count.
    assert ti.contains(utc(2025, 11, 2, 5, 30))  # 01:30 EDT
    assert ti.contains(utc(2025, 11, 2, 6, 30))  # 01:30 EST
    assert not ti.contains(utc(2025, 11, 2, 7, 30))  # 02:30 EST
    skipped = interval(times=[{"start_time": "02:00", "end_time": "03:00"}], location="America/New_York")
    # 2025-03-09: the clock jumps from 01:59:59 EST to 03:00 EDT, so 02:xx never happens.
    assert not skipped.contains(utc(2025, 3, 9, 6, 59))  # 01:59 EST
    assert not skipped.contains(utc(2025, 3, 9, 7, 0))  # 03:00 EDT
    assert skipped.contains(utc(2025, 3, 10, 6, 30))  # 02:30 EDT the next day


def test_weekday_uses_local_date_not_utc_date() -> None:
    ti = interval(weekdays=["saturday", "sunday"], location="America/New_York")
    # Saturday 2025-06-07 22:00 in New York is already Sunday 02:00 UTC; still the weekend.
    assert ti.contains(ts(2025, 6, 7, 22, 0, "America/New_York"))
    # Monday 2025-06-09 01:00 UTC is Sunday 21:00 in New York.
    assert ti.contains(utc(2025, 6, 9, 1, 0))
    assert not interval(weekdays=["saturday", "sunday"]).contains(utc(2025, 6, 9, 1, 0))


def test_negative_days_of_month_count_from_the_end() -> None:
    last = interval(days_of_month=["-1"])
    assert last.contains(utc(2024, 2, 29, 12))
    assert last.contains(utc(2025, 2, 28, 12))
    assert not last.contains(utc(2025, 2, 27, 12))
    assert last.contains(utc(2025, 4, 30, 12))
    last_three = interval(days_of_month=["-3:-1"])
    assert last_three.contains(utc(2025, 1, 29)) and not last_three.contains(utc(2025, 1, 28))
    whole = interval(days_of_month=["1:-1"])
    assert all(whole.contains(utc(2025, 2, d)) for d in range(1, 29))


def test_days_of_month_clamped_to_the_month() -> None:
    late = interval(days_of_month=["25:31"])
    assert late.contains(utc(2025, 2, 28))
    assert not late.contains(utc(2025, 3, 1))
    day31 = interval(days_of_month=["31"])
    assert not any(day31.contains(utc(2025, 4, d)) for d in range(1, 31))
    early = interval(days_of_month=["-31:-27"])  # in February: from the 1st up to the 2nd
    assert early.contains(utc(2025, 2, 1)) and early.contains(utc(2025, 2, 2))
    assert not early.contains(utc(2025, 2, 3))


def test_month_and_year_ranges() -> None:
    spring = interval(months=["march:may"])
    assert spring.contains(utc(2025, 3, 1)) and spring.contains(utc(2025, 5, 31, 23, 59))
    assert not spring.contains(utc(2025, 6, 1))
    assert interval(months=["3:5"]).contains(utc(2025, 4, 15))
    assert interval(months=["December", "1"]).contains(utc(2025, 1, 15))
    years = interval(years=["2024:2025", "2030"])
    assert years.contains(utc(2024, 1, 1)) and years.contains(utc(2030, 6, 1))
    assert not years.contains(utc(2026, 1, 1))


def test_all_fields_of_a_spec_must_match() -> None:
    ti = interval(weekdays=["monday"], months=["june"], times=[{"start_time": "10:00", "end_time": "11:00"}])
    assert ti.contains(utc(2025, 6, 2, 10, 30))  # Monday in June at 10:30
    assert not ti.contains(utc(2025, 6, 3, 10, 30))  # Tuesday
    assert not ti.contains(utc(2025, 7, 7, 10, 30))  # Monday in July
    assert not ti.contains(utc(2025, 6, 2, 11, 30))


def test_empty_spec_matches_everything() -> None:
    assert interval().contains(utc(2025, 6, 2, 10, 30))


def test_named_interval_is_active_when_any_spec_matches() -> None:
    cfg = load_config_text(
        """
route: {receiver: r, routes: [{receiver: r, mute_time_intervals: [offhours]}]}
receivers: [{name: r}]
time_intervals:
  - name: offhours
    time_intervals:
      - weekdays: [saturday, sunday]
      - times: [{start_time: '00:00', end_time: '08:00'}]
      - days_of_month: [1, -1]
        years: [2025]
"""
    )
    reg = TimeIntervals.from_config(cfg)
    assert reg.active("offhours", utc(2025, 6, 7, 12))  # Saturday
    assert reg.active("offhours", utc(2025, 6, 4, 7, 59))  # early morning
    assert reg.active("offhours", utc(2025, 6, 30, 12))  # last day, 2025
    assert not reg.active("offhours", utc(2026, 6, 30, 12))  # last day, 2026 (a Tuesday)
    assert not reg.active("offhours", utc(2025, 6, 4, 12))
    assert reg.any_active(["offhours"], utc(2025, 6, 7, 12))
    with pytest.raises(KeyError, match="nope"):
        reg.active("nope", 0.0)


def test_registry_merges_deprecated_mute_time_intervals() -> None:
    cfg = load_config_text(
        """
route: {receiver: r}
receivers: [{name: r}]
mute_time_intervals: [{name: a, time_intervals: [{weekdays: [monday]}]}]
time_intervals: [{name: b, time_intervals: [{weekdays: [tuesday]}]}]
"""
    )
    reg = TimeIntervals.from_config(cfg)
    assert sorted(reg.names()) == ["a", "b"]
    assert (
        sorted(TimeIntervals(cfg).names()) == sorted(TimeIntervals(cfg.time_intervals).names()) == ["a", "b"]
    )
    assert "a" in reg and "c" not in reg
    assert reg.active("a", utc(2025, 6, 2, 12)) and reg.active("b", utc(2025, 6, 3, 12))


@pytest.mark.parametrize(
    ("func", "text", "needle"),
    [
        (parse_time_of_day, "25:00", "HH:MM"),
        (parse_time_of_day, "24:01", "HH:MM"),
        (parse_time_of_day, "9:00", "HH:MM"),
        (parse_weekday_range, "funday", "funday"),
        (parse_weekday_range, "saturday:sunday", "start day cannot be after end day"),
        (parse_weekday_range, "1", "day name"),
        (parse_day_of_month_range, "0", "1..31"),
        (parse_day_of_month_range, "32", "1..31"),
        (parse_day_of_month_range, "5:1", "start day cannot be after"),
        (parse_day_of_month_range, "-1:5", "end day must be negative"),
        (parse_day_of_month_range, "x", "expected a number"),
        (parse_month_range, "13", "1..12"),
        (parse_month_range, "may:march", "start month cannot be after"),
        (parse_month_range, "smarch", "smarch"),
        (parse_year_range, "-2020", "positive"),
        (parse_year_range, "2026:2024", "start year cannot be after"),
    ],
)
def test_invalid_fields_are_named(func: object, text: str, needle: str) -> None:
    with pytest.raises(TimeIntervalError, match=needle):
        func(text)  # type: ignore[operator]


def test_invalid_spec_is_a_config_error_at_load() -> None:
    text = """route: {receiver: r}
receivers: [{name: r}]
time_intervals:
  - name: t
    time_intervals:
      - times: [{start_time: '10:00', end_time: '09:00'}]
        location: Nowhere/City
"""
    with pytest.raises(ConfigError) as e:
        load_config_text(text, filename="am.yml")
    lines = str(e.value).splitlines()
    assert any(line.startswith("am.yml:6:") and "must be before end_time" in line for line in lines)
    assert any(line.startswith("am.yml:7:") and "Nowhere/City" in line for line in lines)


def test_sexagesimal_looking_times_stay_text() -> None:
    # YAML 1.1 would read an unquoted 17:00 as 1020; Alertmanager's loader keeps it as text.
    cfg = load_config_text(
        "route: {receiver: r}\nreceivers: [{name: r}]\n"
        "time_intervals: [{name: t, time_intervals: [{times: [{start_time: 09:00, end_time: 17:00}]}]}]\n"
    )
    spec = cfg.time_intervals["t"][0]
    assert spec.times is not None and spec.times[0].end_time == "17:00"


def test_local_location_follows_tz_with_dst(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Europe/Paris")
    ti = interval(times=[{"start_time": "09:00", "end_time": "10:00"}], location="Local")
    assert ti.contains(utc(2025, 1, 15, 8, 30))  # CET
    assert ti.contains(utc(2025, 7, 15, 7, 30))  # CEST
    assert not ti.contains(utc(2025, 7, 15, 8, 30))
