"""Cost of streaming correlation during an alert storm: many alerts of many kinds within minutes.

    PYTHONPATH=src python3 benchmarks/correlation/storm.py [--alerts N] [--kinds K] [--services S]
        [--span SECONDS] [--graph none|tree] [--path correlator|service] [--repeats R]
        [--profile FILE]

A tenant first learns a quiet day (``--history-alerts`` alerts in small bursts, so that its
co-occurrence history is mature and has pairs), then ``--alerts`` alerts start within ``--span``
seconds, each of one of ``--kinds`` kinds spread over ``--services`` services, every one a
different pod (a kind is a service/alertname pair, what ``GroupCorrelator`` caps per call; kind ``i``
fires on service ``i mod S``). The storm is correlated as the service does it:

* ``--path correlator`` (default): every alert goes through ``Correlator.add`` and is then
  learned by the tenant's history (``LearnedHistory.learn``), and the correlator re-reads the
  history every ``refresh_interval`` of event time: the per-alert cost, uncapped.
* ``--path service``: the alerts reach ``GroupCorrelator.observe`` the way group flushes deliver
  them (one call per service group every ``--flush`` seconds, at most ``MAX_PER_KIND`` alerts of a
  kind correlated per call); the time reported per "alert" is then per call.

Printed per run: alerts per CPU-second of the process (``time.process_time``), mean, p99 and max
wall time per alert, the mean over the first and the last tenth of the storm (a cost that grows
with the incident shows there), the incidents it made and (``--path correlator``) digests of the
decisions and of their explanation texts, equal when two versions of the code decided alike. The
stream is seeded (``--seed``), so every run correlates the same alerts the same way; only the
timings vary with machine load.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from tocsin.incidents.correlation import GroupCorrelator, build_correlator
from tocsin.incidents.correlation_history import LearnedHistory
from tocsin.incidents.setup import CorrelationSetup, HistorySetup
from tocsin.intelligence.correlate import CorrelationDecision, Correlator
from tocsin.model import Alert

TENANT = "storm"
DAY = 86_400.0
T0 = 1_700_000_000.0
WORDS = ("Latency", "Errors", "Saturation", "Restarts", "Disk", "Memory", "Queue", "Timeout", "Probe", "Cpu")
SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class Shape:
    alerts: int
    kinds: int
    services: int
    span: float
    history_alerts: int
    seed: int


def kinds_of(shape: Shape) -> list[tuple[str, str]]:
    """The storm's alert kinds as (alert name, service): kind ``i`` fires on service ``i mod S``, so
    the kinds spread evenly over the services (all of them when there are at least as many kinds).
    Names are CamelCase, so that their words become similarity tokens as real ones do."""
    svcs = [f"svc-{i:02d}" for i in range(shape.services)]
    out = []
    for i in range(shape.kinds):
        j = i // shape.services  # the j-th kind on its service
        name = f"{WORDS[j % len(WORDS)]}{WORDS[(j // len(WORDS)) % len(WORDS)]}K{j}"
        out.append((name, svcs[i % shape.services]))
    return out


def make_alert(name: str, service: str, pod: str, t: float, rng: random.Random) -> Alert:
    labels = {
        "alertname": name,
        "service": service,
        "pod": pod,
        "namespace": "prod",
        "instance": f"node-{rng.randrange(8)}",
        "severity": rng.choice(SEVERITIES),
    }
    annotations = {"summary": f"{name} on {service}"}
    return Alert(labels=labels, annotations=annotations, starts_at=t, ends_at=t + 3600.0, updated_at=t)


def quiet_day(shape: Shape, rng: random.Random) -> list[Alert]:
    """The history learned before the storm: bursts of 2-8 alerts within a minute, spread over a
    day, so that some kinds co-occur and the tenant's history is mature."""
    kinds = kinds_of(shape)
    out: list[Alert] = []
    start = T0 - DAY
    while len(out) < shape.history_alerts:
        t = start + rng.uniform(0, DAY - 3600.0)
        for _ in range(rng.randint(2, 8)):
            pod = f"hist-{len(out)}"
            name, service = rng.choice(kinds)
            out.append(make_alert(name, service, pod, t + rng.uniform(0, 60), rng))
    out = out[: shape.history_alerts]
    out.sort(key=lambda a: a.starts_at)
    return out


def storm(shape: Shape, rng: random.Random) -> list[Alert]:
    kinds = kinds_of(shape)
    times = sorted(T0 + rng.uniform(0, shape.span) for _ in range(shape.alerts))
    return [make_alert(*rng.choice(kinds), f"storm-{i}", t, rng) for i, t in enumerate(times)]


def tree_edges(n: int, rng: random.Random) -> tuple[tuple[str, str], ...]:
    """A random call tree over the services (each calls a few of the later ones)."""
    svcs = [f"svc-{i:02d}" for i in range(n)]
    return tuple((svcs[rng.randrange(i)], svcs[i]) for i in range(1, n))


def setup_for(graph: str, shape: Shape, rng: random.Random) -> CorrelationSetup:
    edges = tree_edges(shape.services, rng) if graph == "tree" else ()
    return CorrelationSetup(edges=edges, history=HistorySetup())


def learned_history(setup: CorrelationSetup, day: list[Alert]) -> LearnedHistory:
    assert setup.history is not None
    history = LearnedHistory(setup.history)
    for a in day:
        history.learn(TENANT, a, a.labels["service"])
    return history


@dataclass
class Run:
    cpu_s: float
    #: wall time per alert (or per flush call), and the part of it spent in Correlator.add
    per_alert_ns: list[int]
    add_ns: list[int]
    incidents: int
    largest: tuple[int, int, int]  # alerts, services, kinds of the largest incident
    #: digests of every decision (incident, new or not, score) and of its explanation text: equal
    #: digests before and after a change to the code mean it decided the storm the same way
    decisions: str = ""
    explanations: str = ""


def run_correlator(
    setup: CorrelationSetup, day: list[Alert], alerts: list[Alert], profiler: cProfile.Profile | None = None
) -> Run:
    """Every alert through Correlator.add, then learned, as GroupCorrelator does below its cap."""
    history = learned_history(setup, day)
    c = build_correlator(setup)
    refresh = history.setup.refresh_interval
    c.use_history(history.tenant(TENANT).model, history.weights(TENANT))
    refreshed = alerts[0].starts_at
    per: list[int] = []
    adds: list[int] = []
    decisions: list[CorrelationDecision] = []
    clock = time.perf_counter_ns
    if profiler is not None:
        profiler.enable()
    cpu0 = time.process_time()
    for a in alerts:
        t0 = clock()
        if a.starts_at - refreshed >= refresh:
            refreshed = a.starts_at
            c.use_history(history.tenant(TENANT).model, history.weights(TENANT))
        t1 = clock()
        decisions.append(c.add(a))
        t2 = clock()
        history.learn(TENANT, a, a.labels["service"])
        per.append(clock() - t0)
        adds.append(t2 - t1)
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.disable()
    return Run(cpu, per, adds, len(c.incidents()), _largest(c), *_digests(decisions))


def _digests(decisions: list[CorrelationDecision]) -> tuple[str, str]:
    what = hashlib.sha256()
    why = hashlib.sha256()
    for d in decisions:
        what.update(f"{d.incident_id} {d.new_incident} {d.explanation.score!r}\n".encode())
        why.update(f"{d.explanation}\n".encode())
    return what.hexdigest()[:16], why.hexdigest()[:16]


def run_service(
    setup: CorrelationSetup,
    day: list[Alert],
    alerts: list[Alert],
    flush: float,
    profiler: cProfile.Profile | None = None,
) -> Run:
    """Group flushes (by service, every ``flush`` seconds) into GroupCorrelator.observe."""
    history = learned_history(setup, day)
    gc_ = GroupCorrelator(setup, history)
    batches: dict[tuple[int, str], list[Alert]] = {}
    for a in alerts:
        tick = int((a.starts_at - T0) // flush) + 1
        batches.setdefault((tick, a.labels["service"]), []).append(a)
    per: list[int] = []
    clock = time.perf_counter_ns
    if profiler is not None:
        profiler.enable()
    cpu0 = time.process_time()
    for (tick, _), batch in sorted(batches.items()):
        t0 = clock()
        gc_.observe(TENANT, batch, (), now=T0 + tick * flush)
        per.append(clock() - t0)
    cpu = time.process_time() - cpu0
    if profiler is not None:
        profiler.disable()
    c = gc_._correlator(TENANT)  # the tenant's correlator, for the incident counts only
    return Run(cpu, per, [], len(c.incidents()), _largest(c))


def _largest(c: Correlator) -> tuple[int, int, int]:
    inc = max(c.incidents(), key=lambda i: i.alert_count)
    return inc.alert_count, len(inc.services), len(inc.keys)


def report(label: str, n_alerts: int, run: Run, unit: str) -> str:
    per = sorted(run.per_alert_ns)
    tenth = max(1, len(run.per_alert_ns) // 10)
    first = statistics.fmean(run.per_alert_ns[:tenth]) / 1e3
    last = statistics.fmean(run.per_alert_ns[-tenth:]) / 1e3
    p99 = per[min(len(per) - 1, int(0.99 * len(per)))] / 1e3
    add = f" (Correlator.add mean {statistics.fmean(run.add_ns) / 1e3:.0f} us)" if run.add_ns else ""
    return (
        f"{label}: {n_alerts / run.cpu_s:,.0f} alerts/CPU-s ({run.cpu_s * 1e3:.0f} ms CPU); per {unit}: "
        f"mean {statistics.fmean(per) / 1e3:.0f} us{add}, p99 {p99:.0f} us, max {per[-1] / 1e6:.2f} ms; "
        f"first/last tenth mean {first:.0f}/{last:.0f} us; {run.incidents} incidents, largest "
        f"{run.largest[0]} alerts over {run.largest[1]} services, {run.largest[2]} kinds"
        + (f"; decisions {run.decisions}, explanations {run.explanations}" if run.decisions else "")
    )


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Time streaming correlation over a seeded alert storm (see the module docstring)."
    )
    p.add_argument("--alerts", type=int, default=5000, help="alerts in the storm (default 5000)")
    p.add_argument(
        "--kinds",
        type=int,
        default=20,
        help="distinct alert kinds, i.e. service/alertname pairs (default 20)",
    )
    p.add_argument(
        "--services",
        type=int,
        default=20,
        help="services the kinds are spread over, round robin (default 20)",
    )
    p.add_argument(
        "--span", type=float, default=180.0, help="seconds over which the storm starts (default 180)"
    )
    p.add_argument(
        "--history-alerts",
        type=int,
        default=2000,
        help="alerts of the quiet day learned first (default 2000)",
    )
    p.add_argument(
        "--graph",
        choices=("none", "tree"),
        default="none",
        help="service graph in config: none (learned from the history, the default) or a random call tree",
    )
    p.add_argument(
        "--path",
        choices=("correlator", "service"),
        default="correlator",
        help="correlator: every alert through Correlator.add (default); service: GroupCorrelator flushes",
    )
    p.add_argument(
        "--flush", type=float, default=30.0, help="--path service: seconds between flushes (default 30)"
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="timed runs, each reported (default 3; 0 with --profile)"
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the stream (default 1)")
    p.add_argument("--profile", metavar="FILE", help="write a cProfile of one run to FILE (pstats format)")
    args = p.parse_args(argv)
    if args.repeats < 0:
        p.error("--repeats must be >= 0")
    for name in ("alerts", "kinds", "services", "history_alerts"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if args.span <= 0 or args.flush <= 0:
        p.error("--span and --flush must be > 0")
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    shape = Shape(args.alerts, args.kinds, args.services, args.span, args.history_alerts, args.seed)
    rng = random.Random(shape.seed)
    setup = setup_for(args.graph, shape, rng)
    day, alerts = quiet_day(shape, rng), storm(shape, rng)
    one: Callable[[cProfile.Profile | None], Run]
    if args.path == "service":
        unit = "flush call"

        def one(profiler: cProfile.Profile | None) -> Run:
            return run_service(setup, day, alerts, args.flush, profiler)
    else:
        unit = "alert"

        def one(profiler: cProfile.Profile | None) -> Run:
            return run_correlator(setup, day, alerts, profiler)

    print(
        f"storm: {shape.alerts} alerts, {shape.kinds} kinds over {min(shape.kinds, shape.services)} "
        f"services, "
        f"{shape.span:g} s; history {shape.history_alerts} alerts; graph {args.graph}; path {args.path}"
    )
    if args.profile:
        profiler = cProfile.Profile()
        one(profiler)  # the storm only: the quiet day is learned outside the profile
        profiler.dump_stats(args.profile)
        print(f"profile written to {args.profile}")
    for i in range(args.repeats):
        gc.collect()
        print(report(f"run {i + 1}", shape.alerts, one(None), unit))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
