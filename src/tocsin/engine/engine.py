"""The engine: one object that owns the alert store, silences, inhibition, routing, dispatch and
the notification log, keeps them durable, and reloads its configuration safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tocsin.config import Config
from tocsin.engine.alerts import AlertStore
from tocsin.engine.channel_state import ChannelStateStore
from tocsin.engine.clock import Clock, SystemClock
from tocsin.engine.dispatch import Dispatcher, Group
from tocsin.engine.inhibit import Inhibitor, InhibitRule
from tocsin.engine.nflog import Entry, NotificationLog
from tocsin.engine.pipeline import Backoff, Delivery, Pipeline, Sleep
from tocsin.engine.route import build_routes
from tocsin.engine.silences import Silence, Silences
from tocsin.engine.status_cache import ScopedDependency, StatusCache
from tocsin.engine.testnotify import send_test_notification
from tocsin.engine.timeintervals import TimeIntervals
from tocsin.model import DEFAULT_TENANT, Alert
from tocsin.notify.base import Integration
from tocsin.notify.registry import build_integrations
from tocsin.storage import Storage, WriteBatch
from tocsin.storage.base import DeliveryRecord, Doc
from tocsin.storage.commit_process import CommitProcess
from tocsin.storage.writer import CommitWriter, GroupCommitWriter

if TYPE_CHECKING:
    # Imported where an incident service is made: a server without --incidents.file never loads
    # the incidents modules (see test_startup_imports).
    from tocsin.incidents.service import IncidentService
    from tocsin.incidents.setup import IncidentsSetup

log = logging.getLogger(__name__)


@dataclass
class AlertStatus:
    state: str  # "active" | "suppressed" | "unprocessed"
    silenced_by: list[str]
    inhibited_by: list[str]
    muted_by: list[str]
    receivers: list[str]


class Engine:
    def __init__(
        self,
        config: Config,
        storage: Storage,
        *,
        clock: Clock | None = None,
        external_url: str = "http://localhost:9093",
        retention: float = 120 * 3600,
        sleep: Sleep = asyncio.sleep,
        backoff: Backoff | None = None,
        gc_interval: float = 300.0,
        history_retention: float = 30 * 86400,
        integrations: dict[str, list[Integration]] | None = None,
        incidents: IncidentsSetup | None = None,
        commit_process: bool = False,
    ) -> None:
        self.clock = clock or SystemClock()
        self.storage = storage
        self.writer: CommitWriter
        reopen = getattr(storage, "reopen_url", None)
        encode_alerts = getattr(storage, "encode_alert_log", None)
        if commit_process and reopen is not None and encode_alerts is not None:
            # The server's default: commits in a child process (storage/commit_process.py).
            self.writer = CommitProcess(reopen(), encode_alerts, live_alerts=lambda: len(self.store))
            set_page_cache = getattr(storage, "set_page_cache", None)
            if set_page_cache is not None:
                # This process's connection now only reads, front to back (start-up's load).
                set_page_cache(1024)
        else:
            # Read from the writer thread: the size of one dict, safe under the GIL.
            self.writer = GroupCommitWriter(storage, live_alerts=lambda: len(self.store))
        self.external_url = external_url.rstrip("/")
        self.retention = retention
        self.sleep = sleep
        self.backoff = backoff
        self.gc_interval = gc_interval
        self.history_retention = history_retention
        self.store = AlertStore()
        self.silences = Silences(retention)
        self.nflog = NotificationLog(retention)
        self.channel_state = ChannelStateStore(self.writer)
        self._integrations_override = integrations
        self._tasks: list[asyncio.Task[None]] = []
        self.config = config
        self.incidents_setup = incidents
        self.incidents: IncidentService | None = None
        self._apply(config)
        if incidents is not None:
            self.incidents = self._incident_service(incidents, None)
        self.started_at = self.clock.now()

    # --- configuration -------------------------------------------------------------------------
    def _apply(self, config: Config) -> None:
        """Build everything that depends on the configuration. Raises before changing anything."""
        routes = build_routes(config)
        intervals = TimeIntervals(config.time_intervals)
        rules = [
            InhibitRule(list(r.source_matchers), list(r.target_matchers), list(r.equal))
            for r in config.inhibit_rules
        ]
        integrations = self._integrations_override or build_integrations(config)
        for integ in (i for lst in integrations.values() for i in lst):
            integ.state = self.channel_state.scoped(f"{integ.receiver}/{integ.kind}/{integ.index}")
        inhibitor = Inhibitor(rules)
        inhibitor.observe(self.store)
        pipeline = Pipeline(
            clock=self.clock,
            inhibitor=inhibitor,
            silences=self.silences,
            intervals=intervals,
            nflog=self.nflog,
            integrations=integrations,
            external_url=self.external_url,
            journal=self,
            sleep=self.sleep,
            backoff=self.backoff,
            on_delivery=self._on_delivery,
            fallbacks={r.name: r.fallback_receiver for r in config.receivers if r.fallback_receiver},
            on_group=self._on_group,
        )
        self.config = config
        self.routes = routes
        self.status_cache = StatusCache(self)
        self.intervals = intervals
        self.inhibitor = inhibitor
        self.integrations = integrations
        self.pipeline = pipeline
        self.dispatcher = Dispatcher(routes, pipeline, self.clock, persist=self._persist_group)

    def _incident_service(self, setup: IncidentsSetup, state: dict[str, Any] | None) -> IncidentService:
        from tocsin.incidents.delivery import make_deliver
        from tocsin.incidents.service import IncidentService

        deliver = make_deliver(
            lambda: self.integrations,
            lambda: self.incidents_setup.contact_receivers if self.incidents_setup else {},
            self.external_url,
            self.clock,
            self.sleep,
        )
        return IncidentService(
            setup,
            clock=self.clock,
            deliver=deliver,
            persist=self._persist_incidents,
            state=state,
            persist_history=self._persist_correlation_history,
        )

    async def _on_group(
        self,
        route: Any,
        group_key: str,
        labels: dict[str, str],
        tenant_id: str,
        alerts: list[Alert],
        now: float,
    ) -> None:
        if self.incidents is not None:
            await self.incidents.on_group(group_key, labels, tenant_id, alerts, route.escalation_policy, now)

    async def _persist_incidents(self, state: dict[str, Any]) -> None:
        batch = WriteBatch()
        batch.put_doc("incidents", Doc(DEFAULT_TENANT, "state", state))
        await self.writer.write(batch)

    async def _persist_correlation_history(self, docs: list[tuple[str, dict[str, Any]]]) -> None:
        from tocsin.incidents.correlation_history import DOC_KEY as HISTORY_DOC_KEY
        from tocsin.incidents.correlation_history import DOC_KIND as HISTORY_DOC_KIND

        batch = WriteBatch()
        for tenant_id, data in docs:
            batch.put_doc(HISTORY_DOC_KIND, Doc(tenant_id, HISTORY_DOC_KEY, data))
        await self.writer.write(batch)

    async def reload(self, config: Config, incidents: IncidentsSetup | None = None) -> None:
        """Swap in a new configuration; groups are rebuilt and the notification log prevents
        repeats, as Alertmanager does on reload."""
        old_dispatcher, old_integrations, old_task = self.dispatcher, self.integrations, self._dispatch_task()
        self._apply(config)
        if incidents is not None:
            self.incidents_setup = incidents
            if self.incidents is None:
                self.incidents = self._incident_service(incidents, None)
                self.incidents.start()
            else:
                await self.incidents.reload(incidents)
        self.dispatcher.process(self.store)
        await old_dispatcher.stop()
        if old_task is not None:
            old_task.cancel()
            self._tasks = [t for t in self._tasks if t is not old_task]
            self._tasks.append(asyncio.ensure_future(self.dispatcher.run()))
        if old_integrations is not self.integrations:
            for integ in (i for lst in old_integrations.values() for i in lst):
                await integ.close()
        log.info("configuration reloaded")

    def _dispatch_task(self) -> asyncio.Task[None] | None:
        return self._tasks[0] if self._tasks else None

    # --- life cycle ----------------------------------------------------------------------------
    def restore(self) -> None:
        """Load durable state: alerts, silences, the notification log and group timers."""
        now = self.clock.now()
        alerts = self.storage.load_alerts()
        self.store.load(alerts)
        self.silences.load(Silence.from_doc(d.data, d.tenant_id) for d in self.storage.load_docs("silences"))
        for d in self.storage.load_docs("nflog"):
            self.nflog.load(d.tenant_id, d.key, Entry.from_doc(d.data, d.expires_at))
        self.dispatcher.restore((d.tenant_id, d.key, d.data) for d in self.storage.load_docs("groups"))
        if self.incidents_setup is not None:
            saved = [d.data for d in self.storage.load_docs("incidents") if d.key == "state"]
            if saved:
                self.incidents = self._incident_service(self.incidents_setup, saved[0])
            if self.incidents is not None:
                from tocsin.incidents.correlation_history import DOC_KEY as HISTORY_DOC_KEY
                from tocsin.incidents.correlation_history import DOC_KIND as HISTORY_DOC_KIND

                learned = self.storage.load_docs(HISTORY_DOC_KIND)
                self.incidents.load_history(
                    (d.tenant_id, d.data) for d in learned if d.key == HISTORY_DOC_KEY
                )
        self.channel_state.load(self.storage.load_docs("channel_state"))
        in_flight = self.storage.load_docs("outbox")
        for d in in_flight:
            self.pipeline.outbox[(d.tenant_id, d.key)] = d.data
        # Groups whose notification was in flight at the crash flush first, not a full interval later.
        self.dispatcher.urgent.update((d.tenant_id, d.data["groupKey"]) for d in in_flight)
        self.inhibitor.observe(self.store)
        self.dispatcher.process(self.store)
        log.info(
            "restored %d alerts, %d silences, %d notification log entries, %d groups,"
            " %d notifications in flight at the last stop",
            len(alerts),
            len(self.silences),
            len(self.nflog),
            len(self.dispatcher.groups),
            len(in_flight),
        )
        self._last_restore = now

    async def start(self) -> None:
        self._tasks = [
            asyncio.ensure_future(self.dispatcher.run()),
            asyncio.ensure_future(self._gc_loop()),
        ]
        if self.incidents is not None:
            self.incidents.start()

    async def stop(self) -> None:
        await self.dispatcher.stop()
        if self.incidents is not None:
            await self.incidents.stop()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for integ in (i for lst in self.integrations.values() for i in lst):
            await integ.close()
        await asyncio.get_running_loop().run_in_executor(None, self.writer.flush)
        self.writer.close()

    # --- alerts --------------------------------------------------------------------------------
    async def ingest(self, alerts: list[Alert]) -> None:
        """Merge, store durably, then route. Returns when the alerts are committed."""
        started = self.ingest_start(alerts)
        if started is None:
            return
        merged, committed = started
        if committed is not None:
            await committed
        self.ingest_finish(merged)

    def ingest_start(self, alerts: list[Alert]) -> tuple[list[Alert], asyncio.Future[None] | None] | None:
        """``ingest`` up to its commit: the stored alerts and the future of their commit (None
        when there was nothing to ingest). Whoever calls it calls ``ingest_finish`` once the
        future is done without an error: the protocol that serves POST /api/v2/alerts does, from
        the future's callback, without a task per request (api/ingest_protocol.py)."""
        if not alerts:
            return None
        merged = self.store.merge_all(alerts, self.clock.now())
        batch = WriteBatch()
        batch.put_alerts(merged)
        return merged, self.writer.submit(batch)

    def ingest_finish(self, merged: list[Alert]) -> None:
        """``ingest`` after the commit: route the alerts."""
        # Route the stored instance as it is now: another request may have merged a newer one
        # while this one waited for its commit.
        current = self.store.still_stored(merged)
        self.inhibitor.observe(current)
        self.dispatcher.process(current)

    def alert_status(self, alert: Alert, now: float) -> AlertStatus:
        routes = self.routes.match(alert.labels)
        # In route order, repeats kept: what Alertmanager lists and what amtool prints.
        receivers = [r.receiver for r in routes]
        silenced = self.silences.mutes(alert.labels, now, alert.tenant_id)
        inhibited = self.inhibitor.inhibited_by(alert.labels, alert.fingerprint, alert.tenant_id, now)
        muted: list[str] = []
        for r in routes:
            muted.extend(self.pipeline.muted_by_intervals(r, now))
        suppressed = bool(silenced or inhibited or muted)
        return AlertStatus(
            "suppressed" if suppressed else "active", silenced, inhibited, sorted(set(muted)), receivers
        )

    def status_epoch(self, now: float) -> tuple[Any, ...]:
        """What alert statuses depend on besides the alert, silences, inhibition and time (the
        status cache follows those itself, see status_dependencies)."""
        intervals = tuple(self.intervals.active(name, now) for name in self.config.time_intervals)
        return (id(self.routes), id(self.silences), id(self.inhibitor), intervals)

    def status_dependencies(self) -> Sequence[ScopedDependency]:
        return (self.silences, self.inhibitor)

    def active_alerts(self, tenant_id: str = DEFAULT_TENANT) -> list[Alert]:
        now = self.clock.now()
        return [a for a in self.store if a.tenant_id == tenant_id and a.ends_at > now]

    def groups(self, tenant_id: str = DEFAULT_TENANT) -> list[Group]:
        return self.dispatcher.groups_for(tenant_id)

    # --- test notifications ------------------------------------------------------------------
    async def test_receiver(self, name: str, tenant_id: str = DEFAULT_TENANT) -> list[dict[str, Any]]:
        """Send a sample notification through every integration of receiver ``name``, once each,
        and report the outcome per integration. Raises KeyError for an unknown receiver."""
        if name not in self.integrations:
            raise KeyError(name)
        return await send_test_notification(
            name, self.integrations[name], self.external_url, self.clock, tenant_id, self._on_delivery
        )

    # --- silences ------------------------------------------------------------------------------
    async def set_silence(self, sil: Silence) -> str:
        sid, changed = self.silences.set(sil, self.clock.now())
        await self._persist_silences(changed)
        return sid

    async def expire_silence(self, sid: str, tenant_id: str = DEFAULT_TENANT) -> None:
        changed = self.silences.expire(sid, self.clock.now(), tenant_id)
        if changed is not None:
            await self._persist_silences([changed])

    async def _persist_silences(self, changed: Iterable[Silence]) -> None:
        batch = WriteBatch()
        for s in changed:
            batch.put_doc("silences", Doc(s.tenant_id, s.id, s.to_doc(), s.ends_at + self.retention))
        await self.writer.write(batch)

    # --- durability hooks ----------------------------------------------------------------------
    # Journal (see engine/pipeline.Journal): outbox and notification log, durably.
    async def sending(self, tenant_id: str, key: str, record: dict[str, Any]) -> None:
        batch = WriteBatch()
        batch.put_doc("outbox", Doc(tenant_id, key, record, self.clock.now() + self.retention))
        await self.writer.write(batch)

    async def sent(
        self, tenant_id: str, key: str, entry: Entry, hex_lists: tuple[list[str], list[str]] | None = None
    ) -> None:
        # Not awaited: the entry is committed with the next group commit either way, and until
        # it is, the outbox record (durable before the send) makes a restart re-send with the same
        # idempotency key. Waiting only held the flush task for one more loop hand-over.
        batch = WriteBatch()
        batch.put_doc("nflog", Doc(tenant_id, key, entry.to_doc(hex_lists), entry.expires_at))
        batch.delete_doc("outbox", tenant_id, key)
        self.writer.write_nowait(batch)

    async def failed(self, tenant_id: str, key: str, record: dict[str, Any]) -> None:
        await self.sending(tenant_id, key, record)

    def _persist_group(self, g: Group, dropped: bool) -> None:
        batch = WriteBatch()
        if dropped:
            batch.delete_doc("groups", g.tenant_id, g.gid)
        else:
            batch.put_doc(
                "groups",
                Doc(g.tenant_id, g.gid, {"next_flush": g.next_flush, "has_flushed": g.has_flushed}),
            )
        self.writer.write_nowait(batch)

    def _on_delivery(self, d: Delivery) -> None:
        batch = WriteBatch()
        batch.deliveries.append(
            DeliveryRecord(
                d.tenant_id,
                d.receiver,
                d.integration,
                d.group_key,
                d.reason,
                d.alerts,
                d.ok,
                d.attempts,
                d.error[:2000],
                d.started,
                d.finished,
            )
        )
        self.writer.write_nowait(batch)

    # --- housekeeping --------------------------------------------------------------------------
    def gc(self) -> None:
        now = self.clock.now()
        keep = self.dispatcher.referenced()
        batch = WriteBatch()
        # Alerts still held by a group stay until their resolution has been notified.
        gone = self.store.gc(now, keep)
        for a in gone:
            batch.delete_alert(a.tenant_id, a.fingerprint)
        self.inhibitor.forget(gone)
        for s in self.silences.gc(now):
            batch.delete_doc("silences", s.tenant_id, s.id)
        for tenant, key in self.nflog.gc(now):
            batch.delete_doc("nflog", tenant, key)
        if self.history_retention > 0:
            batch.purge_deliveries_before = now - self.history_retention
        self.writer.write_nowait(batch)

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self.gc_interval)
            try:
                self.gc()
                if self.incidents is not None:
                    # Resolved incidents are kept for the history retention, then forgotten.
                    await self.incidents.act(self._prune_incidents)
            except Exception:
                log.exception("garbage collection failed")

    def _prune_incidents(self, manager: Any, now: float) -> list[Any]:
        manager.prune(now - self.history_retention)
        return []

    def stats(self) -> dict[str, Any]:
        return {
            "alerts": len(self.store),
            "silences": len(self.silences),
            "groups": len(self.dispatcher.groups),
            "nflog_entries": len(self.nflog),
            "commits": self.writer.commits,
            # durable writes that shared those commits (POSTs and engine changes)
            "write_batches": self.writer.batches,
            "outbox": len(self.pipeline.outbox),
        }
