"""On-call schedules: rotations across DST changes, restrictions, layers, overrides, holidays."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from tocsin.incidents.holidays_cal import HolidayCalendar
from tocsin.incidents.schedules import Layer, OverlapError, Override, Restriction, Schedule, TurnUnit

PARIS = ZoneInfo("Europe/Paris")
NY = ZoneInfo("America/New_York")


def ts(tz: ZoneInfo, *args: int, fold: int = 0) -> float:
    return datetime(*args, tzinfo=tz, fold=fold).timestamp()  # type: ignore[misc]


def local(t: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(t, UTC).astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def daily(tz: str, start: datetime, users: tuple[str, ...] = ("ana", "bob"), **kw: object) -> Layer:
    return Layer("daily", tz, start, 1, TurnUnit.DAYS, tuple((u,) for u in users), **kw)  # type: ignore[arg-type]


def handoffs(
    schedule: Schedule, a: float, b: float, tz: ZoneInfo
) -> list[tuple[str, str, float, tuple[str, ...]]]:
    return [(local(s.start, tz), local(s.end, tz), s.duration / 3600, s.users) for s in schedule.final(a, b)]


@pytest.mark.parametrize(
    ("tz_name", "day_before", "change_day", "hours"),
    [
        ("Europe/Paris", (2026, 3, 28), (2026, 3, 29), 23),  # spring forward
        ("Europe/Paris", (2026, 10, 24), (2026, 10, 25), 25),  # fall back
        ("America/New_York", (2026, 3, 7), (2026, 3, 8), 23),
        ("America/New_York", (2026, 10, 31), (2026, 11, 1), 25),
    ],
)
def test_daily_handoff_keeps_wall_clock_across_dst(
    tz_name: str, day_before: tuple[int, int, int], change_day: tuple[int, int, int], hours: int
) -> None:
    tz = ZoneInfo(tz_name)
    layer = daily(tz_name, datetime(2026, 1, 1, 9, 0))
    sched = Schedule("s", tz_name, [layer])
    a = ts(tz, *day_before, 9)
    b = ts(tz, change_day[0], change_day[1], change_day[2] + 1, 9)
    segs = sched.final(a, b)
    assert [local(s.start, tz)[11:16] for s in segs] == ["09:00", "09:00"]
    # The turn that contains the change is one hour shorter (spring) or longer (autumn).
    assert segs[0].duration == hours * 3600
    assert segs[1].duration == 24 * 3600
    assert segs[0].end == segs[1].start  # no gap, no overlap
    assert segs[0].users != segs[1].users


def test_paris_daily_rotation_users_and_utc_instants() -> None:
    sched = Schedule("p", "Europe/Paris", [daily("Europe/Paris", datetime(2026, 3, 27, 9))])
    segs = sched.final(ts(PARIS, 2026, 3, 27, 9), ts(PARIS, 2026, 3, 31, 9))
    assert [s.users for s in segs] == [("ana",), ("bob",), ("ana",), ("bob",)]
    # 09:00 CET is 08:00 UTC before the change and 07:00 UTC after it.
    utc_hours = [datetime.fromtimestamp(s.start, UTC).hour for s in segs]
    assert utc_hours == [8, 8, 7, 7]


def test_handoff_in_spring_gap_moves_to_first_valid_instant() -> None:
    # 02:30 does not exist in Paris on 29 Mar 2026: the handoff happens at 03:30 CEST (01:30 UTC).
    sched = Schedule("p", "Europe/Paris", [daily("Europe/Paris", datetime(2026, 3, 1, 2, 30))])
    segs = sched.final(ts(PARIS, 2026, 3, 28, 12), ts(PARIS, 2026, 3, 30, 12))
    starts = [local(s.start, PARIS) for s in segs]
    assert starts == ["2026-03-28 12:00 CET", "2026-03-29 03:30 CEST", "2026-03-30 02:30 CEST"]
    assert datetime.fromtimestamp(segs[1].start, UTC).strftime("%H:%M") == "01:30"
    assert segs[0].end == segs[1].start and segs[1].end == segs[2].start


def test_handoff_in_autumn_fold_uses_first_occurrence() -> None:
    # 01:30 happens twice in New York on 1 Nov 2026: the handoff is the first one (EDT, 05:30 UTC).
    sched = Schedule("n", "America/New_York", [daily("America/New_York", datetime(2026, 10, 1, 1, 30))])
    segs = sched.final(ts(NY, 2026, 10, 31, 12), ts(NY, 2026, 11, 2, 12))
    assert local(segs[1].start, NY) == "2026-11-01 01:30 EDT"
    assert datetime.fromtimestamp(segs[1].start, UTC).strftime("%H:%M") == "05:30"
    assert segs[1].duration == 25 * 3600  # first 01:30 EDT to 01:30 EST the next day


def test_weekly_rotation_new_york_november_and_march() -> None:
    layer = Layer("w", "America/New_York", datetime(2026, 10, 26, 9), 1, TurnUnit.WEEKS, (("ana",), ("bob",)))
    sched = Schedule("n", "America/New_York", [layer])
    segs = sched.final(ts(NY, 2026, 10, 26, 9), ts(NY, 2026, 11, 9, 9))
    assert [local(s.start, NY) for s in segs] == ["2026-10-26 09:00 EDT", "2026-11-02 09:00 EST"]
    assert segs[0].duration == (7 * 24 + 1) * 3600
    # March: the turn containing 8 Mar is an hour short and the handoff stays at Monday 09:00.
    assert local(layer.turn_start(19), NY) == "2027-03-08 09:00 EST"
    march = Layer("w", "America/New_York", datetime(2026, 3, 2, 9), 1, TurnUnit.WEEKS, (("ana",),))
    assert march.turn_start(1) - march.turn_start(0) == (7 * 24 - 1) * 3600
    assert local(march.turn_start(1), NY) == "2026-03-09 09:00 EDT"


def test_twelve_hour_rotation_stays_at_nine_and_twenty_one() -> None:
    layer = Layer("h", "Europe/Paris", datetime(2026, 10, 23, 9), 12, TurnUnit.HOURS, (("ana",), ("bob",)))
    sched = Schedule("p", "Europe/Paris", [layer])
    segs = sched.final(ts(PARIS, 2026, 10, 24, 9), ts(PARIS, 2026, 10, 26, 9))
    assert [local(s.start, PARIS)[11:16] for s in segs] == ["09:00", "21:00", "09:00", "21:00"]
    assert [s.duration / 3600 for s in segs] == [12, 13, 12, 12]
    assert [s.users for s in segs] == [("ana",), ("bob",), ("ana",), ("bob",)]


def test_turn_index_is_consistent_for_random_instants() -> None:
    rng = random.Random(7)
    for unit, length in ((TurnUnit.HOURS, 8), (TurnUnit.DAYS, 1), (TurnUnit.DAYS, 3), (TurnUnit.WEEKS, 2)):
        for tz in ("Europe/Paris", "America/New_York"):
            layer = Layer("x", tz, datetime(2026, 1, 5, 2, 30), length, unit, (("a",), ("b",), ("c",)))
            for _ in range(200):
                t = ts(ZoneInfo("UTC"), 2026, 1, 1) + rng.uniform(-30, 700) * 86400
                k = layer.turn_index_at(t)
                assert layer.turn_start(k) <= t < layer.turn_start(k + 1)


def test_restriction_to_office_hours_across_dst() -> None:
    office = Restriction(frozenset(range(5)), time(9), time(18))
    layer = daily("Europe/Paris", datetime(2026, 3, 23, 9), users=("ana",), restrictions=(office,))
    sched = Schedule("p", "Europe/Paris", [layer])
    segs = sched.final(ts(PARIS, 2026, 3, 27, 0), ts(PARIS, 2026, 3, 31, 0))
    assert [(local(s.start, PARIS), local(s.end, PARIS)) for s in segs] == [
        ("2026-03-27 09:00 CET", "2026-03-27 18:00 CET"),
        ("2026-03-30 09:00 CEST", "2026-03-30 18:00 CEST"),
    ]
    assert sched.on_call_at(ts(PARIS, 2026, 3, 28, 12)) == ()  # Saturday: a gap
    assert sched.gaps(ts(PARIS, 2026, 3, 27, 0), ts(PARIS, 2026, 3, 27, 12)) == [
        (ts(PARIS, 2026, 3, 27, 0), ts(PARIS, 2026, 3, 27, 9))
    ]


def test_overnight_restriction() -> None:
    nights = Restriction(frozenset(range(7)), time(18), time(9))
    layer = daily("Europe/Paris", datetime(2026, 3, 1, 9), users=("bob",), restrictions=(nights,))
    sched = Schedule("p", "Europe/Paris", [layer])
    assert sched.on_call_at(ts(PARIS, 2026, 3, 10, 23)) == ("bob",)
    assert sched.on_call_at(ts(PARIS, 2026, 3, 10, 8, 59)) == ("bob",)
    assert sched.on_call_at(ts(PARIS, 2026, 3, 10, 12)) == ()


def test_later_layer_wins_and_lower_layer_shows_through() -> None:
    base = daily("Europe/Paris", datetime(2026, 3, 2, 9), users=("ana",))
    office = Layer(
        "office",
        "Europe/Paris",
        datetime(2026, 3, 2, 9),
        1,
        TurnUnit.DAYS,
        (("carla",),),
        (Restriction(frozenset(range(5)), time(9), time(18)),),
    )
    sched = Schedule("p", "Europe/Paris", [base, office])
    assert sched.on_call_at(ts(PARIS, 2026, 3, 10, 12)) == ("carla",)
    assert sched.on_call_at(ts(PARIS, 2026, 3, 10, 20)) == ("ana",)
    assert sched.on_call_at(ts(PARIS, 2026, 3, 14, 12)) == ("ana",)  # Saturday


def test_several_people_per_turn() -> None:
    layer = Layer("pair", "UTC", datetime(2026, 3, 2), 1, TurnUnit.WEEKS, (("ana", "bob"), ("carla",)))
    sched = Schedule("p", "UTC", [layer])
    assert sched.on_call_at(ts(ZoneInfo("UTC"), 2026, 3, 3)) == ("ana", "bob")
    assert sched.on_call_at(ts(ZoneInfo("UTC"), 2026, 3, 10)) == ("carla",)


def test_override_wins_and_is_cut_to_its_window() -> None:
    layer = daily("Europe/Paris", datetime(2026, 3, 2, 9))
    ov = Override("dan", ts(PARIS, 2026, 3, 10, 18), ts(PARIS, 2026, 3, 11, 9))
    sched = Schedule("p", "Europe/Paris", [layer], [ov])
    segs = sched.final(ts(PARIS, 2026, 3, 10, 9), ts(PARIS, 2026, 3, 11, 12))
    assert [(local(s.start, PARIS)[5:16], s.users, s.source) for s in segs] == [
        ("03-10 09:00", ("ana",), "daily"),
        ("03-10 18:00", ("dan",), "override"),
        ("03-11 09:00", ("bob",), "daily"),
    ]


def test_overlapping_overrides_are_refused() -> None:
    a = Override("dan", ts(PARIS, 2026, 3, 10, 18), ts(PARIS, 2026, 3, 11, 9))
    b = Override("ana", ts(PARIS, 2026, 3, 11, 8), ts(PARIS, 2026, 3, 11, 12))
    with pytest.raises(OverlapError, match=r"override for 'ana' .* overlaps the override for 'dan'"):
        Schedule("p", "Europe/Paris", [], [a, b])
    sched = Schedule("p", "Europe/Paris", [], [a])
    with pytest.raises(OverlapError, match="overlaps"):
        sched.add_override(b)
    # Touching overrides are fine (end is exclusive).
    sched.add_override(Override("ana", ts(PARIS, 2026, 3, 11, 9), ts(PARIS, 2026, 3, 11, 12)))
    assert len(sched.overrides) == 2


def test_layer_skips_public_holidays_and_lower_layer_covers() -> None:
    base = daily("Europe/Paris", datetime(2026, 7, 6, 9), users=("ana",))
    office = Layer(
        "office",
        "Europe/Paris",
        datetime(2026, 7, 6, 9),
        1,
        TurnUnit.DAYS,
        (("carla",),),
        (Restriction(frozenset(range(5)), time(9), time(18)),),
        skip_holidays=HolidayCalendar("FR"),
    )
    sched = Schedule("p", "Europe/Paris", [base, office])
    assert sched.on_call_at(ts(PARIS, 2026, 7, 13, 12)) == ("carla",)  # Monday
    assert sched.on_call_at(ts(PARIS, 2026, 7, 14, 12)) == ("ana",)  # Bastille Day, a Tuesday
    assert sched.on_call_at(ts(PARIS, 2026, 7, 15, 12)) == ("carla",)


def test_us_holiday_subdivision_and_observed_day() -> None:
    cal = HolidayCalendar("US", "NY")
    assert cal.is_holiday(datetime(2026, 7, 3).date())  # 4 July is a Saturday: observed Friday
    assert not cal.is_holiday(datetime(2026, 7, 6).date())


def test_layer_before_start_and_after_end() -> None:
    layer = daily("UTC", datetime(2026, 3, 10, 9), users=("ana",), end=ts(ZoneInfo("UTC"), 2026, 3, 12, 9))
    sched = Schedule("u", "UTC", [layer])
    assert sched.on_call_at(ts(ZoneInfo("UTC"), 2026, 3, 10, 8)) == ()
    assert sched.on_call_at(ts(ZoneInfo("UTC"), 2026, 3, 11, 8)) == ("ana",)
    assert sched.on_call_at(ts(ZoneInfo("UTC"), 2026, 3, 12, 9)) == ()


@pytest.mark.parametrize("bad", ["Europe/Pariss", "Mars/Olympus", "", "../etc/passwd"])
def test_invalid_time_zone_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid time zone"):
        Schedule("p", bad)
    with pytest.raises(ValueError, match="invalid time zone"):
        daily(bad, datetime(2026, 1, 1))


def test_bad_layers_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Layer("x", "UTC", datetime(2026, 1, 1), 0, TurnUnit.DAYS, (("a",),))
    with pytest.raises(ValueError, match="at least one user"):
        Layer("x", "UTC", datetime(2026, 1, 1), 1, TurnUnit.DAYS, ((),))
    with pytest.raises(ValueError, match="end must be after start"):
        Override("a", 10.0, 10.0)
