"""Weak metric evidence for root-cause ranking: how unusual a service's metrics were in a window.

Alerts fire only above a threshold, so a fault whose effect on its own service stays below every
alert rule (a network delay that only the callers' latency alerts show) leaves the root-cause
ranking with nothing to say about that service. A deployed tocsin can still *look* at the
service's metrics when it ranks an incident — the same series its alert rules read, queried from
the metrics store. :class:`MetricProbe` is that look-up; :class:`SeriesProbe` answers it from
series held in memory (the benchmark loads them from the Nezha data set).

The answer is a robust deviation: over the window, the largest ``|value - median| / scale`` of any
series of the service, against the trailing ``baseline_s`` before the window, with
``scale = max(1.4826 · MAD, rel_floor · |median|, abs_floor)``. No labels are involved.

A probe may also know each service's *client-side* latency — how long the calls it makes take, as
it measures them (:class:`ClientLatencyProbe`). A network delay or an exception on a service barely
moves that service's own metrics but shows in the client latency of every service that calls it;
the root-cause ranking attributes those rises to the callee (``correlation/rootcause.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


class MetricProbe(Protocol):
    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        """(robust deviation >= 0, name of the series that deviated most) of ``service`` in the window;
        ``(0.0, "")`` when nothing is known about the service."""
        ...


@runtime_checkable
class ClientLatencyProbe(Protocol):
    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        """How far the latency of the calls ``service`` makes rose in the window, held for ``samples``
        samples: the ``samples``-th largest upward robust deviation of any of its client-latency series
        (0 when it never rose, or the window holds fewer samples); ``None`` when the probe has no
        client-latency series for the service."""
        ...

    @property
    def client_services(self) -> list[str] | None:
        """The services whose client latency the probe knows; None when it cannot say in advance
        (a metrics store queried per window): then every service is asked, and those answered with
        ``None`` count as unmeasured."""
        ...


@dataclass(frozen=True)
class Series:
    """One metric series of one service: sample times (epoch s, ascending) and values (NaN = gap)."""

    name: str
    times: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.times.shape != self.values.shape or self.times.ndim != 1:
            raise ValueError(
                f"series {self.name!r}: times and values must be 1-D and equally long, "
                f"got {self.times.shape} and {self.values.shape}"
            )
        if len(self.times) > 1 and bool(np.any(np.diff(self.times) < 0)):
            raise ValueError(f"series {self.name!r}: times must be ascending")


class SeriesProbe:
    """A :class:`MetricProbe` over series in memory, optionally shifted in time by ``shift_s``.

    ``client_series`` (service → series of the latency of the calls it makes) also makes it a
    :class:`ClientLatencyProbe`.
    """

    def __init__(
        self,
        series: Iterable[tuple[str, Series]],
        baseline_s: float = 1800.0,
        rel_floor: float = 0.05,
        abs_floor: float = 1e-6,
        min_baseline: int = 5,
        shift_s: float = 0.0,
        client_series: Iterable[tuple[str, Series]] = (),
    ) -> None:
        if not (math.isfinite(baseline_s) and baseline_s > 0):
            raise ValueError(f"baseline_s must be a finite number > 0, got {baseline_s!r}")
        if rel_floor < 0 or abs_floor <= 0:
            raise ValueError(f"rel_floor must be >= 0 and abs_floor > 0, got {rel_floor!r}, {abs_floor!r}")
        self.baseline_s = baseline_s
        self.rel_floor = rel_floor
        self.abs_floor = abs_floor
        self.min_baseline = min_baseline
        self.shift_s = shift_s
        self._by_service: dict[str, list[Series]] = {}
        for service, s in series:
            if not service:
                raise ValueError(f"series {s.name!r} has no service")
            self._by_service.setdefault(service, []).append(s)
        self._client: dict[str, list[Series]] = {}
        for service, s in client_series:
            if not service:
                raise ValueError(f"client series {s.name!r} has no service")
            self._client.setdefault(service, []).append(s)
        # Ranking asks the same (service, window) again for every weight it tries: keep the answers.
        self._rise_cache: dict[tuple[str, float, float, int], float] = {}

    @property
    def services(self) -> list[str]:
        return sorted(self._by_service)

    @property
    def client_services(self) -> list[str]:
        return sorted(self._client)

    def shifted(self, shift_s: float) -> SeriesProbe:
        """The same series seen ``shift_s`` seconds later (for streams replayed with a time shift)."""
        out = SeriesProbe((), self.baseline_s, self.rel_floor, self.abs_floor, self.min_baseline, shift_s)
        out._by_service = self._by_service
        out._client = self._client
        return out

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        if end < start:
            raise ValueError(f"probe window ends before it starts: {start} > {end}")
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        found = self._client.get(service)
        if not found:
            return None
        key = (service, start, end, samples)
        cached = self._rise_cache.get(key)
        if cached is None:
            cached = max(
                held_rise(
                    s,
                    start - self.shift_s,
                    end - self.shift_s,
                    samples,
                    self.baseline_s,
                    self.rel_floor,
                    self.abs_floor,
                    self.min_baseline,
                )
                for s in found
            )
            if len(self._rise_cache) > 100_000:
                self._rise_cache.clear()
            self._rise_cache[key] = cached
        return cached

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        if end < start:
            raise ValueError(f"probe window ends before it starts: {start} > {end}")
        best, best_name = 0.0, ""
        for s in self._by_service.get(service, ()):
            d = self._series_deviation(s, start - self.shift_s, end - self.shift_s)
            if d > best:
                best, best_name = d, s.name
        return best, best_name

    def _series_deviation(self, s: Series, start: float, end: float) -> float:
        return robust_deviation(
            s, start, end, self.baseline_s, self.rel_floor, self.abs_floor, self.min_baseline
        )


def robust_deviation(
    s: Series,
    start: float,
    end: float,
    baseline_s: float,
    rel_floor: float = 0.05,
    abs_floor: float = 1e-6,
    min_baseline: int = 5,
) -> float:
    """The largest robust deviation of ``s`` inside ``[start, end]`` against ``[start - baseline_s, start)``;
    0 when the baseline has fewer than ``min_baseline`` samples or the window none."""
    found = _window_against_baseline(s, start, end, baseline_s, rel_floor, abs_floor, min_baseline, 1)
    if found is None:
        return 0.0
    win, med, scale = found
    return float(max(np.max(win) - med, med - np.min(win), 0.0) / scale)


def held_rise(
    s: Series,
    start: float,
    end: float,
    samples: int,
    baseline_s: float,
    rel_floor: float = 0.05,
    abs_floor: float = 1e-6,
    min_baseline: int = 5,
) -> float:
    """The ``samples``-th largest upward robust deviation of ``s`` inside ``[start, end]`` against
    ``[start - baseline_s, start)``: a rise of at least this much lasted ``samples`` samples. 0 when
    the baseline has fewer than ``min_baseline`` samples or the window fewer than ``samples``."""
    found = _window_against_baseline(s, start, end, baseline_s, rel_floor, abs_floor, min_baseline, samples)
    if found is None:
        return 0.0
    win, med, scale = found
    held = float(np.sort(win)[-samples])
    return max(held - med, 0.0) / scale


def _window_against_baseline(
    s: Series,
    start: float,
    end: float,
    baseline_s: float,
    rel_floor: float,
    abs_floor: float,
    min_baseline: int,
    min_window: int,
) -> tuple[npt.NDArray[np.float64], float, float] | None:
    """The window's values (gaps dropped), the baseline's median and its robust scale
    ``max(1.4826 · MAD, rel_floor · |median|, abs_floor)``; None when either has too few samples."""
    b0 = int(np.searchsorted(s.times, start - baseline_s, side="left"))
    lo = int(np.searchsorted(s.times, start, side="left"))
    hi = int(np.searchsorted(s.times, end, side="right"))
    base = s.values[b0:lo]
    base = base[~np.isnan(base)]
    win = s.values[lo:hi]
    win = win[~np.isnan(win)]
    if len(base) < min_baseline or len(win) < min_window:
        return None
    med = float(np.median(base))
    mad = 1.4826 * float(np.median(np.abs(base - med)))
    return win, med, max(mad, rel_floor * abs(med), abs_floor)


class CombinedProbe:
    """Several probes as one (e.g. two systems behind one alert manager): the largest answer wins."""

    def __init__(self, probes: Sequence[MetricProbe]) -> None:
        self.probes = tuple(probes)

    @property
    def client_services(self) -> list[str] | None:
        found: set[str] = set()
        for p in self.probes:
            if isinstance(p, ClientLatencyProbe):
                known = p.client_services
                if known is None:  # one probe that cannot list them: ask about every service
                    return None
                found.update(known)
        return sorted(found)

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        best: float | None = None
        for p in self.probes:
            if isinstance(p, ClientLatencyProbe):
                rise = p.client_rise(service, start, end, samples)
                if rise is not None and (best is None or rise > best):
                    best = rise
        return best

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        best: tuple[float, str] = (0.0, "")
        for p in self.probes:
            d = p.deviation(service, start, end)
            if d[0] > best[0]:
                best = d
        return best
