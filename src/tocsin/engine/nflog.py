"""The notification log: what was last sent per (group, receiver, integration), and the dedup
decision that says whether a flush must notify again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tocsin.model import DEFAULT_TENANT, sorted_hex


@dataclass(slots=True)
class Entry:
    firing: frozenset[int]
    resolved: frozenset[int]
    timestamp: float
    expires_at: float

    def to_doc(self, hex_lists: tuple[list[str], list[str]] | None = None) -> dict[str, Any]:
        """``hex_lists``: the sorted hex lists of ``firing`` and ``resolved`` when the caller has
        them already (the flush that logs this entry formatted them for its outbox record)."""
        # Fingerprints as hex strings: JSON numbers cannot hold unsigned 64-bit values portably.
        firing, resolved = hex_lists or (sorted_hex(self.firing), sorted_hex(self.resolved))
        return {"firing": firing, "resolved": resolved, "timestamp": self.timestamp}

    @classmethod
    def from_doc(cls, d: dict[str, Any], expires_at: float) -> Entry:
        return cls(
            frozenset(int(x, 16) for x in d["firing"]),
            frozenset(int(x, 16) for x in d["resolved"]),
            float(d["timestamp"]),
            expires_at,
        )


def entry_key(group_key: str, receiver: str, integration: str, idx: int) -> str:
    return f"{group_key}\x1f{receiver}\x1f{integration}\x1f{idx}"


def needs_update(
    entry: Entry | None,
    firing: frozenset[int],
    resolved: frozenset[int],
    send_resolved: bool,
    repeat_interval: float,
    now: float,
) -> str | None:
    """Why a notification is due, or None to skip it (Alertmanager's dedup stage, in order)."""
    if entry is None:
        return "first notification" if firing else None
    if not firing <= entry.firing:
        return "new alerts firing"
    if not firing:
        # Logged even when resolved notices are off, so the log forgets the firing alerts.
        return "all alerts resolved" if entry.firing else None
    if send_resolved and not resolved <= entry.resolved:
        return "some alerts resolved"
    if entry.timestamp < now - repeat_interval:
        return "repeat interval elapsed"
    return None


class NotificationLog:
    def __init__(self, retention: float = 120 * 3600) -> None:
        self.retention = retention
        self._entries: dict[tuple[str, str], Entry] = {}

    def get(self, key: str, tenant_id: str = DEFAULT_TENANT) -> Entry | None:
        return self._entries.get((tenant_id, key))

    def log(
        self,
        key: str,
        firing: frozenset[int],
        resolved: frozenset[int],
        now: float,
        tenant_id: str = DEFAULT_TENANT,
    ) -> Entry:
        e = Entry(firing, resolved, now, now + self.retention)
        self._entries[(tenant_id, key)] = e
        return e

    def load(self, tenant_id: str, key: str, entry: Entry) -> None:
        self._entries[(tenant_id, key)] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def gc(self, now: float) -> list[tuple[str, str]]:
        gone = [k for k, e in self._entries.items() if e.expires_at < now]
        for k in gone:
            del self._entries[k]
        return gone
