"""Self-tuning alert thresholds: one per series, adapting online without an oracle.

The threshold is ``base + offset``, never below the running quantile of the series' own scores
and always within [floor, ceiling]. Three forces move it:

* the score history: a streaming estimate of a very high quantile of the series' scores, so a
  series that keeps producing strong scores needs stronger ones still to alert;
* feedback: an alert acknowledged as noise raises the offset, a missed incident lowers it;
* a cap on alert rate: at most ``max_alerts`` alerts per ``rate_window`` seconds and a cooldown
  after each; every alert the cap holds back raises the offset too, because a series that hits
  its cap is telling us its threshold is too low.

The offset relaxes back towards zero with a half-life in time, so a noisy week is not held
against a series for ever. ``base`` is the level the detector's calibration suggests (tocsin's
tail-probability scores: 0.22 is an event rarer than about 1 in 280 recent points), and it should
not sit above the detector's own hold level (:class:`~tocsin.intelligence.anomaly.Refractory`),
or the first alert-worthy point of an episode can fall under the threshold and the hold then
silence the rest. Feedback steps are small for that reason.

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
        base: float = 0.22,
        floor: float = 0.1,
        ceiling: float = 1.0,
        quantile: float = 0.9999,
        quantile_step: float = 0.002,
        noise_step: float = 0.002,
        missed_step: float = 0.002,
        cap_step: float = 0.005,
        relax_half_life: float = 7 * 86_400.0,
        max_alerts: int = 3,
        rate_window: float = 86_400.0,
        cooldown: float = 3_600.0,
    ) -> None:
        if not 0.0 <= floor <= ceiling <= 1.0:
            raise ValueError(f"need 0 <= floor <= ceiling <= 1, got floor={floor!r} ceiling={ceiling!r}")
        if not floor <= base <= ceiling:
            raise ValueError(f"base must lie between floor and ceiling, got {base!r}")
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
        for name, v in (
            ("quantile_step", quantile_step),
            ("noise_step", noise_step),
            ("missed_step", missed_step),
            ("cap_step", cap_step),
        ):
            if not 0.0 <= v < 1.0:
                raise ValueError(f"{name} must be in [0, 1), got {v!r}")
        if max_alerts < 1:
            raise ValueError(f"max_alerts must be at least 1, got {max_alerts!r}")
        if rate_window <= 0 or cooldown < 0 or relax_half_life <= 0:
            raise ValueError(
                "rate_window and relax_half_life must be positive and cooldown non-negative, got "
                f"{rate_window!r}, {relax_half_life!r}, {cooldown!r}"
            )
        self.base, self.floor, self.ceiling = base, floor, ceiling
        self.quantile, self.quantile_step = quantile, quantile_step
        self.noise_step, self.missed_step, self.cap_step = noise_step, missed_step, cap_step
        self.relax_half_life = relax_half_life
        self.max_alerts, self.rate_window, self.cooldown = max_alerts, rate_window, cooldown
        self.level = 0.0  # running high quantile of the scores
        self.offset = 0.0  # feedback- and cap-driven shift of the base
        self.last_t: float | None = None
        self.recent: list[float] = []  # times of the alerts inside the rate window, oldest first
        self.suppressed = 0

    @property
    def threshold(self) -> float:
        return min(max(self.base + self.offset, self.level, self.floor), self.ceiling)

    def observe(self, t: float, score: float) -> bool:
        """Learn the score and say whether it raises an alert at time ``t`` (epoch seconds)."""
        if not math.isfinite(score) or not 0.0 <= score <= 1.0:
            raise ValueError(f"score must be a number in [0, 1], got {score!r}")
        if not math.isfinite(t):
            raise ValueError(f"timestamp must be finite epoch seconds, got {t!r}")
        if self.last_t is not None and t > self.last_t:
            self.offset *= 0.5 ** ((t - self.last_t) / self.relax_half_life)
        self.last_t = t if self.last_t is None else max(t, self.last_t)
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
            self.offset += self.cap_step
            return False
        self.recent.append(t)
        return True

    def feedback_noise(self) -> None:
        """An alert was acknowledged as noise: demand a stronger score next time."""
        self.offset = min(self.offset + self.noise_step, self.ceiling - self.base)

    def feedback_missed(self) -> None:
        """An incident happened that no alert caught: accept weaker scores next time."""
        self.offset = max(self.offset - self.missed_step, self.floor - self.base)

    def to_state(self) -> dict[str, Any]:
        return {
            "params": {
                "base": self.base,
                "floor": self.floor,
                "ceiling": self.ceiling,
                "quantile": self.quantile,
                "quantile_step": self.quantile_step,
                "noise_step": self.noise_step,
                "missed_step": self.missed_step,
                "cap_step": self.cap_step,
                "relax_half_life": self.relax_half_life,
                "max_alerts": self.max_alerts,
                "rate_window": self.rate_window,
                "cooldown": self.cooldown,
            },
            "level": self.level,
            "offset": self.offset,
            "last_t": self.last_t,
            "recent": list(self.recent),
            "suppressed": self.suppressed,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Self:
        try:
            obj = cls(**state["params"])
            obj.level, obj.offset = float(state["level"]), float(state["offset"])
            obj.last_t = None if state["last_t"] is None else float(state["last_t"])
            obj.recent = [float(t) for t in state["recent"]]
            obj.suppressed = int(state["suppressed"])
        except (KeyError, TypeError) as exc:
            raise ValueError(f"bad threshold state: {exc!r}") from exc
        return obj
