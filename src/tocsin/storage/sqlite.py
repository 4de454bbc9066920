"""SQLite adapter: the embedded default. WAL journal, synchronous=FULL so a commit survives power loss."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tocsin.storage.base import StorageError
from tocsin.storage.sql import SQLStorage


class SQLiteStorage(SQLStorage):
    real_type = "REAL"
    param = "?"
    # The garbage scan reads the log once, front to back: a page cache as large as the writer's
    # (16 MiB) only raised the peak resident memory (steady state: 115 -> 134 MiB).
    scan_setup = ("PRAGMA cache_size=-1024",)

    def set_page_cache(self, kib: int) -> None:
        """Size the write connection's page cache (the default is set in ``connect`` below)."""
        with self._lock:
            self._conn.execute(f"PRAGMA cache_size=-{int(kib)}")

    def reopen_url(self) -> str:
        """A URL ``open_storage`` opens this database with, from another process."""
        return f"sqlite:///{self.path.resolve()}"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot create storage directory {self.path.parent}: {e}") from e

        def connect() -> sqlite3.Connection:
            try:
                conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level="DEFERRED")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA busy_timeout=10000")
                # The alert log is append-only and read front to back; what is rewritten in place
                # is the notification log and group timers (a few KiB per group). 16 MiB holds
                # those for thousands of groups; the 64 MiB that random-key alert upserts needed
                # (schema 6) was resident memory the log no longer uses.
                conn.execute("PRAGMA cache_size=-16384")
            except sqlite3.Error as e:
                raise StorageError(f"cannot open SQLite database {self.path}: {e}") from e
            return conn

        super().__init__(f"sqlite:///{self.path}", connect)
