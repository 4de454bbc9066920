"""Context novelty: how rarely this series has visited the current value band, and arrived there
from the previous band.

Values are cut into bands whose width is fixed from the warm-up range, so band counts keep their
meaning as the series wanders; decayed counts forget old regimes. Surprise is the negative log
frequency of the band and of the band-to-band transition (plus the log distance to the nearest
known band for a band never seen), which stays quiet for noise the series
always had and speaks up for new levels, new spikes and new dynamics (a flat line where the series
used to oscillate). Both tables are capped, evicting the rarest entry, so memory stays bounded.
"""

from __future__ import annotations

import math
from typing import Any

from tocsin.intelligence.anomaly.base import (
    HALF_RESCALE,
    Detector,
    State,
    check_half_decay,
    check_point,
    half,
)


def _evict_rarest(table: dict[Any, float], cap: int) -> None:
    while len(table) > cap:
        del table[min(table, key=table.__getitem__)]


class ContextNovelty(Detector):
    """Surprise = -log P(band) - log P(band | previous band), from decayed counts."""

    kind = "context_novelty"

    def __init__(
        self, bands: int = 12, decay: float = 0.999, cap: int = 48, warmup: int = 150, half: bool = False
    ) -> None:
        if not 2 <= bands <= 256:
            raise ValueError(f"bands must be between 2 and 256, got {bands!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        if cap < 4:
            raise ValueError(f"cap must be at least 4, got {cap!r}")
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, got {warmup!r}")
        self.bands, self.decay, self.cap, self.warmup = bands, decay, cap, warmup
        # half: counts rounded to half precision after every change (see base.half).
        self.half = half
        if half:
            check_half_decay(decay)
        self._rescale_at = HALF_RESCALE if half else 1e100
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.width = 0.0
        self.prev = 0
        # Counts are kept in growing units (each point weighs 1/decay more than the one before)
        # so decay costs O(1) per point; they are rescaled before the unit overflows.
        self.weight = 1.0
        self.total = 0.0
        self.unigram: dict[int, float] = {}  # band -> decayed count
        self.bigram: dict[tuple[int, int], float] = {}  # (previous band, band) -> decayed count

    def params(self) -> State:
        params: State = {"bands": self.bands, "decay": self.decay, "cap": self.cap, "warmup": self.warmup}
        if self.half:
            params["half"] = True
        return params

    def _dump(self) -> State:
        return {
            "n": self.n,
            "lo": self.lo if math.isfinite(self.lo) else None,
            "hi": self.hi if math.isfinite(self.hi) else None,
            "width": self.width,
            "prev": self.prev,
            "weight": self.weight,
            "total": self.total,
            # Flat [key..., count] rows: small ints pack into one byte each in MessagePack.
            "unigram": [[k, v] for k, v in self.unigram.items()],
            "bigram": [[a, b, v] for (a, b), v in self.bigram.items()],
        }

    def _load(self, state: State) -> None:
        self.n, self.width, self.prev = int(state["n"]), float(state["width"]), int(state["prev"])
        self.lo = math.inf if state["lo"] is None else float(state["lo"])
        self.hi = -math.inf if state["hi"] is None else float(state["hi"])
        self.weight, self.total = float(state["weight"]), float(state["total"])
        self.unigram = {int(k): float(v) for k, v in state["unigram"]}
        self.bigram = {(int(a), int(b)): float(v) for a, b, v in state["bigram"]}

    def _band(self, x: float) -> int:
        # Bands far outside the warm-up range are merged at +-8 ranges: they are all novel anyway,
        # and small band numbers keep the stored tables compact.
        limit = 8 * self.bands
        return max(-limit, min(limit, math.floor((x - self.lo) / self.width)))

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        band = self._band(x)
        w = self.weight
        seen = self.unigram.get(band, 0.0)
        p_band = (seen + 0.1 * w) / (self.total + w)
        from_prev = self.unigram.get(self.prev, 0.0)
        p_move = (self.bigram.get((self.prev, band), 0.0) + 0.1 * w) / (from_prev + w)
        surprise = -math.log(p_band) - math.log(p_move)
        if not seen and self.unigram:
            # An unseen band says nothing about how far out it lies; a spike far beyond the known
            # range must outrank a first step just past its edge.
            nearest = min(abs(band - k) for k in self.unigram)
            surprise += math.log(nearest)
        return surprise

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        self._learn(x)

    def raw_update(self, t: float, x: float) -> float:
        raw = self.raw_one(t, x)  # validates the point once for both steps
        self._learn(x)
        return raw

    def _learn(self, x: float) -> None:
        self.n += 1
        if self.n <= self.warmup:
            self.lo, self.hi = min(self.lo, x), max(self.hi, x)
            if self.n < self.warmup:
                return
            # Warm-up done: fix the band width from the range seen, then count from here on.
            self.width = max(self.hi - self.lo, 1e-9 * (1.0 + abs(self.hi))) / self.bands
            self.prev = self._band(x)
            return
        band = self._band(x)
        w = self.weight
        move = (self.prev, band)
        if self.half:
            self.bigram[move] = half(self.bigram.get(move, 0.0) + w)
            self.unigram[band] = half(self.unigram.get(band, 0.0) + w)
        else:
            self.bigram[move] = self.bigram.get(move, 0.0) + w
            self.unigram[band] = self.unigram.get(band, 0.0) + w
        self.total += w
        if len(self.unigram) > self.cap:
            _evict_rarest(self.unigram, self.cap)
        if len(self.bigram) > self.cap:
            _evict_rarest(self.bigram, self.cap)
        self.prev = band
        self.weight = w / self.decay
        if self.weight > self._rescale_at:
            scale = 1.0 / self.weight
            if self.half:
                # A count that underflows half precision is forgotten, as if evicted.
                self.unigram = {k: c for k, v in self.unigram.items() if (c := half(v * scale))}
                self.bigram = {k: c for k, v in self.bigram.items() if (c := half(v * scale))}
            else:
                self.unigram = {k: v * scale for k, v in self.unigram.items()}
                self.bigram = {k: v * scale for k, v in self.bigram.items()}
            self.total *= scale
            self.weight = 1.0
