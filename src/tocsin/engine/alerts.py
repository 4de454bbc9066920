"""The in-memory view of active alerts: merge on re-post, garbage-collect resolved ones.

The durable copy lives in storage; this store is rebuilt from it at start-up. Every change is
handed to listeners (the dispatcher, the inhibitor) in the order it happened.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator

from tocsin.model import Alert, merge, should_merge

Listener = Callable[[list[Alert]], None]

_FINGERPRINT = operator.itemgetter(1)


class AlertStore:
    def __init__(self) -> None:
        self._alerts: dict[tuple[str, int], Alert] = {}
        self._listeners: list[Listener] = []
        #: bumped on every change of the stored alerts (stored Alerts are never changed in place)
        self.version = 0
        # Keys in fingerprint order as of the last ``in_fingerprint_order``, and what came and
        # went since: GET /alerts lists alerts in that order, and re-sorting ten thousand keys
        # after each new alert cost more than the rest of a read's answer.
        self._order: list[tuple[str, int]] = []
        self._added: list[tuple[str, int]] = []
        self._removed = False

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def __len__(self) -> int:
        return len(self._alerts)

    def __iter__(self) -> Iterator[Alert]:
        return iter(list(self._alerts.values()))

    def get(self, tenant_id: str, fp: int) -> Alert | None:
        return self._alerts.get((tenant_id, fp))

    def still_stored(self, alerts: Iterable[Alert]) -> list[Alert]:
        """Those of ``alerts`` that are still the stored instance (not replaced since)."""
        get = self._alerts.get
        return [a for a in alerts if get((a.tenant_id, a.fingerprint)) is a]

    def merge_all(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Merge posted alerts into the store and return the stored results (not yet announced)."""
        out = []
        store = self._alerts
        added = self._added
        for a in alerts:
            key = (a.tenant_id, a.fingerprint)
            old = store.get(key)
            if old is None:
                added.append(key)
            elif should_merge(old, a):
                a = merge(old, a, now)
            store[key] = a
            out.append(a)
        self.version += 1
        if len(added) > len(store):
            # Nobody has read the order for a long while: sorting afresh costs no more.
            self._order, self._added, self._removed = [], [], False
        return out

    def load(self, alerts: Iterable[Alert]) -> None:
        for a in alerts:
            key = (a.tenant_id, a.fingerprint)
            if key not in self._alerts:
                self._added.append(key)
            self._alerts[key] = a
        self.version += 1

    def in_fingerprint_order(self) -> list[Alert]:
        """Every stored alert, by fingerprint."""
        alerts = self._alerts
        order = self._order
        if self._removed:
            order = [k for k in order if k in alerts]
        if self._added:
            # Timsort merges the sorted run and the few new keys in about linear time.
            order += [k for k in self._added if k in alerts]
            order.sort(key=_FINGERPRINT)
        if len(order) != len(alerts):
            # A key removed and added again since the last call is listed twice.
            order = sorted(alerts, key=_FINGERPRINT)
        self._order, self._added, self._removed = order, [], False
        return list(map(alerts.__getitem__, order))

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
            self._removed = True
        return gone
