"""The streaming detector interface shared by every tocsin anomaly detector.

A detector follows one series. ``score_one`` rates a point without changing the detector,
``learn_one`` folds the point into its state (river's convention), and ``update`` does both in
the order a live stream needs: judge the point against the past, then learn from it.

State is a JSON-able dict (``to_state``) rebuilt by :func:`detector_from_state`, so a restarted
process resumes with identical scores; memory is bounded because every detector keeps only
fixed-size summaries, never the raw history.
"""

from __future__ import annotations

import math
import struct
from abc import ABC, abstractmethod
from typing import Any, ClassVar, Self

State = dict[str, Any]

_REGISTRY: dict[str, type[Detector]] = {}


def half(x: float) -> float:
    """``x`` rounded to the nearest IEEE half-precision value (ties to even), as a Python float.

    Detectors built with ``half=True`` keep every decayed count rounded to 16 bits, so their
    serialised tables take 2 bytes per count and a restored detector computes exactly what the
    original would. Counts are in growing units that are rescaled once the unit passes
    :data:`HALF_RESCALE`, which keeps them far below the half-precision maximum (65504).
    """
    return float(_HALF.unpack(_HALF.pack(x))[0])


_HALF = struct.Struct("<e")
#: Growing-unit limit for half-precision counts: a table's counts stay under this times its
#: decay horizon (1 / (1 - decay), at most 2,000 points for tocsin's tails): 32,000 < 65,504.
HALF_RESCALE = 16.0


def check_half_decay(decay: float) -> None:
    """Half-precision counts need a decay horizon short enough to stay under 65504."""
    if decay > 1.0 - HALF_RESCALE / 60_000.0:
        raise ValueError(
            f"half-precision counts need decay <= {1.0 - HALF_RESCALE / 60_000.0:.6f} "
            f"(counts reach {HALF_RESCALE:g} / (1 - decay)), got {decay!r}"
        )


class StateError(ValueError):
    """A serialised detector state is malformed or of an unknown kind."""


def check_point(t: float, x: float) -> None:
    """Reject non-finite input with a message naming the bad field (cheap: it runs per point)."""
    try:
        finite_x, finite_t = math.isfinite(x), math.isfinite(t)
    except TypeError:
        raise ValueError(f"value and timestamp must be numbers, got value={x!r} timestamp={t!r}") from None
    if not finite_x:
        raise ValueError(f"value must be a finite number, got {x!r}")
    if not finite_t:
        raise ValueError(f"timestamp must be finite epoch seconds, got {t!r}")


class Detector(ABC):
    """One series' streaming anomaly detector; scores lie in [0, 1]."""

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            _REGISTRY[cls.kind] = cls

    @abstractmethod
    def raw_one(self, t: float, x: float) -> float:
        """Unbounded, non-negative surprise of the point; larger is stranger. No state change."""

    def score_one(self, t: float, x: float) -> float:
        """The point's anomaly score in [0, 1]. No state change."""
        raw = self.raw_one(t, x)
        return raw / (1.0 + raw)

    @abstractmethod
    def learn_one(self, t: float, x: float) -> None:
        """Fold the point into the detector's state."""

    def raw_update(self, t: float, x: float) -> float:
        """Raw surprise of the point against the past, then learn it (wrappers' hot path)."""
        raw = self.raw_one(t, x)
        self.learn_one(t, x)
        return raw

    def update(self, t: float, x: float) -> float:
        """Score the point against the past, then learn it; returns the score."""
        score = self.score_one(t, x)
        self.learn_one(t, x)
        return score

    @abstractmethod
    def params(self) -> State:
        """Constructor arguments, so a state can rebuild an identically configured detector."""

    @abstractmethod
    def _dump(self) -> State:
        """Mutable state only (not parameters)."""

    @abstractmethod
    def _load(self, state: State) -> None:
        """Restore what :meth:`_dump` produced."""

    def to_state(self) -> State:
        """JSON-able snapshot: kind, parameters and state."""
        return {"kind": self.kind, "params": self.params(), "state": self._dump()}

    @classmethod
    def from_state(cls, state: State) -> Self:
        detector = detector_from_state(state)
        if not isinstance(detector, cls):
            raise StateError(f"state is of kind {state.get('kind')!r}, not {cls.kind!r}")
        return detector


def detector_from_state(state: State) -> Detector:
    """Rebuild any registered detector from :meth:`Detector.to_state` output."""
    if not isinstance(state, dict) or not {"kind", "params", "state"} <= state.keys():
        raise StateError("detector state must be a dict with 'kind', 'params' and 'state'")
    kind = state["kind"]
    if kind not in _REGISTRY:
        raise StateError(f"unknown detector kind {kind!r}; known: {sorted(_REGISTRY)}")
    cls = _REGISTRY[kind]
    params = dict(state["params"])
    for key, value in params.items():
        if isinstance(value, dict) and "kind" in value:
            params[key] = detector_from_state(value)
        elif isinstance(value, list) and value and isinstance(value[0], dict) and "kind" in value[0]:
            params[key] = [detector_from_state(v) for v in value]
    try:
        detector = cls(**params)
    except TypeError as exc:
        raise StateError(f"bad parameters for detector kind {kind!r}: {exc}") from exc
    try:
        detector._load(state["state"])
    except (KeyError, TypeError, ValueError) as exc:
        raise StateError(f"bad state for detector kind {kind!r}: {exc!r}") from exc
    return detector
