"""kill -9 during a burst of sends to a slow receiver: after restart every notification is
delivered, and the only repeats are the ones that were on the wire at the kill (at-least-once)."""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
from tocsin_proc import Sink, start_tocsin

from testkit import free_port
from tocsin.model import format_time

pytestmark = pytest.mark.slow

GROUPS = 40
CONFIG = """
route:
  receiver: slow
  group_by: [group]
  group_wait: 1s
  group_interval: 1h
  repeat_interval: 24h
receivers:
  - name: slow
    webhook_configs: [{{url: "{url}"}}]
"""


def test_kill_9_mid_burst_delivers_everything_once_but_the_in_flight(tmp_path: Path) -> None:
    sink = Sink(delay=0.25)  # each delivery takes a quarter second: many are in flight at once
    config = tmp_path / "am.yml"
    config.write_text(CONFIG.format(url=sink.url))
    port = free_port()
    log = tmp_path / "log"
    storage = [f"--storage.path={tmp_path / 'data'}"]
    proc = start_tocsin(config, storage, port, log)
    try:
        ends = format_time(time.time() + 3600)
        alerts = [{"labels": {"alertname": "Burst", "group": f"g{i}"}, "endsAt": ends} for i in range(GROUPS)]
        assert httpx.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=alerts).status_code == 200
        deadline = time.time() + 10
        while sink.started < 5 and time.time() < deadline:  # wait until sends are under way
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        started_at_kill = sink.started
        completed_before = len(sink.payloads)
        in_flight = started_at_kill - completed_before
        assert 0 < completed_before < GROUPS or in_flight > 0
        # Requests the killed process had already written sit in the kernel's socket buffers and
        # still reach the sink: count them too (nothing else can arrive before the restart).
        reached_sink, stable_since = sink.started, time.time()
        while time.time() - stable_since < 0.5 and time.time() < deadline:
            time.sleep(0.05)
            if sink.started != reached_sink:
                reached_sink, stable_since = sink.started, time.time()
        proc = start_tocsin(config, storage, port, log)
        deadline = time.time() + 30
        while time.time() < deadline:
            if {p["groupLabels"]["group"] for p in sink.payloads} == {f"g{i}" for i in range(GROUPS)}:
                break
            time.sleep(0.1)
        time.sleep(1)
        per_group = Counter(p["groupLabels"]["group"] for p in sink.payloads)
        assert set(per_group) == {f"g{i}" for i in range(GROUPS)}, "a notification was lost"
        repeats = sum(c - 1 for c in per_group.values())
        # Repeats come only from deliveries whose answer the killed process never saw.
        assert repeats <= reached_sink
        print(
            f"\ngroups={GROUPS} delivered before kill={completed_before} in flight at kill={in_flight} "
            f"reached the sink from the killed process={reached_sink} repeats after restart={repeats}"
        )
        # The repeats carry the same idempotency key as the first attempt.
        by_group: dict[str, set[str]] = {}
        for p, headers in zip(sink.payloads, sink.headers, strict=True):
            by_group.setdefault(p["groupLabels"]["group"], set()).add(headers["Idempotency-Key"])
        assert all(len(keys) == 1 for keys in by_group.values()), by_group
    finally:
        proc.terminate()
        proc.wait(10)
        sink.close()
