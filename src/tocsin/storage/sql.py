"""SQL shared by the SQLite and PostgreSQL adapters: schema migrations and row encoding.

Both databases accept the same ``INSERT ... ON CONFLICT ... DO UPDATE`` statements; only the
parameter style and a few column types differ, so one adapter class serves both.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import threading
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import msgspec

from tocsin.model import Alert, canonical_annotations, speedups
from tocsin.storage.base import (
    DOC_KINDS,
    AlertRows,
    DeliveryRecord,
    Doc,
    StorageError,
    WriteBatch,
    keyed_rows,
)

_U64 = 1 << 64
_I63 = 1 << 63


def to_signed(fp: int) -> int:
    """Fingerprints are unsigned 64-bit; both databases store signed 64-bit integers."""
    return fp - _U64 if fp >= _I63 else fp


def to_unsigned(v: int) -> int:
    return v + _U64 if v < 0 else v


def _doc_table(kind: str) -> str:
    return f"""CREATE TABLE {kind} (
        tenant_id TEXT NOT NULL,
        key TEXT NOT NULL,
        data TEXT NOT NULL,
        expires_at {{real}} NOT NULL,
        PRIMARY KEY (tenant_id, key))"""


# Each migration is (version, description, statements); {real} and {text} are filled per dialect.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "alerts and engine documents",
        [
            """CREATE TABLE alerts (
                tenant_id TEXT NOT NULL,
                fingerprint BIGINT NOT NULL,
                labels TEXT NOT NULL,
                annotations TEXT NOT NULL,
                starts_at {real} NOT NULL,
                ends_at {real} NOT NULL,
                updated_at {real} NOT NULL,
                timeout INTEGER NOT NULL,
                generator_url TEXT NOT NULL,
                PRIMARY KEY (tenant_id, fingerprint))""",
            "CREATE INDEX alerts_ends_at ON alerts (ends_at)",
            *[_doc_table(kind) for kind in ("silences", "nflog", "groups")],
        ],
    ),
]

MIGRATIONS.append(
    (
        2,
        "delivery history",
        [
            """CREATE TABLE deliveries (
                id {serial},
                tenant_id TEXT NOT NULL,
                receiver TEXT NOT NULL,
                integration TEXT NOT NULL,
                group_key TEXT NOT NULL,
                reason TEXT NOT NULL,
                alerts INTEGER NOT NULL,
                ok INTEGER NOT NULL,
                attempts INTEGER NOT NULL,
                error TEXT NOT NULL,
                started_at {real} NOT NULL,
                finished_at {real} NOT NULL)""",
            "CREATE INDEX deliveries_tenant_time ON deliveries (tenant_id, finished_at)",
        ],
    )
)

MIGRATIONS.append((3, "notification outbox", [_doc_table("outbox")]))
MIGRATIONS.append((4, "incident state", [_doc_table("incidents")]))
MIGRATIONS.append((5, "channel state", [_doc_table("channel_state")]))
# Nothing reads alerts by end time (expiry runs over the in-memory store), yet every upsert of a
# re-sent alert moved its entry in this index: one B-tree less to update per stored alert.
MIGRATIONS.append((6, "drop the unused alerts.ends_at index", ["DROP INDEX IF EXISTS alerts_ends_at"]))

_ALERT_FIELDS = (
    "tenant_id TEXT NOT NULL, fingerprint BIGINT NOT NULL, labels TEXT NOT NULL,"
    " annotations TEXT NOT NULL, starts_at {real} NOT NULL, ends_at {real} NOT NULL,"
    " updated_at {real} NOT NULL, timeout INTEGER NOT NULL, generator_url TEXT NOT NULL"
)
# Alerts become an append-only log: see ``SQLStorage`` for why.
MIGRATIONS.append(
    (
        7,
        "alerts as an append-only log",
        [
            f"CREATE TABLE alert_log (seq {{seq}}, {_ALERT_FIELDS}, deleted INTEGER NOT NULL DEFAULT 0)",
            "INSERT INTO alert_log (tenant_id, fingerprint, labels, annotations, starts_at, ends_at,"
            " updated_at, timeout, generator_url) SELECT tenant_id, fingerprint, labels, annotations,"
            " starts_at, ends_at, updated_at, timeout, generator_url FROM alerts",
            "DROP TABLE alerts",
        ],
    )
)

# What incident correlation learns from the alerts (co-occurrence, token counts), per tenant.
MIGRATIONS.append((8, "learned correlation history", [_doc_table("correlation_history")]))

LATEST_VERSION = MIGRATIONS[-1][0]

_DELIVERY_COLUMNS = (
    "tenant_id, receiver, integration, group_key, reason, alerts, ok, attempts, error,"
    " started_at, finished_at"
)

ALERT_COLUMNS = (
    "tenant_id, fingerprint, labels, annotations, starts_at, ends_at, updated_at, timeout, generator_url,"
    " deleted"
)
_ALERT_SELECT = f"SELECT {ALERT_COLUMNS} FROM alert_log ORDER BY seq"
#: a compaction is due once the log holds this many rows more than the last one kept, and at least
#: as much garbage as live rows: each appended row is then read by a compaction about twice, at most
_COMPACT_MIN_GROWTH = 50_000

_encode = msgspec.json.Encoder().encode


def _dumps(value: Any) -> str:
    # Compact UTF-8 JSON like json.dumps(separators=(",", ":"), ensure_ascii=False), 7x faster;
    # this runs for every stored alert on the writer thread, which holds the GIL meanwhile.
    return _encode(value).decode()


def _alert_row(a: Alert) -> tuple[Any, ...]:
    return (
        a.tenant_id,
        to_signed(a.fingerprint),
        _dumps(a.labels),
        a.annotations_json.decode(),
        a.starts_at,
        a.ends_at,
        a.updated_at,
        1 if a.timeout else 0,
        a.generator_url,
        0,
    )


def _tombstone(tenant_id: str, fp: int) -> tuple[Any, ...]:
    return (tenant_id, to_signed(fp), "", "", 0.0, 0.0, 0.0, 0, "", 1)


def py_log_rows(alerts: AlertRows) -> list[tuple[Any, ...]]:
    """One ``ALERT_COLUMNS`` parameter row per alert, a tombstone for None."""
    return [_alert_row(a) if a is not None else _tombstone(t, fp) for t, fp, a in keyed_rows(alerts)]


def _py_log_rows_msgpack(alerts: AlertRows) -> bytes:
    return msgspec.msgpack.encode(py_log_rows(alerts))


# The rows as one msgpack array, written in C straight from the Alerts: as Python tuples and strings
# first, they cost the event loop twice as much as the msgpack of the Alerts they replace.
log_rows_msgpack = speedups.log_rows if speedups is not None else _py_log_rows_msgpack


# Rows per multi-row INSERT: a commit's rows go out in statements of these sizes, largest first
# (347 rows: 250 + 50 + 4 x 10 + 7 x 1). sqlite3 keeps every distinct statement it prepared in a
# cache of 128, and a prepared 500-row statement is hundreds of KiB: one statement per commit size
# made the process grow by 58 MiB over 400 commits of random sizes. 250 x 10 parameters stays far
# under SQLite's limit of 32,766.
_STATEMENT_ROWS = (250, 50, 10, 1)
_ONE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"


@functools.lru_cache(maxsize=len(_STATEMENT_ROWS))
def _values_insert(rows: int) -> str:
    return f"INSERT INTO alert_log ({ALERT_COLUMNS}) VALUES {', '.join([_ONE_ROW] * rows)}"


#: rows a compaction deletes per statement: about 3 ms of SQLite's time, the longest a commit
#: waits behind compaction
_COMPACT_SLICE = 5_000


class _CompactionPass:
    """One compaction in progress: the garbage found below a watermark, and how much of it is
    deleted."""

    def __init__(self, storage: SQLStorage, watermark: int, rows_at_start: int) -> None:
        self.watermark = watermark
        self.rows_at_start = rows_at_start
        self.seqs: array[int] = array("q")
        #: garbage rows handled so far, and how many of those the database still had
        self.done = 0
        self.deleted = 0
        self.error: Exception | None = None
        self.thread = threading.Thread(
            target=self._find, args=(storage,), name="tocsin-compaction", daemon=True
        )
        self.thread.start()

    def _find(self, storage: SQLStorage) -> None:
        try:
            self.seqs = storage._find_garbage(self.watermark)
        except Exception as e:  # reported by the writer thread's next maintain()
            self.error = e


class SQLStorage:
    """Storage over a DB-API connection. Subclasses open the connection and set the dialect.

    Alerts are an append-only log (``alert_log``): every change appends a row, a deletion appends
    a tombstone, and loading keeps the last row of each alert. Fingerprints are random, so a table
    keyed by them (upserts, schema versions up to 6) touched a different index page for nearly
    every alert: with a commit of ~160 alerts (what group commit gathers from 8 busy connections)
    SQLite wrote about one 4 KiB page per alert to its WAL and spent 35-50 us of CPU per alert at
    250k alerts, against 5-6 us, flat, for appends. The log is compacted once half of it is
    superseded rows (and at least 50,000): a thread finds the garbage, and the writer thread
    deletes it between commits in slices of a few milliseconds (``maintain``).
    """

    url: str
    real_type = "REAL"
    serial_type = "INTEGER PRIMARY KEY AUTOINCREMENT"
    #: the alert log's row number: increasing, never reused while rows after it exist
    seq_type = "INTEGER PRIMARY KEY"
    param = "?"
    #: run on the garbage scan's own connection first
    scan_setup: tuple[str, ...] = ()
    #: the garbage at or below a watermark ``seq`` (given twice), in log order: every row but the
    #: last of each alert, and every alert whose last row is a tombstone
    garbage_sql = (
        "SELECT seq FROM alert_log WHERE seq <= ? AND (deleted = 1 OR seq NOT IN"
        " (SELECT MAX(seq) FROM alert_log WHERE seq <= ? GROUP BY tenant_id, fingerprint)) ORDER BY seq"
    )

    def __init__(self, url: str, connect: Callable[[], Any]) -> None:
        self.url = url
        self._connect = connect
        self._conn = connect()
        # Reads for the API use their own connection, so they never wait behind a commit.
        self._read_conn: Any = None
        self._read_lock = threading.Lock()
        # Writes come from the engine's writer thread, loads from start-up; never both at once,
        # but the lock makes misuse safe rather than corrupt.
        self._lock = threading.Lock()
        #: rows in the alert log now, and those the last compaction kept (or the load found)
        self.log_rows = 0
        self._kept_rows = 0
        self.compactions = 0
        self._pass: _CompactionPass | None = None

    # --- helpers -------------------------------------------------------------------------------
    def _sql(self, statement: str) -> str:
        return statement if self.param == "?" else statement.replace("?", self.param)

    def _executemany(self, cur: Any, statement: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            cur.executemany(self._sql(statement), rows)

    @staticmethod
    def encode_alert_log(alerts: AlertRows) -> list[bytes]:
        """The log rows of ``alerts`` (None: a tombstone) as the commit process's parent sends
        them: a msgpack array that its child decodes into the rows ``_append_encoded`` takes.

        The child then appends rows without first rebuilding Alerts (msgpack-decoding their maps
        and re-encoding them as JSON cost it 7 us per alert)."""
        return [log_rows_msgpack(alerts)]

    def _append_alerts(self, cur: Any, alerts: AlertRows) -> None:
        self._append_encoded(cur, py_log_rows(alerts))

    def _append_encoded(self, cur: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Append the rows with multi-row statements rather than ``executemany``'s one per row:
        the sqlite3 module releases the GIL around every statement step and must win it back from
        a busy event loop afterwards; multi-row statements do that once per statement."""
        i = 0
        for size in _STATEMENT_ROWS:
            statement = _values_insert(size)
            while len(rows) - i >= size:
                cur.execute(statement, list(itertools.chain.from_iterable(rows[i : i + size])))
                i += size

    def _fail(self, action: str, e: Exception) -> StorageError:
        return StorageError(f"{self.url}: {action} failed: {e}")

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[Any]:
        """A cursor on the write connection; committed at the end, rolled back on any failure,
        which is raised as a StorageError naming ``action``."""
        with self._lock:
            try:
                yield self._conn.cursor()
                self._conn.commit()
            except Exception as e:
                with contextlib.suppress(Exception):
                    self._conn.rollback()
                raise self._fail(action, e) from e

    # --- port ----------------------------------------------------------------------------------
    def current_version(self) -> int:
        cur = self._conn.cursor()
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            f" description TEXT NOT NULL, applied_at {self.real_type} NOT NULL)"
        )
        cur.execute("SELECT MAX(version) FROM schema_migrations")
        row = cur.fetchone()
        self._conn.commit()
        return int(row[0]) if row and row[0] is not None else 0

    def migrate(self) -> int:
        with self._lock:
            try:
                version = self.current_version()
                if version > LATEST_VERSION:
                    raise StorageError(
                        f"{self.url}: schema version {version} is newer than this tocsin knows"
                        f" ({LATEST_VERSION}); upgrade tocsin"
                    )
                for v, description, statements in MIGRATIONS:
                    if v <= version:
                        continue
                    cur = self._conn.cursor()
                    for st in statements:
                        cur.execute(
                            st.format(real=self.real_type, serial=self.serial_type, seq=self.seq_type)
                        )
                    cur.execute(
                        self._sql("INSERT INTO schema_migrations VALUES (?, ?, ?)"),
                        (v, description, time.time()),
                    )
                    self._conn.commit()
                return LATEST_VERSION
            except StorageError:
                raise
            except Exception as e:
                self._conn.rollback()
                raise self._fail("schema migration", e) from e

    def commit(self, batch: WriteBatch) -> None:
        if not len(batch):
            return
        with self._transaction("write") as cur:
            self._append_log(cur, batch)
            for kind in DOC_KINDS:
                puts = [
                    (d.tenant_id, d.key, _dumps(d.data), d.expires_at)
                    for (k, _, _), d in batch.docs.items()
                    if k == kind and d is not None
                ]
                dels = [(t, key) for (k, t, key), d in batch.docs.items() if k == kind and d is None]
                self._executemany(
                    cur,
                    f"INSERT INTO {kind} (tenant_id, key, data, expires_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (tenant_id, key) DO UPDATE SET data = excluded.data,"
                    " expires_at = excluded.expires_at",
                    puts,
                )
                self._executemany(cur, f"DELETE FROM {kind} WHERE tenant_id = ? AND key = ?", dels)
            self._executemany(
                cur,
                f"INSERT INTO deliveries ({_DELIVERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        d.tenant_id,
                        d.receiver,
                        d.integration,
                        d.group_key,
                        d.reason,
                        d.alerts,
                        1 if d.ok else 0,
                        d.attempts,
                        d.error,
                        d.started_at,
                        d.finished_at,
                    )
                    for d in batch.deliveries
                ],
            )
            if batch.purge_deliveries_before:
                purge = self._sql("DELETE FROM deliveries WHERE finished_at < ?")
                cur.execute(purge, (batch.purge_deliveries_before,))
        self.log_rows += batch.alert_count()

    def _append_log(self, cur: Any, batch: WriteBatch) -> None:
        """The batch's alerts, as Alerts or already encoded (from the commit process's parent)."""
        rows = batch.alert_rows()
        if rows:
            self._append_alerts(cur, rows)
        if batch.encoded_alerts is not None:
            self._append_encoded(cur, batch.encoded_alerts[1])

    def maintain(self, live_alerts: int | None = None) -> bool:
        """Compact the alert log a slice at a time; the writer thread calls this between commits
        and again soon while it returns True (a pass has work left).

        ``live_alerts`` (the engine's count) lets a pass wait until at least half the log is
        garbage; without it, a pass starts each time the log has doubled since the last one.

        Finding the garbage means reading the whole log (0.7 s for 500k rows), and run on the
        writer's connection it held every commit for that long: with 250k alerts re-sent every
        15 s, a pause of a second every half minute. A pass therefore finds the garbage up to a
        watermark on a thread and connection of its own (a read that does not block commits,
        and SQLite runs it without the GIL), then deletes it in slices of a few milliseconds,
        oldest first. Rows above the watermark are never touched, and deleting oldest first
        keeps the log loadable after a crash at any point: an alert's last row is never deleted
        before the rows it supersedes."""
        p = self._pass
        if p is None:
            if not self._compaction_due(live_alerts):
                return False
            with self._transaction("alert log compaction") as cur:
                cur.execute("SELECT MAX(seq) FROM alert_log")
                row = cur.fetchone()
            self._pass = _CompactionPass(self, int(row[0] or 0) if row else 0, self.log_rows)
            return True
        if p.thread.is_alive():
            return True
        if p.error is not None:
            self._pass = None
            raise self._fail("alert log compaction (finding garbage)", p.error)
        chunk = p.seqs[p.done : p.done + _COMPACT_SLICE]
        if chunk:
            try:
                with self._transaction("alert log compaction") as cur:
                    self._delete_seqs(cur, chunk.tolist())
                    deleted = max(0, cur.rowcount)
            except StorageError:
                self._pass = None
                raise
            p.done += len(chunk)
            p.deleted += deleted
            self.log_rows = max(0, self.log_rows - deleted)
        if p.done < len(p.seqs):
            return True
        self._pass = None
        self._kept_rows = max(0, p.rows_at_start - p.deleted)
        self.compactions += 1
        # Rows written during the pass may already make the next one due.
        return self._compaction_due(live_alerts)

    def _compaction_due(self, live_alerts: int | None) -> bool:
        # Rows written since the last pass's watermark must count too: should the engine's count
        # ever be below the live rows, passes would otherwise follow each other finding nothing.
        grown = self.log_rows - self._kept_rows
        garbage = grown if live_alerts is None else self.log_rows - live_alerts
        return grown >= _COMPACT_MIN_GROWTH and garbage >= max(_COMPACT_MIN_GROWTH, self.log_rows - garbage)

    def _delete_seqs(self, cur: Any, seqs: list[int]) -> None:
        # One statement shape whatever the slice's size (sqlite3 caches each shape it prepared).
        cur.execute("DELETE FROM alert_log WHERE seq IN (SELECT value FROM json_each(?))", (_dumps(seqs),))

    def _find_garbage(self, watermark: int) -> array[int]:
        """The log's garbage at or below ``watermark``, read on a connection of its own."""
        conn = self._connect()
        try:
            cur = conn.cursor()
            for statement in self.scan_setup:
                cur.execute(statement)
            cur.execute(self._sql(self.garbage_sql), (watermark, watermark))
            seqs: array[int] = array("q")
            while rows := cur.fetchmany(10_000):
                seqs.extend(r[0] for r in rows)
            conn.commit()
            return seqs
        finally:
            conn.close()

    def load_alerts(self) -> list[Alert]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(_ALERT_SELECT)
            log_rows = cur.fetchall()
            self._conn.commit()
        # The last row of each alert wins; a tombstone removes it.
        latest: dict[tuple[str, int], Any] = {}
        for r in log_rows:
            if r[9]:
                latest.pop((r[0], r[1]), None)
            else:
                latest[(r[0], r[1])] = r
        self.log_rows = len(log_rows)
        self._kept_rows = len(latest)
        rows = list(latest.values())
        loads = json.loads
        return [
            Alert(
                labels=loads(r[2]),
                annotations=canonical_annotations(r[3]),
                starts_at=float(r[4]),
                ends_at=float(r[5]),
                updated_at=float(r[6]),
                timeout=bool(r[7]),
                generator_url=r[8],
                tenant_id=r[0],
                fingerprint=to_unsigned(int(r[1])),
            )
            for r in rows
        ]

    def load_docs(self, kind: str) -> list[Doc]:
        if kind not in DOC_KINDS:
            raise ValueError(f"unknown document kind {kind!r}")
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(f"SELECT tenant_id, key, data, expires_at FROM {kind}")
            rows = cur.fetchall()
            self._conn.commit()
        return [Doc(r[0], r[1], json.loads(r[2]), float(r[3])) for r in rows]

    def query_deliveries(
        self,
        tenant_id: str,
        *,
        receiver: str | None = None,
        group_key: str | None = None,
        ok: bool | None = None,
        since: float = 0.0,
        limit: int = 100,
    ) -> list[DeliveryRecord]:
        where = ["tenant_id = ?", "finished_at >= ?"]
        args: list[Any] = [tenant_id, since]
        if receiver is not None:
            where.append("receiver = ?")
            args.append(receiver)
        if group_key is not None:
            where.append("group_key = ?")
            args.append(group_key)
        if ok is not None:
            where.append("ok = ?")
            args.append(1 if ok else 0)
        sql = (
            f"SELECT id, {_DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)}"
            f" ORDER BY finished_at DESC, id DESC LIMIT {int(limit)}"
        )
        with self._read_lock:
            if self._read_conn is None:
                self._read_conn = self._connect()
            try:
                cur = self._read_conn.cursor()
                cur.execute(self._sql(sql), args)
                rows = cur.fetchall()
                self._read_conn.commit()
            except Exception as e:
                with contextlib.suppress(Exception):
                    self._read_conn.rollback()
                raise self._fail("delivery history query", e) from e
        return [
            DeliveryRecord(
                tenant_id=r[1],
                receiver=r[2],
                integration=r[3],
                group_key=r[4],
                reason=r[5],
                alerts=int(r[6]),
                ok=bool(r[7]),
                attempts=int(r[8]),
                error=r[9],
                started_at=float(r[10]),
                finished_at=float(r[11]),
                id=int(r[0]),
            )
            for r in rows
        ]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
        with self._read_lock:
            if self._read_conn is not None:
                self._read_conn.close()
