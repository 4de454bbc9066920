"""The incidents shell: feeds aggregation groups to the IncidentManager, keeps its state durable,
runs its timers and carries out the notifications it decides.

Durability: the manager's state and the deliveries it has just decided are written in one
document before any of them is attempted, and the document is written again once they are done.
A crash in between re-sends only the deliveries that were in flight (at least once); a timer that
fired is already gone from the stored state, so it never fires twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tocsin.engine.clock import Clock
from tocsin.incidents.actions import Action, CancelTimer, Notify, NotifyChannel, ScheduleTimer
from tocsin.incidents.manager import IncidentManager
from tocsin.incidents.model import Incident
from tocsin.incidents.setup import IncidentsSetup
from tocsin.model import Alert

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


class IncidentService:
    def __init__(
        self,
        setup: IncidentsSetup,
        *,
        clock: Clock,
        deliver: Deliver,
        persist: Persist,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.clock = clock
        self.deliver = deliver
        self.persist = persist
        self.pending: list[Delivery] = []
        if state:
            self.manager = IncidentManager.from_dict(setup, state["manager"])
            self.pending = [Delivery.from_dict(d) for d in state.get("pending", [])]
        else:
            self.manager = IncidentManager(setup)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

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

    def _fingerprint(self, group_key: str) -> tuple[str, int, str] | None:
        """What changes when an incident changes: its id, timeline length and state."""
        inc = self.manager.incidents.get(self.manager.by_group.get(group_key, ""))
        return None if inc is None else (inc.id, len(inc.timeline), str(inc.state))

    async def act(self, fn: Callable[[IncidentManager, float], list[Action]]) -> list[Action]:
        """Run one manager operation (ack, resolve, note, ...) and carry out what it decides."""
        async with self._lock:
            actions = fn(self.manager, self.clock.now())
            await self._apply(actions)
            return actions

    async def reload(self, setup: IncidentsSetup) -> None:
        async with self._lock:
            self.manager.reload(setup)
            await self.persist(self.state())
        self._wake.set()

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
