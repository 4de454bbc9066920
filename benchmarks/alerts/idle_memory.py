"""Resident memory of an idle server, started as the benchmark starts it (``servers.py``) with the
benchmark's configuration (one webhook receiver), once it answers ``GET /-/ready``.

    python3 -m benchmarks.alerts.idle_memory [--runs N] [--target tocsin-sqlite] [--settle S]

Prints one line per run: VmRSS and VmHWM of the server and of each process it started (the
storage commit child), in MiB, and their sums; then the median of the sums over the runs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.alerts.procstat import descendants, memory
from benchmarks.alerts.servers import TARGETS, THREAD_TARGETS, Server, available
from benchmarks.alerts.workload import Workload, config_yaml

MIB = 1024 * 1024


def _name(pid: int) -> str:
    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    if b"tocsin.storage.commit_child" in cmd:
        return "child"
    return Path(f"/proc/{pid}/comm").read_text().strip()


async def measure(target: str, settle: float) -> list[tuple[str, int, int]]:
    """(process, VmRSS, VmHWM) of the server (first) and each process below it."""
    # The sink is never called: an idle server sends nothing.
    server = Server(target, config_yaml(Workload(alerts=1), "http://127.0.0.1:9/sink"))
    try:
        await server.start()
        time.sleep(settle)  # let start-up work that follows readiness finish
        out = []
        for i, pid in enumerate(descendants(server.pid)):
            try:
                rss, hwm = memory(pid)
                out.append(("server" if i == 0 else _name(pid), rss, hwm))
            except (OSError, ValueError):  # ended meanwhile
                continue
        return out
    finally:
        server.stop()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--target", default="tocsin-sqlite", choices=TARGETS + THREAD_TARGETS)
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait after ready (default 1)")
    args = p.parse_args(argv)
    if args.runs < 1:
        p.error(f"--runs must be at least 1, got {args.runs}")
    if args.settle < 0:
        p.error(f"--settle must not be negative, got {args.settle}")
    if (why := available(args.target)) is not None:
        p.error(why)
    totals: list[tuple[int, int]] = []
    for run in range(1, args.runs + 1):
        procs = asyncio.run(measure(args.target, args.settle))
        parts = "  ".join(f"{name} rss {rss / MIB:5.1f} hwm {hwm / MIB:5.1f}" for name, rss, hwm in procs)
        rss_sum, hwm_sum = sum(r for _, r, _ in procs), sum(h for _, _, h in procs)
        totals.append((rss_sum, hwm_sum))
        total = f"total rss {rss_sum / MIB:5.1f} hwm {hwm_sum / MIB:5.1f} MiB"
        print(f"run {run}: {parts}  | {total}", flush=True)
    if args.runs > 1:
        rss_med = statistics.median(r for r, _ in totals) / MIB
        hwm_med = statistics.median(h for _, h in totals) / MIB
        print(f"median of {args.runs}: total rss {rss_med:.1f} hwm {hwm_med:.1f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
