"""Self-tuning thresholds: quantile tracking, feedback direction, rate cap, cooldown, state."""

from __future__ import annotations

import json
import random

import pytest

from tocsin.intelligence.thresholds import AdaptiveThreshold


def _warm(th: AdaptiveThreshold, n: int = 5000, seed: int = 3) -> None:
    rng = random.Random(seed)
    for i in range(n):
        th.observe(float(i * 60), rng.random() * 0.15)


def test_threshold_follows_score_history() -> None:
    quiet, noisy = AdaptiveThreshold(), AdaptiveThreshold()
    rng = random.Random(1)
    for i in range(50000):
        quiet.observe(float(i), rng.random() * 0.1)
        noisy.observe(float(i), rng.random() * 0.8)
    assert quiet.threshold == pytest.approx(quiet.base)  # calm series: the detector's own calibration
    assert noisy.threshold > 0.7  # a series that keeps scoring high must score higher still to alert


def test_noise_feedback_raises_and_missed_feedback_lowers() -> None:
    th = AdaptiveThreshold()
    _warm(th)
    base = th.threshold
    th.feedback_noise()
    raised = th.threshold
    assert raised > base
    th.feedback_missed()
    th.feedback_missed()
    assert th.threshold < raised
    for _ in range(200):
        th.feedback_missed()
    assert th.threshold >= th.floor
    for _ in range(200):
        th.feedback_noise()
    assert th.threshold <= th.ceiling


def test_rate_cap_and_cooldown_bound_alerts() -> None:
    th = AdaptiveThreshold(max_alerts=2, rate_window=3600.0, cooldown=600.0, quantile_step=0.0)
    fired = [th.observe(float(t), 1.0) for t in range(0, 3600, 60)]
    assert sum(fired) == 2
    assert fired.index(True) == 0
    assert th.suppressed > 0
    assert th.threshold > th.base  # hitting the cap raised the bar ...
    assert th.observe(3600.0 + 60.0, 1.0)  # ... and the window has rolled on


def test_offset_relaxes_over_time() -> None:
    th = AdaptiveThreshold(relax_half_life=1000.0, quantile_step=0.0)
    th.observe(0.0, 0.0)
    for _ in range(10):
        th.feedback_noise()
    raised = th.threshold - th.base
    th.observe(1000.0, 0.0)
    assert th.threshold - th.base == pytest.approx(raised / 2)


def test_state_round_trip() -> None:
    th = AdaptiveThreshold()
    _warm(th, 3000)
    th.feedback_noise()
    copy = AdaptiveThreshold.from_state(json.loads(json.dumps(th.to_state())))
    rng = random.Random(9)
    seq = [(float(100_000 + 60 * i), rng.random()) for i in range(2000)]
    assert [th.observe(t, s) for t, s in seq] == [copy.observe(t, s) for t, s in seq]


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="quantile must be in"):
        AdaptiveThreshold(quantile=1.5)
    with pytest.raises(ValueError, match="base must lie between"):
        AdaptiveThreshold(base=0.05)
    with pytest.raises(ValueError, match="floor <= ceiling"):
        AdaptiveThreshold(floor=0.9, ceiling=0.5)
    with pytest.raises(ValueError, match="score must be a number in"):
        AdaptiveThreshold().observe(0.0, 1.5)
    with pytest.raises(ValueError, match="bad threshold state"):
        AdaptiveThreshold.from_state({"level": 0.1})
