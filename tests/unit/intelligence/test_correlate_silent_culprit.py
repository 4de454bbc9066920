"""Silenced-culprit copies of labelled incidents, for selecting root-cause weights on a training day
whose culprits all alerted themselves."""

from __future__ import annotations

import numpy as np
import pytest

from tocsin.intelligence.correlation.metric_probe import ClientLatencyProbe, Series, SeriesProbe
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.scoring import expected_hit, root_cause_expected_hits
from tocsin.intelligence.correlation.silent_culprit import HiddenOwnMetrics, silenced_incident
from tocsin.intelligence.correlation.topology import ServiceGraph

T0 = 1_700_000_000.0
# gateway calls a, b and c; a and b call the culprit T; c calls the bystander B; T calls the leaf D.
GRAPH = ServiceGraph(
    [("gateway", "a"), ("gateway", "b"), ("gateway", "c"), ("a", "T"), ("b", "T"), ("c", "B"), ("T", "D")]
)


def series(name: str, spike: bool, seed: int, jitter: float = 0.01) -> Series:
    """One sample a minute from an hour before T0, flat with ``jitter``; ``spike``: ten times the level
    from T0 on."""
    rng = np.random.default_rng(seed)
    times = T0 - 3600.0 + 60.0 * np.arange(70, dtype=float)
    values = 1.0 + rng.normal(0.0, jitter, 70)
    if spike:
        values[60:] = 10.0
    return Series(name, times, values)


def fault_probe() -> SeriesProbe:
    """A CPU fault on T: its own CPU spikes, and its callers a and b wait on it (client latency)."""
    # The bystanders' own series are dead flat, so that only what the test is about separates them.
    own = [(s, series(f"{s} cpu", s == "T", i, 0.0)) for i, s in enumerate(sorted(GRAPH.services))]
    client = [
        (s, series(f"{s} client", s in ("a", "b"), 10 + i)) for i, s in enumerate(sorted(GRAPH.services))
    ]
    return SeriesProbe(own, client_series=client)


def t_alone() -> dict[str, ServiceEvidence]:
    """The incident as it happened: T's own CPU alerts and nothing else."""
    return {"T": ServiceEvidence(first_seen=T0 + 60, last_seen=T0 + 180, alerts=2, resource_alerts=2)}


def test_the_culprits_alerts_are_seen_at_its_direct_callers_instead() -> None:
    original = {**t_alone(), "a": ServiceEvidence(first_seen=T0 + 120, last_seen=T0 + 300, alerts=1)}
    copy = silenced_incident(original, "T", GRAPH)
    assert copy is not None
    assert sorted(copy) == ["a", "b"]  # T gone; its direct callers, not the gateway two hops up
    # b saw T's alerts as symptoms: T's times, no saturation of its own.
    assert (copy["b"].first_seen, copy["b"].last_seen, copy["b"].alerts, copy["b"].resource_alerts) == (
        T0 + 60,
        T0 + 180,
        2,
        0,
    )
    # a had alerted itself: it keeps its own and adds T's.
    assert (copy["a"].first_seen, copy["a"].last_seen, copy["a"].alerts) == (T0 + 60, T0 + 300, 3)
    # The incident itself is untouched.
    assert original["a"].alerts == 1 and "T" in original and "b" not in original


def test_removing_only_and_nothing_to_silence() -> None:
    with_b = {**t_alone(), "b": ServiceEvidence(first_seen=T0, last_seen=T0, alerts=1)}
    removed = silenced_incident(with_b, "T", GRAPH, move_to_callers=False)
    assert removed is not None and sorted(removed) == ["b"] and removed["b"].alerts == 1
    # A culprit alone in its incident, its alerts only removed: nothing is left to rank.
    assert silenced_incident(t_alone(), "T", GRAPH, move_to_callers=False) is None
    assert silenced_incident(t_alone(), "T", None) is None  # no graph: no callers to move them to
    # A culprit that raised no alert in the incident: there is no silent copy to make.
    assert silenced_incident({"a": ServiceEvidence(first_seen=T0, alerts=1)}, "T", GRAPH) is None
    # A culprit nothing calls: its alerts are only removed.
    assert silenced_incident({"gateway": ServiceEvidence(first_seen=T0, alerts=1)}, "gateway", GRAPH) is None


def test_hidden_own_metrics_keep_the_callers_view() -> None:
    probe = fault_probe()
    hidden = HiddenOwnMetrics(probe, frozenset({"T"}))
    window = (T0 - 180, T0 + 240)
    assert probe.deviation("T", *window)[0] > 100
    assert hidden.deviation("T", *window) == (0.0, "")
    assert hidden.deviation("a", *window) == probe.deviation("a", *window)
    # Client latency is the callers' view and stays, for every service.
    assert isinstance(hidden, ClientLatencyProbe)
    assert hidden.client_services == probe.client_services
    assert hidden.client_rise("a", *window, 2) == probe.client_rise("a", *window, 2)
    # ``outside`` answers for a hidden service instead of 0.
    outside = SeriesProbe([("T", series("calls into T (measured at a)", True, 99))])
    seen = HiddenOwnMetrics(probe, frozenset({"T"}), outside).deviation("T", *window)
    assert seen[0] > 100 and seen[1] == "calls into T (measured at a)"
    # A probe without client series wrapped: no client latency either.
    plain = HiddenOwnMetrics(SeriesProbe([("T", series("T cpu", True, 1))]), frozenset({"T"}))
    assert plain.client_services == [] and plain.client_rise("a", *window, 2) is None


def test_a_silenced_copy_rewards_the_callers_signal_where_the_original_cannot() -> None:
    probe = fault_probe()
    metrics_only = RootCauseWeights(metrics=2.0, callers=0.0)
    with_callers = RootCauseWeights(metrics=2.0, callers=2.0)
    # As it happened, T alerted alone: both weightings rank it first, so the day cannot tell them apart.
    for w in (metrics_only, with_callers):
        assert rank_root_causes(t_alone(), GRAPH, w, probe)[0].service == "T"
    # Silenced (its CPU alerts seen at a and b, its CPU hidden): T and its callee D explain a and b
    # alike, and only the callers' client latency puts T above D.
    copy = silenced_incident(t_alone(), "T", GRAPH)
    assert copy is not None
    hidden = HiddenOwnMetrics(probe, frozenset({"T"}))
    plain = {c.service: c.score for c in rank_root_causes(copy, GRAPH, metrics_only, hidden)}
    assert plain["T"] == plain["D"]
    ranked = rank_root_causes(copy, GRAPH, with_callers, hidden)
    assert ranked[0].service == "T"
    assert any("client latency rose at 2 of its 2 callers" in why for why in ranked[0].reasons)
    assert not any("off its median" in why for why in ranked[0].reasons)  # its own CPU is hidden
    # Scored as the selection scores it (ties split): without the callers' signal the alerting a and b
    # come first and T shares third place with D (0.5 of a top-3 hit); with it, T is first.
    tie = [(c.service, c.score) for c in rank_root_causes(copy, GRAPH, metrics_only, hidden)]
    assert [s for s, _ in tie[:2]] == ["a", "b"]
    assert expected_hit(tie, "T", 3) == pytest.approx(0.5)
    assert expected_hit([(c.service, c.score) for c in ranked], "T", 1) == 1.0


def test_expected_hit_splits_ties_and_matches_the_pooled_count() -> None:
    scored = [("x", 3.0), ("y", 2.0), ("z", 2.0), ("t", 2.0), ("u", 1.0)]
    assert expected_hit(scored, "x", 1) == 1.0
    assert expected_hit(scored, "t", 3) == pytest.approx(2 / 3)  # three tied for two places
    assert expected_hit(scored, "t", 1) == 0.0
    assert expected_hit(scored, "u", 3) == 0.0
    assert expected_hit(scored, "missing", 3) == 0.0
    with pytest.raises(ValueError, match="k must be"):
        expected_hit(scored, "x", 0)
    hits, n = root_cause_expected_hits(["f", "f"], ["i", "i"], {"f": "t"}, {"i": scored}, 3)
    assert (hits, n) == (pytest.approx(2 / 3), 1)
