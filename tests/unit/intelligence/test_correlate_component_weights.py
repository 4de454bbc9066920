"""Root-cause weights per service-graph component: two systems behind one correlator, each ranked
with its own weights, and malformed configurations refused with a message naming the fault."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.component_weights import (
    ComponentResolver,
    component_weights_from_mapping,
    weights_from_mapping,
)
from tocsin.intelligence.correlation.metric_probe import Series, SeriesProbe
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

T0 = 1_700_000_000.0
# Two systems that never call each other: a shop (frontend → cart, payment) and a booking system
# (gateway → seats, fares).
EDGES = [("frontend", "cart"), ("frontend", "payment"), ("gateway", "seats"), ("gateway", "fares")]
NO_PROBE = dataclasses.replace(RootCauseWeights(), metrics=0.0)


def spiking(name: str) -> Series:
    """Flat for half an hour, then ten times higher from T0 - 60 s on."""
    times = T0 - 1800.0 + 60.0 * np.arange(40, dtype=float)
    values = np.where(times >= T0 - 60.0, 10.0, 1.0) + 0.01 * (np.arange(40) % 3)
    return Series(name, times, values)


def alert(service: str, at: float, name: str = "LatencyHigh") -> Alert:
    return Alert(
        labels={"alertname": name, "service": service}, starts_at=at, ends_at=at + 600.0, updated_at=at
    )


def correlator(config: CorrelationConfig, graph: ServiceGraph | None = None) -> Correlator:
    # cart (the shop's quiet callee) and seats (the booking system's) both deviate strongly.
    probe = SeriesProbe([("cart", spiking("cart latency")), ("seats", spiking("seats latency"))])
    return Correlator(config, graph=graph if graph is not None else ServiceGraph(EDGES), probe=probe)


def test_graph_components_ignore_direction_and_hop_limit() -> None:
    graph = ServiceGraph([("a", "b"), ("c", "b"), ("c", "d"), ("d", "e"), ("e", "f"), ("x", "y")], max_hops=1)
    assert graph.component("a") == frozenset("abcdef")
    assert graph.component("y") == frozenset("xy")
    assert graph.component_id("f") == graph.component_id("a") != graph.component_id("x")
    assert graph.component("nowhere") == frozenset() and graph.component_id("nowhere") is None


def test_each_system_is_ranked_with_its_own_weights() -> None:
    # The shop keeps the metric probe (default weights); the booking system switches it off.
    config = CorrelationConfig(root_cause_by_component=(("gateway", NO_PROBE),))
    c = correlator(config)
    shop = c.add(alert("frontend", T0)).incident_id
    booking = c.add(alert("gateway", T0 + 5)).incident_id
    assert shop != booking  # no path between the systems: kept apart
    assert c.root_cause_weights(shop) == (None, config.root_cause)
    assert c.root_cause_weights(booking) == ("gateway", NO_PROBE)
    # Shop: cart's deviation puts the quiet callee first.
    assert c.root_causes(shop)[0].service == "cart"
    # Booking: seats deviates just as much, but the probe is off there, so the alerting gateway leads
    # and seats carries no metric reason.
    ranked = c.root_causes(booking, top=10)
    assert ranked[0].service == "gateway"
    assert not any("latency" in r for cand in ranked for r in cand.reasons)


def test_one_set_for_both_systems_is_what_it_was_without_components() -> None:
    plain = correlator(CorrelationConfig(root_cause=NO_PROBE))
    for_all = correlator(
        CorrelationConfig(root_cause_by_component=(("frontend", NO_PROBE), ("gateway", NO_PROBE)))
    )
    for c in (plain, for_all):
        c.add(alert("frontend", T0))
    assert plain.root_causes("inc-1", top=10) == for_all.root_causes("inc-1", top=10)


def test_the_component_holding_most_alerts_decides_and_the_first_to_alert_breaks_a_tie() -> None:
    resolver = ComponentResolver(
        (("frontend", NO_PROBE),), ServiceGraph([*EDGES, ("other", "thing")]), graph_complete=True
    )
    default = RootCauseWeights()
    mostly_shop = {
        "cart": ServiceEvidence(first_seen=T0 + 10, alerts=2),
        "other": ServiceEvidence(first_seen=T0, alerts=1),
    }
    assert resolver.for_incident(mostly_shop, default) == ("frontend", NO_PROBE)
    tied = {
        "cart": ServiceEvidence(first_seen=T0 + 10, alerts=1),
        "other": ServiceEvidence(first_seen=T0, alerts=1),
    }
    assert resolver.for_incident(tied, default) == (None, default)
    tied["cart"].first_seen = T0 - 1
    assert resolver.for_incident(tied, default) == ("frontend", NO_PROBE)
    assert resolver.for_incident({}, default) == (None, default)


def test_without_a_configured_graph_a_named_service_may_wait_for_the_learned_one() -> None:
    # No graph at all: each service is a component of its own, so "gateway" names only itself.
    c = Correlator(CorrelationConfig(root_cause_by_component=(("gateway", NO_PROBE),)))
    inc = c.add(alert("gateway", T0)).incident_id
    assert c.root_cause_weights(inc) == ("gateway", NO_PROBE)
    other = c.add(alert("frontend", T0 + 3600)).incident_id
    assert c.root_cause_weights(other)[0] is None


def test_learned_graph_joining_two_named_services_keeps_the_first() -> None:
    graph = ServiceGraph([("frontend", "gateway")])
    heavy = dataclasses.replace(RootCauseWeights(), dependents=3.0)
    resolver = ComponentResolver((("frontend", NO_PROBE), ("gateway", heavy)), graph, graph_complete=False)
    assert resolver.of_service("gateway") == "frontend"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ((("gatway", NO_PROBE),), "names 'gatway', which the configured service graph does not have"),
        ((("frontend", NO_PROBE), ("cart", NO_PROBE)), "names 'frontend' and 'cart', which are in the same"),
    ],
)
def test_configuration_that_does_not_fit_the_configured_graph_is_refused(
    entries: tuple[tuple[str, RootCauseWeights], ...], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        correlator(CorrelationConfig(root_cause_by_component=entries))


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([("gateway", NO_PROBE)], "must be a tuple of"),
        ((("gateway", NO_PROBE), ("gateway", NO_PROBE)), "names 'gateway' twice"),
        ((("gateway",),), r"root_cause_by_component\[0\] must be a \(service, RootCauseWeights\) pair"),
        ((("", NO_PROBE),), r"root_cause_by_component\[0\] must name a service"),
        ((("gateway", {"metrics": 0}),), r"\(gateway\): weights must be RootCauseWeights, got dict"),
    ],
)
def test_malformed_component_weights_are_refused(entries: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CorrelationConfig(root_cause_by_component=entries)  # type: ignore[arg-type]


def test_weights_from_a_mapping_override_the_base() -> None:
    base = dataclasses.replace(RootCauseWeights(), probe_scale=30.0)
    got = weights_from_mapping({"metrics": 0, "callers": 2, "callers_samples": 3}, base)
    assert got == dataclasses.replace(base, metrics=0.0, callers=2.0, callers_samples=3)
    entries = component_weights_from_mapping({"gateway": {"metrics": 0}, "frontend": {}})
    assert entries == (("gateway", NO_PROBE), ("frontend", RootCauseWeights()))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"gateway": {"metrix": 1}},
            r"root_cause_by_component\.gateway: unknown root-cause weight 'metrix' \(known: ",
        ),
        (
            {"gateway": {"metrics": "high"}},
            r"root_cause_by_component\.gateway\.metrics: expected a finite number, got 'high'",
        ),
        (
            {"gateway": {"callers": True}},
            r"root_cause_by_component\.gateway\.callers: expected a finite number",
        ),
        ({"gateway": {"callers": float("nan")}}, r"\.callers: expected a finite number, got nan"),
        ({"gateway": {"callers_samples": 2.5}}, r"\.callers_samples: expected a whole number, got 2\.5"),
        ({"gateway": {"expand_downstream": 1}}, r"\.expand_downstream: expected true or false, got 1"),
        (
            {"gateway": {"metrics": -1}},
            r"root_cause_by_component\.gateway: root-cause weights: metrics must be",
        ),
        ({"gateway": [1, 2]}, r"root_cause_by_component\.gateway: expected a mapping of weight names"),
        ({"": {}}, r"keys must be service names, got ''"),
        (["gateway"], r"expected a mapping of a service name"),
    ],
)
def test_malformed_mappings_name_the_service_and_the_field(values: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        component_weights_from_mapping(values)  # type: ignore[arg-type]
