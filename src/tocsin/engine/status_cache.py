"""Alert statuses (silenced, inhibited, muted, receivers) remembered between API reads.

Working out one alert's status costs a silence look-up, the inhibition rules and the routing
tree; for GET /api/v2/alerts over ten thousand alerts that was most of the answer's time. A status
can only change when (a) the alert is replaced by a re-post (a new object), (b) silences change,
(c) the set of firing inhibition sources changes, (d) the configuration is reloaded, (e) a time
interval switches, or (f) time reaches a silence's start or end or a source alert's end. Each
entry is kept with the alert object it was computed for (a). A change of (c)-(e), or a source
alert's end, clears every entry. A silence that changes, starts or ends (b, f) only drops the
entries of alerts its matchers select: an operator silencing one service while dashboards poll
costs the next read a few statuses, not ten thousand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.engine.silences import Silence, Silences
from tocsin.model import Alert

#: above this many (changed silence, cached entry) pairs to check, clearing everything is cheaper
_MAX_CHECKS = 2_000_000


@dataclass(slots=True)
class Entry:
    alert: Alert
    status: Any
    #: the alert's encoded JSON for GET /alerts, filled in by the API on first use
    fragment: bytes | None = None


class StatusSource(Protocol):
    silences: Silences

    def alert_status(self, alert: Alert, now: float) -> Any: ...

    def status_epoch(self, now: float) -> tuple[tuple[Any, ...], float]:
        """(key of everything but silences and time that statuses depend on, time until which
        they hold apart from silences)."""
        ...


class StatusCache:
    def __init__(self, source: StatusSource, max_entries: int = 1_000_000) -> None:
        self.source = source
        self.max_entries = max_entries
        self._key: tuple[Any, ...] | None = None
        self._valid_until = 0.0
        self._silences_version = -1
        self._silences_seen_at = 0.0
        self._silences_until = 0.0
        #: bumped whenever entries were dropped: part of the epoch answers are cached under
        self._generation = 0
        self._entries: dict[tuple[str, int], Entry] = {}

    def begin(self, now: float) -> None:
        """Call once per request, before ``get``: drops what changed since the last request."""
        key, valid_until = self.source.status_epoch(now)
        silences = self.source.silences
        if key != self._key or now >= self._valid_until:
            self._clear()
            self._key = key
            self._valid_until = valid_until
        else:
            changed = silences.changed_since(self._silences_version)
            if changed is not None and now >= self._silences_until:
                changed += silences.turned_between(self._silences_seen_at, now)
            if changed is None:
                self._clear()
            elif changed:
                self._forget(changed)
        if silences.version != self._silences_version or now >= self._silences_until:
            self._silences_until = silences.next_change(now)
        self._silences_version = silences.version
        self._silences_seen_at = now

    def _clear(self) -> None:
        self._entries.clear()
        self._generation += 1

    def _forget(self, changed: list[Silence]) -> None:
        """Drop the entries of alerts that any of these silences (old or new) may mute."""
        if len(changed) * len(self._entries) > _MAX_CHECKS:
            self._clear()
            return
        gone = [
            k
            for k, e in self._entries.items()
            if any(s.tenant_id == e.alert.tenant_id and s.mutes(e.alert.labels) for s in changed)
        ]
        for k in gone:
            del self._entries[k]
        self._generation += 1

    @property
    def epoch(self) -> tuple[tuple[Any, ...] | None, float]:
        """What the statuses of the current request depend on, and until when they hold."""
        return (self._key, self._generation), min(self._valid_until, self._silences_until)

    def get(self, alert: Alert, now: float) -> Entry:
        k = (alert.tenant_id, alert.fingerprint)
        e = self._entries.get(k)
        if e is None or e.alert is not alert:
            if len(self._entries) >= self.max_entries:
                self._clear()
            e = Entry(alert, self.source.alert_status(alert, now))
            self._entries[k] = e
        return e
