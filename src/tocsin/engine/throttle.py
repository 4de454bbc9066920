"""Per-integration rate limits, so a storm cannot exceed a provider's quota.

A notification that finds no token is not sent and not logged: its group keeps its alerts, and the
next tick sends the group's state as it is then. Excess is folded into later notifications
(batched), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    updated: float


class Throttle:
    def __init__(self) -> None:
        self._buckets: dict[str, _Bucket] = {}

    def allow(self, key: str, limit: tuple[float, float] | None, now: float) -> bool:
        """Take one token for ``key``; ``limit`` is (events, per seconds), None means unlimited."""
        if limit is None:
            return True
        events, per = limit
        b = self._buckets.get(key)
        if b is None:
            b = self._buckets[key] = _Bucket(events, now)
        b.tokens = min(events, b.tokens + (now - b.updated) * events / per)
        b.updated = now
        if b.tokens >= 1:
            b.tokens -= 1
            return True
        return False
