"""kill -9 in the middle of a stream of alerts, then restart: nothing acknowledged is lost, nothing
already notified is sent again, and an alert that resolved while tocsin was down is notified as
resolved (Alertmanager #2370). On SQLite and on PostgreSQL."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tocsin_proc import Sink, start_tocsin

from testkit import PG_URL, free_port, postgres_available
from tocsin.model import format_time

pytestmark = pytest.mark.slow


CONFIG = """
route:
  receiver: sink
  group_by: [group]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: sink
    webhook_configs: [{{url: "{url}"}}]
"""


@pytest.fixture(params=["sqlite", "postgres"])
def storage_args(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[str]]:
    if request.param == "sqlite":
        yield [f"--storage.path={tmp_path / 'data'}"]
        return
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"kill_{uuid.uuid4().hex[:10]}"
    yield [f"--storage.url={PG_URL}?schema={schema}"]
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_kill_9_loses_nothing_and_sends_nothing_twice(
    tmp_path: Path, sink: Sink, storage_args: list[str]
) -> None:
    config = tmp_path / "am.yml"
    config.write_text(CONFIG.format(url=sink.url))
    port = free_port()
    log = tmp_path / "tocsin.log"
    proc = start_tocsin(config, storage_args, port, log)
    base = f"http://127.0.0.1:{port}/api/v2"
    now = time.time()
    # One alert that will end while tocsin is down.
    short = {"labels": {"alertname": "Short", "group": "short"}, "endsAt": format_time(now + 6)}
    assert httpx.post(f"{base}/alerts", json=[short]).status_code == 200

    acknowledged: list[str] = []
    stop = threading.Event()

    def stream() -> None:
        i = 0
        with httpx.Client(timeout=5) as c:
            while not stop.is_set():
                batch = [
                    {
                        "labels": {"alertname": "Load", "group": f"g{i % 5}", "n": str(i + k)},
                        "endsAt": format_time(time.time() + 3600),
                    }
                    for k in range(20)
                ]
                try:
                    r = c.post(f"{base}/alerts", json=batch)
                except httpx.HTTPError:
                    return
                if r.status_code == 200:
                    acknowledged.extend(a["labels"]["n"] for a in batch)
                i += 20

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(2.5)  # groups flush (group_wait 1s) while the stream goes on
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    stop.set()
    t.join()
    assert len(acknowledged) > 100
    notified_before = len(sink.payloads)
    assert notified_before >= 1
    time.sleep(5)  # "Short" ends while tocsin is down

    proc = start_tocsin(config, storage_args, port, log)
    try:
        stored = httpx.get(f"{base}/alerts").json()
        have = {a["labels"].get("n") for a in stored}
        missing = set(acknowledged) - have
        assert not missing, f"{len(missing)} acknowledged alerts lost"
        time.sleep(6)  # restored groups flush, then tick once more
        short_msgs = [p for p in sink.payloads if p["groupLabels"] == {"group": "short"}]
        assert [p["status"] for p in short_msgs] == ["firing", "resolved"], short_msgs
        # No group sends the same firing set twice.
        seen: set[tuple[str, frozenset[str]]] = set()
        for p in sink.payloads:
            key = (p["groupKey"], frozenset(a["fingerprint"] for a in p["alerts"] if a["status"] == "firing"))
            assert key not in seen or not key[1], f"duplicate notification for {p['groupKey']}"
            seen.add(key)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
