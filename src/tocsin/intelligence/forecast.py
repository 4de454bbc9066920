"""Failure prediction: forecast a series and say when it will cross a threshold.

The forecaster is Holt's linear exponential smoothing (ETS(A,A,N)) updated one point at a time,
with the textbook h-step error variance of that model, so every forecast carries a prediction
interval. A crossing forecast turns that into "disk full in 3 h 20 min, 90 % interval 2 h 50 -
4 h": the central estimate is where the mean path crosses, the early end where the upper bound
does, the late end where the lower bound does (for a rising threshold; mirrored for a falling one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Self


@dataclass(frozen=True)
class Forecast:
    """Value expected ``horizon`` seconds after the last point, with a central interval."""

    horizon: float
    mean: float
    lower: float
    upper: float


@dataclass(frozen=True)
class Crossing:
    """Seconds from now until the threshold is crossed: central estimate and interval ends.

    ``latest`` is ``math.inf`` when the interval's far bound never crosses within the search limit.
    """

    eta: float
    earliest: float
    latest: float

    def describe(self, coverage: float = 0.9) -> str:
        late = "never" if math.isinf(self.latest) else format_duration(self.latest)
        return (
            f"in {format_duration(self.eta)}, {round(coverage * 100)} % interval "
            f"{format_duration(self.earliest)} - {late}"
        )


def format_duration(seconds: float) -> str:
    """Human duration such as ``3 h 20 min`` (minutes precision, days past 48 h)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration must be finite and non-negative, got {seconds!r}")
    minutes = round(seconds / 60.0)
    days, rem = divmod(minutes, 24 * 60)
    hours, mins = divmod(rem, 60)
    if days >= 2:
        return f"{days} d {hours} h"
    hours += days * 24
    if hours:
        return f"{hours} h {mins} min" if mins else f"{hours} h"
    return f"{mins} min"


class HoltForecaster:
    """Streaming Holt linear smoothing over irregular-ish points (steps counted in points)."""

    def __init__(self, alpha: float = 0.1, beta: float = 0.01, coverage: float = 0.9) -> None:
        for name, v in (("alpha", alpha), ("beta", beta)):
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {v!r}")
        if not 0.0 < coverage < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
        self.alpha, self.beta, self.coverage = alpha, beta, coverage
        self.z = NormalDist().inv_cdf(0.5 + coverage / 2.0)
        self.n = 0
        self.level = 0.0
        self.trend = 0.0  # per point
        self.var = 0.0  # one-step error variance
        self.step = 0.0  # seconds per point, smoothed
        self.last_t = 0.0

    def learn_one(self, t: float, x: float) -> None:
        if not math.isfinite(x):
            raise ValueError(f"value must be a finite number, got {x!r}")
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite epoch seconds, got {t!r}")
        if self.n and t < self.last_t:
            raise ValueError(f"timestamps must not go backwards: {t!r} after {self.last_t!r}")
        self.n += 1
        if self.n == 1:
            self.level, self.last_t = x, t
            return
        dt = t - self.last_t
        # Repeated timestamps (clock adjustments in real data) still count as one step of time.
        self.step = dt if self.n == 2 else self.step + 0.05 * (dt - self.step)
        self.last_t = t
        predicted = self.level + self.trend
        error = x - predicted
        # The early variance is a plain average so the interval is honest before smoothing settles.
        a = max(0.01, 1.0 / (self.n - 1))
        self.var += a * (error * error - self.var)
        new_level = predicted + self.alpha * error
        self.trend += self.beta * (new_level - self.level - self.trend)
        self.level = new_level

    def _sd(self, h: float) -> float:
        # ETS(A,A,N): sigma_h^2 = sigma^2 [1 + (h-1)(alpha^2 + alpha*beta*h + beta^2*h(2h-1)/6)].
        a, b = self.alpha, self.beta
        factor = 1.0 + (h - 1.0) * (a * a + a * b * h + b * b * h * (2.0 * h - 1.0) / 6.0)
        return math.sqrt(max(self.var * factor, 0.0))

    def _ready(self) -> None:
        if self.n < 3:
            raise ValueError(f"need at least 3 points to forecast, have {self.n}")
        if self.step <= 0:
            raise ValueError("cannot forecast: the points seen so far span no time")

    def forecast(self, horizon: float) -> Forecast:
        """Value expected ``horizon`` seconds after the last point."""
        self._ready()
        if horizon <= 0:
            raise ValueError(f"horizon must be positive seconds, got {horizon!r}")
        h = max(horizon / self.step, 1.0)
        mean = self.level + h * self.trend
        half = self.z * self._sd(h)
        return Forecast(horizon, mean, mean - half, mean + half)

    def crossing(
        self, threshold: float, rising: bool = True, limit: float = 30 * 86_400.0
    ) -> Crossing | None:
        """When the series will reach ``threshold`` (from below if ``rising``), or None if the
        mean path does not reach it within ``limit`` seconds."""
        self._ready()
        sign = 1.0 if rising else -1.0
        level, trend, target = sign * self.level, sign * self.trend, sign * threshold
        if level >= target:
            return Crossing(0.0, 0.0, 0.0)
        if trend <= 0:
            return None
        max_h = limit / self.step
        h_mean = (target - level) / trend
        if h_mean > max_h:
            return None

        def first_h(offset_sign: float) -> float:
            # First step count at which mean + offset_sign * z * sd reaches the target: bisection
            # over a bracket found by doubling (the bound need not be monotone near h = 1).
            def reached(h: float) -> bool:
                return level + h * trend + offset_sign * self.z * self._sd(h) >= target

            if reached(1.0):
                return 1.0
            hi = 2.0
            while not reached(hi):
                hi *= 2.0
                if hi > max_h:
                    return math.inf
            lo = hi / 2.0
            for _ in range(60):
                mid = (lo + hi) / 2.0
                if reached(mid):
                    hi = mid
                else:
                    lo = mid
            return hi

        early, late = first_h(+1.0), first_h(-1.0)
        return Crossing(h_mean * self.step, min(early, h_mean) * self.step, max(late, h_mean) * self.step)

    def to_state(self) -> dict[str, Any]:
        return {
            "params": {"alpha": self.alpha, "beta": self.beta, "coverage": self.coverage},
            "n": self.n,
            "level": self.level,
            "trend": self.trend,
            "var": self.var,
            "step": self.step,
            "last_t": self.last_t,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        try:
            obj = cls(**state["params"])
            obj.n, obj.level, obj.trend = int(state["n"]), float(state["level"]), float(state["trend"])
            obj.var, obj.step, obj.last_t = float(state["var"]), float(state["step"]), float(state["last_t"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad forecaster state: {exc!r}") from exc
        return obj
