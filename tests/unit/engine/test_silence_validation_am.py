"""Silence validation rules as Alertmanager applies them (found by the real-peer comparison)."""

from __future__ import annotations

import pytest

from tocsin.engine.silences import Silence, SilenceError, validate
from tocsin.matchers import Matcher, MatchType

NOW = 1_700_000_000.0


def _silence(*matchers: Matcher) -> Silence:
    return Silence(matchers=list(matchers), starts_at=NOW, ends_at=NOW + 3600, created_by="t", comment="c")


def test_negative_matcher_counts_as_not_matching_empty() -> None:
    # alertname="" matches the empty value, job!="x" is negative: Alertmanager accepts this.
    validate(_silence(Matcher.create("alertname", MatchType.EQUAL, ""), Matcher.create("job", "!=", "x")))
    validate(_silence(Matcher.create("job", MatchType.NOT_REGEX, "a.*")))


@pytest.mark.parametrize(
    "matchers",
    [
        [("alertname", "=", "")],
        [("alertname", "=~", ".*")],
        [("alertname", "=~", "a|"), ("job", "=", "")],
    ],
)
def test_only_positive_matchers_matching_empty_are_refused(matchers: list[tuple[str, str, str]]) -> None:
    with pytest.raises(SilenceError, match="must not match the empty string"):
        validate(_silence(*(Matcher.create(n, op, v) for n, op, v in matchers)))


def test_invalid_label_name_is_refused_with_its_position() -> None:
    with pytest.raises(SilenceError, match=r'invalid label matcher 1: invalid label name "0bad"'):
        validate(_silence(Matcher.create("alertname", "=", "X"), Matcher.create("0bad", "=", "y")))


def test_active_silence_update_compares_start_to_the_second() -> None:
    from tocsin.engine.silences import Silences

    store = Silences()
    first = _silence(Matcher.create("alertname", "=", "X"))
    sid, _ = store.set(first, NOW + 10)
    # Same second, different milliseconds, later end: updated in place.
    same, _ = store.set(
        Silence(
            matchers=first.matchers,
            starts_at=NOW + 10.123,  # stored start is NOW + 10 (creation time)
            ends_at=NOW + 7200,
            created_by="t",
            comment="c",
            id=sid,
        ),
        NOW + 20,
    )
    assert same == sid
    # A start in another second makes a new silence and expires the old one.
    other, _ = store.set(
        Silence(
            matchers=first.matchers,
            starts_at=NOW + 11.0,
            ends_at=NOW + 7200,
            created_by="t",
            comment="c",
            id=sid,
        ),
        NOW + 30,
    )
    assert other != sid
    assert store.get(sid).state(NOW + 31) == "expired"
