"""The in-memory view of active alerts: merge on re-post, garbage-collect resolved ones.

The durable copy lives in storage; this store is rebuilt from it at start-up. Every change is
handed to listeners (the dispatcher, the inhibitor) in the order it happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tocsin.model import Alert, merge, should_merge, speedups

Listener = Callable[[list[Alert]], None]


def same_tenant(a: Alert, tenant_id: str) -> bool:
    """Whether ``a`` is ``tenant_id``'s, compared as the compiled run loops compare: identity
    first, so a run always takes its first alert."""
    return a.tenant_id is tenant_id or a.tenant_id == tenant_id


def py_merge_run(
    store: dict[int, Alert],
    added: list[int],
    alerts: list[Alert],
    start: int,
    tenant_id: str,
    merge_one: Callable[[Alert, Alert], Alert],
    out: list[Alert],
) -> int:
    """Merge the run of ``tenant_id``'s alerts from ``start`` into ``store``: each is stored as
    ``merge_one(old, alert)`` when its fingerprint is stored already, else as it is (and its
    fingerprint goes into ``added``); what is stored is appended to ``out``. Returns where the
    run ends. The compiled ``merge_run`` does the same."""
    i = start
    while i < len(alerts) and same_tenant(alerts[i], tenant_id):
        a = alerts[i]
        fp = a.fingerprint
        old = store.get(fp)
        if old is None:
            added.append(fp)
        else:
            a = merge_one(old, a)
        store[fp] = a
        out.append(a)
        i += 1
    return i


def py_stored_run(
    store: dict[int, Alert], alerts: list[Alert], start: int, tenant_id: str, out: list[Alert]
) -> int:
    """Append to ``out`` the alerts of ``tenant_id``'s run from ``start`` that ``store`` still
    holds (the same object); return where the run ends. The compiled ``stored_run`` does the same."""
    i = start
    while i < len(alerts) and same_tenant(alerts[i], tenant_id):
        a = alerts[i]
        if store.get(a.fingerprint) is a:
            out.append(a)
        i += 1
    return i


merge_run = speedups.merge_run if speedups is not None else py_merge_run
stored_run = speedups.stored_run if speedups is not None else py_stored_run


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
        alerts = alerts if type(alerts) is list else list(alerts)
        out: list[Alert] = []
        i = 0
        while i < len(alerts):  # alerts come a request at a time: one tenant, one run
            tenant_id = alerts[i].tenant_id
            t = self._tenants.get(tenant_id)
            i = stored_run({} if t is None else t.alerts, alerts, i, tenant_id, out)
        return out

    def merge_all(self, alerts: Iterable[Alert], now: float) -> list[Alert]:
        """Merge posted alerts into the store and return the stored results (not yet announced)."""
        alerts = alerts if type(alerts) is list else list(alerts)

        def merge_one(old: Alert, a: Alert) -> Alert:
            return merge(old, a, now) if should_merge(old, a) else a

        out: list[Alert] = []
        i = 0
        while i < len(alerts):
            tenant_id = alerts[i].tenant_id
            t = self._tenant(tenant_id)
            i = merge_run(t.alerts, t.added, alerts, i, tenant_id, merge_one, out)
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
