"""Group commit in a process of its own, so that committing never waits for the event loop's GIL.

``GroupCommitWriter`` (``writer.py``) commits from a thread of the server's process. Each time that
thread comes back from SQLite or PostgreSQL (after a statement, after the commit's fsync) it must
win the GIL back from a busy event loop, which holds it for up to the interpreter's switch interval
(5 ms). Measured on a loaded server, a commit of about 200 alerts took 7-9 ms of wall time for
2 ms of CPU and a 1.5 ms fsync, and each POST waits for one or two commits; with the commits
stubbed out the same server ingested 1.6 times as fast. Shortening the switch interval made the
commits faster but the event loop slower, for no net gain.

``CommitProcess`` keeps the same contract (``await write(batch)`` returns once the batch is durable;
``write_nowait`` for writes nobody waits for) but drives a child process from the event loop: the
loop merges the queued batches, encodes them with msgpack (cheaper than the row building it
replaces) and sends them over a socket; the child commits and answers; a reader callback on the
loop settles the waiters. One batch is in flight at a time, so commits keep their order, and
batches queued meanwhile are merged into the next one, as before.

The child runs ``python -m tocsin.storage.commit_child`` with only the storage modules imported,
opens the same database from a URL sent over the socket (never on its command line, where ``ps``
would show a password), and ends when its socket closes. If it dies, the batch in flight fails with
an error that says so and the next write starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import msgspec

from tocsin.storage.base import StorageError, WriteBatch
from tocsin.storage.commit_child import EncodeAlerts, encode_batch, recv_frame, send_frame
from tocsin.storage.writer import Queue, settle_all, take_queued

log = logging.getLogger(__name__)

#: how long a new child may take to import and open the database
_START_TIMEOUT = 60.0


class CommitProcess:
    """A group-commit writer whose commits run in a child process (see the module's docstring).

    ``url`` is what ``open_storage`` accepts for the same database the server opened."""

    def __init__(
        self,
        url: str,
        encode_alerts: EncodeAlerts,
        live_alerts: Callable[[], int] | None = None,
        max_batch: int = 20_000,
    ) -> None:
        self.url = url
        self.encode_alerts = encode_alerts
        self.live_alerts = live_alerts
        self.max_batch = max_batch
        self.commits = 0
        self.batches = 0
        self._queue: Queue = deque()
        self._in_flight: list[asyncio.Future[None]] | None = None
        self._seq = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._scheduled = False  # a _pump waits in the event loop's ready queue
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        # flush() may wait in another thread while the loop drives the child.
        self._idle = threading.Condition()
        self._start_child()

    # -- child lifecycle --
    def _start_child(self) -> None:
        parent, child = socket.socketpair()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tocsin.storage.commit_child", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                # Ctrl-C in a terminal reaches the whole process group; the parent decides when
                # the child stops (by closing the socket once everything is committed).
                start_new_session=True,
            )
        finally:
            child.close()
        send_frame(parent, self.url.encode())
        parent.settimeout(_START_TIMEOUT)
        try:
            answer = recv_frame(parent).decode()
        except (OSError, EOFError) as e:
            parent.close()
            raise StorageError(f"the storage writer process did not start: {e}") from None
        if answer != "ready":
            parent.close()
            raise StorageError(answer)
        parent.settimeout(None)
        self._sock = parent
        if self._loop is not None and not self._loop.is_closed():
            self._watch(self._loop)

    def _watch(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self._sock is not None
        self._sock.setblocking(False)
        loop.add_reader(self._sock.fileno(), self._on_readable)

    def _child_gone(self, why: str) -> None:
        """The child died: fail the batch in flight, start a new child for what is queued."""
        code = None
        if self._proc is not None:
            # Its socket closed as it died; reap it (and never leave two children writing).
            try:
                code = self._proc.wait(timeout=1)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                code = self._proc.wait()
        message = f"the storage writer process ended ({why}; exit code {code}): this write is not durable"
        log.error("%s", message)
        self._drop_socket()
        waiters, self._in_flight = self._in_flight or [], None
        settle_all(waiters, StorageError(message))
        if self._closed:
            return
        try:
            self._start_child()
        except StorageError as e:
            log.error("%s", e)
            queued = [fut for _, fut in self._queue if fut is not None]
            self._queue.clear()
            settle_all(queued, e)
            return
        self._pump()

    def _drop_socket(self) -> None:
        if self._sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None

    # -- writes --
    async def write(self, batch: WriteBatch) -> None:
        """Return once ``batch`` is committed; raise StorageError if the commit failed."""
        fut = self.submit(batch)
        if fut is not None:
            await fut

    def submit(self, batch: WriteBatch) -> asyncio.Future[None] | None:
        """Queue ``batch`` and return the future ``write`` awaits (None for an empty batch)."""
        if not len(batch):
            return None
        if self._closed:
            raise RuntimeError("storage writer is stopped")
        loop = asyncio.get_running_loop()
        self._attach(loop)
        fut: asyncio.Future[None] = loop.create_future()
        self._queue.append((batch, fut))
        self._soon()
        return fut

    def write_nowait(self, batch: WriteBatch) -> None:
        """Queue a batch whose durability nobody waits for (timers, notification log)."""
        if not len(batch):
            return
        self._queue.append((batch, None))
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # start-up or shutdown code outside the loop: commit right here
            self._drain_blocking()
            return
        self._attach(loop)
        self._soon()

    def _attach(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        # A new loop (tests run several): finish what the old one left, then watch from here.
        self._drain_blocking()
        self._loop = loop
        if self._sock is not None:
            self._watch(loop)

    def _take(self) -> tuple[WriteBatch, list[asyncio.Future[None]]] | None:
        return take_queued(self._queue, self.max_batch) if self._queue else None

    def _encode(self, merged: WriteBatch, waiters: list[asyncio.Future[None]]) -> list[bytes] | None:
        self._seq += 1
        live = None if self.live_alerts is None else self.live_alerts()
        try:
            return encode_batch(self._seq, live, merged, self.encode_alerts)
        except (TypeError, ValueError, OverflowError) as e:  # a value msgpack cannot carry
            settle_all(waiters, StorageError(f"cannot encode a write for the storage writer: {e}"))
            return None

    def _soon(self) -> None:
        """Send once the callbacks ready in this turn of the event loop have run, not at once: the
        writes they issue (a tick's group flushes, requests read together) then share a commit.
        Sent at once, each flush's record made a commit of its own while the child was idle: with
        25,000 groups, 43% more commits and 17% more CPU on the event loop than the thread writer,
        whose wake-up delay let them gather."""
        if self._in_flight is None and not self._scheduled and self._loop is not None:
            self._scheduled = True
            self._loop.call_soon(self._scheduled_pump)

    def _scheduled_pump(self) -> None:
        self._scheduled = False
        self._pump()

    def _pump(self) -> None:
        """Send the next merged batch if none is in flight (on the event loop)."""
        while self._in_flight is None and self._sock is not None:
            taken = self._take()
            if taken is None:
                self._notify_idle()
                return
            merged, waiters = taken
            payload = self._encode(merged, waiters)
            if payload is None:
                continue
            self._in_flight = waiters
            self.batches += len(waiters)
            try:
                # The child is idle (nothing in flight), so it is reading: a blocking send of a
                # batch fits the socket's buffer or is drained at once.
                self._sock.setblocking(True)
                send_frame(self._sock, payload)
                self._sock.setblocking(False)
            except OSError as e:
                self._child_gone(f"send failed: {e}")
                return

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        try:
            sock.setblocking(True)  # a reply is small and, once readable, arrives whole
            seq, error = msgspec.msgpack.decode(recv_frame(sock))
            sock.setblocking(False)
        except (OSError, EOFError) as e:
            self._child_gone(f"reply lost: {e}")
            return
        waiters, self._in_flight = self._in_flight or [], None
        if seq != self._seq:  # cannot happen with one batch in flight; refuse to guess
            self._child_gone(f"reply to batch {seq} while {self._seq} was in flight")
            return
        if error is None:
            self.commits += 1
            settle_all(waiters, None)
        else:
            log.error("storage commit failed: %s", error)
            settle_all(waiters, StorageError(error))
        self._pump()

    def _drain_blocking(self) -> None:
        """Commit everything queued with blocking calls (no event loop drives the child)."""
        if self._sock is None:
            return
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(Exception):
                loop.remove_reader(self._sock.fileno())
        self._sock.setblocking(True)
        if self._in_flight is not None:
            self._on_readable()  # the answer to what the old loop sent
        while self._queue and self._sock is not None:
            self._pump()
            if self._in_flight is not None:
                self._on_readable()
        if self._sock is not None:
            self._sock.setblocking(True)

    def _notify_idle(self) -> None:
        with self._idle:
            self._idle.notify_all()

    def flush(self) -> None:
        """Block until everything queued so far is committed. From a thread other than the event
        loop's while the loop runs (Engine.stop does so through an executor), or with no loop."""
        loop = self._loop
        if loop is None or not loop.is_running():
            self._drain_blocking()
            return
        deadline = time.monotonic() + 60
        with self._idle:
            while (self._queue or self._in_flight is not None) and self._sock is not None:
                if time.monotonic() > deadline:
                    raise StorageError("the storage writer process did not finish its writes within 60 s")
                self._idle.wait(0.05)

    def close(self) -> None:
        """Commit what is queued (blocking), then let the child finish and exit."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(StorageError, OSError, EOFError):
            self._drain_blocking()
        self._drop_socket()
        proc = self._proc
        if proc is not None:
            try:
                proc.wait(timeout=30)  # the closed socket tells the child to finish and exit
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
