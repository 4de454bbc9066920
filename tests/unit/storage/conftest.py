"""A migrated store on real SQLite and on real PostgreSQL (a schema of its own, dropped after)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import PG_URL, postgres_available
from tocsin.storage import Storage, open_storage


@pytest.fixture(params=["sqlite", "postgres"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    if request.param == "sqlite":
        s = open_storage(url=f"sqlite:///{tmp_path}/t.db")
        yield s
        s.close()
        return
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    s = open_storage(url=f"{PG_URL}?schema={schema}")
    yield s
    s.close()
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
