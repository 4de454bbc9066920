"""Contextual prediction, in the spirit of the Contextual Anomaly Detector (CAD OSE, Smirnov 2016).

CAD encodes each value into a few discrete facts, learns which facts follow which recent
contexts, and calls a point anomalous by the share of its facts that no active context predicted.
This detector follows that idea with tocsin's own, smaller machinery:

* facts: the value's level on a coarse grid (``levels`` steps over the warm-up range, so the grid
  keeps its meaning as the series wanders) and the step from the previous level, clipped;
* contexts: the last 1 .. ``order`` facts (semi-contexts of growing length, as CAD's left
  semi-contexts), each a key into one table of decayed continuation counts;
* surprise: for every context order, whether the current fact was predicted (its share of the
  context's continuations at least ``min_share``); the raw score is the share of unpredicted
  orders, plus a graded term for how rare the continuation was, so a brand-new context (never
  seen, so it predicts nothing) counts fully, as in CAD.

A longer context sees changes of dynamics (a new rhythm, a missing daily bump, a spike shape the
series never had) that band or transition rarity alone (:mod:`.novelty`) cannot. The table is
capped, evicting the rarest entry, so memory stays bounded; counts decay so old regimes fade.
"""

from __future__ import annotations

import math

from tocsin.intelligence.anomaly.base import Detector, State, check_point


class ContextPrediction(Detector):
    """Raw surprise = mean over context orders of (unpredicted + rarity of the continuation)."""

    kind = "context_prediction"

    def __init__(
        self,
        levels: int = 8,
        order: int = 3,
        cap: int = 96,
        decay: float = 0.999,
        min_share: float = 0.05,
        warmup: int = 150,
    ) -> None:
        if not 2 <= levels <= 64:
            raise ValueError(f"levels must be between 2 and 64, got {levels!r}")
        if not 1 <= order <= 6:
            raise ValueError(f"order must be between 1 and 6, got {order!r}")
        if cap < 8:
            raise ValueError(f"cap must be at least 8, got {cap!r}")
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"decay must be in (0, 1], got {decay!r}")
        if not 0.0 < min_share < 1.0:
            raise ValueError(f"min_share must be in (0, 1), got {min_share!r}")
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, got {warmup!r}")
        self.levels, self.order, self.cap, self.decay = levels, order, cap, decay
        self.min_share, self.warmup = min_share, warmup
        self.n = 0
        self.lo = math.inf
        self.hi = -math.inf
        self.width = 0.0
        self.history: list[int] = []  # the last `order` facts, oldest first
        # Decayed counts in growing units (O(1) decay per point), rescaled before overflow.
        self.weight = 1.0
        # (context facts..., next fact) -> count and (context facts...) -> count, in one table:
        # a context's key is its facts, a continuation's key is the facts plus the next one.
        self.table: dict[tuple[int, ...], float] = {}

    def params(self) -> State:
        return {
            "levels": self.levels,
            "order": self.order,
            "cap": self.cap,
            "decay": self.decay,
            "min_share": self.min_share,
            "warmup": self.warmup,
        }

    def _dump(self) -> State:
        return {
            "n": self.n,
            "lo": self.lo if math.isfinite(self.lo) else None,
            "hi": self.hi if math.isfinite(self.hi) else None,
            "width": self.width,
            "history": list(self.history),
            "weight": self.weight,
            # Flat rows [fact..., count]: small ints pack into one byte each in MessagePack.
            "table": [[*key, count] for key, count in self.table.items()],
        }

    def _load(self, state: State) -> None:
        self.n, self.width = int(state["n"]), float(state["width"])
        self.lo = math.inf if state["lo"] is None else float(state["lo"])
        self.hi = -math.inf if state["hi"] is None else float(state["hi"])
        history = [int(v) for v in state["history"]]
        if len(history) > self.order:
            raise ValueError(f"history holds {len(history)} facts, more than order {self.order}")
        self.history, self.weight = history, float(state["weight"])
        table: dict[tuple[int, ...], float] = {}
        for row in state["table"]:
            if not 2 <= len(row) <= self.order + 2:
                raise ValueError(f"table row {row!r:.60} has the wrong length")
            table[tuple(int(v) for v in row[:-1])] = float(row[-1])
        self.table = table

    def _fact(self, x: float) -> int:
        # One int per point: the level (clipped to a few ranges beyond the warm-up range, where
        # everything is novel anyway) and the level step since the previous point (clipped).
        limit = 2 * self.levels
        level = max(-limit, min(limit, math.floor((x - self.lo) / self.width)))
        prev_level = self.history[-1] // 8 if self.history else level
        step = max(-3, min(3, level - prev_level))
        return level * 8 + step + 3

    def _surprise(self, fact: int) -> float:
        table, w = self.table, self.weight
        history = self.history
        total = 0.0
        for k in range(1, min(self.order, len(history)) + 1):
            context = tuple(history[-k:])
            seen = table.get(context, 0.0)
            # Eviction can drop a context and keep some of its continuations: never count more
            # continuations than the context itself, so the rarity term stays non-negative.
            follow = min(table.get((*context, fact), 0.0), seen)
            share = follow / seen if seen > 0.0 else 0.0
            if share < self.min_share:
                total += 1.0
            # Graded: a continuation seen once in a thousand is stranger than one seen 4 % of the time.
            total -= math.log((follow + 0.05 * w) / (seen + w)) / 8.0
        return total / self.order

    def raw_one(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            return 0.0
        return self._surprise(self._fact(x))

    def learn_one(self, t: float, x: float) -> None:
        check_point(t, x)
        self._learn(x)

    def raw_update(self, t: float, x: float) -> float:
        check_point(t, x)
        if self.n < self.warmup:
            self._learn(x)
            return 0.0
        fact = self._fact(x)
        raw = self._surprise(fact)
        self._learn_fact(fact)
        return raw

    def _learn(self, x: float) -> None:
        if self.n < self.warmup:
            self.n += 1
            self.lo, self.hi = min(self.lo, x), max(self.hi, x)
            if self.n == self.warmup:
                # Warm-up done: fix the grid from the range seen, then learn contexts from here on.
                self.width = max(self.hi - self.lo, 1e-9 * (1.0 + abs(self.hi))) / self.levels
                self.history = [self._fact(x)]
            return
        self._learn_fact(self._fact(x))

    def _learn_fact(self, fact: int) -> None:
        self.n += 1
        table, w, history = self.table, self.weight, self.history
        for k in range(1, min(self.order, len(history)) + 1):
            context = tuple(history[-k:])
            table[context] = table.get(context, 0.0) + w
            key = (*context, fact)
            table[key] = table.get(key, 0.0) + w
        if len(table) > self.cap:
            # Evict the rarest entries in one pass, down to 3/4 of the cap, so eviction's cost is
            # paid once every many points instead of on every new key.
            keep = sorted(table.items(), key=lambda kv: kv[1], reverse=True)[: (3 * self.cap) // 4]
            self.table = table = dict(keep)
        history.append(fact)
        if len(history) > self.order:
            del history[0]
        self.weight = w / self.decay
        if self.weight > 1e100:
            scale = 1.0 / self.weight
            self.table = {k: v * scale for k, v in table.items()}
            self.weight = 1.0
