"""The in-memory view of active alerts: merge on re-post, garbage-collect resolved ones.

The durable copy lives in storage; this store is rebuilt from it at start-up. Every change is
handed to listeners (the dispatcher, the inhibitor) in the order it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tocsin.model import Alert, merge, should_merge

Listener = Callable[[list[Alert]], None]


class _Tenant:
    """One tenant's alerts by fingerprint, and the order GET /alerts lists them in."""

    __slots__ = ("added", "alerts", "order", "removed")

    def __init__(self) -> None:
        self.alerts: dict[int, Alert] = {}
        # Fingerprints in order as of the last ``in_fingerprint_order``, and what came and went
        # since: GET /alerts lists alerts in that order, and re-sorting ten thousand keys after
        # each new alert cost more than the rest of a read's answer.
        self.order: list[int] = []
        self.added: list[int] = []
        self.removed = False


class AlertStore:
    def __init__(self) -> None:
        # A dict per tenant keyed by fingerprint: keyed by (tenant, fingerprint) in one dict,
        # the key tuples alone took 56 bytes per alert (13 MiB at 250k alerts).
        self._tenants: dict[str, _Tenant] = {}
        self._listeners: list[Listener] = []
        #: bumped on every change of the stored alerts (stored Alerts are never changed in place)
        self.version = 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def __len__(self) -> int:
        return sum(len(t.alerts) for t in self._tenants.values())

    def __iter__(self) -> Iterator[Alert]:
        return iter([a for t in self._tenants.values() for a in t.alerts.values()])

    def _tenant(self, tenant_id: str) -> _Tenant:
        t = self._tenants.get(tenant_id)
        if t is None:
            t = self._tenants[tenant_id] = _Tenant()
        return t

    def get(self, tenant_id: str, fp: int) -> Alert | None:
        t = self._tenants.get(tenant_id)
        return None if t is None else t.alerts.get(fp)

    def still_stored(self, alerts: Iterable[Alert]) -> list[Alert]:
        """Those of ``alerts`` that are still the stored instance (not replaced since)."""
        out = []
        tenant_id = None
        stored: dict[int, Alert] = {}
        for a in alerts:
            if a.tenant_id != tenant_id:  # alerts come a request at a time: one tenant
                tenant_id = a.tenant_id
                t = self._tenants.get(tenant_id)
                stored = {} if t is None else t.alerts
            if stored.get(a.fingerprint) is a:
                out.append(a)
        return out

    def merge_all(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Merge posted alerts into the store and return the stored results (not yet announced)."""
        out = []
        tenant_id = None
        t = None
        for a in alerts:
            if t is None or a.tenant_id != tenant_id:
                if t is not None:
                    self._forget_order_if_stale(t)
                tenant_id = a.tenant_id
                t = self._tenant(tenant_id)
                store, added = t.alerts, t.added
            fp = a.fingerprint
            old = store.get(fp)
            if old is None:
                added.append(fp)
            elif should_merge(old, a):
                a = merge(old, a, now)
            store[fp] = a
            out.append(a)
        if t is not None:
            self._forget_order_if_stale(t)
        self.version += 1
        return out

    @staticmethod
    def _forget_order_if_stale(t: _Tenant) -> None:
        if len(t.added) > len(t.alerts):
            # Nobody has read the order for a long while: sorting afresh costs no more.
            t.order, t.added, t.removed = [], [], False

    def load(self, alerts: Iterable[Alert]) -> None:
        for a in alerts:
            t = self._tenant(a.tenant_id)
            if a.fingerprint not in t.alerts:
                t.added.append(a.fingerprint)
            t.alerts[a.fingerprint] = a
        self.version += 1

    def in_fingerprint_order(self, tenant_id: str) -> list[Alert]:
        """Every stored alert of the tenant, by fingerprint."""
        t = self._tenants.get(tenant_id)
        if t is None:
            return []
        alerts = t.alerts
        order = t.order
        if t.removed:
            order = [fp for fp in order if fp in alerts]
        if t.added:
            # Timsort merges the sorted run and the few new keys in about linear time.
            order += [fp for fp in t.added if fp in alerts]
            order.sort()
        if len(order) != len(alerts):
            # A key removed and added again since the last call is listed twice.
            order = sorted(alerts)
        t.order, t.added, t.removed = order, [], False
        return list(map(alerts.__getitem__, order))

    def announce(self, alerts: list[Alert]) -> None:
        for listener in self._listeners:
            listener(alerts)

    def gc(self, now: float, keep: set[tuple[str, int]]) -> list[Alert]:
        """Drop resolved alerts not in ``keep`` (tenant, fingerprint); return them so the caller
        deletes them durably."""
        gone = []
        for tenant_id, t in self._tenants.items():
            ended = [
                a for a in t.alerts.values() if a.ends_at <= now and (tenant_id, a.fingerprint) not in keep
            ]
            for a in ended:
                del t.alerts[a.fingerprint]
            if ended:
                t.removed = True
                gone += ended
        if gone:
            self.version += 1
        return gone
