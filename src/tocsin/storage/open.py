"""Choose a storage adapter from a path or URL."""

from __future__ import annotations

from pathlib import Path

from tocsin.storage.base import Storage, StorageError


def open_storage(storage_path: str | Path = "data", url: str | None = None) -> Storage:
    """``url`` wins when given: ``sqlite:///path/file.db`` or ``postgresql://...`` (an optional
    ``?schema=name`` keeps several installations apart in one database). Otherwise SQLite in
    ``storage_path/tocsin.db``. The schema is migrated before the store is returned."""
    from tocsin.storage.postgres import PostgresStorage
    from tocsin.storage.sqlite import SQLiteStorage

    store: Storage
    if url:
        if url.startswith("sqlite:///"):
            store = SQLiteStorage(url[len("sqlite:///") :])
        elif url.startswith(("postgresql://", "postgres://")):
            schema = None
            if "?schema=" in url or "&schema=" in url:
                base, _, query = url.partition("?")
                params = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
                schema = params.pop("schema", None)
                url = base + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
            store = PostgresStorage(url, schema=schema)
        else:
            raise StorageError(f"unsupported storage URL {url!r}: use sqlite:///PATH or postgresql://...")
    else:
        store = SQLiteStorage(Path(storage_path) / "tocsin.db")
    store.migrate()
    return store
