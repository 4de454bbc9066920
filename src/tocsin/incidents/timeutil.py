"""Wall-clock ↔ instant conversions shared by schedules, business hours and config.

Rotations, restrictions and business hours are defined in local wall time of an IANA zone; all
comparisons happen on UTC epoch seconds. Every conversion goes through here so that one policy
applies to daylight-saving gaps and folds: ``fold=0`` (a missing time maps to the instant it
would have had before the jump, i.e. the first valid instant after the gap; a repeated time
maps to its first occurrence), which is also what RFC 5545 prescribes.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_BAD_ZONE = "invalid time zone {!r}: expected an IANA name such as 'Europe/Paris'"
_HHMM_RE = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2}))?$")


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ValueError naming it when it does not exist."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        raise ValueError(_BAD_ZONE.format(name))
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_BAD_ZONE.format(name)) from None


def local_to_utc(d: date, t: time, tz: ZoneInfo) -> float:
    """Epoch seconds of wall time ``d t`` in ``tz`` (fold=0 for gaps and repeats)."""
    return datetime.combine(d, t.replace(tzinfo=tz, fold=0)).timestamp()


def naive_to_utc(dt: datetime, tz: ZoneInfo) -> float:
    return dt.replace(tzinfo=tz, fold=0).timestamp()


def utc_to_local(ts: float, tz: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(ts, UTC).astimezone(tz)


def local_date(ts: float, tz: ZoneInfo) -> date:
    return utc_to_local(ts, tz).date()


def parse_hhmm(text: str, what: str = "time of day") -> time:
    """``HH:MM`` or ``HH:MM:SS``; ``24:00`` is accepted as the end of a day (returned as 00:00)."""
    m = _HHMM_RE.match(str(text).strip())
    if not m:
        raise ValueError(f"invalid {what} {text!r}: expected HH:MM")
    h, mi, s = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    if (h, mi, s) == (24, 0, 0):
        return time(0, 0)
    if h > 23 or mi > 59 or s > 59:
        raise ValueError(f"invalid {what} {text!r}: hours must be 00-23 and minutes 00-59")
    return time(h, mi, s)


def parse_weekday(text: str) -> int:
    """``mon``..``sun`` (or full names, any case) → 0..6."""
    key = str(text).strip().lower()[:3]
    if key not in WEEKDAYS or not str(text).strip().lower().startswith(key):
        raise ValueError(f"invalid weekday {text!r}: expected one of {', '.join(WEEKDAYS)}")
    return WEEKDAYS.index(key)


def parse_weekdays(items: list[str] | str) -> frozenset[int]:
    """A list of weekdays; ranges such as ``mon-fri`` (or ``mon:fri``) are expanded."""
    if isinstance(items, str):
        items = [items]
    out: set[int] = set()
    for item in items:
        text = str(item).strip().lower()
        sep = "-" if "-" in text else (":" if ":" in text else None)
        if sep:
            a, b = (parse_weekday(x) for x in text.split(sep, 1))
            if b < a:
                raise ValueError(f"invalid weekday range {item!r}: the end comes before the start")
            out.update(range(a, b + 1))
        else:
            out.add(parse_weekday(text))
    if not out:
        raise ValueError("the list of weekdays is empty")
    return frozenset(out)


def wall_time_status(dt: datetime, tz: ZoneInfo) -> str:
    """``ok``, ``missing`` (inside a spring-forward gap) or ``ambiguous`` (inside a fall-back fold)."""
    a = dt.replace(tzinfo=tz, fold=0)
    b = dt.replace(tzinfo=tz, fold=1)
    if a.utcoffset() == b.utcoffset():
        return "ok"
    # In a gap, the round trip through UTC does not give the same wall time back.
    back = datetime.fromtimestamp(a.timestamp(), UTC).astimezone(tz).replace(tzinfo=None)
    return "missing" if back != dt.replace(tzinfo=None) else "ambiguous"


def parse_local_or_instant(text: str, tz: ZoneInfo, what: str) -> float:
    """An RFC 3339 instant with offset, or a local ``YYYY-MM-DDTHH:MM[:SS]`` in ``tz``.

    A local time that does not exist or exists twice (daylight-saving changes) is refused rather
    than guessed: for a one-off override the person must say which instant they mean.
    """
    raw = str(text).strip()
    try:
        dt = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"invalid {what} {text!r}: expected 'YYYY-MM-DDTHH:MM' (local) or RFC 3339 with an offset"
        ) from None
    if dt.tzinfo is not None:
        return dt.timestamp()
    status = wall_time_status(dt, tz)
    if status != "ok":
        kind = "does not exist" if status == "missing" else "occurs twice"
        raise ValueError(
            f"invalid {what} {text!r}: this local time {kind} in {tz.key} (daylight-saving change);"
            " give it with an explicit UTC offset"
        )
    return naive_to_utc(dt, tz)


def days_between(a: date, b: date) -> list[date]:
    """Every date from ``a`` to ``b`` inclusive."""
    return [a + timedelta(days=i) for i in range((b - a).days + 1)]
