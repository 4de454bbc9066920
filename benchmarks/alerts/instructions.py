"""Instructions per alert of the hot paths, counted by valgrind's callgrind.

    python3 -m benchmarks.alerts.instructions [codec|parse|ingest|flush|flush10] ... [--alerts N]

On a shared machine, CPU time moves by a factor of two from run to run; the instructions a
piece of code executes do not (the same count twice, with the other core busy or not). Each
figure runs one scenario twice under callgrind, once with the measured step and once without
(everything else, start-up and the building of the input included, is identical), and divides
the difference by the number of alerts (flushes for ``flush``). About a minute per figure.

* ``codec``: decoding POST bodies and turning them into Alerts (``decode_postable_alerts`` and
  ``to_alerts``, the general path), per alert.
* ``parse``: the same with what POST /api/v2/alerts runs (``alerts_from_body``: the compiled
  one-pass reader since the tenth pass), per alert.
* ``ingest``: ``Engine.ingest`` on a storage that keeps nothing (merge, route, group), per alert.
* ``commit``: the commit process's side on the event loop for those alerts: each request's
  batch, three requests' batches merged per commit (``take_queued``) and encoded as the frame
  the child gets (``encode_batch`` with SQLite's log rows), per alert.
* ``flush`` / ``flush10``: one flush of every group (groups of 100 / 10 alerts), webhooks sent to
  a local sink in the same process, per flush.

Needs valgrind (Debian's package); the numbers are for the machine's CPython build.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from benchmarks.alerts.workload import Workload, alert_docs, config_yaml, encode_batches

from tocsin.api.alerts_codec import alerts_from_body, decode_postable_alerts, to_alerts

NOW = 1_800_000_000.0


def _bodies(w: Workload) -> list[bytes]:
    return [b for _, _, b in encode_batches(w, alert_docs(w), 0)]


def scenario_codec(n: int, measured: bool) -> None:
    bodies = _bodies(Workload(alerts=n))
    if measured:
        for b in bodies:
            to_alerts(decode_postable_alerts(b), NOW, 300, "default")


def scenario_parse(n: int, measured: bool) -> None:
    bodies = _bodies(Workload(alerts=n))
    if measured:
        for b in bodies:
            alerts_from_body(b, NOW, 300, "default")


def scenario_ingest(n: int, measured: bool) -> None:
    from benchmarks.alerts.micro import NullStorage

    from tocsin.config import load_config_text
    from tocsin.engine.engine import Engine

    w = Workload(alerts=n)
    batches = [to_alerts(decode_postable_alerts(b), NOW, 300, "default")[0] for b in _bodies(w)]

    async def run() -> None:
        e = Engine(load_config_text(config_yaml(w, "http://127.0.0.1:9/hook", 0)), NullStorage())
        if measured:
            for batch in batches:
                await e.ingest(batch)
        e.writer.close()

    asyncio.run(run())


def scenario_commit(n: int, measured: bool) -> None:
    from collections import deque

    from tocsin.storage.base import WriteBatch
    from tocsin.storage.commit_child import encode_batch
    from tocsin.storage.sql import SQLStorage
    from tocsin.storage.writer import take_queued

    batches = [
        to_alerts(decode_postable_alerts(b), NOW, 300, "default")[0] for b in _bodies(Workload(alerts=n))
    ]
    if not measured:
        return
    queue: deque[tuple[WriteBatch, None]] = deque()
    for seq, alerts in enumerate(batches):
        batch = WriteBatch()
        batch.put_alerts(alerts)
        queue.append((batch, None))
        if len(queue) == 3 or seq == len(batches) - 1:
            merged, _ = take_queued(queue, 20_000)
            encode_batch(seq, n, merged, SQLStorage.encode_alert_log)


def _scenario_flush(n: int, measured: bool, group_size: int) -> None:
    from benchmarks.alerts.httpio import Sink
    from benchmarks.alerts.micro import NullStorage

    from tocsin.config import load_config_text
    from tocsin.engine.clock import ManualClock
    from tocsin.engine.engine import Engine

    w = Workload(alerts=n, group_size=group_size)

    async def run() -> None:
        sink = Sink(lambda body, t: None)
        port = await sink.start()
        clock = ManualClock(NOW)
        e = Engine(
            load_config_text(config_yaml(w, f"http://127.0.0.1:{port}/hook", 0)), NullStorage(), clock=clock
        )
        for b in _bodies(w):
            await e.ingest(to_alerts(decode_postable_alerts(b), NOW, 300, "default")[0])
        clock.advance(w.group_wait + 0.5)
        if measured:
            await e.dispatcher.run_due()
        e.writer.close()
        await sink.stop()

    asyncio.run(run())


SCENARIOS = {
    # name: (run, default alerts, unit, units per alert)
    "codec": (scenario_codec, 20_000, "alert", 1.0),
    "parse": (scenario_parse, 20_000, "alert", 1.0),
    "ingest": (scenario_ingest, 10_000, "alert", 1.0),
    "commit": (scenario_commit, 20_000, "alert", 1.0),
    "flush": (lambda n, m: _scenario_flush(n, m, 100), 10_000, "flush of 100 alerts", 1 / 100),
    "flush10": (lambda n, m: _scenario_flush(n, m, 10), 10_000, "flush of 10 alerts", 1 / 10),
}


def _count(name: str, n: int, measured: bool) -> int:
    out = tempfile.mktemp(prefix="callgrind.")
    cmd = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "benchmarks.alerts.instructions",
        "--inside",
        name,
        "--alerts",
        str(n),
    ] + ([] if measured else ["--skip"])
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    finally:
        if os.path.exists(out):
            os.unlink(out)
    found = re.search(r"Collected : (\d+)", res.stderr)
    if res.returncode != 0 or found is None:
        raise SystemExit(f"{name}: the run under valgrind failed:\n{res.stderr[-2000:]}")
    return int(found.group(1))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python3 -m benchmarks.alerts.instructions", description=__doc__.split("\n\n")[0]
    )
    p.add_argument(
        "scenarios", nargs="*", choices=[*SCENARIOS, []], default=[], help="all when none is named"
    )
    p.add_argument("--alerts", type=int, default=0, help="override each scenario's alert count")
    p.add_argument("--inside", help=argparse.SUPPRESS)  # the run valgrind watches
    p.add_argument("--skip", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inside:
        run, default_n, _, _ = SCENARIOS[args.inside]
        run(args.alerts or default_n, not args.skip)
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")
    for name in args.scenarios or list(SCENARIOS):
        _, default_n, unit, per_alert = SCENARIOS[name]
        n = args.alerts or default_n
        delta = _count(name, n, True) - _count(name, n, False)
        print(f"{name}: {delta / (n * per_alert):,.0f} instructions per {unit} ({n:,} alerts)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
