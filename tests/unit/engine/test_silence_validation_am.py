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
