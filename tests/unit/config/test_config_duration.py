"""Prometheus duration syntax, both directions."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.config import ConfigError, format_duration, load_config_text, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("0s", 0.0),
        ("30s", 30.0),
        ("5m", 300.0),
        ("90m", 5400.0),
        ("1h30m", 5400.0),
        ("4h", 14400.0),
        ("7ms", 0.007),
        ("2w", 14 * 86400.0),
        ("1y", 365 * 86400.0),
        ("1y2w3d4h5m6s7ms", (365 + 14 + 3) * 86400 + 4 * 3600 + 5 * 60 + 6 + 0.007),
    ],
)
def test_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "1.5h", "30m1h", "1h 30m", "-1s", "1H", "s", "1d1d", "10q"])
def test_parse_rejects_with_the_text_named(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration") as e:
        parse_duration(text)
    assert repr(text) in str(e.value)


def test_parse_rejects_non_strings() -> None:
    with pytest.raises(ValueError, match="expected a string"):
        parse_duration(30)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0s"),
        (30.0, "30s"),
        (5400.0, "1h30m"),
        (14400.0, "4h"),
        (90 * 86400.0, "90d"),  # not 12w6d: weeks and years only when exact
        (14 * 86400.0, "2w"),
        (365 * 86400.0, "1y"),
        (0.007, "7ms"),
        (61.5, "1m1s500ms"),
    ],
)
def test_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


def test_config_durations_need_a_unit() -> None:
    with pytest.raises(ConfigError) as e:
        load_config_text(
            "route:\n  receiver: r\n  group_wait: 30\nreceivers: [{name: r}]\n", filename="c.yml"
        )
    assert str(e.value) == "c.yml:3: route.group_wait: invalid duration 30: a unit is required, e.g. '30s'"


def test_config_duration_zero_without_unit_is_allowed() -> None:
    cfg = load_config_text("route:\n  receiver: r\n  group_wait: 0\nreceivers: [{name: r}]\n")
    assert cfg.route.group_wait == 0.0


@settings(derandomize=True, max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=10 * 365 * 86400 * 1000))
def test_format_parse_round_trip(ms: int) -> None:
    seconds = ms / 1000
    assert parse_duration(format_duration(seconds)) == pytest.approx(seconds)
