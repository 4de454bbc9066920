"""The alert-log rows, PostgreSQL's in COPY text format and SQLite's as parameters: the compiled
builders against the Python ones, and what COPY reads back."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from testkit import PG_URL, postgres_available
from tocsin.model import Alert, speedups
from tocsin.storage import WriteBatch, open_storage, sql
from tocsin.storage import postgres as pg
from tocsin.storage.base import Doc, StorageError

needs_speedups = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")

# Every character COPY or JSON escape, control characters, non-ASCII and line separators.
_text = st.text(
    alphabet=st.one_of(
        st.sampled_from('\\\t\n\r"\x00\x01\x08\x0c\x1f\x7f/é🔥\u2028{}'),
        st.characters(blacklist_categories=["Cs"]),
    ),
    max_size=10,
)
_maps = st.dictionaries(_text, _text, max_size=4)
_times = st.one_of(
    st.floats(allow_nan=False), st.integers(-(10**12), 10**12).map(float), st.sampled_from([0.0, math.inf])
)
_alerts = st.builds(
    Alert,
    labels=_maps,
    annotations=_maps,
    starts_at=_times,
    ends_at=_times,
    generator_url=_text,
    updated_at=_times,
    timeout=st.booleans(),
    tenant_id=_text,
    fingerprint=st.integers(0, 2**64 - 1),
)
_rows = st.lists(
    st.one_of(_alerts, st.tuples(_text, st.integers(0, 2**64 - 1))), max_size=8
)  # a tuple: a tombstone for that key


def _batch(items: list[Alert | tuple[str, int]]) -> dict[tuple[str, int], Alert | None]:
    out: dict[tuple[str, int], Alert | None] = {}
    for x in items:
        if isinstance(x, Alert):
            out[(x.tenant_id, x.fingerprint)] = x
        else:
            out[x] = None
    return out


@needs_speedups
@settings(max_examples=150)
@given(_rows)
def test_copy_rows_are_the_same_compiled_or_not(items: list[Alert | tuple[str, int]]) -> None:
    assert speedups is not None
    alerts = _batch(items)
    assert speedups.copy_rows(alerts) == pg.py_copy_rows(alerts)


def _unescape_copy(field: str) -> str:
    out, i = [], 0
    while i < len(field):
        c = field[i]
        if c == "\\":
            nxt = field[i + 1]
            out.append({"t": "\t", "n": "\n", "r": "\r", "\\": "\\"}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


@given(_rows)
def test_each_row_reads_back_as_the_alert(items: list[Alert | tuple[str, int]]) -> None:
    # What PostgreSQL's COPY does with a line, done here for every generated alert: split on the
    # tabs that are left, undo COPY's escapes, parse the JSON columns.
    alerts = _batch(items)
    lines = pg.py_copy_rows(alerts).decode().split("\n")
    assert lines.pop() == ""
    assert len(lines) == len(alerts)
    for line, ((tenant, fp), a) in zip(lines, alerts.items(), strict=True):
        f = [_unescape_copy(x) for x in line.split("\t")]
        assert len(f) == 10
        assert f[0] == tenant and int(f[1]) % 2**64 == fp
        if a is None:
            assert f[9] == "1"
            continue
        assert msgspec.json.decode(f[2]) == a.labels and msgspec.json.decode(f[3]) == a.annotations
        assert [float(x) for x in f[4:7]] == [a.starts_at, a.ends_at, a.updated_at]
        assert f[7] == ("1" if a.timeout else "0") and f[8] == a.generator_url and f[9] == "0"


@pytest.fixture()
def postgres() -> Iterator[pg.PostgresStorage]:
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    s = open_storage(url=f"{PG_URL}?schema={schema}")
    assert isinstance(s, pg.PostgresStorage)
    yield s
    s.close()
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


_AWKWARD = [
    'quo"te',
    "back\\slash\\",
    "tab\tnew\nline\rcr",
    "é🔥中\u2028",
    "{not json}",
    "\\t\\n",
    "\x01\x1f\x7f",
]


@pytest.mark.parametrize("builder", ["compiled", "python"])
def test_awkward_text_round_trips_through_postgresql(
    postgres: pg.PostgresStorage, builder: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if builder == "compiled" and speedups is None:
        pytest.skip("tocsin._speedups not built")
    if builder == "python":
        monkeypatch.setattr(pg, "copy_rows", pg.py_copy_rows)
    alerts = [
        Alert(
            {"alertname": "A", "v": _AWKWARD[i % len(_AWKWARD)], "i": str(i)},
            {_AWKWARD[(i + 1) % len(_AWKWARD)]: _AWKWARD[(i + 2) % len(_AWKWARD)]},
            1.7e9 + i / 7,
            math.inf if i % 5 == 0 else 1.8e9 + i / 3,
            _AWKWARD[(i + 3) % len(_AWKWARD)],
            1e-7 * i,
            i % 2 == 0,
            _AWKWARD[i % len(_AWKWARD)],
        )
        for i in range(60)
    ]
    batch = WriteBatch()
    for a in alerts:
        batch.put_alert(a)
    postgres.commit(batch)
    gone = WriteBatch()  # tombstones only: the autocommit path as well
    for a in alerts[::3]:
        gone.delete_alert(a.tenant_id, a.fingerprint)
    postgres.commit(gone)
    kept = {(a.tenant_id, a.fingerprint): a for i, a in enumerate(alerts) if i % 3}
    assert {(a.tenant_id, a.fingerprint): a for a in postgres.load_alerts()} == kept


def test_a_refused_copy_names_the_problem_and_later_commits_stay_atomic(postgres: pg.PostgresStorage) -> None:
    good = Alert({"alertname": "Good"}, starts_at=1.0, ends_at=2.0)
    bad = Alert({"alertname": "Bad"}, starts_at=1.0, ends_at=2.0, tenant_id="nul\x00tenant")
    batch = WriteBatch()
    batch.put_alert(good)
    batch.put_alert(bad)
    with pytest.raises(StorageError, match=r"write failed: .*0x00"):
        postgres.commit(batch)
    assert postgres.load_alerts() == []  # the one COPY is all or nothing
    # The connection is back out of autocommit mode: a failing mixed commit leaves nothing behind.
    mixed = WriteBatch()
    mixed.put_alert(good)
    mixed.put_doc("silences", Doc("default", "s1", {"k": 1}, 99.0))
    mixed.put_alert(bad)
    with pytest.raises(StorageError, match="write failed"):
        postgres.commit(mixed)
    assert postgres.load_alerts() == [] and postgres.load_docs("silences") == []
    ok = WriteBatch()
    ok.put_alert(good)
    postgres.commit(ok)
    assert postgres.load_alerts() == [good]


@needs_speedups
@settings(max_examples=150)
@given(_rows)
def test_sqlite_log_rows_are_the_same_compiled_or_not(items: list[Alert | tuple[str, int]]) -> None:
    # SQLite's rows (parameters, not COPY text) share the JSON writer with copy_rows, without
    # COPY's doubled backslashes; the compiled builder writes them as msgpack directly.
    assert speedups is not None
    alerts = _batch(items)
    rows = msgspec.msgpack.decode(speedups.log_rows(alerts))
    assert rows == [list(r) for r in sql.py_log_rows(alerts)]
    assert msgspec.msgpack.decode(sql._py_log_rows_msgpack(alerts)) == rows
    for row, a in zip(rows, alerts.values(), strict=True):
        if a is not None:
            assert msgspec.json.decode(row[2]) == a.labels and msgspec.json.decode(row[3]) == a.annotations
            assert [type(x) for x in row[4:7]] == [float] * 3


@needs_speedups
@settings(max_examples=100)
@given(st.lists(st.lists(_alerts, max_size=4), max_size=4))
def test_runs_give_every_row_in_order_compiled_or_not(runs: list[list[Alert]]) -> None:
    # Runs (what ingest puts) keep a key that comes twice twice, in order: the alert log's last
    # row of a key is the one that counts.
    assert speedups is not None
    rows = msgspec.msgpack.decode(speedups.log_rows(runs))
    assert rows == [list(r) for r in sql.py_log_rows(runs)]
    keys = [(a.tenant_id, sql.to_signed(a.fingerprint)) for run in runs for a in run]
    assert [(r[0], r[1]) for r in rows] == keys
    assert speedups.copy_rows(runs) == pg.py_copy_rows(runs)
    assert pg.py_copy_rows(runs) == b"".join(pg.py_copy_rows(_batch([a])) for run in runs for a in run)


@needs_speedups
def test_sqlite_log_rows_refuse_what_is_not_an_alert_batch() -> None:
    assert speedups is not None
    for build in (speedups.log_rows, speedups.copy_rows):
        with pytest.raises(TypeError, match="takes a dict or a list of runs"):
            build(("not", "rows"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="run 1 is not a list"):
            build([[], (Alert({"a": "b"}),)])  # type: ignore[list-item]
        with pytest.raises(TypeError, match="a run holds None"):
            build([[None]])  # type: ignore[list-item]
    assert msgspec.msgpack.decode(speedups.log_rows([])) == []
    with pytest.raises(TypeError, match="keys must be"):
        speedups.log_rows({"k": None})  # type: ignore[dict-item]
    with pytest.raises(TypeError, match="expected dict"):
        speedups.log_rows({("t", 1): Alert("not a map", fingerprint=1)})  # type: ignore[arg-type]


@needs_speedups
def test_escapes_are_found_at_every_position_of_a_text() -> None:
    # The compiled writer looks for what JSON escapes eight bytes at a time: a special byte at
    # any position, beside bytes just above and below the special ones and multi-byte UTF-8, must
    # come out as msgspec writes it.
    assert speedups is not None
    specials = ['"', "\\", "\x00", "\x1f", "\n"]
    neighbours = ["\x20", "!", "#", "[", "]", "\x7f", "é", "🔥", "a"]
    labels = []
    for length in range(25):
        for filler in neighbours:
            labels.append({"k": filler * length})
            for pos in range(length):
                for special in specials:
                    text = filler * pos + special + filler * (length - pos - 1)
                    labels.append({"k": text, text: "v"})
    runs = [[Alert(m, fingerprint=i + 1) for i, m in enumerate(labels)]]
    rows = msgspec.msgpack.decode(speedups.log_rows(runs))
    assert [r[2] for r in rows] == [msgspec.json.encode(m).decode() for m in labels]
