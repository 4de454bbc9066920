"""The Prometheus metric probe against a real Prometheus: own-service and client-latency queries.

Debian's ``promtool tsdb create-blocks-from openmetrics`` backfills an hour of hand-made samples
into a TSDB and ``prometheus`` serves it, so the probe's ``query_range`` requests are answered by
real storage and PromQL. The service graph: a gateway calls a..e; a, b and c call the target T
(a network delay there: its own latency stays flat, but the calls its callers make slow down); c,
d and e call the bystander B; a calls L, whose own server latency jumps (noise that misleads the
own-service probe).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import httpx
import pytest
from peers import backfill_incident_time, backfilled_prometheus, gauge_hour

from testkit import CALLEE_EDGES
from tocsin.intelligence.correlation.prometheus_probe import PrometheusProbe
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.topology import ServiceGraph

pytestmark = pytest.mark.slow

EDGES = CALLEE_EDGES
SERVICES = ["gateway", "a", "b", "c", "d", "e", "T", "B", "L"]
SERVER_QUERY = 'svc_server_latency_seconds{service="$service"}'
CLIENT_QUERY = "max by (service) (svc_client_latency_seconds)"
T_INCIDENT = backfill_incident_time()
WINDOW = (T_INCIDENT - 180.0, T_INCIDENT + 60.0)  # what ranking asks for an incident starting then


def openmetrics() -> list[str]:
    """An hour of 15 s samples per service, flat with a little jitter, except: from two minutes
    before the incident, a, b and c's client latency (the calls they make) is ten times higher, and
    L's server latency twenty times."""
    start = T_INCIDENT - 45 * 60

    def server(service: str, t: float, i: int) -> float:
        return 2.0 if service == "L" and t >= T_INCIDENT - 120 else 0.1 + 0.002 * (i % 3)

    def client(service: str, t: float, i: int) -> float:
        return 1.0 if service in "abc" and t >= T_INCIDENT - 120 else 0.1 + 0.002 * (i % 3)

    lines = gauge_hour("svc_server_latency_seconds", "service", SERVICES, start, server)
    lines += gauge_hour("svc_client_latency_seconds", "service", SERVICES, start, client)
    return lines


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom"), openmetrics()) as url:
        yield url


@pytest.fixture
def probe(prometheus: str) -> Iterator[PrometheusProbe]:
    client = httpx.Client(base_url=prometheus, timeout=10.0)
    try:
        yield PrometheusProbe(client, [SERVER_QUERY], step_s=60.0, client_queries=[CLIENT_QUERY])
    finally:
        client.close()


def test_client_latency_rises_read_from_prometheus(probe: PrometheusProbe) -> None:
    rises = {s: probe.client_rise(s, *WINDOW, 2) for s in SERVICES}
    assert not probe.errors, list(probe.errors)
    for caller in "abc":
        rise = rises[caller]
        assert rise is not None and rise > 100, (caller, rises)
    for quiet in ("gateway", "d", "e", "T", "B", "L"):
        rise = rises[quiet]
        assert rise is not None and rise < 3, (quiet, rises)
    # A service Prometheus has no series for is unmeasured, not quiet.
    assert probe.client_rise("nobody", *WINDOW, 2) is None
    # Before the rise, nothing rose.
    before = probe.client_rise("a", T_INCIDENT - 1200.0, T_INCIDENT - 900.0, 2)
    assert before is not None and before < 3


def test_own_service_deviation_read_from_prometheus(probe: PrometheusProbe) -> None:
    big, name = probe.deviation("L", *WINDOW)
    small, _ = probe.deviation("T", *WINDOW)
    assert big > 100 and "svc_server_latency_seconds" in name
    assert small < 3
    assert not probe.errors, list(probe.errors)


def test_callers_client_latency_puts_the_quiet_target_first(probe: PrometheusProbe) -> None:
    # Only the gateway alerted. T, B and L explain it alike; L's own latency jumped, T's callers waited.
    alerting = {"gateway": ServiceEvidence(first_seen=T_INCIDENT, last_seen=T_INCIDENT, alerts=1)}
    weights = dataclasses.replace(RootCauseWeights(), metrics=0.0, callers=2.0)
    ranked = rank_root_causes(alerting, ServiceGraph(EDGES), weights, probe)
    assert ranked[0].service == "T", ranked
    assert any("client latency rose at 3 of its 3 callers" in r for r in ranked[0].reasons), ranked[0]
    # With the callers' signal off and the own-service probe on, L's jump leads instead.
    own = rank_root_causes(alerting, ServiceGraph(EDGES), RootCauseWeights(), probe)
    assert own[0].service == "L", own
    assert not probe.errors, list(probe.errors)


def test_a_bad_client_query_is_an_error_kept_not_a_failed_ranking(prometheus: str) -> None:
    with httpx.Client(base_url=prometheus, timeout=10.0) as client:
        probe = PrometheusProbe(
            client, [SERVER_QUERY], client_queries=["max by (service) (svc_client_latency"]
        )
        assert probe.client_rise("a", *WINDOW, 2) is None
        assert len(probe.errors) == 1 and "400" in probe.errors[0]
        alerting = {"gateway": ServiceEvidence(first_seen=T_INCIDENT, last_seen=T_INCIDENT, alerts=1)}
        weights = dataclasses.replace(RootCauseWeights(), metrics=0.0, callers=2.0)
        ranked = rank_root_causes(alerting, ServiceGraph(EDGES), weights, probe)
        assert ranked[0].service == "gateway"  # no evidence from the callers: the alerting one leads
