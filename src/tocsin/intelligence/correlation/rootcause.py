"""Rank the services of an incident by how likely each is where the incident started.

Metrics-only evidence, combined as a weighted sum (weights in :class:`RootCauseWeights`):

* *dependents*: the share of the incident's alerting services this one explains: itself and those
  that call it (transitively).
  Faults travel from callee to callers, so a service that the other alerting services depend on
  explains their alerts; a service that depends on them does not.
* *resource*: the service has a saturation alert of its own (CPU, memory, disk ...): a cause
  rather than a symptom such as latency seen by a caller.
* *earliness*: 1 for the service whose first alert came first, decaying with the delay.
* *share*: the service's share of the incident's alerts.
* *metrics* (with a :class:`~tocsin.intelligence.correlation.metric_probe.MetricProbe`): how far
  the service's own metrics deviated during the incident, alerting or not, mapped to [0, 1] as
  ``d / (d + probe_scale)``.
* *callers* (off by default; needs a graph with call directions and a probe that knows client
  latency): how unlikely it is, at the incident's base rate, that as many of the service's callers
  saw their client-side latency rise as did (``correlation/callee_attribution.py``), in [0, 1).
* *walk* (off by default): how often a random walk from the alerting services toward their callees,
  drawn to anomalous services, visits this one (``correlation/random_walk.py``), scaled to [0, 1].

With a service graph, services that raised no alert are candidates too: every service that an
alerting service calls (transitively, within the graph's hop limit). A fault that only shows at
its callers — a network delay, errors returned to the caller — then still has its service in the
ranking. Such a service can only earn *dependents* (which of the alerting services depend on it)
and *metrics*; without a probe it ranks below every alerting service with the same dependents.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from tocsin.intelligence.correlation.callee_attribution import CallerEvidence, caller_evidence
from tocsin.intelligence.correlation.metric_probe import ClientLatencyProbe, MetricProbe
from tocsin.intelligence.correlation.random_walk import walk_scores
from tocsin.intelligence.correlation.topology import ServiceGraph

RESOURCE_WORDS = ("cpu", "memory", "mem", "disk", "saturat", "oom", "throttl", "fd", "thread")


@dataclass(frozen=True)
class RootCauseWeights:
    #: Weight of the share of alerting services a candidate explains. The benchmark also reports 3.0,
    #: where explaining one more of two alerting services (1.5) outweighs most metric noise on
    #: bystanders: it helps TrainTicket with its call graph and costs OnlineBoutique one top-1 hit
    #: (benchmarks/correlation/README.md), so the default stays 1.0.
    dependents: float = 1.0
    resource: float = 1.5
    earliness: float = 0.5
    share: float = 0.3
    metrics: float = 2.0
    earliness_scale_s: float = 120.0
    #: A deviation of this many robust standard deviations scores 0.5 on *metrics*.
    probe_scale: float = 100.0
    #: The probe looks from this long before the incident's first alert (alert rules fire late,
    #: after their ``for:`` clause) ...
    probe_lead_s: float = 180.0
    #: ... to this long after its latest alert.
    probe_tail_s: float = 60.0
    #: Rank services that raised no alert but that alerting services call (needs a graph).
    expand_downstream: bool = True
    #: Weight of the random-walk visit share (needs a graph with call directions); 0 = off.
    walk: float = 0.0
    #: Weight of the callers' client-latency evidence (needs a graph with call directions and a probe
    #: with client-latency series); 0 = off. The benchmark selects it on the training day.
    callers: float = 0.0
    #: A caller's client latency *rose* when it stayed more than this many robust standard
    #: deviations above its trailing median ...
    callers_threshold: float = 3.0
    #: ... for at least this many samples of the incident's window.
    callers_samples: int = 2

    def __post_init__(self) -> None:
        for name in (
            "dependents",
            "resource",
            "earliness",
            "share",
            "metrics",
            "walk",
            "callers",
            "callers_threshold",
            "probe_lead_s",
            "probe_tail_s",
        ):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"root-cause weights: {name} must be a finite number >= 0, got {value!r}")
        for name in ("earliness_scale_s", "probe_scale"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"root-cause weights: {name} must be a finite number > 0, got {value!r}")
        if not (isinstance(self.callers_samples, int) and self.callers_samples >= 1):
            raise ValueError(
                f"root-cause weights: callers_samples must be an int >= 1, got {self.callers_samples!r}"
            )


@dataclass
class ServiceEvidence:
    """What an incident knows about one of its services; kept up to date as alerts join."""

    first_seen: float
    last_seen: float = -math.inf
    alerts: int = 0
    resource_alerts: int = 0


@dataclass(frozen=True)
class RootCauseCandidate:
    service: str
    score: float
    reasons: tuple[str, ...]


@lru_cache(maxsize=4096)
def is_resource_alert(alertname: str) -> bool:
    name = alertname.lower()
    return any(w in name for w in RESOURCE_WORDS)


def _downstream(graph: ServiceGraph, alerting: list[str]) -> list[str]:
    """Services the alerting ones call, transitively, that raised no alert themselves."""
    seen = set(alerting)
    found: list[str] = []
    frontier = [s for s in alerting if s in graph]
    for _ in range(graph.max_hops):
        nxt = []
        for node in frontier:
            for callee in graph.callees(node):
                if callee not in seen:
                    seen.add(callee)
                    found.append(callee)
                    nxt.append(callee)
        frontier = nxt
    return sorted(found)


def rank_root_causes(
    services: dict[str, ServiceEvidence],
    graph: ServiceGraph | None,
    weights: RootCauseWeights,
    probe: MetricProbe | None = None,
    graph_has_directions: bool = True,
) -> list[RootCauseCandidate]:
    """Candidates best first. ``graph_has_directions=False`` (a graph learned from co-occurrence,
    whose edges say "alerted together", not "calls") keeps the ranking to the alerting services."""
    if not services:
        return []
    total = sum(e.alerts for e in services.values()) or 1
    first = min(e.first_seen for e in services.values())
    last = max(max(e.last_seen, e.first_seen) for e in services.values())
    alerting = list(services)
    candidates = list(alerting)
    if graph is not None and weights.expand_downstream and graph_has_directions:
        candidates += _downstream(graph, alerting)
    window = (first - weights.probe_lead_s, last + weights.probe_tail_s)
    # Each candidate's metrics are looked up once: the metric evidence and the walk both read them.
    deviations: dict[str, tuple[float, str]] = {}
    if probe is not None and (weights.metrics > 0 or weights.walk > 0):
        deviations = {svc: probe.deviation(svc, *window) for svc in candidates}

    def anomaly(svc: str) -> float:
        d = deviations.get(svc, (0.0, ""))[0]
        return d / (d + weights.probe_scale)

    visits: dict[str, float] = {}
    if graph is not None and graph_has_directions and weights.walk > 0:
        visits = walk_scores(
            graph, {s: float(services[s].alerts or 1) for s in alerting}, candidates, anomaly
        )
    from_callers: dict[str, CallerEvidence] = {}
    if (
        graph is not None
        and graph_has_directions
        and weights.callers > 0
        and isinstance(probe, ClientLatencyProbe)
    ):
        from_callers = caller_evidence(
            graph, probe, candidates, *window, weights.callers_threshold, weights.callers_samples
        )
    out = []
    for svc in candidates:
        ev = services.get(svc)
        others = [s for s in alerting if s != svc]
        reasons = []
        # The share of the alerting services this one explains: itself (when it alerted) and every
        # alerting service that depends on it, so a lone alerting service and a quiet callee that
        # all alerting services call start level, and the other evidence decides between them.
        callers: list[str] = []
        if graph is not None and others:
            callers = [s for s in others if graph.depends_on(s, svc) and not graph.depends_on(svc, s)]
            if callers:
                reasons.append(f"{len(callers)} of {len(others)} other alerting services depend on it")
        dep = (len(callers) + (ev is not None)) / len(alerting)
        score = weights.dependents * dep
        if ev is not None:
            res = 1.0 if ev.resource_alerts else 0.0
            if res:
                reasons.append(f"{ev.resource_alerts} saturation alert(s) of its own")
            delay = ev.first_seen - first
            early = math.exp(-delay / weights.earliness_scale_s)
            reasons.append(
                "first to alert" if delay <= 0 else f"first alert {delay:.0f} s after the incident began"
            )
            share = ev.alerts / total
            score += weights.resource * res + weights.earliness * early + weights.share * share
        else:
            reasons.append("no alert of its own")
        if weights.metrics > 0:
            deviation, series = deviations.get(svc, (0.0, ""))
            if deviation > 0:
                score += weights.metrics * anomaly(svc)
                reasons.append(f"{series} {deviation:.0f}× its usual spread off its median")
        ce = from_callers.get(svc)
        if ce is not None and ce.score > 0:
            score += weights.callers * ce.score
            reasons.append(
                f"client latency rose at {ce.rising} of its {ce.callers} callers "
                f"(at {ce.base_rising} of {ce.base_measured} services: {ce.chance:.2g} by chance)"
            )
        if visits.get(svc, 0.0) > 0:
            score += weights.walk * visits[svc]
            reasons.append(
                f"a walk from the alerting services visits it {visits[svc]:.2f} as often as the top"
            )
        out.append(RootCauseCandidate(svc, round(score, 6), tuple(reasons)))
    order = {s: (services[s].first_seen if s in services else math.inf) for s in candidates}
    out.sort(key=lambda c: (-c.score, order[c.service], c.service))
    return out
