"""Per-key token buckets so a storm cannot exceed a provider's quota (PagerDuty: 120 events per
minute per routing key). Excess waits for a token; nothing is dropped."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """``rate`` tokens per ``per`` seconds, holding at most ``burst`` (default: ``rate``)."""

    def __init__(
        self,
        rate: float,
        per: float = 60.0,
        burst: float | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0 or per <= 0:
            raise ValueError(f"rate limit must be positive, got {rate} per {per}s")
        self.fill_rate = rate / per
        self.capacity = float(burst if burst is not None else rate)
        self.tokens = self.capacity
        self.clock = clock
        self.sleep = sleep
        self.updated = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.fill_rate)
        self.updated = now

    def try_acquire(self) -> float:
        """Take a token and return 0, or return the seconds until one is available."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.fill_rate

    async def acquire(self) -> float:
        """Wait for a token; returns how long the caller waited. Callers are served in order."""
        waited = 0.0
        async with self._lock:
            while True:
                delay = self.try_acquire()
                if delay <= 0:
                    return waited
                await self.sleep(delay)
                waited += delay


class RateLimits:
    """One bucket per key (e.g. per routing key), created on first use and shared by every
    integration that sends with that key."""

    def __init__(
        self, rate: float, per: float = 60.0, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep
    ):
        self.rate = rate
        self.per = per
        self.clock = clock
        self.sleep = sleep
        self.buckets: dict[str, TokenBucket] = {}

    def bucket(self, key: str) -> TokenBucket:
        b = self.buckets.get(key)
        if b is None:
            b = self.buckets[key] = TokenBucket(self.rate, self.per, clock=self.clock, sleep=self.sleep)
        return b

    async def acquire(self, key: str) -> float:
        return await self.bucket(key).acquire()


def limit_key(*parts: object) -> str:
    """A bucket key that does not keep the (possibly secret) URL or token in memory as text."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


#: PagerDuty Events v2: about 120 events per minute per integration key.
PAGERDUTY_LIMITS = RateLimits(120, 60.0)
#: Slack: about one message per second per channel or webhook, short bursts tolerated.
SLACK_LIMITS = RateLimits(60, 60.0)
#: Telegram: at most 20 messages a minute into one group chat.
TELEGRAM_LIMITS = RateLimits(20, 60.0)
