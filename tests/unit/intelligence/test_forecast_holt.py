"""Holt forecasting: intervals, threshold crossing of a synthetic trend, state, bad input."""

from __future__ import annotations

import json
import math
import random

import pytest

from tocsin.intelligence.forecast import Crossing, HoltForecaster, format_duration


def _trend(seed: int, n: int = 600, slope: float = 0.05, noise: float = 0.5) -> HoltForecaster:
    rng = random.Random(seed)
    model = HoltForecaster()
    for i in range(n):
        model.learn_one(60.0 * i, 10.0 + slope * i + rng.gauss(0.0, noise))
    return model


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_crossing_of_linear_trend_lies_in_interval(seed: int) -> None:
    model = _trend(seed)
    crossing = model.crossing(60.0)
    assert crossing is not None
    true_eta = (1000 - 599) * 60.0  # 10 + 0.05 i reaches 60 at i = 1000; last point is i = 599
    assert crossing.earliest <= true_eta <= crossing.latest
    assert crossing.eta == pytest.approx(true_eta, rel=0.25)


def test_noise_free_trend_is_exact() -> None:
    model = _trend(0, noise=0.0)
    crossing = model.crossing(60.0)
    assert crossing is not None
    assert crossing.eta == pytest.approx(401 * 60.0, rel=1e-2)


def test_falling_series_and_no_crossing() -> None:
    model = _trend(1, slope=-0.05)
    down = model.crossing(-60.0, rising=False)
    assert down is not None and down.eta > 0
    assert model.crossing(1000.0) is None  # falling series never reaches a high threshold
    assert model.crossing(-1000.0, rising=False, limit=3600.0) is None  # too far away
    assert model.crossing(-100.0) == Crossing(0.0, 0.0, 0.0)  # already above


def test_interval_widens_with_horizon() -> None:
    model = _trend(2)
    near, far = model.forecast(600.0), model.forecast(36_000.0)
    assert near.lower < near.mean < near.upper
    assert far.upper - far.lower > near.upper - near.lower


def test_state_round_trip_and_description() -> None:
    model = _trend(3)
    copy = HoltForecaster.from_state(json.loads(json.dumps(model.to_state())))
    assert copy.crossing(60.0) == model.crossing(60.0)
    assert format_duration(3 * 3600 + 20 * 60) == "3 h 20 min"
    assert format_duration(50 * 60) == "50 min"
    assert format_duration(3 * 86400) == "3 d 0 h"
    text = Crossing(12_000.0, 10_200.0, math.inf).describe()
    assert text == "in 3 h 20 min, 90 % interval 2 h 50 min - never"


def test_bad_input() -> None:
    model = HoltForecaster()
    with pytest.raises(ValueError, match="at least 3 points"):
        model.forecast(60.0)
    model.learn_one(100.0, 1.0)
    with pytest.raises(ValueError, match="must not go backwards"):
        model.learn_one(50.0, 1.0)
    with pytest.raises(ValueError, match="finite number"):
        model.learn_one(200.0, float("nan"))
    with pytest.raises(ValueError, match="alpha must be in"):
        HoltForecaster(alpha=2.0)
    with pytest.raises(ValueError, match="horizon must be positive"):
        _trend(1).forecast(0.0)
