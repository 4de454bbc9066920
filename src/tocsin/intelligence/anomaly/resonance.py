"""Adaptive resonance: fuzzy ART categories of recent shapes (after Carpenter, Grossberg and Rosen's
fuzzy ART, 1991, as ARTime applies ART to NAB).

The series is downsampled into block means of ``stride`` points; the last ``window`` block means,
scaled into [0, 1] by the warm-up range (which lands in the middle half, leaving room for
excursions) and complement coded, form one input. Fuzzy ART keeps a few categories (hyper-boxes
in that space); an input that some category matches at least at the vigilance ``rho`` resonates
and the box grows just enough to hold it (fast learning); one that matches none founds a new
category. The raw surprise is how far the best match falls short of a perfect one, so a shape the
series has made before scores low however rare the value, and a new shape scores high.

Everything is integer: inputs are quantised to ``1/levels`` and fast learning takes element-wise
minima, so weights stay on the grid, the state packs into small ints and a restored detector
computes exactly what the original would. At most ``categories`` boxes are kept; the least used
(by decayed use count) is dropped for a new one, so memory is bounded and old shapes fade.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from tocsin.intelligence.anomaly.base import (
    HALF_RESCALE,
    Detector,
    State,
    check_half_decay,
    check_point,
    half,
)


class FuzzyArt(Detector):
    """Raw surprise = 1 - best fuzzy-ART match of the recent downsampled shape (held between blocks)."""

    kind = "fuzzy_art"

    def __init__(
        self,
        window: int = 6,
        stride: int = 4,
        rho: float = 0.9,
        categories: int = 16,
        levels: int = 100,
        choice: float = 0.01,
        decay: float = 0.995,
        warmup: int = 150,
        shape_only: bool = False,
        half: bool = False,
    ) -> None:
        if not 1 <= window <= 32:
            raise ValueError(f"window must be between 1 and 32 blocks, got {window!r}")
        if not 1 <= stride <= 64:
            raise ValueError(f"stride must be between 1 and 64 points, got {stride!r}")
        if not 0.0 < rho < 1.0:
            raise ValueError(f"rho (vigilance) must be in (0, 1), got {rho!r}")
        if not 2 <= categories <= 256:
            raise ValueError(f"categories must be between 2 and 256, got {categories!r}")
        if not 4 <= levels <= 10_000:
            raise ValueError(f"levels must be between 4 and 10000, got {levels!r}")
        if choice <= 0:
            raise ValueError(f"choice must be positive, got {choice!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, got {warmup!r}")
        self.window, self.stride, self.rho, self.categories = window, stride, rho, categories
        self.levels, self.choice, self.decay, self.warmup = levels, choice, decay, warmup
        self.shape_only = shape_only
        # half: use counts rounded to half precision after every change (see base.half).
        self.half = half
        if half:
            check_half_decay(decay)
        self._rescale_at = HALF_RESCALE if half else 1e100
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.block_sum = 0.0
        self.block_len = 0
        self.recent: list[int] = []  # the last `window` quantised block means, oldest first
        # One row per category: 2 * window ints (box low corner, then 1 - box high corner).
        self.weights: npt.NDArray[np.int64] = np.zeros((0, 2 * window), dtype=np.int64)
        self.uses: list[float] = []  # decayed use counts, in growing units like the novelty tables
        self.unit = 1.0
        self.last_raw = 0.0

    def params(self) -> State:
        return {
            "window": self.window,
            "stride": self.stride,
            "rho": self.rho,
            "categories": self.categories,
            "levels": self.levels,
            "choice": self.choice,
            "decay": self.decay,
            "warmup": self.warmup,
            "shape_only": self.shape_only,
            **({"half": True} if self.half else {}),
        }

    def _dump(self) -> State:
        return {
            "n": self.n,
            "lo": self.lo if math.isfinite(self.lo) else None,
            "hi": self.hi if math.isfinite(self.hi) else None,
            "block_sum": self.block_sum,
            "block_len": self.block_len,
            "recent": list(self.recent),
            "weights": self.weights.tolist(),
            "uses": list(self.uses),
            "unit": self.unit,
            "last_raw": self.last_raw,
        }

    def _load(self, state: State) -> None:
        weights = [[int(v) for v in w] for w in state["weights"]]
        uses = [float(u) for u in state["uses"]]
        if len(weights) != len(uses) or len(weights) > self.categories:
            raise ValueError(
                f"{len(weights)} categories and {len(uses)} use counts (at most {self.categories})"
            )
        if any(len(w) != 2 * self.window for w in weights):
            raise ValueError(f"every category must hold {2 * self.window} weights")
        recent = [int(v) for v in state["recent"]]
        if len(recent) > self.window:
            raise ValueError(f"recent holds {len(recent)} blocks, more than window {self.window}")
        self.n, self.block_len = int(state["n"]), int(state["block_len"])
        self.lo = math.inf if state["lo"] is None else float(state["lo"])
        self.hi = -math.inf if state["hi"] is None else float(state["hi"])
        self.block_sum, self.unit, self.last_raw = (
            float(state["block_sum"]),
            float(state["unit"]),
            float(state["last_raw"]),
        )
        self.recent, self.uses = recent, uses
        self.weights = np.array(weights, dtype=np.int64).reshape(len(weights), 2 * self.window)

    def _quantise(self, mean: float) -> int:
        span = max(self.hi - self.lo, 1e-9 * (1.0 + abs(self.hi)))
        u = 0.25 + 0.5 * (mean - self.lo) / span
        return round(min(max(u, 0.0), 1.0) * self.levels)

    def _resonate(self, learn: bool) -> float:
        """Best match of the current input; with ``learn``, the ART search and update too."""
        q = self.levels
        recent = self.recent
        if self.shape_only:
            # Level-free: the window's own mean moves to mid-scale, so only the shape is judged
            # (the level is what the novelty members watch).
            shift = q // 2 - sum(recent) // len(recent)
            recent = [min(max(v + shift, 0), q) for v in recent]
        a = np.array(recent + [q - v for v in recent], dtype=np.int64)
        size = len(recent) * q  # |A| under complement coding, whatever the values
        weights = self.weights
        if len(weights):
            overlaps = np.minimum(weights, a).sum(axis=1)
            best = float(overlaps.max()) / size
        else:
            overlaps, best = np.zeros(0, dtype=np.int64), 0.0
        if not learn:
            return 1.0 - best
        # Search in order of the choice function; the first box that matches at the vigilance
        # resonates (a stable sort keeps ties in category order, so the search is deterministic).
        choice = overlaps / (self.choice * q + weights.sum(axis=1))
        order = np.argsort(-choice, kind="stable")
        passing = order[overlaps[order] / size >= self.rho]
        if len(passing):
            winner = int(passing[0])
            np.minimum(weights[winner], a, out=weights[winner])
        else:
            if len(weights) >= self.categories:
                # Drop the least used box; ties go to the oldest.
                gone = min(range(len(self.uses)), key=self.uses.__getitem__)
                weights = np.delete(weights, gone, axis=0)
                del self.uses[gone]
            self.weights = weights = np.vstack([weights, a[None, :]])
            self.uses.append(0.0)
            winner = len(weights) - 1
        if self.half:
            self.uses[winner] = half(self.uses[winner] + self.unit)
        else:
            self.uses[winner] += self.unit
        self.unit /= self.decay
        if self.unit > self._rescale_at:
            self.uses = [half(u / self.unit) if self.half else u / self.unit for u in self.uses]
            self.unit = 1.0
        return 1.0 - best

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        if self.block_len + 1 < self.stride or len(self.recent) + 1 < self.window:
            return self.last_raw
        # Judge the block this point would complete, without learning it.
        saved = self.recent
        self.recent = [*saved, self._quantise((self.block_sum + x) / self.stride)][-self.window :]
        raw = self._resonate(learn=False)
        self.recent = saved
        return raw

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        self.raw_update(t, x)

    def raw_update(self, t: float, x: float) -> float:
        check_point(t, x)
        self.n += 1
        if self.n <= self.warmup:
            self.lo, self.hi = min(self.lo, x), max(self.hi, x)
            return 0.0
        self.block_sum += x
        self.block_len += 1
        if self.block_len < self.stride:
            return self.last_raw
        self.recent.append(self._quantise(self.block_sum / self.stride))
        self.block_sum, self.block_len = 0.0, 0
        if len(self.recent) > self.window:
            del self.recent[0]
        if len(self.recent) == self.window:
            self.last_raw = self._resonate(learn=True)
        return self.last_raw
