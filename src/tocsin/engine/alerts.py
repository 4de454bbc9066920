"""The in-memory view of active alerts: merge on re-post, garbage-collect resolved ones.

The durable copy lives in storage; this store is rebuilt from it at start-up. Every change is
handed to listeners (the dispatcher, the inhibitor) in the order it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tocsin.model import Alert, merge, should_merge

Listener = Callable[[list[Alert]], None]


class AlertStore:
    def __init__(self) -> None:
        self._alerts: dict[tuple[str, int], Alert] = {}
        self._listeners: list[Listener] = []
        #: bumped on every change of the stored alerts (stored Alerts are never changed in place)
        self.version = 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def __len__(self) -> int:
        return len(self._alerts)

    def __iter__(self) -> Iterator[Alert]:
        return iter(list(self._alerts.values()))

    def get(self, tenant_id: str, fp: int) -> Alert | None:
        return self._alerts.get((tenant_id, fp))

    def merge_all(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Merge posted alerts into the store and return the stored results (not yet announced)."""
        out = []
        store = self._alerts
        for a in alerts:
            key = (a.tenant_id, a.fingerprint)
            old = store.get(key)
            if old is not None and should_merge(old, a):
                a = merge(old, a, now)
            store[key] = a
            out.append(a)
        self.version += 1
        return out

    def load(self, alerts: Iterable[Alert]) -> None:
        for a in alerts:
            self._alerts[(a.tenant_id, a.fingerprint)] = a
        self.version += 1

    def announce(self, alerts: list[Alert]) -> None:
        for listener in self._listeners:
            listener(alerts)

    def gc(self, now: float, keep: set[tuple[str, int]]) -> list[Alert]:
        """Drop resolved alerts not in ``keep``; return them so the caller deletes them durably."""
        gone = [a for key, a in self._alerts.items() if a.ends_at <= now and key not in keep]
        for a in gone:
            del self._alerts[(a.tenant_id, a.fingerprint)]
        if gone:
            self.version += 1
        return gone
