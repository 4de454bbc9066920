"""The storage port against real SQLite and real PostgreSQL."""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import pytest

from tocsin.model import Alert
from tocsin.storage import Storage, StorageError, WriteBatch, open_storage, sql
from tocsin.storage.base import Doc
from tocsin.storage.postgres import PostgresStorage
from tocsin.storage.sql import LATEST_VERSION
from tocsin.storage.writer import GroupCommitWriter


def test_alert_round_trip_including_high_fingerprints(storage: Storage) -> None:
    alerts = [
        Alert({"alertname": "A", "i": str(i)}, {"d": "é"}, 1.5, 2.5, "http://g", 1.75, i % 2 == 0, "t1")
        for i in range(50)
    ]
    assert any(a.fingerprint >= 1 << 63 for a in alerts), "need an unsigned 64-bit fingerprint in the sample"
    batch = WriteBatch()
    for a in alerts:
        batch.put_alert(a)
    storage.commit(batch)
    loaded = sorted(storage.load_alerts(), key=lambda a: a.fingerprint)
    assert loaded == sorted(alerts, key=lambda a: a.fingerprint)


def test_bulk_upsert_keeps_exact_floats_awkward_text_and_updates_in_place(storage: Storage) -> None:
    # Every alert of a commit reaches the database at once (one COPY or statement); nothing of
    # an alert may change on the way: full-precision times, quotes, backslashes, non-ASCII text.
    rng = random.Random(7)
    awkward = ['quo"te', "back\\slash", "tab\tnew\nline", "é🔥中", "{not json}", "", "\u2028"]
    alerts = [
        Alert(
            {"alertname": "A", "v": awkward[i % len(awkward)] or "x", "i": str(i)},
            {"summary": awkward[(i + 3) % len(awkward)]} if i % 3 else {},
            rng.uniform(1.7e9, 1.8e9),
            rng.uniform(1.8e9, 1.9e9),
            f"http://g/?q={awkward[i % len(awkward)]}",
            rng.random() * 1e10,
            i % 2 == 1,
            "t1" if i % 4 else 'tenant "two"',
        )
        for i in range(200)
    ]
    batch = WriteBatch()
    for a in alerts:
        batch.put_alert(a)
    storage.commit(batch)
    # The same keys again: updated in place, not duplicated.
    changed = [
        Alert(
            a.labels,
            {"n": "2"},
            a.starts_at,
            a.ends_at + 0.1,
            a.generator_url,
            a.updated_at,
            tenant_id=a.tenant_id,
        )
        for a in alerts[::2]
    ]
    batch = WriteBatch()
    for a in changed:
        batch.put_alert(a)
    storage.commit(batch)
    expected = {a.fingerprint: a for a in alerts} | {a.fingerprint: a for a in changed}
    loaded = storage.load_alerts()
    assert len(loaded) == len(expected)
    assert {a.fingerprint: a for a in loaded} == expected


def test_later_change_in_a_batch_wins_and_deletes(storage: Storage) -> None:
    a = Alert({"alertname": "A"}, starts_at=1, ends_at=2)
    b = Alert({"alertname": "A"}, starts_at=1, ends_at=3)
    first, second = WriteBatch(), WriteBatch()
    first.put_alert(a)
    second.put_alert(b)
    first.absorb(second)
    storage.commit(first)
    assert [x.ends_at for x in storage.load_alerts()] == [3]
    d = WriteBatch()
    d.delete_alert(a.tenant_id, a.fingerprint)
    d.put_doc("silences", Doc("default", "s1", {"k": [1, 2]}, 99.0))
    storage.commit(d)
    assert storage.load_alerts() == []
    assert storage.load_docs("silences") == [Doc("default", "s1", {"k": [1, 2]}, 99.0)]
    d = WriteBatch()
    d.delete_doc("silences", "default", "s1")
    storage.commit(d)
    assert storage.load_docs("silences") == []


def test_runs_and_changes_by_key_keep_their_order_through_merges(storage: Storage) -> None:
    # put_alerts keeps runs (a key may come twice); a change by key folds them into the dict
    # first. Every order of puts and deletes over two keys, each change its own queued batch
    # merged as the writers merge them, must leave the last change of each key.
    ops = [("run", 0), ("run", 1), ("one", 0), ("delete", 0), ("delete", 1)]
    merged = WriteBatch()
    expected: dict[int, Alert | None] = {}
    for case, seq in enumerate(
        [(a, b, c) for a in range(len(ops)) for b in range(len(ops)) for c in range(len(ops))]
    ):
        names = [f"case{case}-{k}" for k in range(2)]
        for version, i in enumerate(seq):
            kind, k = ops[i]
            alert = Alert({"alertname": names[k]}, starts_at=1.0, ends_at=10.0 + version)
            b = WriteBatch()
            if kind == "run":
                b.put_alerts([Alert({"alertname": names[1 - k]}, starts_at=1.0, ends_at=5.0), alert])
                expected[Alert({"alertname": names[1 - k]}).fingerprint] = b.runs[0][0]
            elif kind == "one":
                b.put_alert(alert)
            else:
                b.delete_alert(alert.tenant_id, alert.fingerprint)
            expected[alert.fingerprint] = None if kind == "delete" else alert
            assert not (b.alerts and b.runs)
            merged.absorb(b)
            assert not (merged.alerts and merged.runs), "a batch never holds both forms"
    assert merged.alert_count() >= len(expected)
    storage.commit(merged)
    assert {a.fingerprint: a for a in storage.load_alerts()} == {
        fp: a for fp, a in expected.items() if a is not None
    }


def _put(storage: Storage, *alerts: Alert) -> None:
    batch = WriteBatch()
    for a in alerts:
        batch.put_alert(a)
    storage.commit(batch)


def _compact(storage: Storage, live_alerts: int | None = None) -> int:
    """Run maintenance steps until the compaction pass (if one is due) is done; return the steps."""
    steps = 0
    while storage.maintain(live_alerts):
        steps += 1
        time.sleep(0.001)  # the pass's first steps wait for its garbage scan
        assert steps < 10_000
    return steps


def _reopen(storage: Storage) -> Storage:
    """A second process's view of the same database (the first one crashed)."""
    if isinstance(storage, PostgresStorage):
        return PostgresStorage(storage.dsn, storage.schema)
    return open_storage(url=storage.url)


def _alert(i: int, version: int) -> Alert:
    return Alert({"alertname": "A", "i": str(i)}, {"v": str(version)}, 1.0, 2.0 + version, tenant_id="t")


def test_compaction_deletes_in_bounded_slices_and_spares_rows_written_meanwhile(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    monkeypatch.setattr(sql, "_COMPACT_SLICE", 7)
    assert isinstance(storage, sql.SQLStorage)
    live = {}
    for version in range(3):  # 50 alerts written three times: 100 garbage rows
        _put(storage, *[_alert(i, version) for i in range(50)])
    live = {a.fingerprint: a for a in (_alert(i, 2) for i in range(50))}
    assert storage.maintain(live_alerts=50)  # a pass starts: watermark at row 150
    # Written while the pass runs, above its watermark: an update, a deletion of an alert whose
    # older rows are garbage being deleted, and a new alert. None of these rows may go.
    _put(storage, _alert(1, 3), _alert(99, 0))
    live[_alert(1, 3).fingerprint] = _alert(1, 3)
    live[_alert(99, 0).fingerprint] = _alert(99, 0)
    gone = WriteBatch()
    gone.delete_alert("t", _alert(2, 0).fingerprint)
    storage.commit(gone)
    del live[_alert(2, 0).fingerprint]
    before = storage.log_rows
    steps = []
    while True:
        more = storage.maintain(live_alerts=len(live))
        steps.append(before - storage.log_rows)
        before = storage.log_rows
        if not more:
            break
        time.sleep(0.001)
    assert max(steps) <= 7  # no step deleted more than a slice
    assert sum(steps) == 100 and storage.compactions == 1
    assert {a.fingerprint: a for a in storage.load_alerts()} == live


def test_a_crash_in_the_middle_of_a_compaction_loses_nothing(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    monkeypatch.setattr(sql, "_COMPACT_SLICE", 5)
    assert isinstance(storage, sql.SQLStorage)
    live: dict[int, Alert] = {}
    for version in range(3):
        batch = WriteBatch()
        for i in range(30):
            a = _alert(i, version)
            if (i + version) % 4 == 0:  # deleted, and some of those re-created next time
                batch.delete_alert("t", a.fingerprint)
                live.pop(a.fingerprint, None)
            else:
                batch.put_alert(a)
                live[a.fingerprint] = a
        storage.commit(batch)
    assert storage.maintain(live_alerts=len(live))
    for _ in range(4):  # the scan, then a few slices of the garbage, oldest first
        while storage.maintain(live_alerts=len(live)) and storage.log_rows == 90:
            time.sleep(0.001)
    assert 0 < 90 - storage.log_rows < 90 - len(live)  # stopped part way through
    other = _reopen(storage)
    try:
        assert {a.fingerprint: a for a in other.load_alerts()} == live
    finally:
        other.close()


def test_a_failed_garbage_scan_is_reported_and_the_next_pass_succeeds(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    assert isinstance(storage, sql.SQLStorage)
    for version in range(2):
        _put(storage, *[_alert(i, version) for i in range(20)])
    monkeypatch.setattr(storage, "garbage_sql", "SELECT seq FROM no_such_table WHERE 0 < ? AND 0 < ?")
    with pytest.raises(StorageError, match=r"alert log compaction.*no_such_table"):
        _compact(storage, live_alerts=20)
    monkeypatch.undo()
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    _compact(storage, live_alerts=20)
    assert storage.compactions == 1 and storage.log_rows == 20
    assert len(storage.load_alerts()) == 20


def test_an_idle_writer_finishes_a_compaction_without_further_writes(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    monkeypatch.setattr(sql, "_COMPACT_SLICE", 3)
    assert isinstance(storage, sql.SQLStorage)
    writer = GroupCommitWriter(storage, live_alerts=lambda: 20)
    try:
        for version in range(3):
            batch = WriteBatch()
            for i in range(20):
                batch.put_alert(_alert(i, version))
            writer.write_nowait(batch)
            writer.flush()  # one commit each: merged, the later versions would replace the earlier
        deadline = time.monotonic() + 10
        while storage.log_rows > 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert storage.compactions >= 1 and storage.log_rows == 20
    finally:
        writer.close()


def test_a_pass_that_finds_nothing_is_not_repeated_until_the_log_grows(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    assert isinstance(storage, sql.SQLStorage)
    _put(storage, *[_alert(i, 0) for i in range(30)])
    # An engine count below the live rows (it should not happen) makes a pass due; it finds no
    # garbage, and no other pass follows until enough new rows arrive.
    _compact(storage, live_alerts=0)
    assert storage.compactions == 1 and storage.log_rows == 30
    assert not storage.maintain(live_alerts=0)
    _put(storage, *[_alert(i, 1) for i in range(30)])
    _compact(storage, live_alerts=30)
    assert storage.compactions == 2 and storage.log_rows == 30


def test_alert_log_compaction_keeps_exactly_the_live_alerts(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 100)
    assert isinstance(storage, sql.SQLStorage)
    live = {}
    for rnd in range(6):  # 40 alerts rewritten six times, some deleted, some re-created
        batch = WriteBatch()
        for i in range(40):
            a = Alert({"alertname": "A", "i": str(i)}, {"round": str(rnd)}, 1.0, 2.0 + rnd, tenant_id="t")
            if (i + rnd) % 7 == 0:
                batch.delete_alert("t", a.fingerprint)
                live.pop(a.fingerprint, None)
            else:
                batch.put_alert(a)
                live[a.fingerprint] = a
        storage.commit(batch)
        _compact(storage)
    assert storage.compactions >= 1
    # Compaction left one row per live alert, no tombstone: the log is exactly the live set.
    assert storage.log_rows == len(live) < 6 * 40
    assert {a.fingerprint: a for a in storage.load_alerts()} == live
    assert storage.log_rows == len(live)


def test_alert_log_is_not_compacted_while_it_holds_little_garbage(
    storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sql, "_COMPACT_MIN_GROWTH", 10)
    assert isinstance(storage, sql.SQLStorage)
    # 300 distinct alerts: the log is all live rows, so the engine's count says "nothing to do".
    _put(storage, *[Alert({"alertname": "A", "i": str(i)}) for i in range(300)])
    assert not storage.maintain(live_alerts=300)
    assert storage.compactions == 0 and storage.log_rows == 300
    # Rewrite 200 of them: 200 garbage rows against 300 live, not yet half the log.
    _put(storage, *[Alert({"alertname": "A", "i": str(i)}, {"v": "2"}) for i in range(200)])
    assert not storage.maintain(live_alerts=300)
    assert storage.compactions == 0
    # 100 more: half the log is garbage, and it is compacted to the live rows.
    _put(storage, *[Alert({"alertname": "A", "i": str(i)}, {"v": "3"}) for i in range(200, 300)])
    _compact(storage, live_alerts=300)
    assert storage.compactions == 1 and storage.log_rows == 300
    assert len(storage.load_alerts()) == 300


def test_commits_of_any_size_use_a_few_statement_shapes(tmp_path: Path) -> None:
    # The sqlite3 module caches each distinct statement it prepared; one shape per commit size
    # grew the process by tens of MiB. Sizes 1..600 must reuse a handful of shapes.
    s = open_storage(url=f"sqlite:///{tmp_path}/t.db")
    assert isinstance(s, sql.SQLStorage)
    shapes: set[int] = set()  # rows per INSERT (the traced SQL has the values filled in)

    def trace(statement: str) -> None:
        if statement.startswith("INSERT INTO alert_log"):
            shapes.add(statement.count("), (") + 1)

    s._conn.set_trace_callback(trace)
    n = 0
    for size in [1, 2, 9, 10, 11, 49, 51, 249, 250, 251, 347, 500, 600]:
        _put(s, *[Alert({"alertname": "A", "n": str(n + i)}) for i in range(size)])
        n += size
    assert len(s.load_alerts()) == n
    s.close()
    assert shapes == set(sql._STATEMENT_ROWS)


def test_alerts_of_schema_6_are_carried_into_the_log(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
        " applied_at REAL NOT NULL)"
    )
    for version, description, statements in sql.MIGRATIONS:
        if version > 6:
            break
        for st in statements:
            conn.execute(st.format(real="REAL", serial="INTEGER PRIMARY KEY AUTOINCREMENT"))
        conn.execute("INSERT INTO schema_migrations VALUES (?, ?, 0)", (version, description))
    a = Alert({"alertname": "Old", "x": "é"}, {"s": "t"}, 1.5, 2.5, "http://g", 1.75, True, "t1")
    conn.execute(
        "INSERT INTO alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            "t1",
            sql.to_signed(a.fingerprint),
            '{"alertname":"Old","x":"é"}',
            '{"s":"t"}',
            1.5,
            2.5,
            1.75,
            1,
            "http://g",
        ),
    )
    conn.commit()
    conn.close()
    s = open_storage(url=f"sqlite:///{path}")
    try:
        assert s.load_alerts() == [a]
    finally:
        s.close()


def test_migrate_is_idempotent(storage: Storage) -> None:
    assert storage.migrate() == LATEST_VERSION
    assert storage.migrate() == LATEST_VERSION


def test_unknown_doc_kind(storage: Storage) -> None:
    with pytest.raises(ValueError, match="unknown document kind"):
        storage.load_docs("nope")


def test_bad_urls_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_storage(url="mysql://x")
    with pytest.raises(
        StorageError, match=re.escape("cannot connect to PostgreSQL at postgresql://u:***@127.0.0.1:1/x")
    ):
        open_storage(url="postgresql://u:secret@127.0.0.1:1/x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(StorageError, match="cannot"):
        open_storage(url=f"sqlite:///{tmp_path}/file/sub/t.db")


def test_annotations_stored_by_earlier_versions_load_with_sorted_names(storage: Storage) -> None:
    # Before alerts held annotations as text, they were stored in the order they were posted,
    # with json.dumps's spaces when the Python row builder wrote them.
    batch = WriteBatch()
    batch.put_alert(Alert({"alertname": "A"}, {"a": "2", "z": "1"}, 1.0, 2.0))
    storage.commit(batch)
    conn = storage._conn  # type: ignore[attr-defined]
    conn.cursor().execute("""UPDATE alert_log SET annotations = '{"z": "1", "a": "2"}'""")
    conn.commit()
    (a,) = storage.load_alerts()
    assert a.annotations_json == b'{"a":"2","z":"1"}' and a.annotations == {"a": "2", "z": "1"}
