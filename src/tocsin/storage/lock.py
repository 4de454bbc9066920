"""One running tocsin per store.

Two processes sharing one store would both send every notification. The first to start takes
an exclusive lock (a file lock beside the SQLite database, a session advisory lock in
PostgreSQL); another process either refuses to start or, as a standby, waits for the lock and
takes over, restoring everything from the store, when the active one stops or dies (PostgreSQL
releases the lock as soon as the dead process's connection closes).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tocsin.storage.base import Storage, StorageError

log = logging.getLogger(__name__)


class InstanceLock:
    """Held for the life of the process; ``acquire`` raises StorageError when it is taken."""

    def try_acquire(self) -> bool:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def acquire(self, wait: bool, poll: float = 1.0, sleep: Callable[[float], Any] = time.sleep) -> None:
        if self.try_acquire():
            return
        if not wait:
            raise StorageError(
                f"another tocsin is running on {self.describe()}; stop it, use another store, or start"
                " this one with --storage.standby to take over when it stops"
            )
        log.warning("another tocsin is active on %s: waiting as a standby", self.describe())
        while not self.try_acquire():
            sleep(poll)
        log.warning("took over %s: this tocsin is now active", self.describe())


class FileLock(InstanceLock):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def describe(self) -> str:
        return str(self.path.parent)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AdvisoryLock(InstanceLock):
    def __init__(self, url: str, shown: str, schema: str | None) -> None:
        self.url = url
        self.shown = shown
        name = f"tocsin:{schema or 'public'}"
        # pg advisory locks take a signed 64-bit key
        self.key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        self._conn: Any = None

    def try_acquire(self) -> bool:
        import psycopg

        if self._conn is None:
            try:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.Error as e:
                raise StorageError(f"cannot connect to PostgreSQL at {self.shown}: {e}") from e
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        return bool(row and row[0])

    def describe(self) -> str:
        return self.shown

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None


def instance_lock(storage: Storage) -> InstanceLock:
    from tocsin.storage.postgres import PostgresStorage
    from tocsin.storage.sqlite import SQLiteStorage

    if isinstance(storage, SQLiteStorage):
        return FileLock(storage.path.with_name(storage.path.name + ".lock"))
    if isinstance(storage, PostgresStorage):
        return AdvisoryLock(storage.dsn, storage.url, storage.schema)
    raise StorageError(f"no instance lock for {storage.url}")
