"""Likelihood post-processing: turn a detector's raw surprise into a tail probability.

Two post-processors share the output scale: :class:`Likelihood` (a Gaussian fit of the raw
scores) and :class:`EmpiricalTail` (a decayed histogram of them, which tocsin's production
detectors use).

Raw surprise is not comparable across series (a z of 5 is routine for a bursty counter and
unheard of for a thermostat). Following the idea behind Numenta's anomaly likelihood, the
post-processor learns the distribution of each series' own recent raw scores (a short average
against a long exponentially weighted mean and variance) and reports how improbable the current
short average is. The score is the negative log tail probability L squashed as L / (L + 20), so
very small probabilities stay distinguishable (and ordered) instead of all rounding to 1.0.
"""

from __future__ import annotations

import math

from tocsin.intelligence.anomaly.base import HALF_RESCALE, Detector, State, check_half_decay, half

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


class EmpiricalTail(Detector):
    """Wraps a detector; scores by the empirical tail of the series' own recent raw scores.

    The Gaussian fit of :class:`Likelihood` is skewed by series whose raw scores are bursty; here
    the tail probability is read off a decayed histogram of log raw scores (fixed bins, so fixed
    memory), and a raw score beyond everything seen is rated rarer the further beyond it lies.
    Because the probability is relative to the series' own history, scores are comparable across
    series, which is what one shared threshold needs.
    """

    kind = "empirical_tail"
    _PER_OCTAVE = 4.0  # bins per doubling of (1 + raw)

    def __init__(
        self,
        inner: Detector,
        short: float = 0.2,
        decay: float = 0.9995,
        warmup: int = 200,
        bins: int = 32,
        half: bool = False,
    ) -> None:
        if not isinstance(inner, Detector):
            raise TypeError(f"inner must be a Detector, got {type(inner).__name__}")
        if not 0.0 < short <= 1.0:
            raise ValueError(f"short must be in (0, 1], got {short!r}")
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay!r}")
        if not 4 <= bins <= 256:
            raise ValueError(f"bins must be between 4 and 256, got {bins!r}")
        self.inner, self.short, self.decay, self.warmup = inner, short, decay, warmup
        # Raw scores past the last bin share it; beyond everything seen they are still ranked by
        # the extrapolation in neg_log_tail.
        self.bins = bins
        # half: counts rounded to half precision after every change (see base.half).
        self.half = half
        if half:
            check_half_decay(decay)
        self._rescale_at = HALF_RESCALE if half else 1e100
        self.n = 0
        self.avg = 0.0
        # Counts are kept in growing units (each new point weighs 1/decay more than the last)
        # so decaying costs O(1) per point; rescaled before the weights overflow.
        self.weight = 1.0
        self.total = 0.0
        self.counts = [0.0] * bins

    def params(self) -> State:
        params: State = {
            "inner": self.inner.to_state(),
            "short": self.short,
            "decay": self.decay,
            "warmup": self.warmup,
        }
        if self.half:
            params["half"] = True
        return params

    def _dump(self) -> State:
        return {
            "n": self.n,
            "avg": self.avg,
            "weight": self.weight,
            "total": self.total,
            "counts": list(self.counts),
        }

    def _load(self, state: State) -> None:
        counts = [float(c) for c in state["counts"]]
        if len(counts) != self.bins:
            raise ValueError(f"counts must hold {self.bins} bins, got {len(counts)}")
        self.n, self.avg = int(state["n"]), float(state["avg"])
        self.weight, self.total, self.counts = float(state["weight"]), float(state["total"]), counts

    def _position(self, raw: float) -> float:
        return math.log2(1.0 + raw) * self._PER_OCTAVE

    def neg_log_tail(self, raw: float) -> float:
        """-ln of the decayed fraction of past averaged raw scores at or above ``raw``."""
        u = self._position(raw)
        b = min(int(u), self.bins - 1)
        counts = self.counts
        above = sum(counts[b + 1 :]) + counts[b] * (1.0 - min(u - b, 1.0))
        p = (above + 0.5 * self.weight) / (self.total + 0.5 * self.weight)
        if above <= 0.0:
            top = max((i for i, c in enumerate(counts) if c > 0.0), default=-1) + 1
            p *= 2.0 ** -max(u - top, 0.0)
        # Rounding can make the summed bins exceed the running total by an ulp (p just above 1).
        return max(-math.log(p), 0.0)

    def raw_one(self, t: float, x: float) -> float:
        return self._surprise(self.inner.raw_one(t, x))

    def _surprise(self, raw: float) -> float:
        if self.n < self.warmup:
            return 0.0
        return self.neg_log_tail(self.avg + self.short * (raw - self.avg))

    def score_one(self, t: float, x: float) -> float:
        surprise = self.raw_one(t, x)
        return surprise / (surprise + _LOG_TAIL_HALF)

    def learn_one(self, t: float, x: float) -> None:
        raw = self.inner.raw_one(t, x)
        self.inner.learn_one(t, x)
        self._learn_raw(raw)

    def update(self, t: float, x: float) -> float:
        # The hot path: the inner detector judges the point once for both scoring and learning.
        raw = self.inner.raw_update(t, x)
        surprise = self._surprise(raw)
        self._learn_raw(raw)
        return surprise / (surprise + _LOG_TAIL_HALF)

    def _learn_raw(self, raw: float) -> None:
        self.n += 1
        self.avg += self.short * (raw - self.avg)
        b = min(int(self._position(self.avg)), self.bins - 1)
        self.counts[b] = half(self.counts[b] + self.weight) if self.half else self.counts[b] + self.weight
        self.total += self.weight
        self.weight /= self.decay
        if self.weight > self._rescale_at:
            scale = 1.0 / self.weight
            self.counts = [half(c * scale) if self.half else c * scale for c in self.counts]
            self.total *= scale
            self.weight = 1.0
