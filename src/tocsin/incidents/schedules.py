"""On-call schedules: rotation layers, restrictions, holidays and overrides, DST-correct.

Model (see docs/incidents.md):
- A **layer** rotates through ``users`` (each turn may hold several people) starting at a local
  wall time in the layer's zone; that wall time of day is the handoff. Turn length is counted in
  calendar units (hours, days, weeks) of wall time, never as fixed seconds, so a daily 09:00
  handoff stays at 09:00 across daylight-saving changes (the crossing turn lasts 23 or 25 hours).
- **Restrictions** limit a layer to weekly windows (e.g. Mon–Fri 09:00–18:00); **skip_holidays**
  takes the layer off call on public holidays. The time left out is a gap unless a lower layer
  covers it.
- Layers listed **later win** where they overlap; **overrides** win over every layer.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Protocol

from tocsin.incidents.holidays_cal import HolidayCalendar
from tocsin.incidents.intervals import (
    Interval,
    Segment,
    clip,
    intersect,
    merge_adjacent,
    normalize,
    paint,
    subtract,
)
from tocsin.incidents.timeutil import local_date, local_to_utc, naive_to_utc, zone


class TurnUnit(enum.StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WEEKS = "weeks"

    @property
    def nominal_seconds(self) -> int:
        return {TurnUnit.HOURS: 3600, TurnUnit.DAYS: 86400, TurnUnit.WEEKS: 7 * 86400}[self]


@dataclass(frozen=True, slots=True)
class Restriction:
    """On call only from ``start`` to ``end`` (wall time) on the given start ``days`` (0=Mon).

    An ``end`` at or before ``start`` runs overnight into the next day (e.g. 18:00–09:00)."""

    days: frozenset[int]
    start: time
    end: time

    def windows(self, tz_name: str, a: float, b: float) -> list[Interval]:
        tz = zone(tz_name)
        d = local_date(a, tz) - timedelta(days=1)
        last = local_date(b, tz)
        out: list[Interval] = []
        while d <= last:
            if d.weekday() in self.days:
                end_day = d if self.end > self.start else d + timedelta(days=1)
                out.append((local_to_utc(d, self.start, tz), local_to_utc(end_day, self.end, tz)))
            d += timedelta(days=1)
        return intersect(out, [(a, b)])


class Rota(Protocol):
    """Anything that says who is on call over a range: rotation layers and imported iCal layers."""

    @property
    def name(self) -> str: ...

    def segments(self, a: float, b: float) -> list[Segment]: ...


@dataclass(frozen=True, slots=True)
class Layer:
    """One rotation. ``start`` is a naive local datetime in ``time_zone``: the first handoff."""

    name: str
    time_zone: str
    start: datetime
    turn_length: int
    turn_unit: TurnUnit
    users: tuple[tuple[str, ...], ...]
    restrictions: tuple[Restriction, ...] = ()
    end: float | None = None
    skip_holidays: HolidayCalendar | None = None

    def __post_init__(self) -> None:
        zone(self.time_zone)
        if self.turn_length < 1:
            raise ValueError(f"layer {self.name!r}: rotation length must be at least 1 {self.turn_unit}")
        if not self.users or any(not turn for turn in self.users):
            raise ValueError(f"layer {self.name!r}: every turn needs at least one user")
        if self.start.tzinfo is not None:
            raise ValueError(f"layer {self.name!r}: start must be a local (naive) time in {self.time_zone}")

    def turn_start(self, k: int) -> float:
        """Epoch seconds at which turn ``k`` (0 = the first) begins; negative k count backwards."""
        tz = zone(self.time_zone)
        n = k * self.turn_length
        if self.turn_unit is TurnUnit.HOURS:
            # Hourly rotations step in wall time too, so 12h handoffs stay at 09:00 and 21:00.
            return naive_to_utc(self.start + timedelta(hours=n), tz)
        days = n * (7 if self.turn_unit is TurnUnit.WEEKS else 1)
        return local_to_utc(self.start.date() + timedelta(days=days), self.start.time(), tz)

    @property
    def start_utc(self) -> float:
        return self.turn_start(0)

    def turn_index_at(self, t: float) -> int:
        """The turn in progress at ``t`` (may be negative before the layer starts)."""
        nominal = self.turn_length * self.turn_unit.nominal_seconds
        k = math.floor((t - self.start_utc) / nominal)
        while self.turn_start(k) > t:
            k -= 1
        while self.turn_start(k + 1) <= t:
            k += 1
        return k

    def users_of_turn(self, k: int) -> tuple[str, ...]:
        return self.users[k % len(self.users)]

    def turns(self, a: float, b: float) -> list[Segment]:
        """Raw turns overlapping ``[a, b)`` (clipped), before restrictions and holidays."""
        lo = max(a, self.start_utc)
        hi = b if self.end is None else min(b, self.end)
        out: list[Segment] = []
        if hi <= lo:
            return out
        k = self.turn_index_at(lo)
        while True:
            s, e = self.turn_start(k), self.turn_start(k + 1)
            if s >= hi:
                break
            if e > s:  # a handoff that falls into a DST gap can make an empty turn: skip it
                out.append(Segment(max(s, lo), min(e, hi), self.users_of_turn(k), self.name))
            k += 1
        return out

    def holiday_intervals(self, a: float, b: float) -> list[Interval]:
        if self.skip_holidays is None:
            return []
        tz = zone(self.time_zone)
        out = []
        for d in self.skip_holidays.between(local_date(a, tz), local_date(b, tz)):
            midnight = time(0, 0)
            out.append((local_to_utc(d, midnight, tz), local_to_utc(d + timedelta(days=1), midnight, tz)))
        return normalize(out)

    def segments(self, a: float, b: float) -> list[Segment]:
        segs = self.turns(a, b)
        if self.restrictions:
            allowed: list[Interval] = []
            for r in self.restrictions:
                allowed.extend(r.windows(self.time_zone, a, b))
            segs = clip(segs, allowed)
        holes = self.holiday_intervals(a, b)
        if holes:
            segs = clip(segs, subtract([(a, b)], holes))
        return segs


@dataclass(frozen=True, slots=True)
class Override:
    """``user`` is on call over ``[start, end)`` in place of whoever the layers say."""

    user: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"override for {self.user!r}: end must be after start")


class OverlapError(ValueError):
    """Two overrides of one schedule cover the same time."""


def check_overrides(schedule: str, overrides: Sequence[Override]) -> None:
    ordered = sorted(overrides, key=lambda o: (o.start, o.end))
    for prev, cur in itertools.pairwise(ordered):
        if cur.start < prev.end:
            raise OverlapError(
                f"schedule {schedule!r}: override for {cur.user!r} starting {_iso(cur.start)} overlaps the"
                f" override for {prev.user!r} ending {_iso(prev.end)}"
            )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts).astimezone(zone("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(slots=True)
class Schedule:
    """Layers (later wins) plus overrides (always win). ``time_zone`` is used for display and
    iCalendar export; each layer keeps its own zone for its handoffs."""

    name: str
    time_zone: str
    layers: list[Rota] = field(default_factory=list)
    overrides: list[Override] = field(default_factory=list)

    def __post_init__(self) -> None:
        zone(self.time_zone)
        check_overrides(self.name, self.overrides)

    def add_override(self, override: Override) -> None:
        """Add an override, refusing one that overlaps an existing one (API-time check)."""
        check_overrides(self.name, [*self.overrides, override])
        self.overrides.append(override)

    def final(self, a: float, b: float) -> list[Segment]:
        """The final schedule over ``[a, b)``: who is on call, piece by piece, gaps left out."""
        if b <= a:
            return []
        result: list[Segment] = []
        for layer in self.layers:
            result = paint(result, layer.segments(a, b))
        overrides = [
            Segment(max(o.start, a), min(o.end, b), (o.user,), "override")
            for o in self.overrides
            if o.end > a and o.start < b
        ]
        result = paint(result, overrides)
        return merge_adjacent(s for s in result if s.users and s.end > s.start)

    def on_call_at(self, t: float) -> tuple[str, ...]:
        """Who is on call at instant ``t`` (empty during a gap)."""
        segs = self.final(t, t + 1e-3)
        return segs[0].users if segs else ()

    def gaps(self, a: float, b: float) -> list[Interval]:
        """Times in ``[a, b)`` when nobody is on call."""
        return subtract([(a, b)], [(s.start, s.end) for s in self.final(a, b)])

    def user_shifts(self, user: str, a: float, b: float) -> list[Segment]:
        return [s for s in self.final(a, b) if user in s.users]
