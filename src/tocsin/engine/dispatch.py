"""Aggregation groups and their timers, with Alertmanager's timing.

A group (route + values of its group_by labels) first flushes ``group_wait`` after it was
created (at once if an alert's ``startsAt + group_wait`` is already past), then every
``group_interval``; the repeat interval is only looked at on those ticks. The timer is re-armed
before the flush runs, so the interval is measured between flush starts.

All groups share one timer heap served by one task, instead of a task per group: the cost of a
quiet group is a heap entry, and tens of thousands of groups do not stall ingestion (#4540).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from tocsin.engine.alerts import same_tenant
from tocsin.engine.clock import Clock
from tocsin.engine.labelsets import sort_alerts
from tocsin.engine.pipeline import FAILED, Pipeline, group_key
from tocsin.model import Alert, speedups

log = logging.getLogger(__name__)


def py_same_key_end(
    alerts: list[Alert], start: int, names: tuple[str, ...], key: tuple[Any, ...], tenant_id: str
) -> int:
    """Where the run of ``tenant_id``'s alerts from ``start`` whose labels hold ``key``'s values
    under ``names`` (None for an absent name) ends; an alert whose labels are not a dict ends it
    too. The compiled ``same_key_end`` does the same."""
    i = start
    while i < len(alerts):
        a = alerts[i]
        if not same_tenant(a, tenant_id) or type(a.labels) is not dict:
            break
        if tuple(map(a.labels.get, names)) != key:
            break
        i += 1
    return i


def py_add_run(group_alerts: dict[int, Alert], alerts: list[Alert], start: int, end: int) -> Any:
    """``group_alerts[a.fingerprint] = a`` for alerts ``start`` to ``end`` - 1, in order; returns
    the earliest of their ``starts_at`` (None for none). The compiled ``add_run`` does the same."""
    earliest = None
    for a in alerts[start:end]:
        group_alerts[a.fingerprint] = a
        if earliest is None or a.starts_at < earliest:
            earliest = a.starts_at
    return earliest


same_key_end = speedups.same_key_end if speedups is not None else py_same_key_end
add_run = speedups.add_run if speedups is not None else py_add_run


class RouteNode(Protocol):
    receiver: str
    group_wait: float
    group_interval: float
    repeat_interval: float
    mute_time_intervals: list[str]
    active_time_intervals: list[str]

    def key(self) -> str: ...

    def id(self) -> str: ...

    def match(self, labels: Any) -> list[Any]: ...

    def group_labels(self, labels: Any) -> dict[str, str]: ...

    def decisive_labels(self) -> tuple[str, ...] | None: ...


@dataclass(eq=False)
class Group:
    #: identifies the group inside tocsin: route id (unique per route) + group labels
    gid: str
    #: Alertmanager's group key (route key + group labels), shown in payloads and the nflog
    key: str
    route: Any
    labels: dict[str, str]
    tenant_id: str
    alerts: dict[int, Alert] = field(default_factory=dict)
    has_flushed: bool = False
    next_flush: float = 0.0
    flushing: bool = False
    tick_pending: bool = False
    generation: int = 0
    #: alerts added, replaced or removed since the last complete flush
    changed: bool = True
    #: after a flush that left nothing to do: what it depended on, and until when it holds
    quiet_key: tuple[Any, ...] | None = None
    quiet_until: float = 0.0


GroupPersist = Callable[[Group, bool], None]


class Dispatcher:
    def __init__(
        self,
        root: RouteNode,
        pipeline: Pipeline,
        clock: Clock,
        persist: GroupPersist | None = None,
    ) -> None:
        self.root = root
        self.pipeline = pipeline
        self.clock = clock
        self.persist = persist
        self.groups: dict[tuple[str, str], Group] = {}
        self._heap: list[tuple[float, int, int, Group]] = []
        self._seq = itertools.count()
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._restored: dict[tuple[str, str], dict[str, Any]] = {}
        #: (tenant, Alertmanager group key) of groups to flush at once when recreated
        self.urgent: set[tuple[str, str]] = set()
        self._stopped = False
        # Where an alert goes (its routes, group ids and group labels) depends only on the values
        # of the labels the tree's matchers and group_by lists name: decided once per distinct
        # combination rather than per alert. A group_by of "..." depends on every label.
        self._decisive = root.decisive_labels()
        self._destinations: dict[tuple[Any, ...], list[tuple[Any, str, dict[str, str]]]] = {}
        #: bumped whenever a group gains, replaces or loses an alert, or a group is dropped
        #: (GET /alerts/groups keeps its answer while this and the alert store are unchanged)
        self.version = 0

    # --- ingest --------------------------------------------------------------------------------
    def restore(self, docs: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Timer state saved before a restart, applied when its group is recreated."""
        for tenant, key, data in docs:
            self._restored[(tenant, key)] = data

    def process(self, alerts: Iterable[Alert]) -> None:
        now = self.clock.now()
        self.version += 1
        alerts = alerts if type(alerts) is list else list(alerts)
        destinations = self._destinations
        decisive = self._decisive
        groups = self.groups
        # Alerts posted together mostly share their destinations and groups (one rule's alerts,
        # or alerts posted in order): each run of alerts with the same routing key (and tenant)
        # goes into its groups at once, and the last destinations and group found are tried
        # first, by identity.
        last_key: tuple[Any, ...] | None = None
        found: list[tuple[Any, str, dict[str, str]]] = []
        last_gid: tuple[str, str] | None = None
        g: Group | None = None
        i = 0
        while i < len(alerts):
            alert = alerts[i]
            tenant_id = alert.tenant_id
            if decisive is None:
                found = self._route(alert.labels)
                end = i + 1
            else:
                key = tuple(map(alert.labels.get, decisive))
                end = same_key_end(alerts, i + 1, decisive, key, tenant_id)
                if key != last_key:
                    cached = destinations.get(key)
                    if cached is None:
                        cached = self._route(alert.labels)
                        if len(destinations) >= 100_000:
                            destinations.clear()
                        destinations[key] = cached
                    found, last_key = cached, key
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
                earliest = add_run(g.alerts, alerts, i, end)
                g.changed = True
                # An alert that started long enough ago need not wait for its group to fill.
                if not g.has_flushed and earliest + route.group_wait < now and g.next_flush > now:
                    self._schedule(g, now)
            i = end

    def _new_group(self, gid: tuple[str, str], route: Any, labels: dict[str, str], now: float) -> Group:
        tenant_id, gid_str = gid
        g = Group(gid_str, group_key(route.key(), labels), route, dict(labels), tenant_id)
        self.groups[gid] = g
        saved = self._restored.pop(gid, None)
        if (tenant_id, g.key) in self.urgent:
            self.urgent.discard((tenant_id, g.key))
            g.has_flushed = bool(saved and saved.get("has_flushed"))
            self._schedule(g, now)
        elif saved is not None:
            g.has_flushed = bool(saved.get("has_flushed"))
            self._schedule(g, max(float(saved.get("next_flush", now)), now))
        else:
            self._schedule(g, now + route.group_wait)
        return g

    def _route(self, labels: Mapping[str, str]) -> list[tuple[Any, str, dict[str, str]]]:
        """Each route an alert with ``labels`` goes to, with its group's id and labels (two
        routes may share a key when their matchers are equal: the id keeps their groups apart)."""
        out = []
        for route in self.root.match(labels):
            group_labels = route.group_labels(labels)
            out.append((route, group_key(route.id(), group_labels), group_labels))
        return out

    # --- timers --------------------------------------------------------------------------------
    def _schedule(self, g: Group, when: float, persist: bool = True) -> None:
        g.generation += 1
        g.next_flush = when
        heapq.heappush(self._heap, (when, next(self._seq), g.generation, g))
        if persist and self.persist is not None:
            self.persist(g, False)
        if self._heap[0][3] is g:
            self._wake.set()

    def next_due(self) -> float | None:
        while self._heap:
            when, _, gen, g = self._heap[0]
            if gen == g.generation and self.groups.get((g.tenant_id, g.gid)) is g:
                return when
            heapq.heappop(self._heap)
        return None

    def due_groups(self, now: float) -> list[Group]:
        out = []
        while self._heap and self._heap[0][0] <= now:
            _, _, gen, g = heapq.heappop(self._heap)
            if gen == g.generation and self.groups.get((g.tenant_id, g.gid)) is g:
                out.append(g)
        return out

    def _tick(self, g: Group, now: float) -> Awaitable[None] | None:
        """Timer fired: re-arm, then flush (or note a tick if the previous flush still runs)."""
        g.has_flushed = True
        # The new time is stored only once the flush is done: if the process dies mid-flush, the
        # stored time is still the past one and the group flushes at once after the restart.
        self._schedule(g, now + g.route.group_interval, persist=False)
        if g.flushing:
            g.tick_pending = True
            return None
        return self._flush(g)

    async def _flush(self, g: Group) -> None:
        g.flushing = True
        try:
            while True:
                g.tick_pending = False
                now = self.clock.now()
                quiet_key = self.pipeline.quiet_key(g.route, now)
                if not g.changed and g.quiet_key == quiet_key and now < g.quiet_until:
                    # Nothing this flush depends on has changed since the last one, which sent
                    # everything it had to: it would filter and sort the same alerts again and
                    # send nothing. At 250k alerts in 2,500 groups, these re-evaluations were 17%
                    # of the CPU. ``quiet_until`` ends the skip at the first alert end, silence
                    # or inhibition boundary, or repeat_interval of this group.
                    alerts: list[Alert] = []
                else:
                    alerts = sort_alerts(list(g.alerts.values()))
                    g.changed = False
                    g.quiet_key = None
                if alerts:
                    try:
                        flushed = await self.pipeline.run(g.route, g.key, g.labels, g.tenant_id, alerts, now)
                    except Exception:
                        log.exception("flush of group %s failed", g.key)
                        flushed = FAILED
                    ok = flushed.ok
                    if ok:
                        for a in alerts:
                            # Drop resolved alerts only if no re-post replaced them meanwhile.
                            if a.ends_at <= now and g.alerts.get(a.fingerprint) is a:
                                del g.alerts[a.fingerprint]
                                g.changed = True
                                self.version += 1
                    if ok and not g.changed:
                        g.quiet_key = quiet_key
                        g.quiet_until = self.pipeline.quiet_until(
                            g.route, g.key, g.tenant_id, alerts, now, muted=flushed.muted
                        )
                    elif not ok:
                        g.changed = True  # a failed or deferred notification is retried next tick
                if not g.alerts:
                    self._drop(g)
                    return
                if not g.tick_pending:
                    if self.persist is not None:
                        self.persist(g, False)
                    return
        finally:
            g.flushing = False

    def _drop(self, g: Group) -> None:
        gid = (g.tenant_id, g.gid)
        if self.groups.get(gid) is g:
            del self.groups[gid]
            g.generation += 1
            self.version += 1
            if self.persist is not None:
                self.persist(g, True)

    async def run_due(self) -> None:
        """Flush every group that is due now and wait for the flushes (simulated-time tests)."""
        now = self.clock.now()
        flushes = [f for g in self.due_groups(now) if (f := self._tick(g, now)) is not None]
        if flushes:
            await asyncio.gather(*flushes)

    async def run(self) -> None:
        """Serve the timers until stopped (the real-time loop)."""
        while not self._stopped:
            due = self.next_due()
            now = self.clock.now()
            if due is None or due > now:
                self._wake.clear()
                timeout = None if due is None else due - now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
                continue
            for g in self.due_groups(now):
                f = self._tick(g, now)
                if f is not None:
                    task = asyncio.ensure_future(f)
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self._stopped = True
        self._wake.set()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)

    def referenced(self) -> set[tuple[str, int]]:
        """Alerts still held by some group (they may not be forgotten yet)."""
        return {(g.tenant_id, fp) for g in self.groups.values() for fp in g.alerts}

    def groups_for(self, tenant_id: str) -> list[Group]:
        return [g for g in self.groups.values() if g.tenant_id == tenant_id]
