"""The storage port and its SQLite (default) and PostgreSQL adapters. The only place that knows SQL."""

from tocsin.storage.base import Storage, StorageError, WriteBatch
from tocsin.storage.open import open_storage

__all__ = ["Storage", "StorageError", "WriteBatch", "open_storage"]
