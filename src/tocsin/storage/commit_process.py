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

The child runs ``python -m tocsin.storage.commit_process`` with only the storage modules imported,
opens the same database from a URL sent over the socket (never on its command line, where ``ps``
would show a password), and ends when its socket closes. If it dies, the batch in flight fails with
an error that says so and the next write starts a new child.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable

import msgspec

from tocsin.model import Alert
from tocsin.storage.base import DeliveryRecord, Doc, StorageError, WriteBatch

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
#: how long an idle child waits for a batch before its next step of housekeeping (seconds)
_IDLE_STEP = 0.005
#: how long a new child may take to import and open the database
_START_TIMEOUT = 60.0
_STOP = -1


# --- wire format (msgpack arrays; both sides are this module) ---------------------------------


def encode_batch(seq: int, live_alerts: int | None, batch: WriteBatch) -> bytes:
    alerts = [
        [t, fp]
        if a is None
        else [
            t,
            fp,
            a.labels,
            a.annotations,
            a.starts_at,
            a.ends_at,
            a.generator_url,
            a.updated_at,
            a.timeout,
        ]
        for (t, fp), a in batch.alerts.items()
    ]
    docs = [
        [kind, t, key, None] if d is None else [kind, t, key, d.data, d.expires_at]
        for (kind, t, key), d in batch.docs.items()
    ]
    deliveries = [dataclasses.astuple(d) for d in batch.deliveries]  # a few per flush at most
    return msgspec.msgpack.encode([seq, live_alerts, alerts, docs, deliveries, batch.purge_deliveries_before])


def decode_batch(data: bytes) -> tuple[int, int | None, WriteBatch]:
    seq, live_alerts, alerts, docs, deliveries, purge = msgspec.msgpack.decode(data)
    batch = WriteBatch(purge_deliveries_before=purge)
    for row in alerts:
        t, fp = row[0], row[1]
        if len(row) == 2:
            batch.alerts[(t, fp)] = None
            continue
        labels, annotations, starts, ends, url, updated, timeout = row[2:]
        # The fingerprint travels with the alert: Alert only computes one when it is 0.
        batch.alerts[(t, fp)] = Alert(labels, annotations, starts, ends, url, updated, timeout, t, fp)
    for row in docs:
        kind, tenant, key, content = row[:4]
        batch.docs[(kind, tenant, key)] = None if content is None else Doc(tenant, key, content, row[4])
    batch.deliveries = [DeliveryRecord(*row) for row in deliveries]
    return seq, live_alerts, batch


def _send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    parts: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _recv_frame(sock: socket.socket) -> bytes:
    (size,) = _HEADER.unpack(_recv_exact(sock, _HEADER.size))
    return _recv_exact(sock, size)


# --- the parent's side ------------------------------------------------------------------------


class CommitProcess:
    """A group-commit writer whose commits run in a child process (see the module's docstring).

    ``url`` is what ``open_storage`` accepts for the same database the server opened."""

    def __init__(
        self, url: str, live_alerts: Callable[[], int] | None = None, max_batch: int = 20_000
    ) -> None:
        self.url = url
        self.live_alerts = live_alerts
        self.max_batch = max_batch
        self.commits = 0
        self.batches = 0
        self._queue: deque[tuple[WriteBatch, asyncio.Future[None] | None]] = deque()
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
                [sys.executable, "-m", "tocsin.storage.commit_process", str(child.fileno())],
                pass_fds=(child.fileno(),),
                stdin=subprocess.DEVNULL,
                # Ctrl-C in a terminal reaches the whole process group; the parent decides when
                # the child stops (by closing the socket once everything is committed).
                start_new_session=True,
            )
        finally:
            child.close()
        _send_frame(parent, self.url.encode())
        parent.settimeout(_START_TIMEOUT)
        try:
            answer = _recv_frame(parent).decode()
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
        _settle_all(waiters, StorageError(message))
        if self._closed:
            return
        try:
            self._start_child()
        except StorageError as e:
            log.error("%s", e)
            queued = [fut for _, fut in self._queue if fut is not None]
            self._queue.clear()
            _settle_all(queued, e)
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
        if not len(batch):
            return
        if self._closed:
            raise RuntimeError("storage writer is stopped")
        loop = asyncio.get_running_loop()
        self._attach(loop)
        fut: asyncio.Future[None] = loop.create_future()
        self._queue.append((batch, fut))
        self._soon()
        await fut

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
        if not self._queue:
            return None
        merged = WriteBatch()
        waiters: list[asyncio.Future[None]] = []
        while self._queue and len(merged) < self.max_batch:
            batch, fut = self._queue.popleft()
            merged.absorb(batch)
            if fut is not None:
                waiters.append(fut)
        return merged, waiters

    def _encode(self, merged: WriteBatch, waiters: list[asyncio.Future[None]]) -> bytes | None:
        self._seq += 1
        live = None if self.live_alerts is None else self.live_alerts()
        try:
            return encode_batch(self._seq, live, merged)
        except (TypeError, ValueError, OverflowError) as e:  # a value msgpack cannot carry
            _settle_all(waiters, StorageError(f"cannot encode a write for the storage writer: {e}"))
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
                _send_frame(self._sock, payload)
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
            seq, error = msgspec.msgpack.decode(_recv_frame(sock))
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
            _settle_all(waiters, None)
        else:
            log.error("storage commit failed: %s", error)
            _settle_all(waiters, StorageError(error))
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


def _settle_all(futs: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for fut in futs:
        if fut.done() or fut.get_loop().is_closed():
            continue
        if error is None:
            fut.set_result(None)
        else:
            fut.set_exception(error)


# --- the child's side -------------------------------------------------------------------------


def child_main(fd: int) -> int:
    """Open the database named by the first frame, then commit each batch and answer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    sock = socket.socket(fileno=fd)
    from tocsin.storage.open import open_storage
    from tocsin.storage.sqlite import SQLiteStorage

    try:
        url = _recv_frame(sock).decode()
        storage = open_storage(url=url)
    except Exception as e:  # reported to the parent, which raises it as the start-up error
        with contextlib.suppress(OSError):
            _send_frame(sock, f"the storage writer process cannot open the database: {e}".encode())
        return 1
    if isinstance(storage, SQLiteStorage):
        # This connection appends to the alert log (which needs only the log's last pages) and
        # rewrites the notification-log and group-timer documents; 4 MiB holds those for thousands
        # of groups. The server's 16 MiB made this process the largest part of the memory it added
        # (peak 50 MiB against 34 at 250k alerts).
        storage.set_page_cache(4096)
    _send_frame(sock, b"ready")
    more = False  # housekeeping has work left
    live_alerts: int | None = None  # as the parent last counted them
    try:
        while True:
            if more:
                sock.settimeout(_IDLE_STEP)
                try:
                    header = sock.recv(_HEADER.size, socket.MSG_PEEK)
                except TimeoutError:
                    more = bool(storage.maintain(live_alerts))
                    continue
                finally:
                    sock.settimeout(None)
                if not header:
                    break
            try:
                frame = _recv_frame(sock)
            except EOFError:
                break  # the parent closed the socket: everything it sent is committed
            seq, live_alerts, batch = decode_batch(frame)
            if os.getppid() != parent:
                # The server died (kill -9) after sending this: nobody was told it is durable, and
                # a server started since may have written newer rows that this one would follow.
                break
            error = None
            try:
                storage.commit(batch)
            except Exception as e:
                error = str(e) or type(e).__name__
            _send_frame(sock, msgspec.msgpack.encode([seq, error]))
            try:
                more = bool(storage.maintain(live_alerts))
            except Exception as e:
                more = False
                print(f"tocsin storage writer: maintenance failed: {e}", file=sys.stderr)
    finally:
        storage.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(child_main(int(sys.argv[1])))
