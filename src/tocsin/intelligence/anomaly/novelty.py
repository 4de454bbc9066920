"""Context novelty: how rarely this series has visited the current value band, and arrived there
from the previous band.

Values are cut into bands whose width is fixed from the warm-up range, so band counts keep their
meaning as the series wanders; decayed counts forget old regimes. Surprise is the negative log
frequency of the band and of the band-to-band transition, which stays quiet for noise the series
always had and speaks up for new levels, new spikes and new dynamics (a flat line where the series
used to oscillate). Both tables are capped, evicting the rarest entry, so memory stays bounded.
"""

from __future__ import annotations

import math

from tocsin.intelligence.anomaly.base import Detector, State, check_point


def _evict_rarest(table: dict[str, float], cap: int) -> None:
    while len(table) > cap:
        del table[min(table, key=table.__getitem__)]


class ContextNovelty(Detector):
    """Surprise = -log P(band) - log P(band | previous band), from decayed counts."""

    kind = "context_novelty"

    def __init__(self, bands: int = 12, decay: float = 0.999, cap: int = 48, warmup: int = 150) -> None:
        if not 2 <= bands <= 256:
            raise ValueError(f"bands must be between 2 and 256, got {bands!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        if cap < 4:
            raise ValueError(f"cap must be at least 4, got {cap!r}")
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, got {warmup!r}")
        self.bands, self.decay, self.cap, self.warmup = bands, decay, cap, warmup
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.width = 0.0
        self.prev = 0
        self.total = 0.0  # decayed number of points counted
        self.unigram: dict[str, float] = {}
        self.bigram: dict[str, float] = {}

    def params(self) -> State:
        return {"bands": self.bands, "decay": self.decay, "cap": self.cap, "warmup": self.warmup}

    def _dump(self) -> State:
        return {
            "n": self.n,
            "lo": self.lo if math.isfinite(self.lo) else None,
            "hi": self.hi if math.isfinite(self.hi) else None,
            "width": self.width,
            "prev": self.prev,
            "total": self.total,
            "unigram": dict(self.unigram),
            "bigram": dict(self.bigram),
        }

    def _load(self, state: State) -> None:
        self.n, self.width, self.prev = int(state["n"]), float(state["width"]), int(state["prev"])
        self.lo = math.inf if state["lo"] is None else float(state["lo"])
        self.hi = -math.inf if state["hi"] is None else float(state["hi"])
        self.total = float(state["total"])
        self.unigram = {str(k): float(v) for k, v in state["unigram"].items()}
        self.bigram = {str(k): float(v) for k, v in state["bigram"].items()}

    def _band(self, x: float) -> int:
        return math.floor((x - self.lo) / self.width)

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        band = self._band(x)
        p_band = (self.unigram.get(str(band), 0.0) + 0.1) / (self.total + 1.0)
        from_prev = self.unigram.get(str(self.prev), 0.0)
        p_move = (self.bigram.get(f"{self.prev}:{band}", 0.0) + 0.1) / (from_prev + 1.0)
        return -math.log(p_band) - math.log(p_move)

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
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
        d = self.decay
        if d < 1.0:
            for table in (self.unigram, self.bigram):
                for key in table:
                    table[key] *= d
            self.total *= d
        prev_key = str(self.prev)
        self.unigram[prev_key] = self.unigram.get(prev_key, 0.0)
        move = f"{self.prev}:{band}"
        self.bigram[move] = self.bigram.get(move, 0.0) + 1.0
        self.unigram[str(band)] = self.unigram.get(str(band), 0.0) + 1.0
        self.total += 1.0
        _evict_rarest(self.unigram, self.cap)
        _evict_rarest(self.bigram, self.cap)
        self.prev = band
