"""iCalendar export parsed back with the ``icalendar`` package, and feeds imported as layers."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.ical import ICalError, export_schedule, export_user, import_layer, parse_shifts
from tocsin.incidents.people import Directory, User
from tocsin.incidents.schedules import Layer, Override, Schedule, TurnUnit

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")

SCHEDULE_CONFIG = """
users:
  - {id: ana, email: ana@example.com}
  - {id: bob, email: bob@example.com}
  - {id: carla, name: Carla Diaz, email: carla@example.com}
schedules:
  - name: primary
    time_zone: Europe/Paris
    layers:
      - {name: daily, start: "2026-03-20T09:00", rotation: {unit: days}, users: [ana, bob]}
      - name: office
        start: "2026-03-20T09:00"
        rotation: {unit: weeks}
        users: [carla]
        restrictions: [{days: [mon-fri], start: "10:00", end: "16:00"}]
    overrides:
      - {user: carla, start: "2026-03-28T20:00", end: "2026-03-29T10:00"}
"""


def p(*a: int, tz: ZoneInfo = PARIS) -> float:
    return datetime(*a, tzinfo=tz).timestamp()  # type: ignore[misc]


def parsed(data: bytes) -> list[tuple[float, float, str]]:
    cal = Calendar.from_ical(data)
    out = []
    for ev in cal.walk("VEVENT"):
        out.append((ev["DTSTART"].dt.timestamp(), ev["DTEND"].dt.timestamp(), str(ev["SUMMARY"])))
    return sorted(out)


def test_export_matches_computed_shifts_across_dst() -> None:
    sched = load_incidents_text(SCHEDULE_CONFIG).schedules["primary"]
    a, b = p(2026, 3, 26), p(2026, 4, 2)
    data = export_schedule(sched, a, b)
    expected = sorted((s.start, s.end, u) for s in sched.final(a, b) for u in s.users)
    assert parsed(data) == expected
    assert parse_shifts(data) == expected
    assert len(expected) > 10
    cal = Calendar.from_ical(data)
    # Every event carries the schedule's zone; the VTIMEZONE is present for calendar clients.
    assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Europe/Paris"]
    starts = [ev["DTSTART"].dt for ev in cal.walk("VEVENT")]
    assert all(str(s.tzinfo) == "Europe/Paris" for s in starts)
    # The override on the DST night is exported with its exact instants (13 real hours).
    ov = [e for e in parsed(data) if e[2] == "carla" and e[0] == p(2026, 3, 28, 20)]
    assert ov and ov[0][1] - ov[0][0] == 13 * 3600


def test_per_user_export() -> None:
    sched = load_incidents_text(SCHEDULE_CONFIG).schedules["primary"]
    a, b = p(2026, 3, 26), p(2026, 4, 2)
    data = export_user("carla", [sched], a, b, "America/New_York")
    cal = Calendar.from_ical(data)
    events = sorted(cal.walk("VEVENT"), key=lambda e: e["DTSTART"].dt)
    got = [(e["DTSTART"].dt.timestamp(), e["DTEND"].dt.timestamp()) for e in events]
    assert got == [(s.start, s.end) for s in sched.user_shifts("carla", a, b)]
    assert all(str(e["SUMMARY"]) == "On call: primary" for e in events)
    assert all(str(e["DTSTART"].dt.tzinfo) == "America/New_York" for e in events)


DIRECTORY = Directory.of(
    [
        User("ana", "Ana Lima", email="ana@example.com"),
        User("bob", "Bob", email="bob@example.com"),
    ]
)

FEED = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//feed//EN
BEGIN:VEVENT
UID:weekly-ana@test
DTSTAMP:20260101T000000Z
DTSTART;TZID=America/New_York:20261026T090000
DTEND;TZID=America/New_York:20261027T090000
RRULE:FREQ=DAILY;COUNT=10
EXDATE;TZID=America/New_York:20261029T090000
SUMMARY:[L1] Ana Lima
END:VEVENT
BEGIN:VEVENT
UID:weekly-ana@test
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=America/New_York:20261030T090000
DTSTART;TZID=America/New_York:20261030T120000
DTEND;TZID=America/New_York:20261030T180000
SUMMARY:bob@example.com
END:VEVENT
BEGIN:VEVENT
UID:cancelled@test
DTSTAMP:20260101T000000Z
DTSTART:20261027T000000Z
DTEND:20261027T060000Z
STATUS:CANCELLED
SUMMARY:bob
END:VEVENT
BEGIN:VEVENT
UID:stranger@test
DTSTAMP:20260101T000000Z
DTSTART:20261026T000000Z
DTEND:20261026T060000Z
SUMMARY:Zed Unknown
END:VEVENT
END:VCALENDAR
"""


def test_import_expands_rules_exceptions_and_edits() -> None:
    a, b = p(2026, 10, 26, tz=NY), p(2026, 11, 5, tz=NY)
    res = import_layer(FEED, "feed", DIRECTORY, a, b)
    events = [
        (datetime.fromtimestamp(s.start, UTC).astimezone(NY).strftime("%m-%d %H:%M %Z"), s.users)
        for s in res.layer.events
    ]
    assert events == [
        ("10-26 09:00 EDT", ("ana",)),
        ("10-27 09:00 EDT", ("ana",)),
        ("10-28 09:00 EDT", ("ana",)),
        # 29th excluded; 30th replaced by bob 12:00-18:00
        ("10-30 12:00 EDT", ("bob",)),
        ("10-31 09:00 EDT", ("ana",)),
        ("11-01 09:00 EST", ("ana",)),  # same local time after the change
        ("11-02 09:00 EST", ("ana",)),
        ("11-03 09:00 EST", ("ana",)),
        ("11-04 09:00 EST", ("ana",)),
    ]
    # DTEND gives an exact 24 h duration, so the instance over the change ends at 08:00 EST.
    over = next(s for s in res.layer.events if s.start == p(2026, 10, 31, 9, tz=NY))
    assert over.duration == 24 * 3600
    assert res.unknown_names == {"Zed Unknown": 1}
    assert res.dropped == 1


def test_imported_layer_sits_under_overrides_in_a_schedule() -> None:
    a, b = p(2026, 10, 26, tz=NY), p(2026, 11, 5, tz=NY)
    layer = import_layer(FEED, "feed", DIRECTORY, a, b).layer
    sched = Schedule(
        "n",
        "America/New_York",
        [layer],
        [Override("bob", p(2026, 10, 27, 12, tz=NY), p(2026, 10, 27, 13, tz=NY))],
    )
    assert sched.on_call_at(p(2026, 10, 26, 12, tz=NY)) == ("ana",)
    assert sched.on_call_at(p(2026, 10, 27, 12, 30, tz=NY)) == ("bob",)
    assert sched.on_call_at(p(2026, 10, 29, 12, tz=NY)) == ()  # EXDATE left a gap


def test_export_then_import_round_trip() -> None:
    setup = load_incidents_text(SCHEDULE_CONFIG)
    sched = setup.schedules["primary"]
    a, b = p(2026, 3, 26), p(2026, 4, 2)
    layer = import_layer(export_schedule(sched, a, b), "copy", setup.directory, a, b).layer
    copy = Schedule("copy", "Europe/Paris", [layer])
    assert [(s.start, s.end, s.users) for s in copy.final(a, b)] == [
        (s.start, s.end, s.users) for s in sched.final(a, b)
    ]


def test_weekly_rrule_in_paris_across_march_keeps_local_time() -> None:
    feed = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:w@test
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Paris:20260323T090000
DTEND;TZID=Europe/Paris:20260323T180000
RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260413T235959Z
SUMMARY:ana
END:VEVENT
END:VCALENDAR
"""
    res = import_layer(feed, "w", DIRECTORY, p(2026, 3, 1), p(2026, 5, 1))
    assert [s.start for s in res.layer.events] == [
        p(2026, 3, 23, 9),
        p(2026, 3, 30, 9),
        p(2026, 4, 6, 9),
        p(2026, 4, 13, 9),
    ]


def test_unparseable_feed() -> None:
    with pytest.raises(ICalError, match="cannot parse iCalendar feed for layer 'x'"):
        import_layer("this is not a calendar", "x", DIRECTORY, 0, 1)


def test_layer_round_trip_with_hourly_rotation_new_york() -> None:
    layer = Layer("h", "America/New_York", datetime(2026, 3, 7, 0), 6, TurnUnit.HOURS, (("ana",), ("bob",)))
    sched = Schedule("h", "America/New_York", [layer])
    a, b = p(2026, 3, 7, tz=NY), p(2026, 3, 10, tz=NY)
    assert parsed(export_schedule(sched, a, b)) == sorted(
        (s.start, s.end, u) for s in sched.final(a, b) for u in s.users
    )


def test_floating_and_all_day_events_use_the_feed_zone() -> None:
    feed = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
X-WR-TIMEZONE:Europe/Paris
BEGIN:VEVENT
UID:f@test
DTSTAMP:20260101T000000Z
DTSTART:20260329T000000
DTEND:20260330T000000
SUMMARY:ana; bob
END:VEVENT
BEGIN:VEVENT
UID:d@test
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20260401
SUMMARY:Bob
END:VEVENT
END:VCALENDAR
"""
    res = import_layer(feed, "f", DIRECTORY, p(2026, 3, 1), p(2026, 5, 1))
    spans = [(s.start, s.end, s.users) for s in res.layer.events]
    assert spans == [
        (p(2026, 3, 29), p(2026, 3, 30), ("ana", "bob")),  # 23 real hours: the spring change
        (p(2026, 4, 1), p(2026, 4, 2), ("bob",)),
    ]
    assert spans[0][1] - spans[0][0] == 23 * 3600
