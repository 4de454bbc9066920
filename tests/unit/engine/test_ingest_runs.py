"""The per-alert loops of ingest (AlertStore.merge_all and still_stored, Dispatcher.process): the
compiled run helpers of tocsin._speedups against their Python twins, and the engine with them
against the loops they replaced (kept here verbatim as ``old_*``), on generated input."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.config import load_config_text
from tocsin.engine import alerts as alert_store
from tocsin.engine import dispatch
from tocsin.engine.alerts import AlertStore
from tocsin.engine.clock import ManualClock
from tocsin.engine.dispatch import Dispatcher, Group
from tocsin.engine.route import build_routes
from tocsin.model import Alert, merge, should_merge, speedups

NOW = 1_800_000_000.0

needs_speedups = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")


# --- the code the helpers replaced ------------------------------------------------------------


def old_merge_all(store: AlertStore, alerts: Iterable[Alert], now: float) -> list[Alert]:
    out = []
    tenant_id = None
    t = None
    for a in alerts:
        if t is None or a.tenant_id != tenant_id:
            if t is not None:
                store._forget_order_if_stale(t)
            tenant_id = a.tenant_id
            t = store._tenant(tenant_id)
            stored, added = t.alerts, t.added
        fp = a.fingerprint
        old = stored.get(fp)
        if old is None:
            added.append(fp)
        elif should_merge(old, a):
            a = merge(old, a, now)
        stored[fp] = a
        out.append(a)
    if t is not None:
        store._forget_order_if_stale(t)
    store.version += 1
    return out


def old_still_stored(store: AlertStore, alerts: Iterable[Alert]) -> list[Alert]:
    out = []
    tenant_id = None
    stored: dict[int, Alert] = {}
    for a in alerts:
        if a.tenant_id != tenant_id:
            tenant_id = a.tenant_id
            t = store._tenants.get(tenant_id)
            stored = {} if t is None else t.alerts
        if stored.get(a.fingerprint) is a:
            out.append(a)
    return out


def old_process(self: Dispatcher, alerts: Iterable[Alert]) -> None:
    now = self.clock.now()
    self.version += 1
    destinations = self._destinations
    decisive = self._decisive
    groups = self.groups
    last_key: tuple[Any, ...] | None = None
    found: list[tuple[Any, str, dict[str, str]]] = []
    last_gid: tuple[str, str] | None = None
    g: Group | None = None
    for alert in alerts:
        if decisive is None:
            found = self._route(alert.labels)
        else:
            key = tuple(map(alert.labels.get, decisive))
            if key != last_key:
                cached = destinations.get(key)
                if cached is None:
                    cached = self._route(alert.labels)
                    if len(destinations) >= 100_000:
                        destinations.clear()
                    destinations[key] = cached
                found, last_key = cached, key
        tenant_id = alert.tenant_id
        for route, gid_str, labels in found:
            if last_gid is not None and last_gid[1] is gid_str and last_gid[0] == tenant_id:
                gid = last_gid
            else:
                gid = (tenant_id, gid_str)
                g = groups.get(gid)
                if g is None:
                    g = self._new_group(gid, route, labels, now)
                last_gid = gid
            assert g is not None
            g.alerts[alert.fingerprint] = alert
            g.changed = True
            if not g.has_flushed and alert.starts_at + route.group_wait < now and g.next_flush > now:
                self._schedule(g, now)


# --- generated alerts -------------------------------------------------------------------------

_tenants = st.sampled_from(["default", "default", "team-a", "team-b"])
_labels = st.fixed_dictionaries(
    {},
    optional={
        "alertname": st.sampled_from(["A", "B"]),
        "cluster": st.sampled_from(["c1", "c2"]),
        "team": st.sampled_from(["db", "web"]),
        "instance": st.sampled_from(["h1", "h2", "h3", "h4"]),
    },
)


@st.composite
def _alert(draw: st.DrawFn) -> Alert:
    start = NOW - draw(st.sampled_from([0.0, 1.0, 30.0, 600.0]))
    end = NOW + draw(st.sampled_from([-60.0, 300.0, 3600.0]))
    a = Alert(draw(_labels), None, start, end, timeout=draw(st.booleans()), tenant_id=draw(_tenants))
    a.updated_at = start
    return a


_batches = st.lists(st.lists(_alert(), max_size=12), max_size=6)


class SubAlert(Alert):
    """Not model.Alert itself: the compiled helpers read its fields by getattr."""

    __slots__ = ()


def _retyped(a: Alert, kind: str) -> Any:
    if kind == "sub":
        return SubAlert(
            a.labels, a.annotations_json, a.starts_at, a.ends_at, timeout=a.timeout, tenant_id=a.tenant_id
        )
    if kind == "namespace":
        return types.SimpleNamespace(
            labels=a.labels, tenant_id=a.tenant_id, fingerprint=a.fingerprint, starts_at=a.starts_at
        )
    return a


# --- the helpers: compiled against Python -----------------------------------------------------


def _helper_pairs(name: str) -> list[Callable[..., Any]]:
    module = alert_store if name in ("merge_run", "stored_run") else dispatch
    twin = getattr(module, f"py_{name}")
    return [twin] + ([getattr(speedups, name)] if speedups is not None else [])


@given(st.lists(_alert(), max_size=20), st.lists(st.integers(0, 19), max_size=8), st.integers(0, 22))
@settings(max_examples=300)
def test_merge_and_stored_runs_agree(alerts: list[Alert], stored_at: list[int], start: int) -> None:
    outcomes = []
    for merge_run, stored_run in zip(_helper_pairs("merge_run"), _helper_pairs("stored_run"), strict=True):
        store = {alerts[i].fingerprint: alerts[i] for i in stored_at if i < len(alerts)}
        added: list[int] = []
        calls: list[tuple[int, int]] = []
        merged: list[Alert] = []

        def merge_one(old: Alert, a: Alert, calls: list[tuple[int, int]] = calls) -> Alert:
            calls.append((id(old), id(a)))
            return merge(old, a, NOW) if should_merge(old, a) else a

        tenant = alerts[start].tenant_id if start < len(alerts) else "default"
        end = merge_run(store, added, alerts, start, tenant, merge_one, merged)
        kept: list[Alert] = []
        stored_end = stored_run(store, alerts, start, tenant, kept)
        snapshot = {fp: (a.labels, a.starts_at, a.ends_at, a.tenant_id) for fp, a in store.items()}
        outcomes.append((end, stored_end, added, calls, [id(a) for a in kept], len(merged), snapshot))
    assert all(o == outcomes[0] for o in outcomes)
    end = outcomes[0][0]
    assert start >= len(alerts) or end > start  # a run always takes its first alert


@given(st.lists(_alert(), max_size=20), st.integers(0, 22), st.lists(st.sampled_from(["sub", "namespace"])))
@settings(max_examples=300)
def test_same_key_end_and_add_run_agree(alerts: list[Alert], start: int, kinds: list[str]) -> None:
    alerts = [_retyped(a, kinds[i]) if i < len(kinds) else a for i, a in enumerate(alerts)]
    names = ("alertname", "cluster")
    outcomes = []
    for same_key_end, add_run in zip(_helper_pairs("same_key_end"), _helper_pairs("add_run"), strict=True):
        if start < len(alerts):
            first = alerts[start]
            end = same_key_end(alerts, start + 1, names, tuple(map(first.labels.get, names)), first.tenant_id)
        else:
            end = same_key_end(alerts, start, names, (None, None), "default")
        group: dict[int, Any] = {}
        earliest = add_run(group, alerts, start, end)
        outcomes.append((end, earliest, [(fp, id(a)) for fp, a in group.items()]))
    assert all(o == outcomes[0] for o in outcomes)


def test_same_key_end_stops_at_labels_that_are_not_a_dict() -> None:
    plain = Alert({"alertname": "A"})
    proxy = types.SimpleNamespace(labels=types.MappingProxyType({"alertname": "A"}), tenant_id="default")
    for same_key_end in _helper_pairs("same_key_end"):
        assert same_key_end([plain, plain, proxy, plain], 1, ("alertname",), ("A",), "default") == 2
        assert same_key_end([plain, plain], 0, ("alertname", "x"), ("A", None), "default") == 2
        assert same_key_end([plain, plain], 0, ("alertname",), ("B",), "default") == 0
        assert same_key_end([plain, plain], 0, ("alertname",), ("A",), "other") == 0


@needs_speedups
def test_compiled_run_helpers_name_the_alert_and_field() -> None:
    assert speedups is not None
    good = Alert({"alertname": "A"}, None, NOW, NOW + 60)
    bad = types.SimpleNamespace(tenant_id="default", labels={"alertname": "A"})  # no fingerprint
    with pytest.raises(AttributeError, match=r"merge_run\(\): alert 1, fingerprint: "):
        speedups.merge_run({}, [], [good, bad], 0, "default", lambda old, a: a, [])
    with pytest.raises(AttributeError, match=r"stored_run\(\): alert 1, fingerprint: "):
        speedups.stored_run({}, [good, bad], 0, "default", [])
    with pytest.raises(AttributeError, match=r"same_key_end\(\): alert 1, tenant_id: "):
        speedups.same_key_end([good, object()], 1, ("alertname",), ("A",), "default")
    with pytest.raises(AttributeError, match=r"add_run\(\): alert 1, fingerprint: "):
        speedups.add_run({}, [good, bad], 0, 2)
    no_start = types.SimpleNamespace(fingerprint=1)
    with pytest.raises(AttributeError, match=r"add_run\(\): alert 0, starts_at: "):
        speedups.add_run({}, [no_start], 0, 1)
    with pytest.raises(TypeError, match=r"alerts must be a list, not tuple"):
        speedups.stored_run({}, (good,), 0, "default", [])
    with pytest.raises(ValueError, match="start must not be negative"):
        speedups.add_run({}, [good], -1, 1)
    with pytest.raises(TypeError, match=r"names and key must be tuples of one length"):
        speedups.same_key_end([good], 0, ("alertname",), ("A", None), "default")
    with pytest.raises(TypeError, match=r"merge_run\(store, added, alerts, start, tenant, merge_one, out\)"):
        speedups.merge_run({}, [], [good], 0)


@needs_speedups
def test_compiled_merge_run_stops_where_merge_one_fails_and_survives_a_shrinking_list() -> None:
    assert speedups is not None
    alerts = [Alert({"alertname": "A", "i": str(i)}) for i in range(4)]
    store = {alerts[2].fingerprint: alerts[2]}
    out: list[Alert] = []

    def fail(old: Alert, a: Alert) -> Alert:
        raise RuntimeError("merge failed")

    with pytest.raises(RuntimeError, match="merge failed"):
        speedups.merge_run(store, [], alerts, 0, "default", fail, out)
    assert out == alerts[:2]  # what came before the failing alert is merged, as in Python

    def shrink(old: Alert, a: Alert) -> Alert:
        del alerts[1:]
        return a

    assert speedups.merge_run(store, [], alerts, 2, "default", shrink, []) == 3


@needs_speedups
def test_compiled_run_helpers_keep_no_reference() -> None:
    assert speedups is not None
    alerts = [Alert({"alertname": "A", "i": str(i)}, None, NOW - i, NOW + 60) for i in range(40)]
    before = [sys.getrefcount(a) for a in alerts]
    for _ in range(3):
        store: dict[int, Alert] = {}
        speedups.merge_run(store, [], alerts, 0, "default", lambda old, a: a, [])
        speedups.stored_run(store, alerts, 0, "default", [])
        speedups.same_key_end(alerts, 0, ("alertname",), ("A",), "default")
        speedups.add_run({}, alerts, 0, 40)
        del store
    assert [sys.getrefcount(a) for a in alerts] == before


# --- the engine's loops: new against old ------------------------------------------------------

CONFIG = """
route:
  receiver: r
  group_by: [alertname, cluster]
  group_wait: 10s
  routes:
    - matchers: ['team="db"']
      receiver: r
      group_by: [instance]
      continue: true
    - matchers: ['team=~"db|web"']
      receiver: r
receivers:
  - name: r
"""


def _dispatcher(clock: ManualClock) -> Dispatcher:
    return Dispatcher(build_routes(load_config_text(CONFIG)), pipeline=None, clock=clock)  # type: ignore[arg-type]


def _groups(d: Dispatcher) -> list[Any]:
    return sorted(
        (gid, g.key, [(fp, id(a)) for fp, a in g.alerts.items()], g.next_flush, g.changed)
        for gid, g in d.groups.items()
    )


@given(_batches, st.booleans())
@settings(max_examples=200, deadline=None)
def test_ingest_loops_match_the_old_ones(batches: list[list[Alert]], as_iterable: bool) -> None:
    clock = ManualClock(NOW)
    new_store, old_store = AlertStore(), AlertStore()
    new_d, old_d = _dispatcher(clock), _dispatcher(clock)
    for batch in batches:
        merged_new = new_store.merge_all(iter(batch) if as_iterable else batch, clock.now())
        merged_old = old_merge_all(old_store, batch, clock.now())  # Alerts are never changed in place
        assert [(a.fingerprint, a.starts_at, a.ends_at, a.tenant_id) for a in merged_new] == [
            (a.fingerprint, a.starts_at, a.ends_at, a.tenant_id) for a in merged_old
        ]
        current_new = new_store.still_stored(merged_new)
        current_old = old_still_stored(old_store, merged_old)
        assert [a.fingerprint for a in current_new] == [a.fingerprint for a in current_old]
        new_d.process(iter(current_new) if as_iterable else current_new)
        old_process(old_d, current_old)
        new_groups, old_groups = _groups(new_d), _groups(old_d)
        assert [
            (gid, key, [fp for fp, _ in members], nf, ch) for gid, key, members, nf, ch in new_groups
        ] == [(gid, key, [fp for fp, _ in members], nf, ch) for gid, key, members, nf, ch in old_groups]
        clock.advance(1.0)
    for tenant in ("default", "team-a", "team-b"):
        assert [a.fingerprint for a in new_store.in_fingerprint_order(tenant)] == [
            a.fingerprint for a in old_store.in_fingerprint_order(tenant)
        ]
