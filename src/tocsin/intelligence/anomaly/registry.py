"""One detector per series: created on first sight, evicted least-recently-used past a cap.

This is the piece the rule engine will hold: it keys detectors by a series identity (a label-set
fingerprint, say), keeps total memory bounded by ``max_series`` times the per-series state, and
snapshots every series' state at once so a restart resumes where it left off.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from tocsin.intelligence.anomaly.base import Detector, StateError, detector_from_state


class SeriesDetectors:
    """Routes each point to its series' detector and returns that detector's score."""

    def __init__(self, factory: Callable[[], Detector], max_series: int = 100_000) -> None:
        if max_series < 1:
            raise ValueError(f"max_series must be at least 1, got {max_series!r}")
        self.factory = factory
        self.max_series = max_series
        self.detectors: OrderedDict[str, Detector] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self.detectors)

    def __contains__(self, key: object) -> bool:
        return key in self.detectors

    def update(self, key: str, t: float, x: float) -> float:
        """Score the point of series ``key`` against its past, then learn it."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"series key must be a non-empty string, got {key!r}")
        detector = self.detectors.get(key)
        if detector is None:
            detector = self.factory()
            self.detectors[key] = detector
            if len(self.detectors) > self.max_series:
                self.detectors.popitem(last=False)
                self.evicted += 1
        else:
            self.detectors.move_to_end(key)
        return detector.update(t, x)

    def to_state(self) -> dict[str, Any]:
        """Every series' detector state, least recently used first (the order is kept)."""
        return {"series": [[key, d.to_state()] for key, d in self.detectors.items()], "evicted": self.evicted}

    @classmethod
    def from_state(
        cls, state: dict[str, Any], factory: Callable[[], Detector], max_series: int = 100_000
    ) -> SeriesDetectors:
        if not isinstance(state, dict) or "series" not in state:
            raise StateError("series state must be a dict with a 'series' list")
        registry = cls(factory, max_series)
        for entry in state["series"]:
            if not isinstance(entry, list | tuple) or len(entry) != 2:
                raise StateError(f"series entry must be [key, detector state], got {entry!r:.80}")
            key, detector_state = entry
            registry.detectors[str(key)] = detector_from_state(detector_state)
        while len(registry.detectors) > max_series:
            registry.detectors.popitem(last=False)
        registry.evicted = int(state.get("evicted", 0))
        return registry
