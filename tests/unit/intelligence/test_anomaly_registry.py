"""Per-series detector registry: routing, LRU bound, whole-registry state round trip."""

from __future__ import annotations

import json
import math

import pytest

from tocsin.intelligence.anomaly import SeriesDetectors, StateError, compact_detector


def _points(n: int, offset: float) -> list[tuple[float, float]]:
    return [(1_400_000_000.0 + 60.0 * i, offset + math.sin(i / 10.0) + (i % 7) * 0.1) for i in range(n)]


def test_series_are_independent_and_state_round_trips() -> None:
    registry = SeriesDetectors(compact_detector)
    a, b = _points(600, 0.0), _points(600, 100.0)
    for (ta, xa), (tb, xb) in zip(a[:400], b[:400], strict=True):
        registry.update("a", ta, xa)
        registry.update("b", tb, xb)
    alone = compact_detector()
    for t, x in a[:400]:
        alone.update(t, x)
    restored = SeriesDetectors.from_state(json.loads(json.dumps(registry.to_state())), compact_detector)
    for t, x in a[400:]:
        expected = alone.update(t, x)
        assert registry.update("a", t, x) == expected  # b's points never touched a's detector
        assert restored.update("a", t, x) == expected


def test_least_recently_used_series_is_evicted() -> None:
    registry = SeriesDetectors(compact_detector, max_series=2)
    registry.update("a", 0.0, 1.0)
    registry.update("b", 0.0, 1.0)
    registry.update("a", 60.0, 1.0)  # a is now the most recent
    registry.update("c", 0.0, 1.0)
    assert "b" not in registry and "a" in registry and "c" in registry
    assert registry.evicted == 1 and len(registry) == 2


def test_bad_input() -> None:
    registry = SeriesDetectors(compact_detector)
    with pytest.raises(ValueError, match="series key must be"):
        registry.update("", 0.0, 1.0)
    with pytest.raises(ValueError, match="max_series must be"):
        SeriesDetectors(compact_detector, max_series=0)
    with pytest.raises(StateError, match="'series' list"):
        SeriesDetectors.from_state({}, compact_detector)
    with pytest.raises(StateError, match="series entry must be"):
        SeriesDetectors.from_state({"series": [["a"]]}, compact_detector)
