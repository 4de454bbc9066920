"""Streaming detectors: scores, bounded state, and serialisation round trips."""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Callable

import msgspec
import pytest

from tocsin.intelligence.anomaly import (
    ArResidual,
    Detector,
    EmpiricalTail,
    Ensemble,
    Likelihood,
    Refractory,
    RobustBaseline,
    Smoothed,
    StateError,
    compact_detector,
    detector_from_state,
    tocsin_detector,
)
from tocsin.intelligence.anomaly.base import half
from tocsin.intelligence.anomaly.likelihood import neg_log_tail
from tocsin.intelligence.anomaly.novelty import ContextNovelty

FACTORIES: dict[str, Callable[[], Detector]] = {
    "baseline": RobustBaseline,
    "ar": ArResidual,
    "novelty": ContextNovelty,
    "likelihood": lambda: Likelihood(RobustBaseline()),
    "tail": lambda: EmpiricalTail(ContextNovelty()),
    "ensemble": lambda: Ensemble([Likelihood(RobustBaseline()), Likelihood(ArResidual())]),
    "tocsin": tocsin_detector,
    "tocsin_float64": lambda: tocsin_detector(half=False),
    "compact": compact_detector,
    "smoothed": lambda: Smoothed(RobustBaseline(), alpha=0.2),
}


def _series(n: int, seed: int = 7) -> list[tuple[float, float]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = 1_400_000_000.0 + 300.0 * i
        value = 50.0 + 10.0 * math.sin(2 * math.pi * i / 288) + rng.gauss(0.0, 1.0)
        if i == n - 40:
            value += 60.0  # one clear spike near the end
        out.append((t, value))
    return out


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_round_trip_gives_identical_scores(name: str) -> None:
    points = _series(1500)
    original = FACTORIES[name]()
    for t, x in points[:1000]:
        original.update(t, x)
    state = json.loads(json.dumps(original.to_state()))  # must survive real JSON
    restored = detector_from_state(state)
    assert type(restored) is type(original)
    a = [original.update(t, x) for t, x in points[1000:]]
    b = [restored.update(t, x) for t, x in points[1000:]]
    assert a == b


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_scores_in_unit_interval_and_score_one_is_pure(name: str) -> None:
    detector = FACTORIES[name]()
    for t, x in _series(800):
        before = json.dumps(detector.to_state())
        s1 = detector.score_one(t, x)
        assert json.dumps(detector.to_state()) == before
        assert 0.0 <= s1 <= 1.0
        detector.learn_one(t, x)


@pytest.mark.parametrize("name", ["baseline", "likelihood"])
def test_spike_scores_above_everything_else(name: str) -> None:
    points = _series(2000)
    detector = FACTORIES[name]()
    scores = [detector.update(t, x) for t, x in points]
    spike = len(points) - 40
    assert scores[spike] == max(scores[500:])
    assert scores[spike] > 0.5


def _shifted() -> list[tuple[float, float]]:
    points = [(t, x + (30.0 if 1900 <= i < 1920 else 0.0)) for i, (t, x) in enumerate(_series(2000))]
    points[-40] = (points[-40][0], points[-39][1])  # drop the spike of _series
    return points


@pytest.mark.parametrize("name", ["tocsin", "compact"])
def test_level_shift_alerts_within_a_few_points_then_holds(name: str) -> None:
    detector = FACTORIES[name]()
    scores = [detector.update(t, x) for t, x in _shifted()]
    first = next(i for i in range(1900, 2000) if scores[i] >= 0.22)  # 0.22: the hold level
    assert first < 1910  # within the first half of the 20-point shift
    assert all(s == 0.0 for s in scores[first + 1 : first + 100])  # one alert per episode


@pytest.mark.parametrize("name", ["baseline", "likelihood", "novelty", "tail"])
def test_level_shift_scores_above_everything_else(name: str) -> None:
    # The short average of the tail post-processors trades single-point spikes for shifts that
    # last a few points, which is what most incidents look like.
    detector = FACTORIES[name]()
    scores = [detector.update(t, x) for t, x in _shifted()]
    assert max(scores[1900:1920]) == max(scores[600:])


def test_compact_detector_state_is_small() -> None:
    detector = compact_detector()
    for t, x in _series(3000):
        detector.update(t, x)
    # Stored as MessagePack (msgspec, the project's hot-path codec); JSON text is some 40 % larger.
    assert len(msgspec.msgpack.encode(detector.to_state())) < 2048


def _counts(state: object) -> list[float]:
    """Every decayed count in a serialised detector state (tables, histograms, use counts)."""
    out: list[float] = []
    if isinstance(state, dict):
        for key, value in state.items():
            if key in ("counts", "uses"):
                out.extend(value)
            elif key in ("unigram", "bigram"):
                out.extend(row[-1] for row in value)
            else:
                out.extend(_counts(value))
    elif isinstance(state, list):
        for value in state:
            out.extend(_counts(value))
    return out


def test_half_precision_detector_holds_every_count_at_half_precision() -> None:
    detector, wide = tocsin_detector(), tocsin_detector(half=False)
    points = _series(9000)  # long enough for several rescales of every growing unit
    for t, x in points:
        detector.update(t, x)
        wide.update(t, x)
    counts = _counts(detector.to_state())
    assert len(counts) > 200 and all(c == half(c) and 0.0 <= c < 65504.0 for c in counts)
    # The float64 variant really is different arithmetic (so the test above can fail).
    assert any(c >= 65504.0 or c != half(c) for c in _counts(wide.to_state()))


def test_half_rounds_to_nearest_even() -> None:
    assert half(1.0 + 2.0**-11) == 1.0  # a tie, to the even neighbour
    assert half(1.0 + 3.0 * 2.0**-11) == 1.0 + 2.0**-9
    assert half(2049.0) == 2048.0 and half(2051.0) == 2052.0
    assert half(1e-9) == 0.0


def test_half_precision_refuses_a_decay_that_could_overflow_it() -> None:
    with pytest.raises(ValueError, match="half-precision counts need decay"):
        ContextNovelty(decay=1.0, half=True)
    with pytest.raises(ValueError, match="half-precision counts need decay"):
        EmpiricalTail(ContextNovelty(), decay=0.9999, half=True)
    ContextNovelty(decay=1.0)  # float64 counts have no such limit


def test_refractory_damps_a_weaker_repeat() -> None:
    points = _series(2000)
    plain = Likelihood(RobustBaseline())
    damped = Refractory(Likelihood(RobustBaseline()), half_life=500.0, damp=0.0)
    t0 = points[1899][0]
    tail = [(t0 + 300, 200.0)] + [(t0 + 300 * (k + 2), 50.0) for k in range(30)] + [(t0 + 300 * 40, 120.0)]
    out: dict[str, list[float]] = {}
    for name, detector in (("plain", plain), ("damped", damped)):
        for t, x in points[:1900]:
            detector.update(t, x)
        out[name] = [detector.update(t, x) for t, x in tail]
    assert out["damped"][0] == out["plain"][0] > 0.5
    assert out["plain"][-1] > 0.3  # the repeat is anomalous on its own ...
    assert out["damped"][-1] == 0.0  # ... but weaker than the decayed memory of the first spike


def test_neg_log_tail_is_continuous_and_increasing() -> None:
    zs = [i / 10 for i in range(-30, 200)]
    values = [neg_log_tail(z) for z in zs]
    assert all(b > a for a, b in itertools.pairwise(values))
    assert neg_log_tail(7.999999) == pytest.approx(neg_log_tail(8.0), abs=1e-4)
    assert neg_log_tail(0.0) == pytest.approx(math.log(2.0))


def test_bad_input_is_rejected_with_a_reason() -> None:
    detector = RobustBaseline()
    with pytest.raises(ValueError, match="value must be a finite number"):
        detector.update(0.0, float("nan"))
    with pytest.raises(ValueError, match="timestamp must be finite"):
        detector.update(float("inf"), 1.0)
    with pytest.raises(ValueError, match="must be numbers"):
        detector.update(0.0, "12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="alpha must be in"):
        RobustBaseline(alpha=0.0)
    with pytest.raises(ValueError, match="lags must be between"):
        ArResidual(lags=0)
    with pytest.raises(StateError, match="unknown detector kind"):
        detector_from_state({"kind": "nope", "params": {}, "state": {}})
    with pytest.raises(StateError, match="must be a dict"):
        detector_from_state({"kind": "robust_baseline"})
    state = RobustBaseline().to_state()
    state["state"]["season"] = [0.0] * 3
    with pytest.raises(StateError, match="season must hold 48"):
        detector_from_state(state)
    with pytest.raises(StateError, match="not 'likelihood'"):
        Likelihood.from_state(RobustBaseline().to_state())
