"""Resource use of a server process from /proc: peak RSS (VmHWM) and CPU seconds."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Usage:
    """Of the server process and every process it started (tocsin's decode workers and the
    multiprocessing resource tracker), so a server that spreads its work is not flattered."""

    cpu_seconds: float  # user + system of each process and all its threads, plus reaped children
    rss_bytes: int  # VmRSS now, summed
    peak_rss_bytes: int  # VmHWM of each process, summed (an upper bound of the tree's peak)


def cpu_seconds(pid: int) -> float:
    # Fields after the command name (which may contain spaces) start after the last ')'.
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    # utime, stime, cutime, cstime are fields 14-17 of stat(5); here offset by the 2 skipped.
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime + cutime + cstime) / _TICKS


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread: ``main`` (the event loop) and ``<name>-<tid>`` for the others
    (the storage writer, executor threads), to tell where the process spends its time."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            raw = (task / "stat").read_text()
        except OSError:  # the thread ended meanwhile
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        key = "main" if task.name == str(pid) else f"{name}-{task.name}"
        out[key] = (int(fields[11]) + int(fields[12])) / _TICKS
    return out


def memory(pid: int) -> tuple[int, int]:
    rss = hwm = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1]) * 1024
    return rss, hwm


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except OSError:  # ended meanwhile
            continue
    return out


def usage(pid: int) -> Usage:
    cpu = 0.0
    rss = hwm = 0
    for p in descendants(pid):
        try:
            cpu += cpu_seconds(p)
            r, h = memory(p)
        except (OSError, ValueError):
            continue
        rss += r
        hwm += h
    return Usage(cpu, rss, hwm)


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, summed over its cores, from the
    first line of /proc/stat; idle and iowait count as not busy."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user and nice]
    total = sum(fields[:8])
    return (total - fields[3] - fields[4]) / _TICKS, total / _TICKS


def postgres_cpu() -> float:
    """CPU seconds used so far by every PostgreSQL process of the machine (backends, WAL writer,
    checkpointer): the database's share of a run is the difference over the run. Processes that
    end meanwhile take their count with them, so a backend must outlive the measured span."""
    total = 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "postgres":
                continue
            raw = (d / "stat").read_text()
        except OSError:  # ended meanwhile
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def machine_load() -> tuple[float, float, float]:
    one, five, fifteen = Path("/proc/loadavg").read_text().split()[:3]
    return float(one), float(five), float(fifteen)
