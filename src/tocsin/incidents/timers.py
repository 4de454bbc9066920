"""Durable timers of the incident manager: what is armed, when it is due, and for which incident.

The store is plain data (it serialises to JSON-able dicts) with two indexes kept in step with it:
a heap of ``(at, seq, key)`` with lazy deletion for "what is due next", and the keys of each
incident's timers for cancellation. Both stay cheap with thousands of open incidents.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(slots=True)
class Timer:
    at: float
    kind: str
    incident_id: str
    data: dict[str, Any]
    #: Creation order: timers due at the same instant fire in the order they were armed.
    seq: int = 0


class TimerStore:
    def __init__(self) -> None:
        self.items: dict[str, Timer] = {}
        self.seq = 0
        self._heap: list[tuple[float, int, str]] = []
        self._by_incident: dict[str, set[str]] = {}

    def arm(self, incident_id: str, kind: str, at: float, data: dict[str, Any]) -> str:
        """Add a timer and return its key (unique for the life of the store)."""
        self.seq += 1
        key = f"{incident_id}:{kind}:{self.seq}"
        self._add(key, Timer(at, kind, incident_id, data, self.seq))
        return key

    def _add(self, key: str, t: Timer) -> None:
        self.items[key] = t
        heapq.heappush(self._heap, (t.at, t.seq, key))
        self._by_incident.setdefault(t.incident_id, set()).add(key)

    def get(self, key: str) -> Timer | None:
        return self.items.get(key)

    def remove(self, key: str) -> Timer:
        t = self.items.pop(key)
        keys = self._by_incident.get(t.incident_id)
        if keys is not None:
            keys.discard(key)
            if not keys:
                del self._by_incident[t.incident_id]
        return t

    def of_incident(self, incident_id: str) -> list[tuple[str, Timer]]:
        """The incident's timers in the order they were armed."""
        keys = sorted(self._by_incident.get(incident_id, ()), key=lambda k: self.items[k].seq)
        return [(k, self.items[k]) for k in keys]

    def next_due(self) -> float | None:
        heap = self._heap
        while heap:
            at, _, key = heap[0]
            t = self.items.get(key)
            if t is not None and t.at == at:
                return at
            heapq.heappop(heap)  # fired or cancelled since it was pushed
        return None

    def pop_due_key(self, now: float) -> str | None:
        """The key of the earliest timer due at ``now`` (left in the store), or None."""
        due = self.next_due()
        if due is None or due > now:
            return None
        return heapq.heappop(self._heap)[2]

    def pending(self) -> list[tuple[str, Timer]]:
        return sorted(self.items.items(), key=lambda kv: (kv[1].at, kv[1].seq))

    def __iter__(self) -> Iterator[tuple[str, Timer]]:
        return iter(list(self.items.items()))

    def __len__(self) -> int:
        return len(self.items)

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "timers": {k: asdict(t) for k, t in self.items.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TimerStore:
        store = cls()
        store.seq = int(data["seq"])
        for k, t in data["timers"].items():
            store._add(k, Timer(**t))
        return store
