"""A circuit breaker per endpoint, so a dead provider is not hammered and its failures come back
at once instead of after a full timeout each.

Closed → open after ``fail_max`` consecutive failures; open for ``reset_timeout`` seconds, during
which calls fail fast (retryable, with the time left as ``retry_after``); then half-open: one
probe goes through, success closes the breaker, failure opens it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tocsin.notify.base import NotifyError

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half-open"


class CircuitBreaker:
    def __init__(
        self, fail_max: int = 5, reset_timeout: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if fail_max < 1:
            raise ValueError(f"fail_max must be at least 1, got {fail_max}")
        if reset_timeout <= 0:
            raise ValueError(f"reset_timeout must be positive, got {reset_timeout}")
        self.fail_max = fail_max
        self.reset_timeout = reset_timeout
        self.clock = clock
        self.failures = 0
        self.opened_at = 0.0
        self.last_error = ""
        self._state = CLOSED

    @property
    def state(self) -> str:
        if self._state == OPEN and self.clock() - self.opened_at >= self.reset_timeout:
            self._state = HALF_OPEN
        return self._state

    def before_call(self, what: str) -> None:
        """Raise a retryable NotifyError while open; let one probe through when half-open."""
        state = self.state
        if state == OPEN:
            left = self.reset_timeout - (self.clock() - self.opened_at)
            last = f" (last: {self.last_error})" if self.last_error else ""
            raise NotifyError(
                f"{what} circuit open after {self.failures} consecutive failures{last}; "
                f"next try in {left:.0f}s",
                retryable=True,
                retry_after=left,
            )
        if state == HALF_OPEN:
            # The probe is in flight: further callers wait for its outcome.
            self._state = OPEN
            self.opened_at = self.clock()

    def record(self, failure: bool, error: str = "") -> None:
        """Count one outcome; ``error`` (already free of secrets) is shown while the circuit is open."""
        if not failure:
            self.failures = 0
            self.last_error = ""
            self._state = CLOSED
            return
        self.failures += 1
        self.last_error = error[:300]
        if self.failures >= self.fail_max:
            self._state = OPEN
            self.opened_at = self.clock()
