"""Learned co-occurrence: which kinds of alert fired close together in an alert history.

An alert's *key* is ``service/alertname`` (what is wrong where). Learning counts, over a past
stream, how often two different keys started within ``window_s`` of each other. The strength of a
pair is the overlap coefficient ``n_ab / min(n_a, n_b)``: 1 when the rarer of the two never fires
without the other. No fault labels are involved, only the alerts themselves, so the model can be
learned on any history an operator has.

The same counts at service level give a learned topology (an edge where two services' alerts
co-occur often), for systems that ship no call graph.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tocsin.model import Alert


def alert_key(alert: Alert, service: str) -> str:
    return f"{service}/{alert.name}"


@dataclass(frozen=True)
class PairStrength:
    count: int
    strength: float


class CooccurrenceModel:
    def __init__(self, window_s: float = 120.0, min_count: int = 2) -> None:
        if window_s <= 0:
            raise ValueError(f"co-occurrence window_s must be > 0, got {window_s}")
        if min_count < 1:
            raise ValueError(f"co-occurrence min_count must be >= 1, got {min_count}")
        self.window_s = window_s
        self.min_count = min_count
        self.key_counts: Counter[str] = Counter()
        self.pair_counts: Counter[tuple[str, str]] = Counter()
        self.service_counts: Counter[str] = Counter()
        self.service_pairs: Counter[tuple[str, str]] = Counter()
        # How many of a service's alerts had another service's alert within the window (either side).
        self.service_accompanied: Counter[str] = Counter()
        self.first_start = float("inf")
        self.last_start = float("-inf")
        self._key_strength: dict[tuple[str, str], float] = {}
        self._service_strength: dict[tuple[str, str], float] = {}
        self._companion: dict[str, float] = {}

    @staticmethod
    def _pair(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    def learn(self, alerts: Iterable[Alert], service_of: Callable[[Alert], str]) -> CooccurrenceModel:
        """Count co-occurrences in a stream ordered by ``starts_at``; returns self for chaining."""
        recent: deque[tuple[float, str, str, int]] = deque()
        accompanied: set[int] = set()
        services_seen: list[str] = []
        last_start = float("-inf")
        first_t = float("inf")
        for i, alert in enumerate(alerts):
            t = alert.starts_at
            first_t = min(first_t, t)
            if t < last_start:
                raise ValueError(
                    f"co-occurrence history must be ordered by starts_at: {t} came after {last_start}"
                )
            last_start = t
            while recent and recent[0][0] < t - self.window_s:
                recent.popleft()
            service = service_of(alert)
            key = alert_key(alert, service)
            services_seen.append(service)
            self.key_counts[key] += 1
            self.service_counts[service] += 1
            # Each distinct partner counts once per alert, so a burst of one partner's re-fires does
            # not inflate the pair.
            keys = {k for _, k, _, _ in recent if k != key}
            others = {s for _, _, s, _ in recent if s != service}
            for other in keys:
                self.pair_counts[self._pair(key, other)] += 1
            for other in others:
                self.service_pairs[self._pair(service, other)] += 1
            if others:
                accompanied.add(i)
                accompanied.update(j for _, _, s, j in recent if s != service)
            recent.append((t, key, service, i))
        for i in accompanied:
            self.service_accompanied[services_seen[i]] += 1
        if services_seen:
            self.first_start = min(self.first_start, first_t)
            self.last_start = max(self.last_start, last_start)
        self._tabulate()
        return self

    def _tabulate(self) -> None:
        """Precompute every non-zero strength: the correlator looks them up per candidate."""
        self._key_strength = {p: v for p in self.pair_counts if (v := self.strength(*p).strength) > 0}
        self._service_strength = {
            p: v for p in self.service_pairs if (v := self.service_strength(*p).strength) > 0
        }
        self._companion = {s: v for s in self.service_counts if (v := self.companion_rate(s).strength) > 0}

    def strength_value(self, key_a: str, key_b: str) -> float:
        return self._key_strength.get((key_a, key_b) if key_a <= key_b else (key_b, key_a), 0.0)

    def service_strength_value(self, service_a: str, service_b: str) -> float:
        pair = (service_a, service_b) if service_a <= service_b else (service_b, service_a)
        return self._service_strength.get(pair, 0.0)

    def companion_value(self, service: str) -> float:
        return self._companion.get(service, 0.0)

    def alert_rate(self) -> float:
        """Alerts per second over the history (0 when there is none): how often alerts start by
        chance, which tells how surprising it is that two start close together."""
        n = sum(self.key_counts.values())
        if n < 2:
            return 0.0
        return n / max(self.last_start - self.first_start, self.window_s)

    def companion_rate(self, service: str) -> PairStrength:
        """Share of the service's past alerts that came with another service's alert (a hub such
        as a gateway scores high: its alerts are nearly always symptoms of something elsewhere)."""
        n = self.service_counts.get(service, 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        return PairStrength(self.service_accompanied[service], self.service_accompanied[service] / n)

    def strength(self, key_a: str, key_b: str) -> PairStrength:
        if key_a == key_b:
            return PairStrength(0, 0.0)
        n = self.pair_counts.get(self._pair(key_a, key_b), 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        rarer = min(self.key_counts[key_a], self.key_counts[key_b])
        return PairStrength(n, min(1.0, n / rarer) if rarer else 0.0)

    def service_strength(self, service_a: str, service_b: str) -> PairStrength:
        """The same measure over services, for alert kinds too rare to have key-level history."""
        if service_a == service_b:
            return PairStrength(0, 0.0)
        n = self.service_pairs.get(self._pair(service_a, service_b), 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        rarer = min(self.service_counts[service_a], self.service_counts[service_b])
        return PairStrength(n, min(1.0, n / rarer) if rarer else 0.0)

    def service_edges(self, min_count: int | None = None, min_strength: float = 0.3) -> list[tuple[str, str]]:
        """Service pairs that co-occurred often enough to be treated as neighbours."""
        floor = self.min_count if min_count is None else min_count
        edges = []
        for (a, b), n in sorted(self.service_pairs.items()):
            rarer = min(self.service_counts[a], self.service_counts[b])
            if n >= floor and rarer and n / rarer >= min_strength:
                edges.append((a, b))
        return edges

    def __len__(self) -> int:
        return sum(self.key_counts.values())
