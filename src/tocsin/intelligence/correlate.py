"""Streaming correlation of alerts into incidents, with an explanation for every join.

Each new alert is compared with the incidents that are still open (their latest alert at most
``max_gap_s`` earlier). Per candidate incident these signals are scored in [0, 1]:

* **time**: ``exp(-gap / time_scale_s)``, gap being the time since the incident's latest alert.
* **topology**: 1 for a service the incident already has, else ``1 - hops / (max_hops + 1)`` to
  its nearest service in the service graph, 0 without a path. The graph comes from config, or is
  learned from the co-occurrence history (``learn_topology``). With a configured graph, a service
  that has no path to any of the incident's services is *kept apart* whatever the other signals
  say: the graph is taken as complete.
* **similarity**: the IDF-weighted share of the alert's label and text tokens the incident carries.
* **co-occurrence**: from an alert history, the strongest pairing of the alert's
  ``service/alertname`` with one of the incident's (or, discounted, service with service, or how
  often this service's alerts came with another service's at all — a gateway's nearly always do).
* **coincidence**: ``exp(-rate · gap)`` with ``rate`` the history's alerts per second: how unlikely
  it is that two alerts start this close together by chance in a stream this sparse.

The evidence, a weighted sum of the last four (weights normalised over the signals available:
without a history there is no co-occurrence or coincidence), is multiplied by the time factor.
The best incident wins when the product reaches ``join_threshold``; otherwise the alert opens an
incident. A re-post of an alert that is still firing (same fingerprint, started before the stored
instance ended) goes back to the incident it is in.

Root causes (``Correlator.root_causes``) rank the incident's alerting services and the services
they call, optionally with weak evidence from a :class:`MetricProbe` (how far each service's own
metrics deviated during the incident, alert or no alert); see ``correlation/rootcause.py``. The
probe is consulted only when root causes are asked for, never while alerts are grouped. The
ranking's weights may differ per component of the service graph (separate systems behind one
correlator; ``root_cause_by_component``, see ``correlation/component_weights.py``).

State is bounded: an incident closes when it has been idle for ``idle_close_s`` (event time), only
``max_open_incidents`` stay open (the least recently active closes first), and only
``max_closed_incidents`` closed ones are kept for lookup.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from tocsin.intelligence.correlation.component_weights import (
    ComponentResolver,
    ComponentWeights,
    check_component_weights,
)
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel, alert_key
from tocsin.intelligence.correlation.metric_probe import MetricProbe
from tocsin.intelligence.correlation.rootcause import (
    RootCauseCandidate,
    RootCauseWeights,
    ServiceEvidence,
    is_resource_alert,
    rank_root_causes,
)
from tocsin.intelligence.correlation.text import (
    IdfWeights,
    alert_tokens,
    weighted_overlap,
    weighted_overlap_score,
)
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

#: Signal names an explanation can carry.
SIGNALS = ("identity", "time", "coincidence", "topology", "similarity", "cooccurrence")
SERVICE_HISTORY_DISCOUNT = 0.8
COMPANION_DISCOUNT = 0.7


@dataclass(frozen=True)
class CorrelationConfig:
    max_gap_s: float = 240.0
    time_scale_s: float = 600.0
    # Chosen on the benchmark grid (benchmarks/correlation): the point selected on OnlineBoutique
    # and picked on three of the four training days. A base-rate coincidence signal is available
    # but off by default: on the Nezha streams it joined unrelated alerts more than it helped.
    join_threshold: float = 0.25
    w_topology: float = 0.3
    w_similarity: float = 0.15
    w_cooccurrence: float = 0.25
    w_coincidence: float = 0.0
    idle_close_s: float = 600.0
    max_open_incidents: int = 500
    max_closed_incidents: int = 10_000
    max_alerts_kept: int = 1000
    service_labels: tuple[str, ...] = ("service", "app", "job", "deployment", "container")
    #: With no graph in config, derive one from the co-occurrence history.
    learn_topology: bool = True
    #: A signal below this is left out of the explanation: it did not help the join.
    explain_floor: float = 0.05
    root_cause: RootCauseWeights = field(default_factory=RootCauseWeights)
    #: Root-cause weights for some components of the service graph (systems that do not call each
    #: other), each named by one of its services; incidents elsewhere use ``root_cause``. See
    #: ``correlation/component_weights.py`` (``component_weights_from_mapping`` reads it from YAML).
    root_cause_by_component: ComponentWeights = ()

    def __post_init__(self) -> None:
        if not isinstance(self.root_cause, RootCauseWeights):
            kind = type(self.root_cause).__name__
            raise ValueError(f"correlation config: root_cause must be RootCauseWeights, got {kind}")
        check_component_weights(self.root_cause_by_component)
        positive = ("max_gap_s", "time_scale_s", "idle_close_s")
        for name in positive:
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"correlation config: {name} must be a finite number > 0, got {value!r}")
        if not 0.0 < self.join_threshold <= 1.0:
            raise ValueError(
                f"correlation config: join_threshold must be in (0, 1], got {self.join_threshold}"
            )
        weights = (self.w_topology, self.w_similarity, self.w_cooccurrence, self.w_coincidence)
        if any(w < 0 or not math.isfinite(w) for w in weights) or sum(weights) <= 0:
            raise ValueError(
                f"correlation config: signal weights must be >= 0 with a positive sum, got {weights}"
            )
        for name in ("max_open_incidents", "max_closed_incidents", "max_alerts_kept"):
            if getattr(self, name) < 1:
                raise ValueError(f"correlation config: {name} must be >= 1, got {getattr(self, name)}")
        if not self.service_labels:
            raise ValueError("correlation config: service_labels must name at least one label")


@dataclass(slots=True)
class _Scored:
    """One candidate incident's signal values for the arriving alert."""

    time_f: float
    gap: float
    topo: float = 0.0
    nearest: tuple[int, str] | None = None
    far: bool = False
    sim: float = 0.0
    co: float = 0.0
    co_with: str = ""  # the key or "service X" it paired with; "" for the companion rate
    coincidence: float = 0.0
    score: float = 0.0


@dataclass(frozen=True)
class SignalEvidence:
    signal: str
    score: float
    detail: str


class Explanation:
    """Why an alert joined an incident (or why it opened one).

    The text of the signals is written on first access: most explanations of a busy stream are
    never read, and writing them eagerly would cost more than the correlation itself. Everything
    the text needs is captured when the decision is made, so it does not change later.
    """

    __slots__ = ("_build", "_signals", "joined", "score")

    def __init__(
        self,
        joined: bool,
        score: float,
        signals: tuple[SignalEvidence, ...] | None = None,
        build: Callable[[], tuple[SignalEvidence, ...]] | None = None,
    ) -> None:
        if (signals is None) == (build is None):
            raise ValueError("Explanation needs exactly one of signals or build")
        self.joined = joined
        self.score = score
        self._signals = signals
        self._build = build

    @property
    def signals(self) -> tuple[SignalEvidence, ...]:
        if self._signals is None:
            assert self._build is not None
            self._signals = self._build()
            self._build = None
        return self._signals

    def __repr__(self) -> str:
        return f"Explanation(joined={self.joined}, score={self.score:.3f}, text={str(self)!r})"

    @property
    def signal_names(self) -> tuple[str, ...]:
        return tuple(s.signal for s in self.signals)

    def __str__(self) -> str:
        if not self.signals:
            return "opened a new incident: no open incident was close enough"
        body = ", ".join(s.detail for s in self.signals)
        if self.joined:
            return f"joined (score {self.score:.2f}): {body}"
        return f"opened a new incident; best open candidate scored {self.score:.2f}: {body}"


@dataclass(frozen=True)
class CorrelationDecision:
    incident_id: str
    new_incident: bool
    explanation: Explanation


@dataclass
class Incident:
    incident_id: str
    opened_at: float
    last_seen: float
    alert_count: int = 0
    alerts: list[Alert] = field(default_factory=list)
    services: dict[str, ServiceEvidence] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    explanations: list[Explanation] = field(default_factory=list)
    fingerprints: set[int] = field(default_factory=set)
    closed: bool = False


def _strongest_pairing(
    history: CooccurrenceModel, key: str, service: str, inc: Incident
) -> tuple[float, str]:
    """The co-occurrence signal: the strongest pairing of the alert with the incident, and what it
    paired with (a key, ``service X``, or "" for the companion rate); the first met wins a tie.

    A strength is at most 1, so the walk over the incident's keys stops at the first 1 and the
    discounted service-level and companion values are not read once they cannot win: in a dense
    storm most pairings saturate, and the walk would otherwise cost as many reads per candidate as
    the incident has kinds of alert. What it returns is what the full walk would.
    """
    co, co_with = 0.0, ""
    strength = history.strength_value
    for other in inc.keys:
        st = strength(key, other)
        if st > co:
            co, co_with = st, other
            if st >= 1.0:
                return co, co_with
    # Service-level history backs up rare alert kinds, discounted because it is coarser.
    if co < SERVICE_HISTORY_DISCOUNT:
        service_strength = history.service_strength_value
        for other_service in inc.services:
            st = service_strength(service, other_service) * SERVICE_HISTORY_DISCOUNT
            if st > co:
                co, co_with = st, f"service {other_service}"
                if st >= SERVICE_HISTORY_DISCOUNT:
                    break
    if co < COMPANION_DISCOUNT:
        st = history.companion_value(service) * COMPANION_DISCOUNT
        if st > co:
            co, co_with = st, ""
    return co, co_with


class Correlator:
    """Groups a stream of alerts (ordered by ``starts_at``, small disorder tolerated) into incidents."""

    def __init__(
        self,
        config: CorrelationConfig | None = None,
        graph: ServiceGraph | None = None,
        history: CooccurrenceModel | None = None,
        idf: IdfWeights | None = None,
        probe: MetricProbe | None = None,
    ) -> None:
        self.config = config or CorrelationConfig()
        # Consulted only when root causes are ranked, never while alerts are grouped.
        self.probe = probe
        # Only a graph given as config is taken as complete: there, no path means "unrelated". A
        # learned graph only knows what the history showed, so a missing path proves nothing.
        self._configured_graph = graph
        self._graph_complete = graph is not None
        self._open: OrderedDict[str, Incident] = OrderedDict()  # least recently active first
        self._closed: OrderedDict[str, Incident] = OrderedDict()
        self._by_fingerprint: dict[int, tuple[str, float]] = {}
        self._next_id = 1
        self._now = float("-inf")
        self.graph: ServiceGraph | None = None
        self._learned_edges: list[tuple[str, str]] = []
        self._components: ComponentResolver | None = None
        self.use_history(history, idf)

    def use_history(self, history: CooccurrenceModel | None, idf: IdfWeights | None = None) -> None:
        """Switch to another history and IDF weights (or re-read the ones in use after they
        learned more) without losing the open incidents: the learned graph, the base rate and the
        signal weights are derived again. A history object that keeps learning is read live by the
        co-occurrence signal; what this re-derives changes only when it is called."""
        self.history = history
        graph = self._configured_graph
        if graph is None and history is not None and self.config.learn_topology:
            learned = history.service_edges()
            # A graph is immutable and made from its edges alone: when the learned edges did not
            # change since the last call (the usual case once a history has matured), the one in
            # use is the graph they would make.
            if learned and learned == self._learned_edges and self.graph is not None:
                graph = self.graph
            else:
                graph = ServiceGraph(learned) if learned else None
            self._learned_edges = learned
        # Which root-cause weights apply where follows the graph; a configured graph is checked
        # against the configuration here, at construction, so a typo is an error, not a silent default.
        if self._components is None or graph is not self.graph:
            self._components = ComponentResolver(
                self.config.root_cause_by_component, graph, self._graph_complete
            )
        self.graph = graph
        self.idf = idf or IdfWeights()
        w = self.config
        self._rate = history.alert_rate() if history is not None else 0.0
        # Weights are normalised over the signals this correlator actually has: without a history
        # there is no co-occurrence and no base rate, and the remaining signals carry the decision.
        has_history = history is not None
        raw = (
            w.w_topology,
            w.w_similarity,
            w.w_cooccurrence if has_history else 0.0,
            w.w_coincidence if has_history and self._rate > 0 else 0.0,
        )
        total = sum(raw)
        if total <= 0:
            raise ValueError(
                "correlation config: the signals available here (no co-occurrence history) all have weight 0"
            )
        self._w = (raw[0] / total, raw[1] / total, raw[2] / total, raw[3] / total)

    # --- public API ----------------------------------------------------------------------------

    def service_of(self, alert: Alert) -> str:
        for name in self.config.service_labels:
            value = alert.labels.get(name)
            if value:
                return value
        return ""

    def add(self, alert: Alert) -> CorrelationDecision:
        if not isinstance(alert, Alert):
            raise TypeError(f"Correlator.add expects a tocsin.model.Alert, got {type(alert).__name__}")
        if not math.isfinite(alert.starts_at) or alert.starts_at <= 0:
            raise ValueError(
                f"alert {alert.name or alert.labels!r} has no valid starts_at: {alert.starts_at!r}"
            )
        t = alert.starts_at
        self._now = max(self._now, t)
        self._close_idle(self._now)

        # A re-post of an alert that is still firing continues it; a new firing of the same label
        # set after the old one ended is a new event and is scored like any other alert.
        known, known_end = self._by_fingerprint.get(alert.fingerprint, ("", 0.0))
        if known in self._open and t <= known_end:
            explanation = Explanation(
                True, 1.0, (SignalEvidence("identity", 1.0, "same alert (fingerprint) already in it"),)
            )
            self._attach(self._open[known], alert, explanation)
            return CorrelationDecision(known, False, explanation)

        service = self.service_of(alert)
        key = alert_key(alert, service)
        tokens = alert_tokens(alert)
        best: Incident | None = None
        best_scored: _Scored | None = None
        max_gap = self.config.max_gap_s
        for inc in self._open.values():
            gap = t - inc.last_seen
            if gap > max_gap:
                continue
            scored = self._score(inc, max(gap, 0.0), service, key, tokens)
            if best_scored is None or scored.score > best_scored.score:
                best, best_scored = inc, scored
        best_score = best_scored.score if best_scored is not None else 0.0
        build = self._explainer(best_scored, best, service, key, tokens)

        if best is not None and best_score >= self.config.join_threshold:
            explanation = Explanation(True, best_score, build=build)
            self._attach(best, alert, explanation, service, key, tokens)
            return CorrelationDecision(best.incident_id, False, explanation)

        inc = self._open_incident(t)
        explanation = Explanation(False, max(best_score, 0.0), build=build)
        self._attach(inc, alert, explanation, service, key, tokens)
        return CorrelationDecision(inc.incident_id, True, explanation)

    def incidents(self, include_closed: bool = True) -> list[Incident]:
        found = list(self._open.values())
        if include_closed:
            found += list(self._closed.values())
        return sorted(found, key=lambda i: (i.opened_at, i.incident_id))

    def incident(self, incident_id: str) -> Incident:
        inc = self._open.get(incident_id) or self._closed.get(incident_id)
        if inc is None:
            raise KeyError(f"unknown or evicted incident {incident_id!r}")
        return inc

    def root_causes(self, incident_id: str, top: int = 3) -> list[RootCauseCandidate]:
        return self.root_causes_job(incident_id, top)()

    def root_causes_job(
        self, incident_id: str, top: int = 3, probe: MetricProbe | None = None
    ) -> Callable[[], list[RootCauseCandidate]]:
        """The ranking of :meth:`root_causes` as a call that may run on another thread: what it
        reads of the incident is copied now, so alerts added meanwhile do not race it. A probe
        doing network I/O belongs there, off the thread that feeds alerts. ``probe`` defaults to
        the correlator's own."""
        if top < 1:
            raise ValueError(f"top must be >= 1, got {top}")
        inc = self.incident(incident_id)
        services = {name: replace(ev) for name, ev in inc.services.items()}
        _, weights = self.root_cause_weights(incident_id)
        graph, directions = self.graph, self._graph_complete
        use = probe if probe is not None else self.probe

        def rank() -> list[RootCauseCandidate]:
            return rank_root_causes(services, graph, weights, use, graph_has_directions=directions)[:top]

        return rank

    def root_cause_weights(self, incident_id: str) -> tuple[str | None, RootCauseWeights]:
        """The root-cause weights that rank this incident and the service naming their component
        in ``root_cause_by_component`` (None: the default ``root_cause``)."""
        inc = self.incident(incident_id)
        assert self._components is not None
        return self._components.for_incident(inc.services, self.config.root_cause)

    def advance(self, now: float) -> None:
        """Move event time forward without an alert, closing incidents idle since before ``now``."""
        self._now = max(self._now, now)
        self._close_idle(self._now)

    @property
    def open_count(self) -> int:
        return len(self._open)

    # --- internals -----------------------------------------------------------------------------

    def _score(self, inc: Incident, gap: float, service: str, key: str, tokens: frozenset[str]) -> _Scored:
        """Numbers only: this runs for every open candidate, so explanation text waits for the winner."""
        time_f = math.exp(-gap / self.config.time_scale_s)
        out = _Scored(time_f=time_f, gap=gap)
        graph = self.graph
        if service:
            if service in inc.services:
                out.topo = 1.0
                out.nearest = (0, service)
            elif graph is not None and service in graph:
                nearest: tuple[int, str] | None = None
                for other in inc.services:
                    d = graph.distance(service, other)
                    if d is not None and (nearest is None or (d, other) < nearest):
                        nearest = (d, other)
                if nearest is not None:
                    out.topo = 1.0 - nearest[0] / (graph.max_hops + 1.0)
                    out.nearest = nearest
                elif self._graph_complete and inc.services and all(s in graph for s in inc.services):
                    out.far = True
                    return out
        if tokens:
            out.sim = weighted_overlap_score(tokens, inc.tokens, self.idf)
        if self.history is not None:
            out.co, out.co_with = _strongest_pairing(self.history, key, service, inc)
        out.coincidence = math.exp(-self._rate * gap) if self._rate > 0 else 0.0
        w = self._w
        out.score = time_f * (w[0] * out.topo + w[1] * out.sim + w[2] * out.co + w[3] * out.coincidence)
        return out

    def _explainer(
        self, s: _Scored | None, inc: Incident | None, service: str, key: str, tokens: frozenset[str]
    ) -> Callable[[], tuple[SignalEvidence, ...]]:
        """Capture what the explanation needs now; write its text later, on demand."""
        if s is None or inc is None:
            return tuple
        shared = tokens & inc.tokens if s.sim >= self.config.explain_floor else frozenset()
        # A history may keep learning (the service's does): its counts are read now, as they were
        # when the decision was made.
        counts = self._history_counts(s, service, key)
        return lambda: self._explain(s, shared, service, key, tokens, counts)

    def _history_counts(self, s: _Scored, service: str, key: str) -> tuple[int, int]:
        h = self.history
        if h is None or s.co < self.config.explain_floor:
            return (0, 0)
        if not s.co_with:
            return (h.companion_rate(service).count, h.service_counts[service])
        if s.co_with.startswith("service "):
            return (h.service_strength(service, s.co_with[len("service ") :]).count, 0)
        return (h.strength(key, s.co_with).count, 0)

    def _explain(
        self,
        s: _Scored,
        shared_tokens: frozenset[str],
        service: str,
        key: str,
        tokens: frozenset[str],
        counts: tuple[int, int],
    ) -> tuple[SignalEvidence, ...]:
        floor = self.config.explain_floor
        signals = [SignalEvidence("time", s.time_f, f"{s.gap:.0f} s apart")]
        w_topo, w_sim, w_co, w_coin = self._w
        # A signal is named only when it counted: non-zero weight and a value above the floor.
        if w_coin > 0 and s.coincidence >= floor and not s.far:
            signals.append(
                SignalEvidence(
                    "coincidence",
                    s.coincidence,
                    f"unlikely by chance: the history has one alert per {1.0 / self._rate:.0f} s "
                    f"(chance {1.0 - s.coincidence:.0%})",
                )
            )
        if s.far:
            hops = self.graph.max_hops if self.graph is not None else 0
            signals.append(
                SignalEvidence("topology", 0.0, f"no service graph path within {hops} hops: kept apart")
            )
            return tuple(signals)
        if w_topo > 0 and s.topo >= floor and s.nearest is not None:
            hops, other = s.nearest
            if hops == 0:
                text = f"same service {service}"
            else:
                path = self.graph.arrow_path(other, service) if self.graph is not None else ""
                text = f"service graph path {path} ({hops} hop{'s' if hops > 1 else ''})"
            signals.append(SignalEvidence("topology", s.topo, text))
        if w_sim > 0 and s.sim >= floor:
            sim, shared = weighted_overlap(tokens, shared_tokens, self.idf)
            signals.append(
                SignalEvidence(
                    "similarity", sim, f"label/text similarity {sim:.2f} ({', '.join(shared[:3])})"
                )
            )
        if w_co > 0 and s.co >= floor and self.history is not None:
            n, seen = counts
            if not s.co_with:
                text = f"{service} alerts came with other services' alerts {n} of {seen} times before"
            elif s.co_with.startswith("service "):
                text = f"service {service} and {s.co_with} co-occurred {n} times before"
            else:
                text = f"{key} and {s.co_with} co-occurred {n} times before"
            signals.append(SignalEvidence("cooccurrence", s.co, text))
        return tuple(signals)

    def _open_incident(self, t: float) -> Incident:
        if len(self._open) >= self.config.max_open_incidents:
            _, oldest = self._open.popitem(last=False)
            self._retire(oldest)
        inc = Incident(incident_id=f"inc-{self._next_id}", opened_at=t, last_seen=t)
        self._next_id += 1
        self._open[inc.incident_id] = inc
        return inc

    def _attach(
        self,
        inc: Incident,
        alert: Alert,
        explanation: Explanation,
        service: str | None = None,
        key: str | None = None,
        tokens: frozenset[str] | None = None,
    ) -> None:
        if service is None:
            service = self.service_of(alert)
        if key is None:
            key = alert_key(alert, service)
        if tokens is None:
            tokens = alert_tokens(alert)
        t = alert.starts_at
        inc.last_seen = max(inc.last_seen, t)
        inc.alert_count += 1
        if len(inc.alerts) < self.config.max_alerts_kept:
            inc.alerts.append(alert)
            inc.explanations.append(explanation)
        inc.keys.add(key)
        inc.tokens |= tokens
        if service:
            ev = inc.services.get(service)
            if ev is None:
                ev = inc.services[service] = ServiceEvidence(first_seen=t)
            ev.first_seen = min(ev.first_seen, t)
            ev.last_seen = max(ev.last_seen, t)
            ev.alerts += 1
            if is_resource_alert(alert.name):
                ev.resource_alerts += 1
        prev = self._by_fingerprint.get(alert.fingerprint)
        end = alert.ends_at if alert.ends_at > t else t
        if prev is not None and prev[0] == inc.incident_id:
            end = max(end, prev[1])
        self._by_fingerprint[alert.fingerprint] = (inc.incident_id, end)
        inc.fingerprints.add(alert.fingerprint)
        self._open.move_to_end(inc.incident_id)

    def _close_idle(self, now: float) -> None:
        horizon = now - self.config.idle_close_s
        # _open is ordered by last activity, so idle incidents sit at the front.
        while self._open:
            inc = next(iter(self._open.values()))
            if inc.last_seen >= horizon:
                break
            del self._open[inc.incident_id]
            self._retire(inc)

    def _retire(self, inc: Incident) -> None:
        inc.closed = True
        for fp in inc.fingerprints:
            if self._by_fingerprint.get(fp, ("", 0.0))[0] == inc.incident_id:
                del self._by_fingerprint[fp]
        inc.fingerprints.clear()
        self._closed[inc.incident_id] = inc
        while len(self._closed) > self.config.max_closed_incidents:
            self._closed.popitem(last=False)
