"""The commit process's side, and the wire format both sides speak (see ``commit_process.py``).

Run as ``python -m tocsin.storage.commit_child FD``. It imports the storage modules and nothing of
the server (no asyncio, whose ssl alone is 8 MiB of resident memory), so the process stays small.
"""

from __future__ import annotations

import contextlib
import dataclasses
import operator
import os
import signal
import socket
import struct
import sys
from collections.abc import Callable

import msgspec

from tocsin.storage.base import AlertRows, DeliveryRecord, Doc, WriteBatch

_HEADER = struct.Struct("!I")
#: how long an idle child waits for a batch before its next step of housekeeping (seconds)
_IDLE_STEP = 0.005


# --- wire format (msgpack arrays; both sides are this module) ---------------------------------


# DeliveryRecord's fields in order, as a tuple: ``dataclasses.astuple`` copies each value deeply,
# which with 25,000 groups (a record per flush) was 1.6% of the event loop.
_delivery_fields = operator.attrgetter(*(f.name for f in dataclasses.fields(DeliveryRecord)))

#: turns a batch's alerts into the storage's own row form (``SQLStorage.encode_alert_log``): the
#: msgpack encoding of one object (the rows), in parts that are sent one after the other
EncodeAlerts = Callable[[AlertRows], list[bytes]]

_NIL = b"\xc0"  # msgpack's nil: a frame without alerts


def encode_batch(
    seq: int, live_alerts: int | None, batch: WriteBatch, encode_alerts: EncodeAlerts
) -> list[bytes]:
    """The frame for ``batch``, in parts: its alerts already as log rows (``encode_alerts``), so
    that the child appends them as they come.

    The frame is one msgpack array whose last element is the rows: the rows' bytes (tens of KiB a
    commit) go to the socket as ``encode_alerts`` wrote them, never copied into a larger buffer
    (which they were three times, once wrapped as ``msgspec.Raw``)."""
    count = batch.alert_count()
    docs = [
        [kind, t, key, None] if d is None else [kind, t, key, d.data, d.expires_at]
        for (kind, t, key), d in batch.docs.items()
    ]
    deliveries = [_delivery_fields(d) for d in batch.deliveries]  # one per flush
    head = msgspec.msgpack.encode([seq, live_alerts, count, docs, deliveries, batch.purge_deliveries_before])
    # A fixarray of six (0x96) becomes one of seven: the rows follow as its last element.
    assert head[0] == 0x96
    return [b"\x97" + head[1:], *(encode_alerts(batch.alert_rows()) if count else [_NIL])]


def decode_batch(data: bytes) -> tuple[int, int | None, WriteBatch]:
    seq, live_alerts, count, docs, deliveries, purge, rows = msgspec.msgpack.decode(data)
    batch = WriteBatch(purge_deliveries_before=purge)
    if rows is not None:
        batch.encoded_alerts = (count, rows)
    for row in docs:
        kind, tenant, key, content = row[:4]
        batch.docs[(kind, tenant, key)] = None if content is None else Doc(tenant, key, content, row[4])
    batch.deliveries = [DeliveryRecord(*row) for row in deliveries]
    return seq, live_alerts, batch


def send_frame(sock: socket.socket, payload: bytes | list[bytes]) -> None:
    """Send one frame: its length, then ``payload`` (or its parts, without joining them)."""
    parts = [payload] if isinstance(payload, bytes) else payload
    views = [memoryview(_HEADER.pack(sum(map(len, parts))))] + [memoryview(p) for p in parts if p]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views.pop(0))
        if views:
            views[0] = views[0][sent:]


def recv_exact(sock: socket.socket, n: int) -> bytes:
    parts: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the connection")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def recv_frame(sock: socket.socket) -> bytes:
    (size,) = _HEADER.unpack(recv_exact(sock, _HEADER.size))
    return recv_exact(sock, size)


def child_main(fd: int) -> int:
    """Open the database named by the first frame, then commit each batch and answer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    sock = socket.socket(fileno=fd)
    from tocsin.storage.open import open_storage
    from tocsin.storage.sqlite import SQLiteStorage

    try:
        url = recv_frame(sock).decode()
        storage = open_storage(url=url)
    except Exception as e:  # reported to the parent, which raises it as the start-up error
        with contextlib.suppress(OSError):
            send_frame(sock, f"the storage writer process cannot open the database: {e}".encode())
        return 1
    if isinstance(storage, SQLiteStorage):
        # This connection appends to the alert log (which needs only the log's last pages) and
        # rewrites the notification-log and group-timer documents; 4 MiB holds those for thousands
        # of groups. The server's 16 MiB made this process the largest part of the memory it added
        # (peak 50 MiB against 34 at 250k alerts).
        storage.set_page_cache(4096)
    send_frame(sock, b"ready")
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
                frame = recv_frame(sock)
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
            try:
                send_frame(sock, msgspec.msgpack.encode([seq, error]))
            except OSError:
                break  # the server is gone: nobody is left to answer
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
