"""Group commit: concurrent writers share one transaction, and each learns when it is durable.

Callers on the event loop ``await writer.write(batch)``; a single thread takes every batch queued
since its last commit, merges them (later changes to a key win), commits once and then wakes all
of their waiters. Under load this turns thousands of small requests into a few large transactions
while each request still gets its answer only after its data is on disk.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Protocol

from tocsin.storage.base import Storage, WriteBatch

log = logging.getLogger(__name__)

#: batches waiting for a commit, each with the future of its writer (None: nobody waits)
Queue = deque[tuple[WriteBatch, "asyncio.Future[None] | None"]]

#: how long an idle writer waits for writes before its next step of housekeeping (seconds)
_IDLE_STEP = 0.005


class CommitWriter(Protocol):
    """What the engine writes through: this thread's writer or ``CommitProcess``."""

    commits: int  # transactions committed
    batches: int  # awaited writes they carried

    async def write(self, batch: WriteBatch) -> None: ...

    def submit(self, batch: WriteBatch) -> asyncio.Future[None] | None:
        """Queue ``batch`` and return the future ``write`` awaits (None for an empty batch)."""
        ...

    def write_nowait(self, batch: WriteBatch) -> None: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...


class GroupCommitWriter:
    def __init__(
        self, storage: Storage, max_batch: int = 20_000, live_alerts: Callable[[], int] | None = None
    ) -> None:
        self.storage = storage
        #: how many alerts the engine holds (what a compacted alert log would keep)
        self.live_alerts = live_alerts
        self.max_batch = max_batch
        self._queue: Queue = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="tocsin-writer", daemon=True)
        self.commits = 0
        self.batches = 0
        self._thread.start()

    async def write(self, batch: WriteBatch) -> None:
        """Return once ``batch`` is committed; raise StorageError if the commit failed."""
        fut = self.submit(batch)
        if fut is not None:
            await fut

    def submit(self, batch: WriteBatch) -> asyncio.Future[None] | None:
        if not len(batch):
            return None
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        with self._cond:
            if self._stopping:
                raise RuntimeError("storage writer is stopped")
            self._queue.append((batch, fut))
            self._wake_writer()
        return fut

    def write_nowait(self, batch: WriteBatch) -> None:
        """Queue a batch whose durability nobody waits for (timers, notification log)."""
        if not len(batch):
            return
        with self._cond:
            self._queue.append((batch, None))
            self._wake_writer()

    def _wake_writer(self) -> None:
        # Called with the lock held. A busy writer takes the queue when its commit is done, so it
        # needs no wake-up: under load that skips a Condition.notify per request (2% of the loop).
        if not self._busy:
            self._cond.notify_all()

    def _run(self) -> None:
        more = False  # housekeeping has work left
        while True:
            merged: WriteBatch | None = None
            waiters: list[asyncio.Future[None]] = []
            with self._cond:
                while not self._queue and not self._stopping and not more:
                    self._cond.wait()
                if not self._queue and not self._stopping:
                    # Idle with housekeeping left: a short nap, so a write arriving now goes first.
                    self._cond.wait(_IDLE_STEP)
                if not self._queue and self._stopping:
                    return
                if self._queue:
                    merged, waiters = take_queued(self._queue, self.max_batch)
                self._busy = True
            if merged is not None:
                self._commit(merged, waiters)
            # After the waiters are answered, so housekeeping delays the next commit at most.
            try:
                more = bool(self.storage.maintain(None if self.live_alerts is None else self.live_alerts()))
            except Exception as e:
                more = False
                log.error("storage maintenance failed: %s", e)
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _commit(self, merged: WriteBatch, waiters: list[asyncio.Future[None]]) -> None:
        error: BaseException | None = None
        try:
            self.storage.commit(merged)
            self.commits += 1
            self.batches += len(waiters)
        except BaseException as e:  # a failed commit must reach every waiter, whatever it was
            error = e
            log.error("storage commit failed: %s", e)
        # One hand-over per event loop and commit, not per waiter: each is a write to the
        # loop's wake-up pipe, and a commit answers several requests.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for fut in waiters:
            by_loop.setdefault(fut.get_loop(), []).append(fut)
        for loop, futs in by_loop.items():
            loop.call_soon_threadsafe(settle_all, futs, error)

    def flush(self) -> None:
        """Block until everything queued so far is committed (used at shutdown and in tests)."""
        with self._cond:
            while self._queue or self._busy:
                self._cond.wait(0.05)

    def close(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._thread.join(timeout=30)


def take_queued(queue: Queue, max_batch: int) -> tuple[WriteBatch, list[asyncio.Future[None]]]:
    """Merge queued batches, oldest first, into one of up to about ``max_batch`` changes (later
    changes to a key win), with the futures of those that wait for it."""
    merged = WriteBatch()
    waiters: list[asyncio.Future[None]] = []
    while queue and len(merged) < max_batch:
        batch, fut = queue.popleft()
        merged.absorb(batch)
        if fut is not None:
            waiters.append(fut)
    return merged, waiters


def settle_all(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    """Answer the waiters of one commit (on their event loop); a closed loop's are forgotten."""
    for fut in futs:
        if fut.done() or fut.get_loop().is_closed():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)
