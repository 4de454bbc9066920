"""Incidents across groups: the alert correlator (``tocsin.intelligence.correlate``) decides
when a new aggregation group belongs to an incident that is already open.

Alertmanager-style grouping keeps ``HighLatency{service=frontend}`` and
``CPUSaturated{service=cart}`` apart, so each would page on its own. With ``correlation`` in
incidents.yml, every alert that starts firing is also fed to a streaming correlator (time, the
service graph given in the config, label and text similarity); when the first flush of a group
finds its alerts joined to alerts of an open incident, the group joins that incident (a
``correlated`` timeline entry says which signals joined it) instead of opening one, and the
incident lists its probable root-cause services.

The correlator works on each tenant's alerts apart. With ``correlation.history`` (on by default)
every alert it sees is also learned (``correlation_history.LearnedHistory``): which kinds of
alert fire together and how common each token is. Once a tenant's history is large enough, its
correlator reads the co-occurrence counts live (a join can then say "co-occurred 12 times
before") and re-reads the token weights and the learned service graph every
``refresh_interval``, keeping its open incidents. The history is saved by the service shell; the
correlator's open incidents live in memory only: after a restart, groups already joined stay
joined (the incident manager stores that), and new alerts are correlated with what arrives from
then on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tocsin.incidents.correlation_history import LearnedHistory
from tocsin.incidents.setup import CorrelationSetup
from tocsin.model import Alert

if TYPE_CHECKING:
    from tocsin.intelligence.correlate import CorrelationDecision, Correlator, Explanation
    from tocsin.intelligence.correlation.metric_probe import MetricProbe

#: alerts whose correlation is remembered per tenant (the oldest are forgotten first)
MAX_TRACKED = 100_000
#: alerts of one kind (service and alert name) fed to the correlator per call; the rest of a storm
#: take the decision of their kind's last one. A storm of thousands of alerts of a few kinds (a
#: node down, every pod on it alerting) tells the correlator nothing more than a few of each, and
#: feeding them all held the event loop for seconds (5,000 alerts: 1-2 s).
MAX_PER_KIND = 20


class GroupCorrelator:
    def __init__(self, setup: CorrelationSetup, history: LearnedHistory | None = None) -> None:
        self.setup = setup
        #: learned from every alert fed (None: correlation.history is off)
        self.history = history
        self._by_tenant: dict[str, Correlator] = {}
        #: when each tenant's correlator last re-read its history (the manager's ``now``)
        self._refreshed: dict[str, float] = {}
        #: (tenant, fingerprint) -> (starts_at fed, correlator incident id, why it went there)
        self._alerts: dict[tuple[str, int], tuple[float, str, Explanation]] = {}
        #: (tenant, correlator incident id) -> tocsin incident id, and the other way round
        self._claimed: dict[tuple[str, str], str] = {}
        self._claims: dict[tuple[str, str], set[str]] = {}

    def _correlator(self, tenant_id: str) -> Correlator:
        c = self._by_tenant.get(tenant_id)
        if c is None:
            c = self._by_tenant[tenant_id] = build_correlator(self.setup)
        return c

    def observe(
        self, tenant_id: str, firing: Iterable[Alert], resolved: Iterable[Alert], now: float | None = None
    ) -> bool:
        """Feed alerts that started firing (each once per firing) and forget resolved ones; True
        when some alert was new (a group flushes every group_interval, mostly with nothing new).
        ``now`` paces the re-reading of the learned history (never, without it)."""
        new = [
            a
            for a in firing
            if (known := self._alerts.get((tenant_id, a.fingerprint))) is None or known[0] != a.starts_at
        ]
        if new:
            c = self._correlator(tenant_id)
            if now is not None:
                self._maybe_refresh(tenant_id, c, now)
            # The correlator reads the stream in start order.
            history = self.history
            fed: dict[tuple[str, str], tuple[int, CorrelationDecision]] = {}
            for a in sorted(new, key=lambda x: x.starts_at):
                kind = (c.service_of(a), a.name)
                seen = fed.get(kind)
                if seen is not None and seen[0] >= MAX_PER_KIND:
                    d = seen[1]
                else:
                    d = c.add(a)
                    fed[kind] = (1 if seen is None else seen[0] + 1, d)
                    if history is not None:
                        # After the join: "co-occurred N times before" counts only earlier alerts.
                        history.learn(tenant_id, a, kind[0])
                self._alerts[(tenant_id, a.fingerprint)] = (a.starts_at, d.incident_id, d.explanation)
            while len(self._alerts) > MAX_TRACKED:
                del self._alerts[next(iter(self._alerts))]
        for a in resolved:
            self._alerts.pop((tenant_id, a.fingerprint), None)
        return bool(new)

    def _maybe_refresh(self, tenant_id: str, c: Correlator, now: float) -> None:
        history = self.history
        if history is None or not history.mature(tenant_id):
            return
        if now - self._refreshed.get(tenant_id, float("-inf")) < history.setup.refresh_interval:
            return
        self._refreshed[tenant_id] = now
        c.use_history(history.tenant(tenant_id).model, history.weights(tenant_id))

    def joined_incident(self, tenant_id: str, firing: Sequence[Alert]) -> tuple[str, str] | None:
        """(tocsin incident id, explanation) when one of these alerts was joined to alerts that
        an incident already holds; the earliest such alert decides."""
        for a in sorted(firing, key=lambda x: x.starts_at):
            known = self._alerts.get((tenant_id, a.fingerprint))
            if known is None or not known[2].joined:
                continue
            incident_id = self._claimed.get((tenant_id, known[1]))
            if incident_id is not None:
                return incident_id, f"{a.name or 'alert'}: {known[2]}"
        return None

    def claim(self, tenant_id: str, firing: Iterable[Alert], incident_id: str) -> None:
        """Correlated alerts of these alerts now belong to ``incident_id`` (unless already claimed)."""
        for a in firing:
            known = self._alerts.get((tenant_id, a.fingerprint))
            if known is not None and (tenant_id, known[1]) not in self._claimed:
                self._claimed[(tenant_id, known[1])] = incident_id
                self._claims.setdefault((tenant_id, incident_id), set()).add(known[1])
        while len(self._claimed) > MAX_TRACKED:
            (tenant, cid), inc = next(iter(self._claimed.items()))
            del self._claimed[(tenant, cid)]
            self._claims.get((tenant, inc), set()).discard(cid)

    def causes(self, tenant_id: str, incident_id: str, top: int = 3) -> list[dict[str, Any]]:
        """Probable root-cause services of the incident, from the correlated alerts it holds."""
        job = self.causes_job(tenant_id, incident_id, top)
        return [] if job is None else job()

    def causes_job(
        self, tenant_id: str, incident_id: str, top: int = 3, probe: MetricProbe | None = None
    ) -> Callable[[], list[dict[str, Any]]] | None:
        """:meth:`causes` as a call that may run on a worker thread (what it reads is copied now),
        optionally with a metric probe; None when correlation knows nothing of the incident."""
        ids = self._claims.get((tenant_id, incident_id))
        c = self._by_tenant.get(tenant_id)
        if c is None or not ids:
            return None
        # The correlator incident holding most of the incident's alerts speaks for it.
        best = max(ids, key=lambda cid: _alert_count(c, cid))
        try:
            rank = c.root_causes_job(best, top=top, probe=probe)
        except KeyError:  # evicted from the correlator's bounded memory
            return None

        def run() -> list[dict[str, Any]]:
            return [
                {"service": r.service, "score": round(r.score, 3), "reasons": list(r.reasons)} for r in rank()
            ]

        return run


def _alert_count(c: Correlator, incident_id: str) -> int:
    try:
        return c.incident(incident_id).alert_count
    except KeyError:
        return 0


def build_correlator(setup: CorrelationSetup) -> Correlator:
    """A correlator for the setup, without history: a tenant's learned history joins it once it
    is large enough (``GroupCorrelator._maybe_refresh``). numpy and the correlation code load
    only when correlation is configured."""
    from dataclasses import replace

    from tocsin.intelligence.correlate import CorrelationConfig, Correlator
    from tocsin.intelligence.correlation.topology import ServiceGraph

    config = CorrelationConfig(
        join_threshold=setup.join_threshold,
        max_gap_s=setup.max_gap,
        service_labels=setup.service_labels,
        root_cause_by_component=setup.root_cause_by_component,
    )
    if setup.root_cause is not None:
        config = replace(config, root_cause=setup.root_cause)
    return Correlator(config, graph=ServiceGraph(setup.edges) if setup.edges else None)
