"""PostgreSQL adapter: for several tocsin nodes sharing one database, or larger installations."""

from __future__ import annotations

from typing import Any

from tocsin.storage.base import StorageError
from tocsin.storage.sql import SQLStorage


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
