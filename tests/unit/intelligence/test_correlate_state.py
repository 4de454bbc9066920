"""Bounded state, root causes, bad input, scoring and baselines of the correlation module."""

from __future__ import annotations

import math

import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.baselines import GroupByBaseline, TimeWindowBaseline
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.scoring import (
    adjusted_rand_index,
    pairwise_scores,
    root_cause_hits,
)
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

T0 = 1_700_000_000.0
GRAPH = ServiceGraph([("frontend", "checkout"), ("checkout", "cart"), ("frontend", "cart")])


def alert(name: str, t: float, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=T0 + t, ends_at=T0 + t + 60)


def test_idle_incidents_close_and_closed_ones_are_capped() -> None:
    c = Correlator(CorrelationConfig(idle_close_s=300, max_closed_incidents=3))
    ids = [c.add(alert("A", k * 1000.0, service=f"s{k}")).incident_id for k in range(6)]
    assert len(set(ids)) == 6
    assert c.open_count == 1
    kept = [i.incident_id for i in c.incidents()]
    assert kept == ids[2:]  # three closed ones plus the open one
    with pytest.raises(KeyError, match="evicted"):
        c.incident(ids[0])
    assert c.incident(ids[3]).closed


def test_open_incidents_are_capped() -> None:
    c = Correlator(CorrelationConfig(max_open_incidents=2, idle_close_s=10_000))
    for k in range(5):
        c.add(alert("A", float(k), service=f"unrelated{k}"))
    assert c.open_count == 2


def test_advance_closes_idle_incidents() -> None:
    c = Correlator(CorrelationConfig(idle_close_s=60))
    d = c.add(alert("A", 0, service="x"))
    c.advance(T0 + 1000)
    assert c.open_count == 0 and c.incident(d.incident_id).closed


def test_root_cause_prefers_saturated_callee() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH)
    c.add(alert("FrontendLatencyHigh", 0, service="frontend"))
    c.add(alert("ServerLatencyHigh", 10, service="checkout"))
    d = c.add(alert("CpuUsageHigh", 20, service="cart"))
    ranked = c.root_causes(d.incident_id)
    assert ranked[0].service == "cart"
    assert any("saturation" in why for why in ranked[0].reasons)
    assert any("depend on it" in why for why in ranked[0].reasons)
    assert len(c.root_causes(d.incident_id, top=2)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_gap_s": 0}, "max_gap_s"),
        ({"time_scale_s": math.inf}, "time_scale_s"),
        ({"join_threshold": 0.0}, "join_threshold"),
        ({"w_topology": 0, "w_similarity": 0, "w_cooccurrence": 0, "w_coincidence": 0}, "weights"),
        ({"w_topology": -1.0}, "weights"),
        ({"max_open_incidents": 0}, "max_open_incidents"),
        ({"service_labels": ()}, "service_labels"),
    ],
)
def test_bad_config_is_refused_with_its_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CorrelationConfig(**kwargs)  # type: ignore[arg-type]


def test_bad_alerts_are_refused() -> None:
    c = Correlator()
    with pytest.raises(TypeError, match=r"tocsin\.model\.Alert"):
        c.add({"labels": {}})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="starts_at"):
        c.add(Alert(labels={"alertname": "X"}, starts_at=math.nan))
    with pytest.raises(ValueError, match="top"):
        c.root_causes(c.add(alert("X", 0)).incident_id, top=0)


def test_history_must_be_time_ordered() -> None:
    with pytest.raises(ValueError, match="ordered by starts_at"):
        CooccurrenceModel().learn([alert("A", 10), alert("B", 0)], lambda a: "s")


def test_pairwise_scores_ignore_background_pairs_unless_strict() -> None:
    truth = ["f1", "f1", "f2", "background", "background"]
    pred = ["a", "a", "b", "c", "c"]
    s = pairwise_scores(truth, pred)
    assert (s.precision, s.recall, s.f1) == (1.0, 1.0, 1.0)
    strict = pairwise_scores(truth, pred, strict=True)
    assert strict.precision == 0.5 and strict.recall == 1.0
    merged = pairwise_scores(truth, ["a", "a", "a", "x", "y"])
    assert merged.precision == pytest.approx(1 / 3) and merged.recall == 1.0


def test_ari_and_lengths() -> None:
    assert adjusted_rand_index(["a", "a", "b", "b"], ["x", "x", "y", "y"]) == 1.0
    assert adjusted_rand_index(["a", "a", "b", "b"], ["x", "y", "x", "y"]) < 0.0
    with pytest.raises(ValueError, match="length"):
        pairwise_scores(["a"], ["x", "y"])


def test_root_cause_hits_use_the_incident_holding_most_of_the_fault() -> None:
    truth = ["f1", "f1", "f1", "f2"]
    pred = ["i1", "i1", "i2", "i3"]
    hits = root_cause_hits(truth, pred, {"f1": "cart", "f2": "db"}, {"i1": ["x", "cart"], "i3": ["db"]})
    assert hits == (1, 2, 2)


def test_baselines_group_as_documented() -> None:
    g = GroupByBaseline(("service",), idle_s=100)
    ids = [g.add(alert("A", t, service=s)) for t, s in [(0, "x"), (50, "y"), (60, "x"), (500, "x")]]
    assert ids[0] == ids[2] and ids[0] != ids[1] and ids[3] != ids[0]
    assert g.root_causes(ids[0]) == ["x"]
    w = TimeWindowBaseline(gap_s=100)
    ids = [w.add(alert("A", t, service=s)) for t, s in [(0, "x"), (50, "y"), (140, "z"), (400, "x")]]
    assert ids[0] == ids[1] == ids[2] != ids[3]
    assert w.root_causes(ids[0]) == ["x", "y", "z"]
    with pytest.raises(ValueError, match="gap_s"):
        TimeWindowBaseline(gap_s=-1)


def test_state_stays_bounded_over_a_long_stream() -> None:
    c = Correlator(CorrelationConfig(idle_close_s=120, max_closed_incidents=50))
    for k in range(2000):
        c.add(alert("A", k * 200.0, service=f"s{k % 7}", instance=str(k)))
    assert c.open_count <= 1
    assert len(c.incidents()) <= 51
    assert len(c._by_fingerprint) <= 1  # fingerprints of closed incidents are dropped


def test_explanation_needs_signals_or_builder() -> None:
    from tocsin.intelligence.correlate import Explanation

    with pytest.raises(ValueError, match="exactly one"):
        Explanation(True, 1.0)
