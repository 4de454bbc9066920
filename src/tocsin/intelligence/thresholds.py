"""Self-tuning alert thresholds: one per series, adapting online without an oracle.

Three forces set the threshold:

* the score history: a streaming estimate of a high quantile of the series' own scores, so a
  noisy series needs a stronger score to alert than a quiet one;
* feedback: an alert acknowledged as noise raises the threshold, a missed incident lowers it
  (multiplicative steps in "excess over the quantile", bounded by a floor and a ceiling);
* a cap on alert rate: at most ``max_alerts`` alerts per ``rate_window`` seconds, and a cooldown
  after each alert, because an alert storm from one series is worse than a late alert.

Everything is O(1) per point and the state (a few floats plus at most ``max_alerts`` recent alert
times) serialises to a small JSON-able dict.
"""

from __future__ import annotations

import math
from typing import Any, Self


class AdaptiveThreshold:
    """Decides, point by point, whether a series' anomaly score should raise an alert."""

    def __init__(
        self,
        quantile: float = 0.999,
        initial: float = 0.3,
        margin: float = 0.02,
        floor: float = 0.2,
        ceiling: float = 1.0,
        quantile_step: float = 0.01,
        noise_step: float = 0.05,
        missed_step: float = 0.05,
        max_alerts: int = 3,
        rate_window: float = 86_400.0,
        cooldown: float = 3_600.0,
    ) -> None:
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
        if not 0.0 <= floor <= ceiling <= 1.0:
            raise ValueError(f"need 0 <= floor <= ceiling <= 1, got floor={floor!r} ceiling={ceiling!r}")
        if not floor <= initial <= ceiling:
            raise ValueError(f"initial must lie between floor and ceiling, got {initial!r}")
        for name, v in (
            ("quantile_step", quantile_step),
            ("noise_step", noise_step),
            ("missed_step", missed_step),
        ):
            if not 0.0 < v < 1.0:
                raise ValueError(f"{name} must be in (0, 1), got {v!r}")
        if max_alerts < 1:
            raise ValueError(f"max_alerts must be at least 1, got {max_alerts!r}")
        if rate_window <= 0 or cooldown < 0:
            raise ValueError(
                f"rate_window must be positive and cooldown non-negative, got {rate_window!r}, {cooldown!r}"
            )
        self.quantile, self.margin, self.floor, self.ceiling = quantile, margin, floor, ceiling
        self.quantile_step, self.noise_step, self.missed_step = quantile_step, noise_step, missed_step
        self.max_alerts, self.rate_window, self.cooldown = max_alerts, rate_window, cooldown
        self.level = initial - margin  # running quantile estimate of the scores
        self.offset = margin  # feedback-driven excess over the quantile
        self.recent: list[float] = []  # times of the alerts inside the rate window, oldest first
        self.suppressed = 0

    @property
    def threshold(self) -> float:
        return min(max(self.level + self.offset, self.floor), self.ceiling)

    def observe(self, t: float, score: float) -> bool:
        """Learn the score and say whether it raises an alert at time ``t`` (epoch seconds)."""
        if not math.isfinite(score) or not 0.0 <= score <= 1.0:
            raise ValueError(f"score must be a number in [0, 1], got {score!r}")
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite epoch seconds, got {t!r}")
        fire = score >= self.threshold
        # Stochastic quantile tracking: up by q on exceedance, down by 1-q otherwise, so the
        # estimate settles where a fraction 1-q of scores lie above it.
        if score > self.level:
            self.level += self.quantile_step * self.quantile
        else:
            self.level -= self.quantile_step * (1.0 - self.quantile)
        self.level = min(max(self.level, 0.0), 1.0)
        if not fire:
            return False
        while self.recent and self.recent[0] <= t - self.rate_window:
            self.recent.pop(0)
        if self.recent and t - self.recent[-1] < self.cooldown:
            return False
        if len(self.recent) >= self.max_alerts:
            self.suppressed += 1
            return False
        self.recent.append(t)
        return True

    def feedback_noise(self) -> None:
        """An alert was acknowledged as noise: demand a stronger score next time."""
        self.offset += self.noise_step * (1.0 - self.threshold) + self.noise_step * self.margin

    def feedback_missed(self) -> None:
        """An incident happened that no alert caught: accept weaker scores next time."""
        self.offset -= self.missed_step * (self.threshold - self.floor) + self.missed_step * self.margin
        self.offset = max(self.offset, self.floor - self.level)

    def to_state(self) -> dict[str, Any]:
        return {
            "params": {
                "quantile": self.quantile,
                "margin": self.margin,
                "floor": self.floor,
                "ceiling": self.ceiling,
                "quantile_step": self.quantile_step,
                "noise_step": self.noise_step,
                "missed_step": self.missed_step,
                "max_alerts": self.max_alerts,
                "rate_window": self.rate_window,
                "cooldown": self.cooldown,
            },
            "level": self.level,
            "offset": self.offset,
            "recent": list(self.recent),
            "suppressed": self.suppressed,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        try:
            params = dict(state["params"])
            obj = cls(**params, initial=min(max(params["floor"], 0.5), params["ceiling"]))
            obj.level, obj.offset = float(state["level"]), float(state["offset"])
            obj.recent = [float(t) for t in state["recent"]]
            obj.suppressed = int(state["suppressed"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad threshold state: {exc!r}") from exc
        return obj
