"""Groups joined into open incidents by alert correlation (incidents.yml ``correlation``)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from testkit import INCIDENTS_HEAD
from tocsin.config.errors import ConfigError
from tocsin.incidents.actions import Notify
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.correlation import MAX_PER_KIND
from tocsin.incidents.manager import IncidentManager
from tocsin.incidents.model import EventKind, Incident, IncidentState
from tocsin.model import Alert

T0 = datetime(2026, 1, 7, 10, tzinfo=UTC).timestamp()

BASE = INCIDENTS_HEAD

CORRELATION = """
correlation:
  topology:
    frontend: [cart, checkout]
    checkout: [payment]
    cart: [redis]
"""


def manager(extra: str = CORRELATION) -> IncidentManager:
    return IncidentManager(load_incidents_text(BASE + extra))


def alert(name: str, service: str, at: float) -> Alert:
    return Alert(
        labels={"alertname": name, "service": service, "severity": "critical"},
        starts_at=at,
        ends_at=at + 3600,
        updated_at=at,
    )


def resolved(a: Alert, at: float) -> Alert:
    return Alert(labels=a.labels, starts_at=a.starts_at, ends_at=at, updated_at=at)


def pages(actions: list[object]) -> int:
    return sum(isinstance(a, Notify) for a in actions)


def test_a_group_joins_the_open_incident_of_a_service_it_is_connected_to() -> None:
    m = manager()
    latency = alert("HighLatency", "frontend", T0)
    cpu = alert("CPUSaturated", "cart", T0 + 40)
    first = m.on_group_update("g-latency", [latency], [], {"alertname": "HighLatency"}, T0 + 30)
    second = m.on_group_update("g-cpu", [cpu], [], {"alertname": "CPUSaturated"}, T0 + 70)
    assert len(m.incidents) == 1
    inc = m.get("INC-1")
    assert m.by_group == {"g-latency": "INC-1", "g-cpu": "INC-1"}
    assert inc.groups == ["g-cpu"]
    assert {r.labels["alertname"] for r in inc.alerts.values()} == {"HighLatency", "CPUSaturated"}
    # The join is explained, naming the signals that made it, and pages nobody a second time.
    (joined,) = inc.events(EventKind.CORRELATED)
    assert "g-cpu" in joined.text and "CPUSaturated" in joined.text
    assert "frontend" in joined.text and "cart" in joined.text  # the graph path
    assert pages(first) == 1 and pages(second) == 0
    # The callee with a saturation alert of its own explains the caller's latency: first.
    assert [c["service"] for c in inc.probable_causes][:2] == ["cart", "frontend"]
    assert all(c["reasons"] for c in inc.probable_causes)


def test_services_without_a_path_in_the_graph_stay_apart_even_close_in_time() -> None:
    m = manager(CORRELATION + "    billing: [ledger]\n")
    m.on_group_update("g1", [alert("HighLatency", "frontend", T0)], [], {}, T0 + 30)
    m.on_group_update("g2", [alert("HighLatency", "billing", T0 + 5)], [], {}, T0 + 35)
    assert len(m.incidents) == 2 and m.by_group == {"g1": "INC-1", "g2": "INC-2"}
    assert not m.get("INC-1").events(EventKind.CORRELATED)


def test_without_correlation_each_group_is_its_own_incident() -> None:
    m = manager(extra="")
    assert m.correlator is None
    m.on_group_update("g-latency", [alert("HighLatency", "frontend", T0)], [], {}, T0 + 30)
    m.on_group_update("g-cpu", [alert("CPUSaturated", "cart", T0 + 40)], [], {}, T0 + 70)
    assert len(m.incidents) == 2
    assert m.get("INC-1").probable_causes == [] and m.get("INC-1").groups == []


def test_a_joined_incident_resolves_only_when_every_group_has_resolved() -> None:
    m = manager()
    latency = alert("HighLatency", "frontend", T0)
    cpu = alert("CPUSaturated", "cart", T0 + 40)
    m.on_group_update("g-latency", [latency], [], {}, T0 + 30)
    m.on_group_update("g-cpu", [cpu], [], {}, T0 + 70)
    m.on_group_update("g-latency", [], [resolved(latency, T0 + 300)], {}, T0 + 310)
    inc = m.get("INC-1")
    assert inc.state is IncidentState.TRIGGERED and len(inc.firing) == 1
    m.on_group_update("g-cpu", [], [resolved(cpu, T0 + 400)], {}, T0 + 410)
    assert inc.state is IncidentState.RESOLVED


def test_a_resolved_incident_is_not_joined() -> None:
    m = manager()
    latency = alert("HighLatency", "frontend", T0)
    m.on_group_update("g-latency", [latency], [], {}, T0 + 30)
    m.on_group_update("g-latency", [], [resolved(latency, T0 + 35)], {}, T0 + 40)
    assert m.get("INC-1").state is IncidentState.RESOLVED
    m.on_group_update("g-cpu", [alert("CPUSaturated", "cart", T0 + 50)], [], {}, T0 + 80)
    assert m.by_group["g-cpu"] == "INC-2"


def test_joined_groups_and_causes_survive_the_state_round_trip() -> None:
    m = manager()
    m.on_group_update("g-latency", [alert("HighLatency", "frontend", T0)], [], {}, T0 + 30)
    m.on_group_update("g-cpu", [alert("CPUSaturated", "cart", T0 + 40)], [], {}, T0 + 70)
    inc = m.get("INC-1")
    again = Incident.from_dict(inc.to_dict())
    assert again.groups == ["g-cpu"] and again.probable_causes == inc.probable_causes
    # State written before these fields existed still loads.
    old = inc.to_dict()
    del old["groups"], old["probable_causes"]
    assert Incident.from_dict(old).groups == []


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("correlation:\n  join_threshold: 0\n", "join_threshold must be in (0, 1]"),
        ("correlation:\n  service_labels: []\n", "service_labels must name at least one label"),
        ("correlation:\n  topology: {frontend: ['']}\n", "service names must not be empty"),
        ("correlation:\n  max_gap: soon\n", "max_gap"),
        (
            "correlation:\n  root_cause: {callers: high}\n",
            "root_cause: callers: expected a finite number, got 'high'",
        ),
        ("correlation:\n  root_cause: {bogus: 1}\n", "unknown root-cause weight 'bogus'"),
        (
            "correlation:\n  topology: {a: [b]}\n  root_cause_by_component: {z: {callers: 2}}\n",
            "root_cause_by_component.z: service 'z' is not in the topology",
        ),
        (
            "correlation:\n  topology: {a: [b]}\n  root_cause_by_component: {a: {}, b: {}}\n",
            "'b' is in the same part of the topology as 'a'",
        ),
        (
            "correlation:\n  topology: {a: [b]}\n  root_cause_by_component: {a: {callers_samples: 1.5}}\n",
            "root_cause_by_component.a: callers_samples: expected a whole number",
        ),
        (
            "correlation:\n  prometheus: {url: 'http://p:9090', queries: ['up{s=\"$service\"}'],"
            " client_queries: ['lat{s=\"$service\"}']}\n",
            "client_queries[0] must return every service's series at once",
        ),
    ],
)
def test_bad_correlation_settings_are_refused_with_their_name(section: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_incidents_text(BASE + section, "incidents.yml")
    assert message in str(e.value) and "correlation" in str(e.value)


def test_an_alert_storm_feeds_a_few_of_each_kind_and_every_alert_shares_their_decision() -> None:
    m = manager()
    latency = alert("HighLatency", "frontend", T0)
    m.on_group_update("g-latency", [latency], [], {"alertname": "HighLatency"}, T0 + 30)
    storm = [
        Alert(
            labels={"alertname": "PodDown", "service": "cart", "pod": f"cart-{i}"},
            starts_at=T0 + 40 + i / 100,
            ends_at=T0 + 3600,
        )
        for i in range(300)
    ]
    m.on_group_update("g-storm", storm, [], {"alertname": "PodDown"}, T0 + 70)
    correlator = m.correlator
    assert correlator is not None
    (c,) = correlator._by_tenant.values()
    assert sum(i.alert_count for i in c.incidents()) == 1 + MAX_PER_KIND
    # All 300 joined the latency incident; none is fed again at the next flush.
    assert m.by_group == {"g-latency": "INC-1", "g-storm": "INC-1"}
    assert not correlator.observe("default", storm, [])
    assert correlator.joined_incident("default", storm[-1:]) is not None


def test_root_cause_weights_reach_the_correlator() -> None:
    from tocsin.incidents.correlation import build_correlator
    from tocsin.intelligence.correlation.rootcause import RootCauseWeights

    setup = load_incidents_text(
        BASE
        + """
correlation:
  topology: {frontend: [cart], ts-ui: [ts-order]}
  root_cause: {metrics: 0.5}
  root_cause_by_component:
    ts-order: {callers: 2, callers_samples: 3}
  prometheus:
    url: http://prometheus:9090
    queries: ['lat{service="$service"}']
    client_queries: ['client_lat']
    client_label: app
"""
    ).correlation
    assert setup is not None and setup.prometheus is not None
    assert setup.prometheus.client_queries == ("client_lat",) and setup.prometheus.client_label == "app"
    c = build_correlator(setup)
    assert c.config.root_cause == RootCauseWeights(metrics=0.5)
    # The entry overrides root_cause field by field; metrics comes from root_cause.
    ((service, weights),) = c.config.root_cause_by_component
    assert service == "ts-order"
    assert weights == RootCauseWeights(metrics=0.5, callers=2.0, callers_samples=3)
