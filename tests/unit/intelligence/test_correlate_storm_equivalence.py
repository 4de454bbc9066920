"""The storm-time shortcuts of correlation decide exactly what the plain computation decides.

``Correlator._score`` stops walking an incident's keys at the first saturated pairing and skips the
discounted service-level and companion reads once they cannot win; the co-occurrence model
computes strengths from its counts when read instead of keeping re-tabulated tables; the learned
graph is reused while its edges do not change and is built from neighbour lists sorted once. The
reference below is the computation written plainly: every key, every service, every strength
through the model's ``strength`` / ``service_strength`` / ``companion_rate`` and a graph rebuilt
at every re-read. Random streams (dense storms whose pairings saturate, sparse ones whose do not,
several open incidents, disorder, live learning with tight bounds) must give the same decision,
score (to the bit) and explanation text for every alert.
"""

from __future__ import annotations

import random
from collections import deque

import pytest

from tocsin.intelligence.correlate import (
    COMPANION_DISCOUNT,
    SERVICE_HISTORY_DISCOUNT,
    CorrelationConfig,
    Correlator,
    Incident,
    _Scored,
)
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.text import IdfWeights
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

T0 = 1_700_000_000.0


class ReferenceCorrelator(Correlator):
    """The plain computation: no early stop, no skipped read, no reused graph."""

    def use_history(self, history: CooccurrenceModel | None, idf: IdfWeights | None = None) -> None:
        self._learned_edges = []  # forget the last edges: the graph is built anew
        super().use_history(history, idf)

    def _score(self, inc: Incident, gap: float, service: str, key: str, tokens: frozenset[str]) -> _Scored:
        out = super()._score(inc, gap, service, key, tokens)
        if out.far or self.history is None:
            return out
        h = self.history
        co, co_with = 0.0, ""
        for other in inc.keys:
            st = h.strength(key, other).strength
            if st > co:
                co, co_with = st, other
        for other_service in inc.services:
            st = h.service_strength(service, other_service).strength * SERVICE_HISTORY_DISCOUNT
            if st > co:
                co, co_with = st, f"service {other_service}"
        st = h.companion_rate(service).strength * COMPANION_DISCOUNT
        if st > co:
            co, co_with = st, ""
        w = self._w
        out.co, out.co_with = co, co_with
        out.score = out.time_f * (w[0] * out.topo + w[1] * out.sim + w[2] * co + w[3] * out.coincidence)
        return out


def storm(rng: random.Random, n: int) -> list[Alert]:
    """Alerts of a few services and names: dense bursts (pairings saturate), sparse stretches
    (they do not), gaps that close incidents, a few alerts arriving late."""
    services = [f"s{i}" for i in range(rng.randint(2, 9))]
    names = [f"Kind{i}" for i in range(rng.randint(1, 6))]
    out, t = [], 0.0
    for i in range(n):
        t += rng.choice([0.0, 0.5, 1.0, 3.0, 20.0, 90.0, 400.0])
        late = rng.choice([0.0] * 8 + [15.0, 60.0])
        labels = {"alertname": rng.choice(names), "service": rng.choice(services), "pod": f"p{i % 7}"}
        if rng.random() < 0.3:
            labels["zone"] = rng.choice(["a", "b"])
        start = T0 + max(t - late, 0.0)
        out.append(Alert(labels=labels, starts_at=start, ends_at=start + rng.choice([0.0, 30.0, 600.0])))
    return out


def decisions(
    correlator: Correlator, history: CooccurrenceModel, alerts: list[Alert], bounds: tuple[int, int]
) -> list[tuple[str, bool, float, str]]:
    """Correlate and learn alert by alert, as the service does, re-reading the history now and then."""
    out = []
    for i, a in enumerate(alerts):
        if i % 25 == 0:
            correlator.use_history(history)
        d = correlator.add(a)
        out.append((d.incident_id, d.new_incident, d.explanation.score, str(d.explanation)))
        history.observe(a, correlator.service_of(a))
        history.bound(*bounds)
    return out


def _history(rng: random.Random) -> CooccurrenceModel:
    return CooccurrenceModel(window_s=rng.choice([30.0, 120.0]), min_count=rng.choice([1, 2, 3]))


def both_ways(seed: int) -> tuple[list[tuple[str, bool, float, str]], list[tuple[str, bool, float, str]]]:
    """One random stream decided by the correlator and by the reference."""
    rng = random.Random(seed)
    alerts = storm(rng, 250)
    config = CorrelationConfig(
        join_threshold=rng.choice([0.2, 0.25, 0.4, 0.6]),
        w_similarity=rng.choice([0.0, 0.15]),
        w_coincidence=rng.choice([0.0, 0.1]),
        max_open_incidents=rng.choice([2, 500]),
    )
    graph = ServiceGraph([("s0", "s1"), ("s1", "s2"), ("s3", "s4")]) if rng.random() < 0.3 else None
    bounds = rng.choice([(4, 6), (2000, 20000)])
    # The same warm-up history for both, learned on a stream of the same shape.
    warm = sorted(storm(random.Random(seed + 1000), 150), key=lambda x: x.starts_at)
    fast_h, plain_h = _history(random.Random(seed)), _history(random.Random(seed))
    for h in (fast_h, plain_h):
        for a in warm:
            h.observe(a, a.labels["service"])
    fast = decisions(Correlator(config, graph=graph, history=fast_h), fast_h, alerts, bounds)
    plain = decisions(ReferenceCorrelator(config, graph=graph, history=plain_h), plain_h, alerts, bounds)
    return fast, plain


SEEDS = range(80)


@pytest.mark.parametrize("seed", SEEDS)
def test_scoring_shortcuts_decide_as_the_plain_computation(seed: int) -> None:
    fast, plain = both_ways(seed)
    assert fast == plain
    assert any(not new for _, new, _, _ in fast) and any(new for _, new, _, _ in fast[1:])


def _stop_at_first(history: CooccurrenceModel, key: str, service: str, inc: Incident) -> tuple[float, str]:
    for other in inc.keys:  # stops at the first pairing at all, not the first saturated one
        st = history.strength_value(key, other)
        if st > 0:
            return st, other
    return 0.0, ""


def _skip_services_too_soon(
    history: CooccurrenceModel, key: str, service: str, inc: Incident
) -> tuple[float, str]:
    co, co_with = 0.0, ""
    for other in inc.keys:
        st = history.strength_value(key, other)
        if st > co:
            co, co_with = st, other
    if co < 0.5:  # the service-level value (up to 0.8) can still win above 0.5
        for other_service in inc.services:
            st = history.service_strength_value(service, other_service) * SERVICE_HISTORY_DISCOUNT
            if st > co:
                co, co_with = st, f"service {other_service}"
    st = history.companion_value(service) * COMPANION_DISCOUNT
    if st > co:
        co, co_with = st, ""
    return co, co_with


@pytest.mark.parametrize("wrong", [_stop_at_first, _skip_services_too_soon])
def test_the_comparison_catches_a_shortcut_that_changes_decisions(
    wrong: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The streams must be able to tell a wrong shortcut from a right one, or the test above
    # would pass whatever the shortcuts did.
    monkeypatch.setattr("tocsin.intelligence.correlate._strongest_pairing", wrong)
    assert any(fast != plain for fast, plain in map(both_ways, SEEDS))


def _reference_paths(edges: list[tuple[str, str]], max_hops: int) -> dict[str, dict[str, list[str]]]:
    """Shortest undirected paths by breadth-first search, neighbours visited in name order."""
    adjacent: dict[str, set[str]] = {}
    for a, b in edges:
        if a != b:
            adjacent.setdefault(a, set()).add(b)
            adjacent.setdefault(b, set()).add(a)
    out = {}
    for start in adjacent:
        paths = {start: [start]}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            for nxt in sorted(adjacent[node]):
                if nxt not in paths and len(paths[node]) <= max_hops:
                    paths[nxt] = [*paths[node], nxt]
                    queue.append(nxt)
        out[start] = paths
    return out


@pytest.mark.parametrize("seed", range(10))
def test_graph_distances_and_paths_are_those_of_a_plain_search(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [f"n{i}" for i in range(rng.randint(3, 25))]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(rng.randint(2, 60))]
    max_hops = rng.choice([1, 2, 4])
    graph = ServiceGraph(edges, max_hops=max_hops)
    expected = _reference_paths(edges, max_hops)
    for a, paths in expected.items():
        for b in nodes:
            path = paths.get(b, [])
            assert graph.path(a, b) == path
            assert graph.distance(a, b) == (len(path) - 1 if path else None)


def test_a_reread_history_with_unchanged_edges_keeps_the_graph_and_a_changed_one_rebuilds() -> None:
    h = CooccurrenceModel(window_s=60)
    for k in range(3):
        h.observe(Alert(labels={"alertname": "A", "service": "x"}, starts_at=T0 + k * 1000), "x")
        h.observe(Alert(labels={"alertname": "B", "service": "y"}, starts_at=T0 + k * 1000 + 5), "y")
    c = Correlator(history=h)
    first = c.graph
    assert first is not None and first.distance("x", "y") == 1
    c.use_history(h)
    assert c.graph is first
    for k in (3, 4):  # z starts to come with x: a new edge
        h.observe(Alert(labels={"alertname": "A", "service": "x"}, starts_at=T0 + k * 1000), "x")
        h.observe(Alert(labels={"alertname": "C", "service": "z"}, starts_at=T0 + k * 1000 + 3), "z")
    c.use_history(h)
    assert c.graph is not first and c.graph is not None
    assert (c.graph.distance("x", "z"), c.graph.distance("y", "z")) == (1, 2)
