"""Commits in a child process (storage/commit_process.py), against real SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tocsin.model import Alert
from tocsin.storage import Storage, StorageError, WriteBatch, open_storage
from tocsin.storage.base import DeliveryRecord, Doc
from tocsin.storage.commit_child import decode_batch, encode_batch
from tocsin.storage.commit_process import CommitProcess
from tocsin.storage.sqlite import SQLiteStorage


def _alerts(n: int, start: int = 0) -> list[Alert]:
    return [
        Alert({"alertname": "A", "i": str(i)}, {"d": "é\t\\"}, 1.25, 2.5, "http://g", 1.75, i % 2 == 0, "t")
        for i in range(start, start + n)
    ]


def _one(alert: Alert) -> WriteBatch:
    b = WriteBatch()
    b.put_alert(alert)
    return b


def _writer(storage: Storage, **kw: Any) -> CommitProcess:
    return CommitProcess(storage.reopen_url(), storage.encode_alert_log, **kw)  # type: ignore[attr-defined]


def test_a_batch_survives_the_wire_unchanged(storage: Storage) -> None:
    b = WriteBatch(purge_deliveries_before=12.5)
    b.put_alerts(_alerts(3))
    b.delete_alert("t", (1 << 64) - 1)  # the largest fingerprint, and a tombstone
    b.put_doc("silences", Doc("t", "s1", {"matchers": [{"name": "a", "value": "b"}], "n": 1.5}, 99.0))
    b.delete_doc("nflog", "t", "k")
    b.deliveries.append(DeliveryRecord("t", "r", "webhook[0]", "{}:{}", "new", 3, True, 1, "", 1.0, 2.0))
    b.put_alert(Alert({"alertname": "gone"}, {}, 1.0, 2.0, "", 1.5, False, "t"))
    b.delete_alert("t", b.alerts.popitem()[0][1])  # an alert put, then deleted in the same batch
    frame = b"".join(encode_batch(7, 42, b, storage.encode_alert_log))  # type: ignore[attr-defined]
    seq, live, back = decode_batch(frame)
    assert (seq, live) == (7, 42)
    assert (back.docs, back.deliveries, back.purge_deliveries_before) == (b.docs, b.deliveries, 12.5)
    # The alerts travel as the storage's rows: committed, they load back as they were sent.
    assert back.alerts == {} and back.encoded_alerts is not None and back.encoded_alerts[0] == 5
    assert len(back) == len(b)
    storage.commit(back)
    assert storage.load_alerts() == _alerts(3)


def test_a_frame_without_alerts_and_one_of_runs(storage: Storage) -> None:
    b = WriteBatch()
    b.put_doc("silences", Doc("t", "s1", {"n": 1}, 9.0))
    _, _, back = decode_batch(b"".join(encode_batch(2, None, b, storage.encode_alert_log)))  # type: ignore[attr-defined]
    assert back.encoded_alerts is None and back.docs == b.docs
    runs = WriteBatch()
    runs.put_alerts(_alerts(2))
    runs.put_alerts(_alerts(2, 1))  # alert 1 twice: the later row is the one that loads
    _, _, back = decode_batch(b"".join(encode_batch(3, None, runs, storage.encode_alert_log)))  # type: ignore[attr-defined]
    assert back.encoded_alerts is not None and back.encoded_alerts[0] == 4
    storage.commit(back)
    assert sorted(storage.load_alerts(), key=lambda a: a.labels["i"]) == _alerts(3)


def test_frames_in_parts_arrive_whole_through_partial_sends() -> None:
    # A frame sent as parts (the rows are never joined to the rest) through a socket whose buffer
    # is far smaller than the frame: every send is partial while the reader drains it.
    import socket
    import threading

    from tocsin.storage.commit_child import recv_frame, send_frame

    a, b = socket.socketpair()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    parts = [os.urandom(100), b"", os.urandom(3 << 20), os.urandom(7)]
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend([recv_frame(b), recv_frame(b)]))
    reader.start()
    send_frame(a, parts)
    send_frame(a, b"small")
    reader.join(10)
    a.close()
    b.close()
    assert got == [b"".join(parts), b"small"]


def test_a_batch_with_encoded_alerts_is_not_merged(storage: Storage) -> None:
    b = WriteBatch()
    b.put_alerts(_alerts(2))
    _, _, back = decode_batch(b"".join(encode_batch(1, None, b, storage.encode_alert_log)))  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="encoded alerts"):
        WriteBatch().absorb(back)
    with pytest.raises(ValueError, match="encoded alerts"):
        back.absorb(WriteBatch())


def test_concurrent_writes_share_commits_and_are_durable(storage: Storage) -> None:
    writer = _writer(storage, live_alerts=lambda: 50)

    async def run() -> None:
        # Writes issued in one turn of the event loop share one commit.
        await asyncio.gather(*(writer.write(_one(a)) for a in _alerts(50)))
        doc = WriteBatch()
        doc.put_doc("silences", Doc("t", "s1", {"k": [1, 2]}, 99.0))
        writer.write_nowait(doc)

    try:
        asyncio.run(run())
    finally:
        writer.close()
    assert (writer.commits, writer.batches) == (2, 50)
    loaded = sorted(storage.load_alerts(), key=lambda a: int(a.labels["i"]))
    assert loaded == _alerts(50)
    assert storage.load_docs("silences") == [Doc("t", "s1", {"k": [1, 2]}, 99.0)]


def test_writes_without_an_event_loop_are_committed_at_once(tmp_path: Path) -> None:
    storage = open_storage(url=f"sqlite:///{tmp_path}/t.db")
    writer = _writer(storage)
    try:
        writer.write_nowait(_one(_alerts(1)[0]))  # start-up code, before the loop runs
        assert storage.load_alerts() == _alerts(1)
        # A second event loop after the first one ended (tests, restarts of the loop).
        asyncio.run(writer.write(_one(_alerts(1, 1)[0])))
        asyncio.run(writer.write(_one(_alerts(1, 2)[0])))
        assert len(storage.load_alerts()) == 3
    finally:
        writer.close()
        storage.close()


def test_a_failed_commit_reaches_its_waiters_and_later_writes_go_on(tmp_path: Path) -> None:
    storage = open_storage(url=f"sqlite:///{tmp_path}/t.db")
    assert isinstance(storage, SQLiteStorage)
    writer = _writer(storage)

    async def run() -> None:
        other = sqlite3.connect(storage.path)
        other.execute("ALTER TABLE alert_log RENAME TO hidden")
        other.commit()
        with pytest.raises(StorageError, match="no such table: alert_log"):
            await writer.write(_one(_alerts(1)[0]))
        doc = WriteBatch()
        doc.put_doc("silences", Doc("t", "s1", {}, 0.0))
        await writer.write(doc)  # another table: the writer still works
        other.execute("ALTER TABLE hidden RENAME TO alert_log")
        other.commit()
        other.close()
        await writer.write(_one(_alerts(1)[0]))

    try:
        asyncio.run(run())
    finally:
        writer.close()
    assert storage.load_alerts() == _alerts(1)
    assert [d.key for d in storage.load_docs("silences")] == ["s1"]
    storage.close()


def test_a_child_that_dies_fails_the_write_in_flight_and_is_replaced(tmp_path: Path) -> None:
    storage = open_storage(url=f"sqlite:///{tmp_path}/t.db")
    writer = _writer(storage)

    async def run() -> None:
        await writer.write(_one(_alerts(1)[0]))
        first = writer._proc
        assert first is not None
        os.kill(first.pid, signal.SIGSTOP)  # the next write stays in flight
        pending = asyncio.ensure_future(writer.write(_one(_alerts(1, 1)[0])))
        await asyncio.sleep(0.05)
        assert not pending.done()
        os.kill(first.pid, signal.SIGKILL)
        with pytest.raises(StorageError, match=r"storage writer process ended .*exit code -9"):
            await pending
        assert writer._proc is not first
        await writer.write(_one(_alerts(1, 2)[0]))

    try:
        asyncio.run(run())
    finally:
        writer.close()
    # The killed child never answered the second write; whether SQLite had it is not promised.
    assert {a.labels["i"] for a in storage.load_alerts()} >= {"0", "2"}
    storage.close()


def test_a_database_the_child_cannot_open_is_named_at_start() -> None:
    with pytest.raises(StorageError, match=r"cannot open the database: cannot connect to PostgreSQL at"):
        CommitProcess("postgresql://u@127.0.0.1:1/x", lambda alerts: b"")


def test_the_child_ends_with_the_writer_and_ignores_ctrl_c(tmp_path: Path) -> None:
    storage = open_storage(url=f"sqlite:///{tmp_path}/t.db")
    writer = _writer(storage)
    proc = writer._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C sends the whole group
    asyncio.run(writer.write(_one(_alerts(1)[0])))
    assert proc.poll() is None
    writer.close()
    assert proc.returncode == 0
    assert storage.load_alerts() == _alerts(1)
    storage.close()
