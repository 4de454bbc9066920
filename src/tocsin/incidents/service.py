"""The incidents shell: feeds aggregation groups to the IncidentManager, keeps its state durable,
runs its timers and carries out the notifications it decides.

Durability: the manager's state and the deliveries it has just decided are written in one
document before any of them is attempted, and the document is written again once they are done.
A crash in between re-sends only the deliveries that were in flight (at least once); a timer that
fired is already gone from the stored state, so it never fires twice.

What correlation learns (``correlation.history``) is saved apart, per tenant, at most every
``save_interval`` (checked when groups flush) and at a clean stop: its counts are copied on the
event loop, encoded on a worker thread and written through ``persist_history``. A crash loses at
most the last interval of learning. With ``correlation.prometheus``, incidents whose probable
causes changed are ranked again with metrics on a worker thread (``cause_probe.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tocsin.engine.clock import Clock
from tocsin.incidents.actions import Action, CancelTimer, Notify, NotifyChannel, ScheduleTimer
from tocsin.incidents.correlation_history import encode as encode_history
from tocsin.incidents.manager import IncidentManager
from tocsin.incidents.model import Incident
from tocsin.incidents.setup import IncidentsSetup, PrometheusSetup
from tocsin.model import Alert

if TYPE_CHECKING:
    from tocsin.incidents.cause_probe import CauseProbe

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    """One notification decided by the manager, in a form that can be stored and retried."""

    incident_id: str
    #: "user" (personal contact) or "channel" (a receiver of the alert configuration)
    target: str
    recipient: str  # user id or receiver name
    via: str  # contact kind, or the receiver name for channels
    address: str
    reason: str
    urgency: str
    links: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Delivery:
        return cls(**d)

    @classmethod
    def of(cls, action: Notify | NotifyChannel) -> Delivery:
        if isinstance(action, Notify):
            c = action.contact
            return cls(
                action.incident_id,
                "user",
                action.user,
                str(c.kind),
                c.address,
                action.reason,
                str(action.urgency),
                dict(action.links),
            )
        return cls(
            action.incident_id,
            "channel",
            action.channel,
            action.channel,
            "",
            action.reason,
            "",
            dict(action.links),
        )


#: carries out one delivery: returns (ok, detail)
Deliver = Callable[[Delivery, Incident], Awaitable[tuple[bool, str]]]
#: stores the state document durably
Persist = Callable[[dict[str, Any]], Awaitable[None]]
#: stores learned correlation history: (tenant id, document) pairs
PersistHistory = Callable[[list[tuple[str, dict[str, Any]]]], Awaitable[None]]


class IncidentService:
    def __init__(
        self,
        setup: IncidentsSetup,
        *,
        clock: Clock,
        deliver: Deliver,
        persist: Persist,
        state: dict[str, Any] | None = None,
        persist_history: PersistHistory | None = None,
    ) -> None:
        self.clock = clock
        self.deliver = deliver
        self.persist = persist
        self.persist_history = persist_history
        self.pending: list[Delivery] = []
        if state:
            self.manager = IncidentManager.from_dict(setup, state["manager"])
            self.pending = [Delivery.from_dict(d) for d in state.get("pending", [])]
        else:
            self.manager = IncidentManager(setup)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._history_saved_at = self.clock.now()
        self._saving: asyncio.Task[None] | None = None
        self._probe: CauseProbe | None = None
        self._probe_setup: PrometheusSetup | None = None
        self._probe_queue: dict[str, None] = {}  # incident ids, oldest first
        self._probing: asyncio.Task[None] | None = None
        self._set_probe(setup)

    # --- durable state --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        return {"manager": self.manager.to_dict(), "pending": [d.to_dict() for d in self.pending]}

    async def _apply(self, actions: Sequence[Action]) -> None:
        """Store the new state with the decided deliveries, then carry them out."""
        batch = [Delivery.of(a) for a in actions if isinstance(a, Notify | NotifyChannel)]
        if any(isinstance(a, ScheduleTimer | CancelTimer) for a in actions):
            self._wake.set()
        self.pending.extend(batch)
        await self.persist(self.state())
        if batch:
            await self._run_deliveries(batch)

    async def _run_deliveries(self, batch: list[Delivery]) -> None:
        results = await asyncio.gather(*(self._one(d) for d in batch))
        now = self.clock.now()
        for d, (ok, detail) in zip(batch, results, strict=True):
            with contextlib.suppress(KeyError):
                self.manager.record_delivery(d.incident_id, d.recipient, d.via, ok, detail, now)
            with contextlib.suppress(ValueError):
                self.pending.remove(d)
        await self.persist(self.state())

    async def _one(self, d: Delivery) -> tuple[bool, str]:
        try:
            inc = self.manager.get(d.incident_id)
        except KeyError:
            return False, "incident no longer exists"
        try:
            return await self.deliver(d, inc)
        except Exception as e:  # a broken channel must not stop the other pages
            log.exception("delivery for incident %s failed", d.incident_id)
            return False, f"{type(e).__name__}: {e}"

    async def resume(self) -> None:
        """After a restart: re-send what was in flight, then serve timers."""
        if self.pending:
            log.warning(
                "re-sending %d incident notifications that were in flight at the last stop", len(self.pending)
            )
            async with self._lock:
                await self._run_deliveries(list(self.pending))

    # --- entries --------------------------------------------------------------------------------
    async def on_group(
        self,
        group_key: str,
        labels: dict[str, str],
        tenant_id: str,
        alerts: Sequence[Alert],
        policy: str | None,
        now: float,
    ) -> None:
        firing = [a for a in alerts if a.ends_at > now]
        resolved = [a for a in alerts if a.ends_at <= now]
        async with self._lock:
            before = self._fingerprint(group_key)
            actions = self.manager.on_group_update(
                group_key, firing, resolved, labels, now, policy, tenant_id
            )
            # Every flush of every group passes here; store the state only when it changed.
            if actions or self._fingerprint(group_key) != before:
                await self._apply(actions)
        self._after_change()

    def _fingerprint(self, group_key: str) -> tuple[str, int, str] | None:
        """What changes when an incident changes: its id, timeline length and state."""
        inc = self.manager.incidents.get(self.manager.by_group.get(group_key, ""))
        return None if inc is None else (inc.id, len(inc.timeline), str(inc.state))

    async def act(self, fn: Callable[[IncidentManager, float], list[Action]]) -> list[Action]:
        """Run one manager operation (ack, resolve, note, ...) and carry out what it decides."""
        async with self._lock:
            actions = fn(self.manager, self.clock.now())
            await self._apply(actions)
        self._after_change()
        return actions

    async def reload(self, setup: IncidentsSetup) -> None:
        async with self._lock:
            self.manager.reload(setup)
            await self.persist(self.state())
        self._set_probe(setup)
        self._wake.set()

    # --- learned correlation history ------------------------------------------------------------
    def load_history(self, docs: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Restore what correlation learned before the restart (documents from persist_history)."""
        history = self.manager.history
        if history is None:
            return 0
        loaded = history.load(docs)
        if loaded:
            log.info("restored learned correlation history of %d tenant(s)", loaded)
        return loaded

    async def save_history(self) -> None:
        """Write the tenants that learned since the last save (copied now, encoded off the loop)."""
        history = self.manager.history
        if history is None or self.persist_history is None:
            return
        self._history_saved_at = self.clock.now()
        snapshots = history.snapshot()
        if not snapshots:
            return
        try:
            docs = await asyncio.to_thread(lambda: [(s.tenant_id, encode_history(s)) for s in snapshots])
            await self.persist_history(docs)
        except Exception:
            log.exception("saving the learned correlation history failed; will retry")
            history.mark_dirty(s.tenant_id for s in snapshots)

    def _after_change(self) -> None:
        """Start the background work a manager change may call for: a history save that is due,
        metric rankings of incidents whose probable causes changed."""
        history = self.manager.history
        if (
            history is not None
            and self.persist_history is not None
            and (self._saving is None or self._saving.done())
            and self.clock.now() - self._history_saved_at >= history.setup.save_interval
            and history.dirty
        ):
            self._saving = asyncio.ensure_future(self.save_history())
        if self.manager.causes_to_probe:
            if self._probe is not None:
                self._probe_queue.update(dict.fromkeys(sorted(self.manager.causes_to_probe)))
            self.manager.causes_to_probe.clear()
        if self._probe_queue and (self._probing is None or self._probing.done()):
            self._probing = asyncio.ensure_future(self._rank_queued())

    # --- probable causes with metrics ---------------------------------------------------------
    def _set_probe(self, setup: IncidentsSetup) -> None:
        wanted = setup.correlation.prometheus if setup.correlation is not None else None
        if wanted == self._probe_setup:
            return
        old, self._probe, self._probe_setup = self._probe, None, wanted
        if wanted is not None:
            from tocsin.incidents.cause_probe import CauseProbe  # httpx, numpy: only when configured

            self._probe = CauseProbe(wanted)
        if old is not None:
            old.close()  # a ranking still running with it closes its client when it returns

    async def _rank_queued(self) -> None:
        while self._probe_queue:
            incident_id = next(iter(self._probe_queue))
            del self._probe_queue[incident_id]
            try:
                await self._rank_with_metrics(incident_id)
            except Exception:  # one failed ranking must not stop the next ones
                log.exception("ranking the probable causes of incident %s with metrics failed", incident_id)

    async def _rank_with_metrics(self, incident_id: str) -> None:
        probe, correlator = self._probe, self.manager.correlator
        inc = self.manager.incidents.get(incident_id)
        if probe is None or correlator is None or inc is None:
            return
        budgeted = probe.budgeted()
        job = correlator.causes_job(inc.tenant_id, incident_id, probe=budgeted)
        if job is None:
            return
        try:
            # The job holds the probe's client until it returns, even past this wait (a timeout,
            # stop()): a reload that replaces the probe meanwhile closes the client then.
            causes = await asyncio.wait_for(probe.start(job), probe.guard_s)
        except TimeoutError:
            log.warning(
                "metric probe for incident %s: no answer within %gs; probable causes stay without metrics",
                incident_id,
                probe.guard_s,
            )
            return
        probe.report(incident_id, budgeted)
        async with self._lock:
            inc = self.manager.incidents.get(incident_id)
            # A ranking queued meanwhile saw more alerts: let it decide.
            if inc is None or incident_id in self._probe_queue or inc.probable_causes == causes:
                return
            inc.probable_causes = causes
            await self.persist(self.state())

    async def idle(self) -> None:
        """Wait until the background work started so far (history save, metric rankings) is done."""
        while True:
            busy = [t for t in (self._saving, self._probing) if t is not None and not t.done()]
            if not busy:
                return
            await asyncio.gather(*busy, return_exceptions=True)

    # --- timers ---------------------------------------------------------------------------------
    async def fire_due(self) -> None:
        async with self._lock:
            actions = self.manager.fire_due(self.clock.now())
            if actions:
                await self._apply(actions)

    async def run(self) -> None:
        while True:
            due = self.manager.next_due()
            now = self.clock.now()
            if due is not None and due <= now:
                try:
                    await self.fire_due()
                except Exception:
                    log.exception("incident timers failed")
                    await asyncio.sleep(1)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), None if due is None else due - now)

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._serve())

    async def _serve(self) -> None:
        await self.resume()
        await self.run()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for task in (self._probing, self._saving):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        # What was learned since the last save; the engine's writer is still open here.
        await self.save_history()
        if self._probe is not None:
            self._probe.close()
            self._probe = self._probe_setup = None
