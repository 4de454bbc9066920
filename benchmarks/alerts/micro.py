"""In-process microbenchmarks of the hot paths, used to measure each optimisation on its own.

    python3 -m benchmarks.alerts.micro [codec|ingest|get|sqlite|postgres|notify|gc|compaction] ...

CPU time is used where possible (less sensitive to a busy machine than wall time); each prints
one line per figure.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from benchmarks.alerts.workload import (
    Workload,
    alert_docs,
    config_yaml,
    encode_batches,
    silence_docs,
    source_alert_docs,
)

from tocsin.api.alerts_codec import decode_postable_alerts, gettable_alert, to_alerts
from tocsin.config import load_config_file
from tocsin.engine.engine import Engine
from tocsin.model import Alert
from tocsin.storage import WriteBatch, open_storage
from tocsin.storage.base import Doc


class NullStorage:
    """Storage that keeps nothing, to time the engine alone."""

    url = "null://"

    def migrate(self) -> int:
        return 1

    def commit(self, batch: WriteBatch) -> None:
        pass

    def maintain(self, live_alerts: int | None = None) -> bool:
        return False

    def load_alerts(self) -> list[Alert]:
        return []

    def load_docs(self, kind: str) -> list[Doc]:
        return []

    def close(self) -> None:
        pass


def _engine(w: Workload, inhibit_rules: int = 0) -> Engine:
    path = tempfile.mktemp(suffix=".yml")
    with open(path, "w") as f:
        f.write(config_yaml(w, "http://127.0.0.1:9/hook", inhibit_rules))
    return Engine(load_config_file(path), NullStorage())


def _best_cpu(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best


def codec(n: int) -> None:
    w = Workload(alerts=n)
    plain = [b for _, _, b in encode_batches(w, alert_docs(w), 0)]
    timed = [b for _, _, b in encode_batches(w, alert_docs(w), 0, (time.time() - 100, time.time() + 60))]
    for name, bodies in (("first post", plain), ("re-send with startsAt/endsAt", timed)):

        def run(bodies: list[bytes] = bodies) -> None:
            for b in bodies:
                to_alerts(decode_postable_alerts(b), 1e9, 300, "default")

        cpu = _best_cpu(run, 5)
        print(f"decode + to_alerts, {name}: {cpu / n * 1e6:.2f} us/alert")


def ingest(n: int) -> None:
    w = Workload(alerts=n)
    bodies = [b for _, _, b in encode_batches(w, alert_docs(w), 0)]
    alerts = [to_alerts(decode_postable_alerts(b), time.time(), 300, "default")[0] for b in bodies]

    async def run() -> float:
        e = _engine(w)
        start = time.process_time()
        for batch in alerts:
            await e.ingest(batch)
        cpu = time.process_time() - start
        e.writer.close()
        return cpu

    print(f"Engine.ingest on a null storage: {asyncio.run(run()) / n * 1e6:.2f} us/alert")


def gc_cost(n: int) -> None:
    w = Workload(alerts=n)
    bodies = [b for _, _, b in encode_batches(w, alert_docs(w), 0)]
    spent = [0.0, 0.0]

    def callback(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            spent[1] = time.process_time()
        else:
            spent[0] += time.process_time() - spent[1]

    async def run() -> float:
        e = _engine(w)
        start = time.process_time()
        for b in bodies:
            await e.ingest(to_alerts(decode_postable_alerts(b), time.time(), 300, "default")[0])
        cpu = time.process_time() - start
        e.writer.close()
        return cpu

    gc.callbacks.append(callback)
    try:
        total = asyncio.run(run())
    finally:
        gc.callbacks.remove(callback)
    print(
        f"ingest of {n} alerts, gc threshold {gc.get_threshold()}: GC {spent[0]:.2f} s of {total:.2f} s CPU"
    )


def get(n: int, silences: int = 1000, rules: int = 100) -> None:
    w = Workload(alerts=n)

    async def setup() -> Engine:
        e = _engine(w, rules)
        now = time.time()
        for docs in (source_alert_docs(rules, max(1, w.groups // w.alertnames)), alert_docs(w)):
            for _, _, b in encode_batches(w, docs, 0):
                await e.ingest(to_alerts(decode_postable_alerts(b), now, 300, "default")[0])
        from tocsin.api.am_v2 import _silence_from_json

        for d in silence_docs(w, silences, now):
            await e.set_silence(_silence_from_json(d, "default"))
        return e

    e = asyncio.run(setup())
    now = time.time()

    def render() -> bytes:
        out = [
            gettable_alert(a, e.alert_status(a, now)) for a in sorted(e.store, key=lambda x: x.fingerprint)
        ]
        return msgspec.json.encode(out)

    cpu = _best_cpu(render, 12)
    print(f"GET /api/v2/alerts body, {n} alerts, {silences} silences, {rules} rules: {cpu * 1000:.0f} ms CPU")
    e.writer.close()


def sqlite(n: int, batch: int = 1000) -> None:
    w = Workload(alerts=n)
    alerts: list[Alert] = []
    for _, _, b in encode_batches(w, alert_docs(w), 0):
        alerts += to_alerts(decode_postable_alerts(b), time.time(), 300, "default")[0]
    store = open_storage(tempfile.mkdtemp(prefix="tocsin-micro-"))
    step = max(batch, n // 5)
    seg = time.perf_counter()
    for i in range(0, n, batch):
        wb = WriteBatch()
        for a in alerts[i : i + batch]:
            wb.put_alert(a)
        store.commit(wb)
        if (i + batch) % step == 0:
            now = time.perf_counter()
            print(f"SQLite commit, alerts {i + batch - step}-{i + batch}: {(now - seg) / step * 1e6:.1f} us")
            seg = now
    store.close()


def postgres(n: int, batch: int = 100) -> None:
    """Commits of ``batch`` alerts to PostgreSQL (a schema of its own, dropped after): wall time,
    this process's CPU and the database backend's CPU (from /proc: the server runs here too)."""
    import os
    import uuid

    import psycopg
    from benchmarks.alerts.servers import DEFAULT_PG_URL

    from tocsin.storage.postgres import PostgresStorage

    w = Workload(alerts=n)
    alerts: list[Alert] = []
    for _, _, b in encode_batches(w, alert_docs(w), 0):
        alerts += to_alerts(decode_postable_alerts(b), time.time(), 300, "default")[0]
    schema = f"micro_{uuid.uuid4().hex[:10]}"
    store = PostgresStorage(DEFAULT_PG_URL, schema=schema)
    try:
        store.migrate()
        pid = store._conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        store._conn.commit()

        def backend_cpu() -> float:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        cpu, backend, wall = time.process_time(), backend_cpu(), time.perf_counter()
        for i in range(0, n, batch):
            wb = WriteBatch()
            for a in alerts[i : i + batch]:
                wb.put_alert(a)
            store.commit(wb)
        wall, cpu, backend = time.perf_counter() - wall, time.process_time() - cpu, backend_cpu() - backend
        print(
            f"PostgreSQL commits of {batch} alerts ({n} in all), per alert: wall {wall / n * 1e6:.1f} us,"
            f" client CPU {cpu / n * 1e6:.1f} us, backend CPU {backend / n * 1e6:.1f} us"
        )
    finally:
        store.close()
        with psycopg.connect(DEFAULT_PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def notify(n: int) -> None:
    from benchmarks.alerts.httpio import Sink

    from tocsin.notify.base import Notification
    from tocsin.notify.payload import webhook_payload
    from tocsin.notify.webhook import WebhookIntegration

    async def run() -> None:
        sink = Sink(lambda body, t: None)
        port = await sink.start()
        now = time.time()
        w = Workload(alerts=n)
        alerts = [
            Alert(labels=d["labels"], annotations=d["annotations"], starts_at=now, ends_at=now + 300)
            for d in alert_docs(w)
        ]
        note = Notification("sink", "firing", alerts, "{}:{}", {}, {}, {}, "http://tocsin", now)
        hook = WebhookIntegration("sink", 0, url=f"http://127.0.0.1:{port}/hook")
        await hook.notify(note)
        print(f"webhook payload of {n} alerts: {_best_cpu(lambda: webhook_payload(note), 50) * 1000:.3f} ms")
        start = time.process_time()
        await asyncio.gather(*(hook.notify(note) for _ in range(300)))
        print(f"webhook notify of {n} alerts, 300 at once: {(time.process_time() - start) / 0.3:.3f} ms each")
        await hook.close()
        await sink.stop()

    asyncio.run(run())


def compaction(n: int) -> None:
    """A log of 2n rows (n alerts written twice), compacted the way the writer thread does it:
    maintain() between short pauses. The longest step is what a commit can wait behind it."""
    with tempfile.TemporaryDirectory() as d:
        s = open_storage(url=f"sqlite:///{d}/c.db")
        for version in range(2):
            for lo in range(0, n, 5000):
                b = WriteBatch()
                for i in range(lo, min(lo + 5000, n)):
                    b.put_alert(Alert({"alertname": "A", "i": str(i), "job": "node"}, {"v": str(version)}))
                s.commit(b)
        start = time.perf_counter()
        steps: list[float] = []
        while True:
            t = time.perf_counter()
            more = s.maintain(n)
            steps.append(time.perf_counter() - t)
            if not more:
                break
            time.sleep(0.002)
        print(
            f"compaction of {2 * n} rows ({n} live): {time.perf_counter() - start:.2f} s in all,"
            f" {len(steps)} steps, longest {max(steps) * 1000:.1f} ms, writer busy {sum(steps) * 1000:.0f} ms"
        )
        s.close()


BENCHES: dict[str, tuple[Callable[[int], None], int]] = {
    "codec": (codec, 50_000),
    "ingest": (ingest, 50_000),
    "gc": (gc_cost, 250_000),
    "get": (get, 10_000),
    "sqlite": (sqlite, 250_000),
    "postgres": (postgres, 20_000),
    "notify": (notify, 100),
    "compaction": (compaction, 250_000),
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python3 -m benchmarks.alerts.micro", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("benches", nargs="*", choices=[*BENCHES, []], default=[], help="all when none is named")
    p.add_argument("--alerts", type=int, default=0, help="override each benchmark's alert count")
    p.add_argument(
        "--gc-threshold", type=int, default=0, help="gen-0 threshold to set first (the server uses 50000)"
    )
    args = p.parse_args(argv)
    if args.gc_threshold:
        gc.set_threshold(args.gc_threshold, 20, 100)
    for name in args.benches or list(BENCHES):
        fn, default_n = BENCHES[name]
        fn(args.alerts or default_n)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
