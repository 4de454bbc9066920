"""iCalendar (RFC 5545) export of computed on-call shifts, and import of a feed as a layer.

Export writes one VEVENT per (shift, person) with DTSTART/DTEND in the schedule's zone (with
the VTIMEZONE definitions), SUMMARY = the user id, so any calendar shows who is on call and a
parser gets the exact instants back.

Import expands each VEVENT (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides, STATUS:CANCELLED)
over a window and maps SUMMARY names (id, display name or email, optionally prefixed ``[L<n>]``)
to known users. Instances keep the exact duration of DTSTART→DTEND (RFC 5545 §3.8.5.3) and are
placed at the same local time each recurrence, so they stay put across daylight-saving changes.
Events naming nobody we know are dropped (they must not hide the layers below) and reported.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from dateutil.rrule import rrulestr

from tocsin.incidents.intervals import Segment, clip, flatten
from tocsin.incidents.people import Directory
from tocsin.incidents.schedules import Schedule
from tocsin.incidents.timeutil import zone

if TYPE_CHECKING:
    from icalendar import Calendar, Event

PRODID = "-//tocsin//incidents//EN"
_LEVEL_PREFIX = re.compile(r"^\s*\[L\d+\]\s*")


class ICalError(ValueError):
    """An iCalendar feed that cannot be read at all."""


def _aware(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, UTC).astimezone(tz)


def _ical() -> Any:
    # Imported when a calendar is first exported or read (3 MiB resident), not at start-up.
    import icalendar

    return icalendar


def _calendar(name: str) -> Calendar:
    cal = _ical().Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def _event(uid: str, seg: Segment, user: str, summary: str, tz: ZoneInfo, stamp: float) -> Event:
    ev = _ical().Event()
    ev.add("uid", uid)
    ev.add("dtstamp", datetime.fromtimestamp(stamp, UTC))
    ev.add("dtstart", _aware(seg.start, tz))
    ev.add("dtend", _aware(seg.end, tz))
    ev.add("summary", summary)
    ev.add("description", f"on call ({seg.source})")
    ev.add("x-tocsin-user", user)
    return ev


def export_schedule(schedule: Schedule, a: float, b: float, stamp: float | None = None) -> bytes:
    """The final schedule over ``[a, b)`` as an iCalendar document."""
    tz = zone(schedule.time_zone)
    cal = _calendar(f"On call: {schedule.name}")
    for seg in schedule.final(a, b):
        for user in seg.users:
            uid = f"{schedule.name}-{user}-{int(seg.start)}@tocsin"
            cal.add_component(_event(uid, seg, user, user, tz, a if stamp is None else stamp))
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


def export_user(
    user: str,
    schedules: Iterable[Schedule],
    a: float,
    b: float,
    time_zone: str = "UTC",
    stamp: float | None = None,
) -> bytes:
    """Every shift of ``user`` across ``schedules`` over ``[a, b)``, in the user's zone."""
    tz = zone(time_zone)
    cal = _calendar(f"On call: {user}")
    for s in schedules:
        for seg in s.user_shifts(user, a, b):
            uid = f"{s.name}-{user}-{int(seg.start)}@tocsin"
            cal.add_component(_event(uid, seg, user, f"On call: {s.name}", tz, a if stamp is None else stamp))
    cal.add_missing_timezones()
    return bytes(cal.to_ical())


# --- import ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportedLayer:
    """A layer whose shifts come from an iCalendar feed (already expanded over a window).
    Overlapping events put their users on call together."""

    name: str
    events: tuple[Segment, ...]

    def segments(self, a: float, b: float) -> list[Segment]:
        return flatten(clip(self.events, [(a, b)]))


@dataclass(slots=True)
class ImportResult:
    layer: ImportedLayer
    #: SUMMARY names that matched no user, with how many events carried them.
    unknown_names: dict[str, int] = field(default_factory=dict)
    #: Instances dropped because they named nobody known or had no length.
    dropped: int = 0


def _to_ts(value: date | datetime, tz: ZoneInfo) -> float:
    if isinstance(value, datetime):
        if value.tzinfo is None:  # floating time: the calendar's zone
            value = value.replace(tzinfo=tz, fold=0)
        return value.timestamp()
    return datetime(value.year, value.month, value.day, tzinfo=tz).timestamp()


def _instances(ev: Any, a: float, b: float, tz: ZoneInfo) -> list[tuple[float, float]]:
    """(start, end) instants of one VEVENT that overlap ``[a, b)``."""
    dtstart = ev.get("DTSTART")
    if dtstart is None:
        return []
    start = dtstart.dt
    if ev.get("DTEND") is not None:
        length = _to_ts(ev["DTEND"].dt, tz) - _to_ts(start, tz)
    elif ev.get("DURATION") is not None:
        length = ev["DURATION"].dt.total_seconds()
    else:
        length = 86400.0 if not isinstance(start, datetime) else 0.0
    starts: list[date | datetime] = [start]
    if ev.get("RRULE") is not None:
        rule_text = ev["RRULE"].to_ical().decode()
        seed = start if isinstance(start, datetime) else datetime(start.year, start.month, start.day)
        if isinstance(seed, datetime) and seed.tzinfo is None and "UNTIL=" in rule_text and "Z" in rule_text:
            seed = seed.replace(tzinfo=tz)
        try:
            rule = rrulestr(rule_text, dtstart=seed)
        except (ValueError, TypeError) as e:
            raise ICalError(f"event {ev.get('UID')!s}: invalid RRULE {rule_text!r}: {e}") from None
        # Look back by the event length so instances that started before ``a`` are kept.
        lo = datetime.fromtimestamp(a - max(length, 0.0), UTC)
        hi = datetime.fromtimestamp(b, UTC)
        if seed.tzinfo is None:
            lo, hi = lo.astimezone(tz).replace(tzinfo=None), hi.astimezone(tz).replace(tzinfo=None)
        else:
            lo, hi = lo.astimezone(seed.tzinfo), hi.astimezone(seed.tzinfo)
        starts = list(rule.between(lo - timedelta(seconds=1), hi, inc=True))
    for rd in _multi(ev.get("RDATE")):
        starts.append(rd)
    excluded = {_to_ts(x, tz) for x in _multi(ev.get("EXDATE"))}
    out = []
    for s in starts:
        st = _to_ts(s, tz)
        if st in excluded:
            continue
        en = st + length
        if en > a and st < b:
            out.append((st, en))
    return sorted(set(out))


def _multi(prop: Any) -> list[date | datetime]:
    """RDATE/EXDATE values: the property may repeat, and each may list several dates."""
    if prop is None:
        return []
    props = prop if isinstance(prop, list) else [prop]
    return [d.dt for p in props for d in p.dts]


def _users(summary: str, directory: Directory, unknown: dict[str, int]) -> tuple[str, ...]:
    text = _LEVEL_PREFIX.sub("", summary)
    found: list[str] = []
    for part in re.split(r"[,;]", text):
        name = part.strip()
        if not name:
            continue
        user = directory.find(name)
        if user is None:
            unknown[name] = unknown.get(name, 0) + 1
        elif user.id not in found:
            found.append(user.id)
    return tuple(found)


def import_layer(
    data: bytes | str, name: str, directory: Directory, a: float, b: float, default_tz: str = "UTC"
) -> ImportResult:
    """Read an iCalendar feed and expand it over ``[a, b)`` into a layer."""
    try:
        cal = _ical().Calendar.from_ical(data)
    except ValueError as e:
        raise ICalError(f"cannot parse iCalendar feed for layer {name!r}: {e}") from None
    tz_name = str(cal.get("X-WR-TIMEZONE") or default_tz)
    try:
        tz = zone(tz_name)
    except ValueError as e:
        raise ICalError(f"iCalendar feed for layer {name!r}: {e}") from None
    events: list[Any] = list(cal.walk("VEVENT"))
    # RECURRENCE-ID events replace one instance of their series.
    masters = [ev for ev in events if ev.get("RECURRENCE-ID") is None]
    edits: dict[tuple[str, float], Any] = {}
    for ev in events:
        rid = ev.get("RECURRENCE-ID")
        if rid is not None:
            edits[(str(ev.get("UID")), _to_ts(rid.dt, tz))] = ev
    unknown: dict[str, int] = {}
    segs: list[Segment] = []
    dropped = 0

    def add(ev: Any, spans: Sequence[tuple[float, float]]) -> None:
        nonlocal dropped
        if str(ev.get("STATUS", "")).upper() == "CANCELLED":
            return
        users = _users(str(ev.get("SUMMARY", "")), directory, unknown)
        for start, end in spans:
            if not users or end <= start:
                dropped += 1
                continue
            segs.append(Segment(start, end, users, name))

    for ev in masters:
        uid = str(ev.get("UID"))
        spans = []
        for start, end in _instances(ev, a, b, tz):
            if (uid, start) not in edits:
                spans.append((start, end))
        add(ev, spans)
    for ev in edits.values():
        add(ev, _instances_single(ev, a, b, tz))
    return ImportResult(
        ImportedLayer(name, tuple(sorted(segs, key=lambda x: (x.start, x.end)))), unknown, dropped
    )


def _instances_single(ev: Any, a: float, b: float, tz: ZoneInfo) -> list[tuple[float, float]]:
    single = _ical().Event()
    for key in ("DTSTART", "DTEND", "DURATION"):
        if ev.get(key) is not None:
            single[key] = ev[key]
    return _instances(single, a, b, tz)


def parse_shifts(data: bytes) -> list[tuple[float, float, str]]:
    """(start, end, user) of every event in an exported document, for checks and round trips."""
    cal = _ical().Calendar.from_ical(data)
    out = []
    ev: Any
    for ev in cal.walk("VEVENT"):
        user = str(ev.get("X-TOCSIN-USER") or ev.get("SUMMARY"))
        out.append((ev["DTSTART"].dt.timestamp(), ev["DTEND"].dt.timestamp(), user))
    return sorted(out)
