"""Rank the services of an incident by how likely each is where the incident started.

Metrics-only evidence, combined as a weighted sum (weights in :class:`RootCauseWeights`):

* *dependents*: the share of the incident's other services that call this one (transitively).
  Faults travel from callee to callers, so a service that the other alerting services depend on
  explains their alerts; a service that depends on them does not.
* *resource*: the service has a saturation alert of its own (CPU, memory, disk ...): a cause
  rather than a symptom such as latency seen by a caller.
* *earliness*: 1 for the service whose first alert came first, decaying with the delay.
* *share*: the service's share of the incident's alerts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from tocsin.intelligence.correlation.topology import ServiceGraph

RESOURCE_WORDS = ("cpu", "memory", "mem", "disk", "saturat", "oom", "throttl", "fd", "thread")


@dataclass(frozen=True)
class RootCauseWeights:
    dependents: float = 1.0
    resource: float = 1.5
    earliness: float = 0.5
    share: float = 0.3
    earliness_scale_s: float = 120.0


@dataclass
class ServiceEvidence:
    """What an incident knows about one of its services; kept up to date as alerts join."""

    first_seen: float
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


def rank_root_causes(
    services: dict[str, ServiceEvidence], graph: ServiceGraph | None, weights: RootCauseWeights
) -> list[RootCauseCandidate]:
    if not services:
        return []
    total = sum(e.alerts for e in services.values()) or 1
    first = min(e.first_seen for e in services.values())
    out = []
    for svc, ev in services.items():
        others = [s for s in services if s != svc]
        reasons = []
        dep = 0.0
        if graph is not None and others:
            callers = [s for s in others if graph.depends_on(s, svc) and not graph.depends_on(svc, s)]
            dep = len(callers) / len(others)
            if callers:
                reasons.append(f"{len(callers)} of {len(others)} other alerting services depend on it")
        res = 1.0 if ev.resource_alerts else 0.0
        if res:
            reasons.append(f"{ev.resource_alerts} saturation alert(s) of its own")
        delay = ev.first_seen - first
        early = math.exp(-delay / weights.earliness_scale_s)
        reasons.append(
            "first to alert" if delay <= 0 else f"first alert {delay:.0f} s after the incident began"
        )
        share = ev.alerts / total
        score = (
            weights.dependents * dep
            + weights.resource * res
            + weights.earliness * early
            + weights.share * share
        )
        out.append(RootCauseCandidate(svc, round(score, 6), tuple(reasons)))
    out.sort(key=lambda c: (-c.score, services[c.service].first_seen, c.service))
    return out
