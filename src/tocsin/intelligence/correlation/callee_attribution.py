"""Attribute the callers' client-side latency rises to the services they call.

A network delay or an exception injected on a service barely moves that service's own metrics: its
server-side latency and CPU stay where they were. Every service that *calls* it, though, waits
longer for its answers, and its client-side latency (how long the calls it makes take) rises.
OnlineBoutique ships the latency of each caller → callee edge, which the metric probe attributes to
the callee directly; a system that only measures per-pod client latency says *that* a caller waited,
not on whom. The call graph narrows it down: a service whose callers all waited is a likelier cause
than one whose only caller also calls five other services.

For a candidate ``C`` with ``n`` callers (from the graph, those the probe measures), ``m`` of which
had a client-latency rise during the incident, the evidence is how unlikely ``m`` or more rising
callers would be by chance, given the share ``p`` of all measured services whose client latency
rose in the same window in ``C``'s component of the graph (Laplace-smoothed:
``(rising + 1) / (measured + 2)``)::

    tail = P(Binomial(n, p) >= m),   e = -log10(tail),   score = e / (e + 1)   (0 when m = 0)

so a rise at every caller of a service with several callers counts for much, a rise at the one
caller of a service for little, and rises everywhere (a high base rate, as in a global slowdown) for
nothing. A caller's client latency *rose* when one of its client-latency series stayed more than
``threshold`` robust standard deviations above its trailing median for at least ``samples``
samples of the window (:func:`~tocsin.intelligence.correlation.metric_probe.held_rise`): the
persistence keeps one-sample blips, frequent in per-pod client latency, from counting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tocsin.intelligence.correlation.metric_probe import ClientLatencyProbe
from tocsin.intelligence.correlation.topology import ServiceGraph


@dataclass(frozen=True)
class CallerEvidence:
    """What the callers of one candidate say about it."""

    score: float  # in [0, 1)
    rising: int  # callers whose client latency rose
    callers: int  # callers the probe measures
    chance: float  # probability of at least ``rising`` of ``callers`` rising at the base rate
    base_rising: int  # measured services whose client latency rose
    base_measured: int  # measured services in the graph


def binomial_tail(n: int, m: int, p: float) -> float:
    """P(X >= m) for X ~ Binomial(n, p)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    if m <= 0:
        return 1.0
    if m > n:
        return 0.0
    return min(1.0, sum(math.comb(n, j) * p**j * (1.0 - p) ** (n - j) for j in range(m, n + 1)))


def caller_evidence(
    graph: ServiceGraph,
    probe: ClientLatencyProbe,
    candidates: list[str],
    start: float,
    end: float,
    threshold: float = 3.0,
    samples: int = 2,
) -> dict[str, CallerEvidence]:
    """Evidence for each candidate with at least one measured caller; the window is the incident's."""
    if not (math.isfinite(threshold) and threshold >= 0):
        raise ValueError(f"threshold must be a finite number >= 0, got {threshold!r}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    # A probe that cannot list its services in advance (a metrics store queried per window) is asked
    # about every service of the graph; those it has no client-latency series for are not measured.
    known = probe.client_services
    asked = set(graph.services) if known is None else set(known) & set(graph.services)
    measured: set[str] = set()
    rising: set[str] = set()
    for svc in sorted(asked):
        rise = probe.client_rise(svc, start, end, samples)
        if rise is None:
            continue
        measured.add(svc)
        if rise > threshold:
            rising.add(svc)
    if not measured:
        return {}
    # The base rate is taken within the candidate's component of the graph: a system that does not
    # call this one (another team's, behind the same alert manager) says nothing about how common a
    # rise is here.
    measured_in: dict[int | None, int] = {}
    rising_in: dict[int | None, int] = {}
    for svc in measured:
        component = graph.component_id(svc)
        measured_in[component] = measured_in.get(component, 0) + 1
        rising_in[component] = rising_in.get(component, 0) + (svc in rising)
    out: dict[str, CallerEvidence] = {}
    for cand in candidates:
        callers = [c for c in graph.callers(cand) if c in measured]
        if not callers:
            continue
        component = graph.component_id(cand)
        base_rising, base_measured = rising_in[component], measured_in[component]
        p = (base_rising + 1) / (base_measured + 2)
        m = sum(1 for c in callers if c in rising)
        tail = binomial_tail(len(callers), m, p)
        e = -math.log10(max(tail, 1e-300)) if m else 0.0
        out[cand] = CallerEvidence(e / (e + 1.0), m, len(callers), tail, base_rising, base_measured)
    return out
