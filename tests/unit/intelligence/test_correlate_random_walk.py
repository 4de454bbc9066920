"""The random walk over the call graph: where it goes on hand-made graphs, and as a root-cause signal."""

from __future__ import annotations

import pytest

from tocsin.intelligence.correlation.random_walk import walk_scores
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.topology import ServiceGraph

T0 = 1_700_000_000.0
# front → {a, b}; a → db; b → cache.
GRAPH = ServiceGraph([("front", "a"), ("front", "b"), ("a", "db"), ("b", "cache")])
NODES = ["front", "a", "b", "db", "cache"]


class FixedProbe:
    """A MetricProbe answering a fixed deviation per service."""

    def __init__(self, deviations: dict[str, float]) -> None:
        self.deviations = deviations

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        d = self.deviations.get(service, 0.0)
        return d, (f"{service} latency" if d else "")


def test_without_anomalies_the_walk_splits_evenly_between_symmetric_branches() -> None:
    visits = walk_scores(GRAPH, {"front": 1.0}, NODES, lambda s: 0.0)
    assert visits["a"] == pytest.approx(visits["b"])
    assert visits["db"] == pytest.approx(visits["cache"])
    assert max(visits.values()) == pytest.approx(1.0)


def test_an_anomalous_callee_draws_the_walk() -> None:
    visits = walk_scores(GRAPH, {"front": 1.0}, NODES, lambda s: 0.9 if s == "db" else 0.0)
    assert visits["db"] == pytest.approx(1.0)
    assert visits["db"] > 2 * visits["cache"]


def test_walk_starts_follow_their_weights_and_unknown_starts_are_ignored() -> None:
    graph = ServiceGraph([("x", "y")])
    visits = walk_scores(graph, {"x": 1.0, "elsewhere": 5.0}, ["x", "y"], lambda s: 0.0)
    assert visits["y"] > 0.0
    assert walk_scores(graph, {"elsewhere": 1.0}, ["x", "y"], lambda s: 0.0) == {"x": 0.0, "y": 0.0}
    assert walk_scores(graph, {"x": 1.0}, [], lambda s: 0.0) == {}
    # A node with nowhere to go (no callees, callers or anomaly) hands its share back to the starts.
    lone = walk_scores(ServiceGraph([("p", "q")]), {"z": 1.0}, ["z"], lambda s: 0.0)
    assert lone == {"z": 1.0}


def test_walk_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="restart"):
        walk_scores(GRAPH, {"front": 1.0}, NODES, lambda s: 0.0, restart=0.0)
    with pytest.raises(ValueError, match="back"):
        walk_scores(GRAPH, {"front": 1.0}, NODES, lambda s: 0.0, back=-1.0)
    with pytest.raises(ValueError, match="walk"):
        RootCauseWeights(walk=-0.5)


def test_walk_weight_ranks_the_anomalous_callee_and_names_the_signal() -> None:
    services = {
        "front": ServiceEvidence(first_seen=T0, last_seen=T0 + 60, alerts=3),
        "a": ServiceEvidence(first_seen=T0 + 20, last_seen=T0 + 60, alerts=1),
    }
    probe = FixedProbe({"db": 400.0, "cache": 5.0})
    weights = RootCauseWeights(metrics=0.0, walk=4.0)
    ranked = rank_root_causes(services, GRAPH, weights, probe)
    assert ranked[0].service == "db"
    assert any("a walk from the alerting services visits it" in r for r in ranked[0].reasons)
    # Switched off (the default), the walk adds nothing: the alerting services lead.
    plain = rank_root_causes(services, GRAPH, RootCauseWeights(metrics=0.0), probe)
    assert plain[0].service in {"front", "a"}
    assert not any("walk" in r for c in plain for r in c.reasons)
    # A learned graph has no call directions: no walk and no callees.
    learned = rank_root_causes(services, GRAPH, weights, probe, graph_has_directions=False)
    assert {c.service for c in learned} == {"front", "a"}
