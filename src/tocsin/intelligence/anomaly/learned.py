"""A learned detector: an autoregressive forecaster trained online by normalised LMS.

It learns which linear combination of the last few (standardised) values predicts the next one,
so it follows oscillations and ramps a level baseline cannot, and flags points it fails to
predict. NLMS costs O(lags) per point, unlike recursive least squares' O(lags²).
"""

from __future__ import annotations

import math

from tocsin.intelligence.anomaly.base import Detector, State, check_point


class ArResidual(Detector):
    """Surprise = |standardised value - AR prediction| / typical prediction error."""

    kind = "ar_residual"

    def __init__(
        self, lags: int = 6, step: float = 0.05, alpha: float = 0.01, clip: float = 4.0, warmup: int = 50
    ) -> None:
        if not 1 <= lags <= 64:
            raise ValueError(f"lags must be between 1 and 64, got {lags!r}")
        if not 0.0 < step < 2.0:
            raise ValueError(f"step must be in (0, 2) for NLMS to converge, got {step!r}")
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {alpha!r}")
        if warmup < lags:
            raise ValueError(f"warmup ({warmup}) must be at least lags ({lags})")
        self.lags, self.step, self.alpha, self.clip, self.warmup = lags, step, alpha, clip, warmup
        self.n = 0
        self.mean = 0.0
        self.var = 0.0
        self.err = 0.0
        self.weights = [0.0] * lags
        self.history = [0.0] * lags  # newest first, standardised

    def params(self) -> State:
        return {
            "lags": self.lags,
            "step": self.step,
            "alpha": self.alpha,
            "clip": self.clip,
            "warmup": self.warmup,
        }

    def _dump(self) -> State:
        return {
            "n": self.n,
            "mean": self.mean,
            "var": self.var,
            "err": self.err,
            "weights": list(self.weights),
            "history": list(self.history),
        }

    def _load(self, state: State) -> None:
        weights = [float(v) for v in state["weights"]]
        history = [float(v) for v in state["history"]]
        if len(weights) != self.lags or len(history) != self.lags:
            raise ValueError(f"weights and history must hold {self.lags} values")
        self.n, self.mean, self.var, self.err = (
            int(state["n"]),
            float(state["mean"]),
            float(state["var"]),
            float(state["err"]),
        )
        self.weights, self.history = weights, history

    def _std(self) -> float:
        return math.sqrt(self.var) + 1e-9 * (1.0 + abs(self.mean))

    def _residual(self, x: float) -> float:
        z = (x - self.mean) / self._std()
        prediction = sum(w * h for w, h in zip(self.weights, self.history, strict=True))
        return z - prediction

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        return abs(self._residual(x)) / (self.err + 1e-9)

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        self.n += 1
        a = max(self.alpha, 1.0 / self.n)
        if self.n > self.warmup:
            e = self._residual(x)
            bound = self.clip * self.err
            e_c = min(max(e, -bound), bound)
            norm = 1e-6 + sum(h * h for h in self.history)
            gain = self.step * e_c / norm
            self.weights = [w + gain * h for w, h in zip(self.weights, self.history, strict=True)]
            self.err += self.alpha * (abs(e_c) - self.err)
        elif self.n > self.lags:
            self.err += a * (abs(self._residual(x)) - self.err)
        d = x - self.mean
        self.mean += a * d
        self.var = (1.0 - a) * (self.var + a * d * d)
        z = (x - self.mean) / self._std()
        self.history = [max(min(z, 10.0), -10.0), *self.history[:-1]]
