"""Counterfactual copies of labelled incidents in which the culprit stayed silent.

Root-cause weights are selected on a day of labelled faults (the benchmark's protocol; a deployment
would use its own labelled history). When every culprit of that day raised an alert of its own, any
weights that rank an alerting culprit first look perfect, and nothing on the day shows what the
evidence for a *silent* culprit is worth: a network delay or an exception that shows only at the
services calling it. The selection then cannot tell "the callers' client latency helps" from "it
does not", and keeps whichever grid point comes first.

A labelled fault can answer "what if the culprit had not shown it itself?" without any other data:

* the culprit's own alerts are taken away. Faults travel from a callee to its callers, so what the
  culprit's alerts said is then seen one hop up: each service that calls it directly (in the
  configured graph) holds the culprit's alerts instead, as symptoms (latency, not saturation: a
  caller waits, it is not itself saturated). Without a graph, or for a culprit nothing calls, the
  alerts are only taken away;
* the culprit's own metrics are hidden from the metric probe (:class:`HiddenOwnMetrics`): the alert
  rules read the same own-pod series the probe does, so a culprit that raised no alert is one whose
  own series did not show the fault clearly — and a delay or an exception does not move them.

What stays is everything the culprit did *not* say about itself: its callers' client latency, the
other services' alerts and metrics. The fault's label is unchanged (the same culprit), so the copies
can be scored beside the originals when weights are selected. The copies are built from the labelled
day alone; nothing about any other day is used.
"""

from __future__ import annotations

from collections.abc import Mapping

from tocsin.intelligence.correlation.metric_probe import ClientLatencyProbe, MetricProbe
from tocsin.intelligence.correlation.rootcause import ServiceEvidence
from tocsin.intelligence.correlation.topology import ServiceGraph


def silenced_incident(
    services: Mapping[str, ServiceEvidence],
    culprit: str,
    graph: ServiceGraph | None,
    move_to_callers: bool = True,
) -> dict[str, ServiceEvidence] | None:
    """The incident's per-service evidence as if ``culprit`` had raised no alert: its alerts removed
    and (``move_to_callers``, with a graph) seen at each of its direct callers instead. None when the
    culprit did not alert in the incident (there is nothing to silence) or nothing would be left to
    rank."""
    own = services.get(culprit)
    if own is None or own.alerts <= 0:
        return None
    out = {
        s: ServiceEvidence(e.first_seen, e.last_seen, e.alerts, e.resource_alerts)
        for s, e in services.items()
    }
    del out[culprit]
    callers = graph.callers(culprit) if graph is not None and move_to_callers else []
    for caller in callers:
        ev = out.get(caller)
        if ev is None:
            # The caller saw the culprit's alerts as latency of its own: none of them a saturation.
            out[caller] = ServiceEvidence(own.first_seen, own.last_seen, own.alerts, 0)
        else:
            ev.first_seen = min(ev.first_seen, own.first_seen)
            ev.last_seen = max(ev.last_seen, own.last_seen)
            ev.alerts += own.alerts
    return out or None


class HiddenOwnMetrics:
    """A probe that does not see some services' own metrics and otherwise answers as ``probe`` does —
    client latency included, so the callers of a hidden service still say they waited.

    ``outside`` (optional) answers for a hidden service from the series measured *outside* it (the
    latency of calls into it as its callers see them, where a system ships that): a culprit that
    raised no alert still shows there. Without it a hidden service deviates by 0."""

    def __init__(
        self, probe: MetricProbe, hidden: frozenset[str], outside: MetricProbe | None = None
    ) -> None:
        self.probe = probe
        self.hidden = hidden
        self.outside = outside

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        if service in self.hidden:
            return self.outside.deviation(service, start, end) if self.outside is not None else (0.0, "")
        return self.probe.deviation(service, start, end)

    @property
    def client_services(self) -> list[str] | None:
        if isinstance(self.probe, ClientLatencyProbe):
            return self.probe.client_services
        return []

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        if isinstance(self.probe, ClientLatencyProbe):
            return self.probe.client_rise(service, start, end, samples)
        return None
