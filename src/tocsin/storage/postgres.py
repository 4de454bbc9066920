"""PostgreSQL adapter: for several tocsin nodes sharing one database, or larger installations."""

from __future__ import annotations

import contextlib
from typing import Any

import msgspec

from tocsin.model import speedups
from tocsin.storage.base import AlertRows, StorageError, WriteBatch, keyed_rows
from tocsin.storage.sql import ALERT_COLUMNS, SQLStorage, to_signed

# A commit's alerts are appended with one COPY in text format. PostgreSQL reads COPY rows far
# faster than it unpacks a JSON document (json_to_recordset, the previous way): in commits of 100
# alerts its backend spends 10-11.5 us of CPU per alert instead of 20.5-23.5 (``python3 -m
# benchmarks.alerts.micro postgres``). The rows are built in C (_speedups.copy_rows: 1.4 us per
# alert, against 1.9 for encoding the JSON document), so the writer thread, which shares the GIL
# with the event loop, holds it no longer than before. psycopg's ``write_row`` was tried first
# and lost: one Python call per row.
_encode = msgspec.json.Encoder().encode
_COPY_APPEND = f"COPY alert_log ({ALERT_COLUMNS}) FROM STDIN"


def _redact(url: str) -> str:
    """Hide a password in the URL before it reaches a log or an error message."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


class PostgresStorage(SQLStorage):
    real_type = "DOUBLE PRECISION"
    serial_type = "BIGSERIAL PRIMARY KEY"
    param = "%s"
    seq_type = "BIGSERIAL PRIMARY KEY"
    # NOT IN (subquery) would not be hashed past work_mem and turn quadratic: join instead.
    garbage_sql = (
        "SELECT a.seq FROM alert_log a JOIN (SELECT tenant_id, fingerprint, MAX(seq) AS last"
        " FROM alert_log WHERE seq <= ? GROUP BY tenant_id, fingerprint) k"
        " ON a.tenant_id = k.tenant_id AND a.fingerprint = k.fingerprint"
        " WHERE a.seq <= ? AND (a.seq < k.last OR a.deleted = 1) ORDER BY a.seq"
    )

    def _delete_seqs(self, cur: Any, seqs: list[int]) -> None:
        cur.execute("DELETE FROM alert_log WHERE seq = ANY(%s)", (seqs,))

    def reopen_url(self) -> str:
        """A URL ``open_storage`` opens this database with, from another process (it holds the
        password, if the server's URL did: send it over a socket, never on a command line)."""
        if not self.schema:
            return self.dsn
        return f"{self.dsn}{'&' if '?' in self.dsn else '?'}schema={self.schema}"

    def __init__(self, url: str, schema: str | None = None) -> None:
        import psycopg

        self.schema = schema
        self.dsn = url

        def connect() -> Any:
            try:
                conn = psycopg.connect(url, autocommit=False, connect_timeout=10)
                if schema:
                    with conn.cursor() as cur:
                        cur.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                        cur.execute(f'SET search_path TO "{schema}"')
                    conn.commit()
            except psycopg.Error as e:
                raise StorageError(f"cannot connect to PostgreSQL at {_redact(url)}: {e}") from e
            return conn

        super().__init__(_redact(url), connect)

    def commit(self, batch: WriteBatch) -> None:
        alerts = batch.alert_count()
        # Alerts in both forms would be two COPYs, which only a transaction keeps atomic.
        if alerts != len(batch) or not alerts or (batch.alert_rows() and batch.encoded_alerts is not None):
            super().commit(batch)
            return
        # Only alerts (what ingest writes): the one COPY is atomic by itself, so it runs in
        # autocommit mode and spares the BEGIN and COMMIT round trips (a one-alert commit cost
        # 503 us of client and 695 us of server CPU with them, 134 and 175 without).
        with self._lock:
            self._conn.autocommit = True
            try:
                self._append_log(self._conn.cursor(), batch)
            except Exception as e:
                raise self._fail("write", e) from e
            finally:
                # Fails only on a closed connection, on which nothing can commit anyway.
                with contextlib.suppress(Exception):
                    self._conn.autocommit = False
        self.log_rows += alerts

    @staticmethod
    def encode_alert_log(alerts: AlertRows) -> list[bytes]:
        """The COPY text of ``alerts`` (built in C): the commit process's child writes it as it
        comes, with no work of its own per alert."""
        rows = copy_rows(alerts)
        return [b"\xc6" + len(rows).to_bytes(4, "big"), rows]  # as msgpack bin 32

    def _append_alerts(self, cur: Any, alerts: AlertRows) -> None:
        self._append_encoded(cur, copy_rows(alerts))

    def _append_encoded(self, cur: Any, rows: Any) -> None:
        with cur.copy(_COPY_APPEND) as copy:
            copy.write(rows)


def _copy_text(s: str) -> str:
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def py_copy_rows(alerts: AlertRows) -> bytes:
    """The alert-log rows for ``alerts`` in COPY's text format, one line per alert: tab-separated
    ``ALERT_COLUMNS`` with COPY's backslash escapes; labels and annotations as compact JSON (as
    msgspec writes it, which ``load_alerts`` reads back); times as ``repr`` (exact); a tombstone
    (None) as its key with empty maps, zero times and ``deleted`` 1."""
    out = []
    for t, fp, a in keyed_rows(alerts):
        if a is None:
            out.append(f"{_copy_text(t)}\t{to_signed(fp)}\t{{}}\t{{}}\t0.0\t0.0\t0.0\t0\t\t1\n")
        else:
            labels = _copy_text(_encode(a.labels).decode())
            annotations = _copy_text(a.annotations_json.decode())
            out.append(
                f"{_copy_text(a.tenant_id)}\t{to_signed(a.fingerprint)}\t{labels}\t{annotations}\t"
                f"{float(a.starts_at)!r}\t{float(a.ends_at)!r}\t{float(a.updated_at)!r}\t"
                f"{1 if a.timeout else 0}\t{_copy_text(a.generator_url)}\t0\n"
            )
    return "".join(out).encode()


copy_rows = speedups.copy_rows if speedups is not None else py_copy_rows
