"""Likelihood post-processing: turn a detector's raw surprise into a tail probability.

Raw surprise is not comparable across series (a z of 5 is routine for a bursty counter and
unheard of for a thermostat). Following the idea behind Numenta's anomaly likelihood, the
post-processor learns the distribution of each series' own recent raw scores (a short average
against a long exponentially weighted mean and variance) and reports how improbable the current
short average is. The score is the negative log tail probability L squashed as L / (L + 20), so
very small probabilities stay distinguishable (and ordered) instead of all rounding to 1.0.
"""

from __future__ import annotations

import math

from tocsin.intelligence.anomaly.base import Detector, State

_LOG_TAIL_HALF = 20.0  # -ln(tail) that maps to score 0.5 (a tail probability of about 2e-9)
_SQRT2 = math.sqrt(2.0)
_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def neg_log_tail(z: float) -> float:
    """-ln P(Z > z) for a standard normal Z, accurate far into the tail where erfc underflows."""
    if z < 8.0:
        return -math.log(0.5 * math.erfc(z / _SQRT2))
    # Mills-ratio asymptotic series; at z >= 8 its truncation error is below 1e-5.
    inv2 = 1.0 / (z * z)
    series = 1.0 - inv2 + 3.0 * inv2 * inv2 - 15.0 * inv2 * inv2 * inv2
    return 0.5 * z * z + math.log(z) + _LN_SQRT_2PI - math.log(series)


class Likelihood(Detector):
    """Wraps a detector; scores how unlikely its recent raw scores are for this series."""

    kind = "likelihood"

    def __init__(self, inner: Detector, short: float = 0.2, long: float = 0.001, warmup: int = 200) -> None:
        if not isinstance(inner, Detector):
            raise TypeError(f"inner must be a Detector, got {type(inner).__name__}")
        for name, a in (("short", short), ("long", long)):
            if not 0.0 < a <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {a!r}")
        self.inner, self.short, self.long, self.warmup = inner, short, long, warmup
        self.n = 0
        self.avg = 0.0
        self.mean = 0.0
        self.var = 0.0

    def params(self) -> State:
        return {"inner": self.inner.to_state(), "short": self.short, "long": self.long, "warmup": self.warmup}

    def _dump(self) -> State:
        return {"n": self.n, "avg": self.avg, "mean": self.mean, "var": self.var}

    def _load(self, state: State) -> None:
        self.n, self.avg = int(state["n"]), float(state["avg"])
        self.mean, self.var = float(state["mean"]), float(state["var"])

    def _z(self, raw: float) -> float:
        avg = self.avg + self.short * (raw - self.avg)
        return (avg - self.mean) / (math.sqrt(self.var) + 1e-6 * (1.0 + abs(self.mean)))

    def raw_one(self, t: float, x: float) -> float:
        if self.n < self.warmup:
            self.inner.raw_one(t, x)  # still validates the input
            return 0.0
        return max(self._z(self.inner.raw_one(t, x)), 0.0)

    def score_one(self, t: float, x: float) -> float:
        z = self.raw_one(t, x)
        if z <= 0:
            return 0.0
        surprise = neg_log_tail(z)
        return surprise / (surprise + _LOG_TAIL_HALF)

    def learn_one(self, t: float, x: float) -> None:
        raw = self.inner.raw_one(t, x)
        self.inner.learn_one(t, x)
        self.n += 1
        self.avg += self.short * (raw - self.avg)
        a = max(self.long, 1.0 / self.n)
        d = self.avg - self.mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)
