"""The three measurements: ingest at a scale, reads under silences and inhibition, steady state.

Each runs against a freshly started server, so peak memory and CPU belong to that run alone.
"""

from __future__ import annotations

import asyncio
import functools
import os
import statistics
import time
from array import array
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import msgspec
from benchmarks.alerts.httpio import Connection, HTTPError, Sink
from benchmarks.alerts.procstat import machine_busy, postgres_cpu, thread_cpu
from benchmarks.alerts.servers import Server
from benchmarks.alerts.workload import (
    ID_LABEL,
    Workload,
    alert_docs,
    config_yaml,
    encode_batches,
    silence_docs,
    source_alert_docs,
)


class _SinkAlert(msgspec.Struct):
    labels: dict[str, str]
    status: str = ""


class _Payload(msgspec.Struct):
    alerts: list[_SinkAlert]


_decode_payload = msgspec.json.Decoder(_Payload)
_decode_any = msgspec.json.Decoder()


class Tracker:
    """First notification time of every benchmark alert, filled in by the webhook sink."""

    def __init__(self, size: int) -> None:
        self.first = array("d", bytes(8 * size))
        self.posted = array("d", bytes(8 * size))
        self.delivered = 0
        self.notifications = 0
        self.bad_payloads = 0

    def on_webhook(self, body: bytes, arrived: float) -> None:
        self.notifications += 1
        try:
            payload = _decode_payload.decode(body)
        except msgspec.DecodeError:
            self.bad_payloads += 1
            return
        first = self.first
        for a in payload.alerts:
            raw = a.labels.get(ID_LABEL)
            if raw is None or a.status != "firing":
                continue
            i = int(raw)
            if 0 <= i < len(first) and first[i] == 0.0:
                first[i] = arrived
                self.delivered += 1

    def latencies(self, start: int = 0, stop: int | None = None) -> list[float]:
        stop = len(self.first) if stop is None else stop
        return sorted(self.first[i] - self.posted[i] for i in range(start, stop) if self.first[i])


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


@dataclass
class PostStats:
    seconds: float
    errors: list[str] = field(default_factory=list)
    #: alerts/s over the last fifth of the batches: the rate once the server holds most alerts
    tail_rate: float = 0.0
    #: time from sending a POST to its answer, seconds (tocsin answers after the commit)
    answer_p50: float = 0.0
    answer_p99: float = 0.0


async def post_batches(
    port: int,
    batches: list[tuple[int, int, bytes]],
    connections: int,
    tracker: Tracker | None = None,
) -> PostStats:
    """POST every batch to /api/v2/alerts over ``connections`` keep-alive connections."""
    errors: list[str] = []
    next_batch = iter(range(len(batches)))
    done_at = [0.0] * len(batches)
    answer = [0.0] * len(batches)

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        try:
            for k in next_batch:
                first, count, body = batches[k]
                t = time.monotonic()
                if tracker is not None:
                    tracker.posted[first : first + count] = array("d", [t]) * count
                try:
                    status, data = await conn.request("POST", "/api/v2/alerts", body)
                except (OSError, asyncio.IncompleteReadError, HTTPError) as e:
                    errors.append(f"batch {k}: {type(e).__name__}: {e}")
                    await conn.close()
                    continue
                if status != 200:
                    errors.append(f"batch {k}: HTTP {status}: {data[:200]!r}")
                done_at[k] = time.monotonic()
                answer[k] = done_at[k] - t
        finally:
            await conn.close()

    start = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(connections)))
    end = time.monotonic()
    stats = PostStats(end - start, errors)
    answered = sorted(a for a in answer if a > 0)
    if answered:
        stats.answer_p50 = percentile(answered, 0.5)
        stats.answer_p99 = percentile(answered, 0.99)
    cut = len(batches) * 4 // 5
    tail = batches[cut:]
    tail_start = max(done_at[:cut], default=start)
    if tail and end > tail_start:
        stats.tail_rate = sum(c for _, c, _ in tail) / (end - tail_start)
    return stats


async def wait_delivered(tracker: Tracker, want: int, deadline: float) -> None:
    while tracker.delivered < want and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _mib(n: int) -> float:
    return n / (1 << 20)


@dataclass
class IngestResult:
    target: str
    alerts: int
    ingest_seconds: float
    alerts_per_s: float
    tail_alerts_per_s: float
    latency_p50: float
    latency_p99: float
    latency_max: float
    #: time from a POST to its answer (p50, p99), seconds
    answer_p50: float
    answer_p99: float
    delivered_fraction: float
    peak_rss_mib: float
    rss_mib: float
    rss_per_alert_kib: float
    cpu_seconds: float
    notifications: int
    errors: list[str]
    load_before: float
    load_after: float
    thread_cpu: dict[str, float] = field(default_factory=dict)
    #: tocsin only: its /api/tocsin/v1/stats after the run (commits, POSTs sharing them, ...)
    server_stats: dict[str, Any] = field(default_factory=dict)
    #: where the machine's CPU went from the first POST to the last answer (see CpuBudget)
    budget: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CpuSnapshot:
    at: float
    server: float
    server_main: float
    database: float
    generator: float
    machine_busy: float
    machine_total: float

    @classmethod
    def take(cls, server: Server) -> CpuSnapshot:
        busy, total = machine_busy()
        return cls(
            at=time.monotonic(),
            server=server.usage().cpu_seconds,
            server_main=thread_cpu(server.pid).get("main", 0.0),
            database=postgres_cpu(),
            generator=time.process_time(),
            machine_busy=busy,
            machine_total=total,
        )


def cpu_budget(a: CpuSnapshot, b: CpuSnapshot) -> dict[str, float]:
    """CPU seconds of the ingest span by consumer. The cores' capacity (``capacity_s``, wall time
    times cores) is spent by the server (``server_main_s`` of it on its event loop thread), the
    database's processes, this benchmark (load generator and webhook sink), anything else on the
    machine (``other_s``), or left idle: what bounds a server's throughput on a shared machine."""
    cores = os.cpu_count() or 1
    server = b.server - a.server
    database = b.database - a.database
    generator = b.generator - a.generator
    busy = b.machine_busy - a.machine_busy
    # Alertmanager runs without a database, but PostgreSQL's own background work still shows.
    return {
        "wall_s": b.at - a.at,
        "cores": cores,
        "capacity_s": (b.machine_total - a.machine_total),
        "server_s": server,
        "server_main_s": b.server_main - a.server_main,
        "database_s": database,
        "generator_s": generator,
        "other_s": max(0.0, busy - server - database - generator),
        "idle_s": (b.machine_total - a.machine_total) - busy,
    }


async def _tocsin_stats(target: str, port: int) -> dict[str, Any]:
    if not target.startswith("tocsin"):
        return {}
    _, doc = await _timed_get(port, "/api/tocsin/v1/stats", 1)
    return dict(doc)


async def run_ingest(
    target: str,
    w: Workload,
    pg_url: str,
    load: Any,
    profile: Path | None = None,
    profile_gil: bool = False,
) -> IngestResult:
    """Post ``w.alerts`` distinct alerts and follow each until its first notification."""
    tracker = Tracker(w.alerts)
    sink = Sink(tracker.on_webhook)
    sink_port = await sink.start()
    batches = encode_batches(w, alert_docs(w), 0)
    server = Server(target, config_yaml(w, f"http://127.0.0.1:{sink_port}/hook"), pg_url)
    if profile is not None:
        server.profile_path = profile / f"ingest-{target}-{w.alerts}.txt"
        server.profile_gil = profile_gil
    load_before = load()[0]
    try:
        await server.start()
        await asyncio.sleep(0.5)
        base = server.usage()
        before = CpuSnapshot.take(server)
        stats = await post_batches(server.port, batches, w.connections, tracker)
        budget = cpu_budget(before, CpuSnapshot.take(server))
        # Late joiners wait one group_interval; allow that plus a margin before counting losses.
        await wait_delivered(tracker, w.alerts, time.monotonic() + w.group_wait + w.group_interval + 20)
        end = server.usage()
        threads = thread_cpu(server.pid)
        server_stats = await _tocsin_stats(target, server.port)
    finally:
        server.stop()
        await sink.stop()
    lat = tracker.latencies()
    return IngestResult(
        target=target,
        alerts=w.alerts,
        ingest_seconds=stats.seconds,
        alerts_per_s=w.alerts / stats.seconds,
        tail_alerts_per_s=stats.tail_rate,
        latency_p50=percentile(lat, 0.5),
        latency_p99=percentile(lat, 0.99),
        latency_max=lat[-1] if lat else float("nan"),
        answer_p50=stats.answer_p50,
        answer_p99=stats.answer_p99,
        delivered_fraction=tracker.delivered / w.alerts,
        peak_rss_mib=_mib(end.peak_rss_bytes),
        rss_mib=_mib(end.rss_bytes),
        rss_per_alert_kib=(end.rss_bytes - base.rss_bytes) / w.alerts / 1024,
        cpu_seconds=end.cpu_seconds - base.cpu_seconds,
        notifications=tracker.notifications,
        errors=stats.errors[:5],
        load_before=load_before,
        load_after=load()[0],
        thread_cpu=threads,
        server_stats=server_stats,
        budget=budget,
    )


@dataclass
class ReadResult:
    target: str
    alerts: int
    silences: int
    inhibit_rules: int
    get_alerts_median_s: float
    get_alerts_min_s: float
    get_groups_median_s: float
    get_groups_min_s: float
    #: GET /api/v2/alerts right after a new silence was posted (what a dashboard sees while an
    #: operator silences things): no answer or status computed before can simply be reused
    get_alerts_after_silence_median_s: float
    #: the same right after a new firing source alert of an inhibit rule (None without rules)
    get_alerts_after_source_median_s: float | None
    #: GET /api/v2/alerts/groups right after a new silence (other silences than the ones above)
    get_groups_after_silence_median_s: float
    returned_alerts: int
    suppressed_alerts: int
    returned_groups: int
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def _post_json(port: int, path: str, docs: list[dict[str, Any]], connections: int) -> list[str]:
    errors: list[str] = []
    items = iter(docs)
    enc = msgspec.json.Encoder().encode

    async def worker() -> None:
        conn = Connection("127.0.0.1", port)
        try:
            for d in items:
                status, data = await conn.request("POST", path, enc(d))
                if status != 200:
                    errors.append(f"POST {path}: HTTP {status}: {data[:200]!r}")
        finally:
            await conn.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return errors


async def _timed_get(port: int, path: str, repeats: int) -> tuple[list[float], Any]:
    """Time ``repeats`` GETs, each on a fresh connection (an idle keep-alive connection may be
    closed by the server between two slow reads)."""
    times = []
    doc: Any = None
    for _ in range(repeats):
        conn = Connection("127.0.0.1", port)
        try:
            t = time.monotonic()
            status, data = await conn.request("GET", path)
            times.append(time.monotonic() - t)
        finally:
            await conn.close()
        if status != 200:
            raise HTTPError(f"GET {path}: HTTP {status}: {data[:200]!r}")
        doc = _decode_any.decode(data)
    return times, doc


async def _reads_after(
    port: int,
    changes: list[Callable[[], Awaitable[list[str]]]],
    errors: list[str],
    path: str = "/api/v2/alerts",
) -> list[float]:
    """Make each change in turn (a POST returning its errors), timing a GET of ``path`` right
    after each; the changes' errors are added to ``errors``."""
    times: list[float] = []
    for change in changes:
        errors += await change()
        t, _ = await _timed_get(port, path, 1)
        times += t
    return times


async def run_read(
    target: str, w: Workload, silences: int, inhibit_rules: int, repeats: int, pg_url: str
) -> ReadResult:
    """GET /api/v2/alerts and /alerts/groups while the server holds ``w.alerts`` alerts,
    ``silences`` active silences and ``inhibit_rules`` inhibit rules with firing sources."""
    tracker = Tracker(w.alerts)
    sink = Sink(tracker.on_webhook)
    sink_port = await sink.start()
    server = Server(target, config_yaml(w, f"http://127.0.0.1:{sink_port}/hook", inhibit_rules), pg_url)
    try:
        await server.start()
        clusters = max(1, w.groups // w.alertnames)
        sources = source_alert_docs(inhibit_rules, clusters)
        errors = (await post_batches(server.port, encode_batches(w, sources, 0), 1)).errors
        errors += (await post_batches(server.port, encode_batches(w, alert_docs(w), 0), w.connections)).errors
        errors += await _post_json(server.port, "/api/v2/silences", silence_docs(w, silences, time.time()), 4)
        # Let the first flushes go out so reads are measured on a settled server.
        await wait_delivered(tracker, 1, time.monotonic() + w.group_wait + 5)
        await asyncio.sleep(w.group_wait + 1)
        a_times, alerts = await _timed_get(server.port, "/api/v2/alerts", repeats)
        g_times, groups = await _timed_get(server.port, "/api/v2/alerts/groups", repeats)
        new_silences = []
        for k in range(2 * repeats):
            # Each silence mutes one more alert (one that no benchmark silence mutes yet).
            doc = silence_docs(w, 1, time.time())[0]
            doc["matchers"][1]["value"] = f"host-{(k * 7919 + 1) % w.alerts}.example.net:9100"
            new_silences.append(functools.partial(_post_json, server.port, "/api/v2/silences", [doc], 1))
        s_times = await _reads_after(server.port, new_silences[:repeats], errors)
        # What a dashboard polling the groups (karma) sees while an operator silences things.
        gs_times = await _reads_after(server.port, new_silences[repeats:], errors, "/api/v2/alerts/groups")
        new_sources = []
        for k in range(repeats if inhibit_rules else 0):
            # Rule r's source in a cluster where it fires nowhere yet: it inhibits new targets.
            r = k % inhibit_rules
            cluster = f"cluster-{(r + 1 + k) % clusters}"
            doc = {"labels": {"alertname": f"Source{r}", "severity": "critical", "cluster": cluster}}
            new_sources.append(functools.partial(_post_json, server.port, "/api/v2/alerts", [[doc]], 1))
        i_times = await _reads_after(server.port, new_sources, errors)
    finally:
        server.stop()
        await sink.stop()
    return ReadResult(
        target=target,
        alerts=w.alerts,
        silences=silences,
        inhibit_rules=inhibit_rules,
        get_alerts_median_s=statistics.median(a_times),
        get_alerts_min_s=min(a_times),
        get_groups_median_s=statistics.median(g_times),
        get_groups_min_s=min(g_times),
        get_alerts_after_silence_median_s=statistics.median(s_times),
        get_alerts_after_source_median_s=statistics.median(i_times) if i_times else None,
        get_groups_after_silence_median_s=statistics.median(gs_times),
        returned_alerts=len(alerts),
        suppressed_alerts=sum(1 for a in alerts if a["status"]["state"] == "suppressed"),
        returned_groups=len(groups),
        errors=errors[:5],
    )


@dataclass
class SteadyResult:
    target: str
    alerts: int
    interval_s: float
    duration_s: float
    rounds: int
    cpu_seconds: float
    cpu_us_per_alert: float
    round_p50_s: float
    round_max_s: float
    peak_rss_mib: float
    errors: list[str]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def run_steady(target: str, w: Workload, interval: float, duration: float, pg_url: str) -> SteadyResult:
    """Prometheus-like re-sends: the same alerts every ``interval`` seconds for ``duration``,
    each with its original start and an end four intervals ahead. The first send (creating the
    alerts and groups) is excluded from the CPU figure."""
    tracker = Tracker(w.alerts)
    sink = Sink(tracker.on_webhook)
    sink_port = await sink.start()
    server = Server(target, config_yaml(w, f"http://127.0.0.1:{sink_port}/hook"), pg_url)
    docs = alert_docs(w)
    started = time.time()
    errors: list[str] = []
    round_times: list[float] = []
    try:
        await server.start()
        rounds = max(2, int(duration // interval) + 1)
        t0 = time.monotonic()
        cpu_start = 0.0
        for r in range(rounds):
            due = t0 + r * interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if r == 1:
                cpu_start = server.usage().cpu_seconds
            now = time.time()
            batches = encode_batches(w, docs, 0, (started, now + 4 * interval))
            stats = await post_batches(server.port, batches, w.connections)
            errors += stats.errors
            if r >= 1:
                round_times.append(stats.seconds)
        # Close the last measured interval so every re-send round is charged one full interval.
        await asyncio.sleep(max(0.0, t0 + rounds * interval - time.monotonic()))
        end = server.usage()
    finally:
        server.stop()
        await sink.stop()
    cpu = end.cpu_seconds - cpu_start
    resent = w.alerts * (rounds - 1)
    return SteadyResult(
        target=target,
        alerts=w.alerts,
        interval_s=interval,
        duration_s=(rounds - 1) * interval,
        rounds=rounds - 1,
        cpu_seconds=cpu,
        cpu_us_per_alert=cpu / resent * 1e6,
        round_p50_s=statistics.median(round_times),
        round_max_s=max(round_times),
        peak_rss_mib=_mib(end.peak_rss_bytes),
        errors=errors[:5],
    )
