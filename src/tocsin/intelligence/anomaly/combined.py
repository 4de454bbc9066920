"""Combining detectors: an ensemble of post-processed members, smoothed input, and refractory
suppression, plus the factories of tocsin's production detectors.

Operators (and NAB) care about the first alert of an episode; repeats inside the episode add
nothing and repeats after it are noise. The refractory wrapper damps any score that does not beat
a slowly decaying memory of the recent peak, so one episode yields one strong score.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from tocsin.intelligence.anomaly.base import Detector, State, check_point
from tocsin.intelligence.anomaly.likelihood import EmpiricalTail
from tocsin.intelligence.anomaly.novelty import ContextNovelty
from tocsin.intelligence.anomaly.resonance import FuzzyArt


class Ensemble(Detector):
    """The highest score of its members (each already calibrated to [0, 1])."""

    kind = "ensemble"

    def __init__(self, members: Sequence[Detector]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        for m in members:
            if not isinstance(m, Detector):
                raise TypeError(f"ensemble members must be Detectors, got {type(m).__name__}")
        self.members = list(members)

    def params(self) -> State:
        return {"members": [m.to_state() for m in self.members]}

    def _dump(self) -> State:
        return {}

    def _load(self, state: State) -> None:
        return None

    def raw_one(self, t: float, x: float) -> float:
        return max(m.raw_one(t, x) for m in self.members)

    def score_one(self, t: float, x: float) -> float:
        return max(m.score_one(t, x) for m in self.members)

    def learn_one(self, t: float, x: float) -> None:
        for m in self.members:
            m.learn_one(t, x)

    def update(self, t: float, x: float) -> float:
        best = 0.0
        for m in self.members:
            score = m.update(t, x)
            if score > best:
                best = score
        return best


class Smoothed(Detector):
    """Feeds its inner detector an exponentially weighted average of the values.

    A slow drift or a change in a noisy series is invisible point by point but plain in the
    average; pairing a detector on raw values with one on smoothed values covers both.
    """

    kind = "smoothed"

    def __init__(self, inner: Detector, alpha: float = 0.05) -> None:
        if not isinstance(inner, Detector):
            raise TypeError(f"inner must be a Detector, got {type(inner).__name__}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        self.inner, self.alpha = inner, alpha
        self.avg: float | None = None

    def params(self) -> State:
        return {"inner": self.inner.to_state(), "alpha": self.alpha}

    def _dump(self) -> State:
        return {"avg": self.avg}

    def _load(self, state: State) -> None:
        self.avg = None if state["avg"] is None else float(state["avg"])

    def _next(self, x: float) -> float:
        return x if self.avg is None else self.avg + self.alpha * (x - self.avg)

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        return self.inner.raw_one(t, self._next(x))

    def score_one(self, t: float, x: float) -> float:
        check_point(t, x)
        return self.inner.score_one(t, self._next(x))

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        value = self._next(x)
        self.inner.learn_one(t, value)
        self.avg = value

    def raw_update(self, t: float, x: float) -> float:
        check_point(t, x)
        value = self._next(x)
        raw = self.inner.raw_update(t, value)
        self.avg = value
        return raw


class Refractory(Detector):
    """Passes a score only when it beats the decayed recent peak (otherwise damps it), and holds
    quiet for ``hold`` points after any score of at least ``hold_level``.

    The decaying peak stops the falling edge of an episode from re-alerting; the hold stops its
    rising edge, where every point beats the last. ``hold_level`` is on the calibrated scale of
    the tail post-processors: 0.22 is an event rarer than about 1 in 280 recent points.
    """

    kind = "refractory"

    def __init__(
        self,
        inner: Detector,
        half_life: float = 300.0,
        damp: float = 0.0,
        hold_level: float = 0.22,
        hold: int = 100,
    ) -> None:
        if not isinstance(inner, Detector):
            raise TypeError(f"inner must be a Detector, got {type(inner).__name__}")
        if half_life <= 0:
            raise ValueError(f"half_life must be positive (points), got {half_life!r}")
        if not 0.0 <= damp <= 1.0:
            raise ValueError(f"damp must be in [0, 1], got {damp!r}")
        if not 0.0 < hold_level <= 1.0:
            raise ValueError(f"hold_level must be in (0, 1], got {hold_level!r}")
        if hold < 0:
            raise ValueError(f"hold must be a non-negative number of points, got {hold!r}")
        self.inner, self.half_life, self.damp = inner, half_life, damp
        self.hold_level, self.hold = hold_level, hold
        self.decay = math.exp(-math.log(2.0) / half_life)
        self.peak = 0.0
        self.quiet = 0  # points left in the current hold

    def params(self) -> State:
        return {
            "inner": self.inner.to_state(),
            "half_life": self.half_life,
            "damp": self.damp,
            "hold_level": self.hold_level,
            "hold": self.hold,
        }

    def _dump(self) -> State:
        return {"peak": self.peak, "quiet": self.quiet}

    def _load(self, state: State) -> None:
        self.peak, self.quiet = float(state["peak"]), int(state["quiet"])

    def raw_one(self, t: float, x: float) -> float:
        return self.inner.raw_one(t, x)

    def _out(self, score: float) -> float:
        if self.quiet > 0:
            return 0.0
        return score if score > self.peak * self.decay else score * self.damp

    def score_one(self, t: float, x: float) -> float:
        return self._out(self.inner.score_one(t, x))

    def learn_one(self, t: float, x: float) -> None:
        self.update(t, x)

    def update(self, t: float, x: float) -> float:
        check_point(t, x)
        score = self.inner.update(t, x)
        out = self._out(score)
        self.peak = max(self.peak * self.decay, score)
        if self.quiet > 0:
            self.quiet -= 1
        elif out >= self.hold_level:
            self.quiet = self.hold
        return out


def tocsin_detector(half: bool = True) -> Detector:
    """tocsin's most accurate combination, as measured on NAB (see benchmarks/nab/README.md).

    Context novelty of the raw values and of two smoothed averages (a slow one for drifts, a
    quick one for changes a few points long hidden in noise), and fuzzy-ART resonance of the
    recent shape of the raw values and of the quick average (a pattern the series never made,
    at levels it knows), each through its own empirical tail, the highest taken, refractory.

    With ``half`` (the default, production) every decayed count is held at half precision, so a
    series' state serialises in under 2 KB (see :class:`~.batched.TocsinBatch`, which runs the
    same arithmetic for a whole fleet); ``half=False`` keeps float64 counts, as issue 7's
    second version did.
    """
    return Refractory(
        Ensemble(
            [
                EmpiricalTail(ContextNovelty(half=half), half=half),
                EmpiricalTail(Smoothed(ContextNovelty(half=half), alpha=0.05), half=half),
                EmpiricalTail(Smoothed(ContextNovelty(half=half), alpha=0.2), half=half),
                EmpiricalTail(FuzzyArt(window=10, stride=2, decay=0.999, half=half), half=half),
                EmpiricalTail(
                    Smoothed(FuzzyArt(window=10, stride=2, decay=0.999, half=half), alpha=0.2), half=half
                ),
            ]
        )
    )


def pair_detector() -> Detector:
    """The first production detector (tocsin v1): novelty of the raw and of the slowly smoothed
    values. About four times the speed of :func:`tocsin_detector`, half its state."""
    return Refractory(
        Ensemble([EmpiricalTail(ContextNovelty()), EmpiricalTail(Smoothed(ContextNovelty(), alpha=0.05))])
    )


def compact_detector() -> Detector:
    """The single-member variant: about half the CPU and state (under 2 KB) of :func:`pair_detector`."""
    return Refractory(EmpiricalTail(ContextNovelty()))
