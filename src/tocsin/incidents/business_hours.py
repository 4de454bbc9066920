"""Business hours: weekly open windows in a zone, minus public holidays.

Used for two things: deferring low-urgency notifications outside business hours until the next
opening (so they are delivered then rather than lost), and SLAs that only count business time.
Windows are measured as UTC end minus UTC start, so a day with a daylight-saving change counts
its real length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta

from tocsin.incidents.holidays_cal import HolidayCalendar
from tocsin.incidents.intervals import Interval, normalize
from tocsin.incidents.timeutil import local_date, local_to_utc, zone

#: How far ahead to look for the next opening before declaring the calendar closed for good.
_HORIZON_DAYS = 800


@dataclass(frozen=True, slots=True)
class BusinessHours:
    """Open from ``start`` to ``end`` (wall time in ``time_zone``) on ``days`` (0=Mon), except
    on ``holidays``. An ``end`` at or before ``start`` closes on the next day (overnight desk)."""

    name: str
    time_zone: str
    days: frozenset[int]
    start: time
    end: time
    holidays: HolidayCalendar | None = None

    def __post_init__(self) -> None:
        zone(self.time_zone)
        if not self.days:
            raise ValueError(f"business hours {self.name!r}: no open days")
        if not all(0 <= d <= 6 for d in self.days):
            raise ValueError(f"business hours {self.name!r}: weekdays must be 0 (Mon) to 6 (Sun)")

    def _window(self, d: date) -> Interval | None:
        if d.weekday() not in self.days or (self.holidays is not None and self.holidays.is_holiday(d)):
            return None
        tz = zone(self.time_zone)
        end_day = d if self.end > self.start else d + timedelta(days=1)
        s, e = local_to_utc(d, self.start, tz), local_to_utc(end_day, self.end, tz)
        return (s, e) if e > s else None

    def windows(self, a: float, b: float) -> list[Interval]:
        """Open windows overlapping ``[a, b)``, clipped to it."""
        tz = zone(self.time_zone)
        d = local_date(a, tz) - timedelta(days=1)
        last = local_date(b, tz)
        out: list[Interval] = []
        while d <= last:
            w = self._window(d)
            if w is not None and w[1] > a and w[0] < b:
                out.append((max(w[0], a), min(w[1], b)))
            d += timedelta(days=1)
        return normalize(out)

    def is_open(self, t: float) -> bool:
        return bool(self.windows(t, t + 1e-6))

    def next_open(self, t: float) -> float:
        """``t`` itself when open, else the start of the next open window."""
        tz = zone(self.time_zone)
        d = local_date(t, tz) - timedelta(days=1)
        for _ in range(_HORIZON_DAYS):
            w = self._window(d)
            if w is not None and w[1] > t:
                return max(w[0], t)
            d += timedelta(days=1)
        raise ValueError(f"business hours {self.name!r} never open within {_HORIZON_DAYS} days of {t}")

    def add(self, t: float, seconds: float) -> float:
        """The instant at which ``seconds`` of business time have passed since ``t``."""
        tz = zone(self.time_zone)
        remaining = seconds
        d = local_date(t, tz) - timedelta(days=1)
        cur = t
        for _ in range(_HORIZON_DAYS * 4):
            w = self._window(d)
            d += timedelta(days=1)
            if w is None or w[1] <= cur:
                continue
            s = max(w[0], cur)
            if s + remaining <= w[1]:
                return s + remaining
            remaining -= w[1] - s
            cur = w[1]
        raise ValueError(f"business hours {self.name!r}: cannot add {seconds}s of business time")

    def elapsed(self, a: float, b: float) -> float:
        """Business seconds inside ``[a, b)``."""
        return sum(e - s for s, e in self.windows(a, b)) if b > a else 0.0
