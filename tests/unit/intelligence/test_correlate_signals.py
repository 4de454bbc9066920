"""Each correlation signal on small hand-made alert streams, and the explanations it leaves."""

from __future__ import annotations

import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.text import IdfWeights, alert_tokens
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

T0 = 1_700_000_000.0


def alert(name: str, t: float, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=T0 + t, ends_at=T0 + t + 60)


# frontend → cart → redis; a long chain to a far service: frontend → a → b → c → d → far
GRAPH = ServiceGraph(
    [
        ("frontend", "cart"),
        ("cart", "redis"),
        ("frontend", "a"),
        ("a", "b"),
        ("b", "c"),
        ("c", "d"),
        ("d", "far"),
    ],
    max_hops=3,
)


def test_topology_joins_alerts_that_share_no_label() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH)
    first = c.add(alert("HighLatency", 0, service="frontend"))
    second = c.add(alert("CPUSaturated", 40, service="cart", pod="cart-1"))
    assert first.new_incident
    assert not second.new_incident
    assert second.incident_id == first.incident_id
    assert "topology" in second.explanation.signal_names
    text = str(second.explanation)
    assert "frontend → cart" in text and "40 s apart" in text


def test_same_alerts_without_graph_stay_apart() -> None:
    c = Correlator(CorrelationConfig())
    first = c.add(alert("HighLatency", 0, service="frontend"))
    second = c.add(alert("CPUSaturated", 40, service="cart", pod="cart-1"))
    assert second.new_incident and second.incident_id != first.incident_id


def test_close_in_time_but_far_in_graph_kept_apart() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH)
    first = c.add(alert("DiskFull", 0, service="cart"))
    second = c.add(alert("QueueBacklog", 5, service="far"))
    assert GRAPH.distance("cart", "far") is None  # beyond max_hops
    assert second.new_incident and second.incident_id != first.incident_id
    assert "kept apart" in str(second.explanation)


def test_time_gap_beyond_max_gap_opens_new_incident() -> None:
    c = Correlator(CorrelationConfig(max_gap_s=120), graph=GRAPH)
    first = c.add(alert("HighLatency", 0, service="frontend"))
    late = c.add(alert("HighLatency", 500, service="cart"))
    assert late.incident_id != first.incident_id


def test_similarity_joins_alerts_of_unknown_services() -> None:
    idf = IdfWeights.from_alerts([alert("Noise", 0, service=f"s{i}", team="x") for i in range(50)])
    c = Correlator(CorrelationConfig(w_topology=0.0, w_cooccurrence=0.0, join_threshold=0.5), idf=idf)
    first = c.add(alert("KafkaConsumerLag", 0, cluster="kafka-eu", topic="orders", team="x"))
    second = c.add(alert("KafkaConsumerLag", 30, cluster="kafka-eu", topic="payments", team="x"))
    other = c.add(alert("CertificateExpiry", 31, host="edge-7", team="x"))
    assert second.incident_id == first.incident_id
    assert second.explanation.signal_names == ("time", "similarity")
    assert "similarity" in str(second.explanation) and "kafka" in str(second.explanation)
    assert other.new_incident


def test_cooccurrence_learned_from_history_joins_and_is_explained() -> None:
    history_alerts = []
    for k in range(12):
        base = k * 3600.0
        history_alerts.append(alert("DbConnectionsHigh", base, service="billing-db"))
        history_alerts.append(alert("InvoiceErrors", base + 30, service="invoicer"))
        history_alerts.append(alert("Unrelated", base + 1800, service="mailer"))
    history = CooccurrenceModel(window_s=120).learn(history_alerts, lambda a: a.labels["service"])
    assert history.strength("billing-db/DbConnectionsHigh", "invoicer/InvoiceErrors").count == 12

    config = CorrelationConfig(w_topology=0.0, w_similarity=0.0, w_coincidence=0.0)
    c = Correlator(config, graph=ServiceGraph([("x", "y")]), history=history)
    first = c.add(alert("DbConnectionsHigh", 10**6, service="billing-db"))
    second = c.add(alert("InvoiceErrors", 10**6 + 20, service="invoicer"))
    third = c.add(alert("Unrelated", 10**6 + 25, service="mailer"))
    assert second.incident_id == first.incident_id
    assert "cooccurrence" in second.explanation.signal_names
    assert "co-occurred 12 times before" in str(second.explanation)
    assert third.new_incident


def test_learned_topology_from_history_when_no_graph_given() -> None:
    history_alerts = []
    for k in range(5):
        history_alerts.append(alert("A", k * 3600.0, service="api"))
        history_alerts.append(alert("B", k * 3600.0 + 10, service="db"))
    history = CooccurrenceModel().learn(history_alerts, lambda a: a.labels["service"])
    c = Correlator(CorrelationConfig(), history=history)
    assert c.graph is not None and c.graph.distance("api", "db") == 1


def test_refire_of_still_firing_alert_goes_to_its_incident() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH)
    a = alert("HighLatency", 0, service="frontend")
    first = c.add(a)
    c.add(alert("DiskFull", 10, service="far"))
    again = c.add(Alert(labels=dict(a.labels), starts_at=T0 + 30, ends_at=T0 + 90))
    assert again.incident_id == first.incident_id
    assert again.explanation.signal_names == ("identity",)


def test_explanation_names_only_signals_that_contributed() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH)
    c.add(alert("HighLatency", 0, service="frontend"))
    d = c.add(alert("HighLatency", 0, service="frontend", pod="fe-2"))
    assert set(d.explanation.signal_names) >= {"time", "topology", "similarity"}
    assert "cooccurrence" not in d.explanation.signal_names  # no history given
    assert "same service frontend" in str(d.explanation)


def test_alert_tokens_split_names_and_label_pairs() -> None:
    toks = alert_tokens(
        Alert(labels={"alertname": "HighLatencyP99", "pod": "cart-1"}, annotations={"summary": "slow cart"})
    )
    assert {"latency", "p", "99", "pod=cart-1", "slow", "cart"} <= toks


def test_graph_rejects_bad_edges() -> None:
    with pytest.raises(ValueError, match="pair of names"):
        ServiceGraph([("a", "")])
    with pytest.raises(ValueError, match="max_hops"):
        ServiceGraph([("a", "b")], max_hops=0)


def test_coincidence_from_a_sparse_history_is_named_and_zero_weight_signals_are_not() -> None:
    # One alert an hour in the history: two alerts 10 s apart are unlikely to be chance.
    history = CooccurrenceModel().learn(
        [alert("Noise", k * 3600.0, service=f"n{k}") for k in range(24)], lambda a: a.labels["service"]
    )
    c = Correlator(CorrelationConfig(w_coincidence=0.2), graph=GRAPH, history=history)
    c.add(alert("HighLatency", 10**6, service="frontend"))
    d = c.add(alert("CPUSaturated", 10**6 + 10, service="cart"))
    assert not d.new_incident
    assert {"coincidence", "topology"} <= set(d.explanation.signal_names)
    assert "unlikely by chance" in str(d.explanation)

    quiet = Correlator(CorrelationConfig(w_coincidence=0.0), graph=GRAPH, history=history)
    quiet.add(alert("HighLatency", 10**6, service="frontend"))
    d = quiet.add(alert("CPUSaturated", 10**6 + 10, service="cart"))
    assert "coincidence" not in d.explanation.signal_names
