"""Alert statuses (silenced, inhibited, muted, receivers) remembered between API reads.

Working out one alert's status costs a silence look-up, the inhibition rules and the routing
tree; for GET /api/v2/alerts over ten thousand alerts that was most of the answer's time. A status
can only change when (a) the alert is replaced by a re-post (a new object), (b) silences change,
(c) the set of firing inhibition sources changes, (d) the configuration is reloaded, (e) a time
interval switches, or (f) time reaches a silence's start or end or a source alert's end. The
cache is keyed by (b)-(e), remembers the earliest (f), and keeps each entry with the alert object
it was computed for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.model import Alert


@dataclass(slots=True)
class Entry:
    alert: Alert
    status: Any
    #: the alert's encoded JSON for GET /alerts, filled in by the API on first use
    fragment: bytes | None = None


class StatusSource(Protocol):
    def alert_status(self, alert: Alert, now: float) -> Any: ...

    def status_epoch(self, now: float) -> tuple[tuple[Any, ...], float]:
        """(key of everything but time that statuses depend on, time until which they hold)."""
        ...


class StatusCache:
    def __init__(self, source: StatusSource, max_entries: int = 1_000_000) -> None:
        self.source = source
        self.max_entries = max_entries
        self._key: tuple[Any, ...] | None = None
        self._valid_until = 0.0
        self._entries: dict[tuple[str, int], Entry] = {}

    def begin(self, now: float) -> None:
        """Call once per request, before ``get``: drops everything if anything changed."""
        key, valid_until = self.source.status_epoch(now)
        if key != self._key or now >= self._valid_until:
            self._entries.clear()
            self._key = key
            self._valid_until = valid_until

    @property
    def epoch(self) -> tuple[tuple[Any, ...] | None, float]:
        """What the statuses of the current request depend on, and until when they hold."""
        return self._key, self._valid_until

    def get(self, alert: Alert, now: float) -> Entry:
        k = (alert.tenant_id, alert.fingerprint)
        e = self._entries.get(k)
        if e is None or e.alert is not alert:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            e = Entry(alert, self.source.alert_status(alert, now))
            self._entries[k] = e
        return e
