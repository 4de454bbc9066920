"""Named time intervals: when a route is muted (``mute_time_intervals``) or active
(``active_time_intervals``), with Alertmanager's semantics.

A named interval is a list of specs and is active when ANY spec contains the instant; inside a
spec every field that is given must match. Fields are evaluated on the wall clock of the spec's
``location`` (UTC by default), so "09:00-17:00 Europe/Paris" follows daylight saving time.
"""

from __future__ import annotations

import calendar
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

if TYPE_CHECKING:
    from tocsin.config import Config


class TimeIntervalError(ValueError):
    """An invalid time interval field; the message names the offending value."""


WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)

_TIME_RE = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")

Range = tuple[int, int]


def parse_time_of_day(text: str) -> int:
    """``HH:MM`` (00:00..24:00) → minutes since midnight."""
    m = _TIME_RE.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise TimeIntervalError(f"invalid time of day {text!r}: expected HH:MM between 00:00 and 24:00")
    hours = m.group(1) or m.group(3)
    minutes = m.group(2) or m.group(4)
    return int(hours) * 60 + int(minutes)


def parse_times(start: str, end: str) -> Range:
    s, e = parse_time_of_day(start), parse_time_of_day(end)
    if s >= e:
        raise TimeIntervalError(f"start_time {start!r} must be before end_time {end!r}")
    return (s, e)


def _split(text: str, field: str) -> tuple[str, str]:
    text = str(text).strip().lower()
    if not text:
        raise TimeIntervalError(f"empty value in {field}")
    if ":" in text[1:]:
        # A leading '-' belongs to the number (days_of_month), not to the range separator.
        i = text.index(":", 1)
        return text[:i], text[i + 1 :]
    return text, text


def _named_or_number(part: str, names: Sequence[str], base: int, field: str) -> int:
    if part in names:
        return names.index(part) + base
    try:
        n = int(part)
    except ValueError:
        raise TimeIntervalError(f"invalid {field} {part!r}: expected one of {', '.join(names)}") from None
    return n


def parse_weekday_range(text: str) -> Range:
    """``monday`` or ``monday:friday`` → (1, 5), Sunday being 0 as in Go. Names only."""
    a, b = _split(text, "weekdays")
    for part in (a, b):
        if part not in WEEKDAYS:
            raise TimeIntervalError(
                f"invalid weekday {part!r} in {text!r}: expected a day name such as 'monday'"
            )
    start, end = WEEKDAYS.index(a), WEEKDAYS.index(b)
    if start > end:
        raise TimeIntervalError(f"invalid weekday range {text!r}: start day cannot be after end day")
    return (start, end)


def parse_day_of_month_range(text: str) -> Range:
    """``1``, ``1:5``, ``-1`` (last day), ``-3:-1``, ``1:-1`` → inclusive day range."""
    a, b = _split(str(text), "days_of_month")
    try:
        start, end = int(a), int(b)
    except ValueError:
        raise TimeIntervalError(
            f"invalid day of month {text!r}: expected a number or a range like 1:5"
        ) from None
    for d in (start, end):
        if d == 0 or not -31 <= d <= 31:
            raise TimeIntervalError(f"invalid day of month {d} in {text!r}: must be 1..31 or -31..-1")
    if start > 0 and end < 0:
        return (start, end)  # e.g. 1:-1 = the whole month, resolved against the month's length
    if start < 0 and end > 0:
        raise TimeIntervalError(
            f"invalid day of month range {text!r}: end day must be negative if start day is"
        )
    if start > end:
        raise TimeIntervalError(f"invalid day of month range {text!r}: start day cannot be after end day")
    return (start, end)


def parse_month_range(text: str) -> Range:
    """``january``, ``1``, ``march:may``, ``3:5`` → (1..12, 1..12) inclusive."""
    a, b = _split(str(text), "months")
    start = _named_or_number(a, MONTHS, 1, "month")
    end = _named_or_number(b, MONTHS, 1, "month")
    for m in (start, end):
        if not 1 <= m <= 12:
            raise TimeIntervalError(f"invalid month {m} in {text!r}: must be 1..12 or a month name")
    if start > end:
        raise TimeIntervalError(f"invalid month range {text!r}: start month cannot be after end month")
    return (start, end)


def parse_year_range(text: str) -> Range:
    a, b = _split(str(text), "years")
    try:
        start, end = int(a), int(b)
    except ValueError:
        raise TimeIntervalError(f"invalid year {text!r}: expected a year or a range like 2024:2026") from None
    if start <= 0 or end <= 0:
        raise TimeIntervalError(f"invalid year {text!r}: years must be positive")
    if start > end:
        raise TimeIntervalError(f"invalid year range {text!r}: start year cannot be after end year")
    return (start, end)


def _local_zone() -> tzinfo:
    """The machine's zone with its DST rules, found as Go finds ``Local``: $TZ, then /etc/localtime."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz:
        try:
            return ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        with open("/etc/localtime", "rb") as f:
            return ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return UTC


def load_location(name: str | None) -> tzinfo:
    if name is None or name == "" or name == "UTC":
        return UTC
    if name == "Local":
        return _local_zone()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeIntervalError(
            f"unknown time zone location {name!r}: expected an IANA name like 'Europe/Paris'"
        ) from None


class _TimeRangeLike(Protocol):
    @property
    def start_time(self) -> str: ...
    @property
    def end_time(self) -> str: ...


class TimeIntervalSpecLike(Protocol):
    """What ``TimeInterval.from_spec`` reads: the shape of ``tocsin.config.TimeIntervalSpec``."""

    @property
    def times(self) -> Sequence[_TimeRangeLike] | None: ...
    @property
    def weekdays(self) -> Sequence[str] | None: ...
    @property
    def days_of_month(self) -> Sequence[str] | None: ...
    @property
    def months(self) -> Sequence[str] | None: ...
    @property
    def years(self) -> Sequence[str] | None: ...
    @property
    def location(self) -> str | None: ...


def _in_any(value: int, ranges: Iterable[Range]) -> bool:
    return any(a <= value <= b for a, b in ranges)


@dataclass(frozen=True, slots=True)
class TimeInterval:
    """One spec of a named interval. Empty tuples mean "any" for that field."""

    times: tuple[Range, ...] = ()
    weekdays: tuple[Range, ...] = ()
    days_of_month: tuple[Range, ...] = ()
    months: tuple[Range, ...] = ()
    years: tuple[Range, ...] = ()
    location: tzinfo = UTC

    @classmethod
    def from_spec(cls, spec: TimeIntervalSpecLike) -> TimeInterval:
        return cls(
            times=tuple(parse_times(t.start_time, t.end_time) for t in spec.times or ()),
            weekdays=tuple(parse_weekday_range(w) for w in spec.weekdays or ()),
            days_of_month=tuple(parse_day_of_month_range(d) for d in spec.days_of_month or ()),
            months=tuple(parse_month_range(m) for m in spec.months or ()),
            years=tuple(parse_year_range(y) for y in spec.years or ()),
            location=load_location(spec.location),
        )

    def contains(self, ts: float) -> bool:
        """Whether the instant ``ts`` (epoch seconds) falls inside this spec."""
        t = datetime.fromtimestamp(ts, self.location)
        if self.times:
            minute = t.hour * 60 + t.minute
            # End is exclusive, so 00:00-24:00 covers the whole day and 17:00 is outside 09:00-17:00.
            if not any(s <= minute < e for s, e in self.times):
                return False
        if self.days_of_month and not self._day_matches(t):
            return False
        if self.weekdays:
            weekday = (t.weekday() + 1) % 7  # Python's Monday=0 → Go's Sunday=0
            if not _in_any(weekday, self.weekdays):
                return False
        if self.months and not _in_any(t.month, self.months):
            return False
        return not (self.years and not _in_any(t.year, self.years))

    def _day_matches(self, t: datetime) -> bool:
        days_in_month = calendar.monthrange(t.year, t.month)[1]
        for start, end in self.days_of_month:
            begin = days_in_month + start + 1 if start < 0 else start
            stop = days_in_month + end + 1 if end < 0 else end
            if begin > days_in_month:
                continue  # e.g. day 31 in a 30-day month: never matches that month
            # Clamp so that -31 in February means the 1st rather than reaching into January.
            begin = max(begin, 1)
            stop = min(stop, days_in_month)
            if begin <= t.day <= stop:
                return True
        return False


def interval_contains(specs: Iterable[TimeInterval], ts: float) -> bool:
    """A named interval (list of specs) is active when any spec contains ``ts``."""
    return any(spec.contains(ts) for spec in specs)


class TimeIntervals:
    """Registry of the config's named intervals, built once per config load."""

    def __init__(self, intervals: Mapping[str, Sequence[TimeIntervalSpecLike | TimeInterval]] | Config):
        """Build from ``Config.time_intervals`` (name → specs) or from the Config itself."""
        if not isinstance(intervals, Mapping):
            intervals = intervals.time_intervals
        self._intervals: dict[str, tuple[TimeInterval, ...]] = {
            name: tuple(s if isinstance(s, TimeInterval) else TimeInterval.from_spec(s) for s in specs)
            for name, specs in intervals.items()
        }

    @classmethod
    def from_config(cls, config: Config) -> TimeIntervals:
        return cls(config.time_intervals)

    def __contains__(self, name: object) -> bool:
        return name in self._intervals

    def names(self) -> list[str]:
        return list(self._intervals)

    def get(self, name: str) -> tuple[TimeInterval, ...]:
        try:
            return self._intervals[name]
        except KeyError:
            raise KeyError(f"unknown time interval {name!r}") from None

    def active(self, name: str, ts: float) -> bool:
        """Whether the named interval contains ``ts``; KeyError naming it when it is not defined."""
        return interval_contains(self.get(name), ts)

    def any_active(self, names: Iterable[str], ts: float) -> bool:
        return any(self.active(n, ts) for n in names)
