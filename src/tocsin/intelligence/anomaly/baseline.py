"""Robust statistical baseline: an exponentially weighted level with time-of-day seasonality.

The level and the scale (mean absolute deviation) are updated with residuals clipped to a few
scales, so a single spike barely moves them (robust like a rolling median/MAD) while a lasting
level shift is still absorbed within a few hundred points. ``buckets`` offsets per day
(default 48: half-hours) capture the daily cycle most operational metrics have in fixed state.
"""

from __future__ import annotations

from tocsin.intelligence.anomaly.base import Detector, State, check_point

DAY = 86_400.0


class RobustBaseline(Detector):
    """Surprise = |value - (level + time-of-day offset)| / robust scale."""

    kind = "robust_baseline"

    def __init__(
        self,
        alpha: float = 0.002,
        scale_alpha: float = 0.002,
        season_alpha: float = 0.05,
        seasonal: bool = True,
        clip: float = 4.0,
        warmup: int = 30,
        buckets: int = 48,
    ) -> None:
        for name, a in (("alpha", alpha), ("scale_alpha", scale_alpha), ("season_alpha", season_alpha)):
            if not 0.0 < a <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {a!r}")
        if clip <= 0:
            raise ValueError(f"clip must be positive, got {clip!r}")
        if not 1 <= buckets <= 288:
            raise ValueError(f"buckets must be between 1 and 288 per day, got {buckets!r}")
        if warmup < 1:
            raise ValueError(f"warmup must be at least 1, got {warmup!r}")
        self.alpha, self.scale_alpha, self.season_alpha = alpha, scale_alpha, season_alpha
        self.seasonal, self.clip, self.warmup = seasonal, clip, warmup
        self.n = 0
        self.level = 0.0
        self.scale = 0.0
        self.buckets = buckets
        self.bucket_width = DAY / buckets
        self.season = [0.0] * buckets

    def params(self) -> State:
        return {
            "alpha": self.alpha,
            "scale_alpha": self.scale_alpha,
            "season_alpha": self.season_alpha,
            "seasonal": self.seasonal,
            "clip": self.clip,
            "warmup": self.warmup,
            "buckets": self.buckets,
        }

    def _dump(self) -> State:
        return {"n": self.n, "level": self.level, "scale": self.scale, "season": list(self.season)}

    def _load(self, state: State) -> None:
        season = [float(v) for v in state["season"]]
        if len(season) != self.buckets:
            raise ValueError(f"season must hold {self.buckets} offsets, got {len(season)}")
        self.n, self.level, self.scale = int(state["n"]), float(state["level"]), float(state["scale"])
        self.season = season

    def _expected(self, t: float) -> float:
        if self.seasonal:
            return self.level + self.season[int(t // self.bucket_width) % self.buckets]
        return self.level

    def _floor(self) -> float:
        # A perfectly flat series has zero scale; the floor keeps its first wobble finite but loud.
        return 1e-6 * (1.0 + abs(self.level))

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        return abs(x - self._expected(t)) / max(self.scale, self._floor())

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        self.n += 1
        if self.n <= self.warmup:
            # Plain running averages until enough points exist for exponential weights to mean much.
            k = 1.0 / self.n
            self.scale += k * (abs(x - self.level) - self.scale) if self.n > 1 else 0.0
            self.level += k * (x - self.level)
            return
        bucket = int(t // self.bucket_width) % self.buckets
        expected = self.level + (self.season[bucket] if self.seasonal else 0.0)
        bound = self.clip * max(self.scale, self._floor())
        resid = min(max(x - expected, -bound), bound)
        self.scale += self.scale_alpha * (abs(resid) - self.scale)
        self.level += self.alpha * resid
        if self.seasonal:
            self.season[bucket] += self.season_alpha * (x - self.level - self.season[bucket])
