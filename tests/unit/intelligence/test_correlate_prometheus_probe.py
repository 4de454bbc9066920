"""The Prometheus-backed metric probe, against a fake query API (no network)."""

from __future__ import annotations

import httpx
import pytest

from tocsin.intelligence.correlation.prometheus_probe import PrometheusProbe, promql_string

T0 = 1_700_000_000.0
QUERY = 'rate(latency_seconds_sum{service="$service"}[1m])'


def matrix(values: list[float], metric: dict[str, str] | None = None) -> dict[str, object]:
    start = T0 - 1800.0
    points = [[start + 60.0 * i, str(v)] for i, v in enumerate(values)]
    return {
        "status": "success",
        "data": {"resultType": "matrix", "result": [{"metric": metric or {}, "values": points}]},
    }


def probe_for(handler: httpx.MockTransport) -> PrometheusProbe:
    return PrometheusProbe(httpx.Client(transport=handler, base_url="http://prom"), [QUERY])


def test_deviation_of_a_spiking_series_and_the_query_sent() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        flat = [1.0 + 0.01 * (i % 3) for i in range(30)]
        spike = 9.0 if 'service="cart"' in request.url.params["query"] else 1.01
        return httpx.Response(200, json=matrix(flat + [spike] * 5, {"pod": "p1"}))

    probe = probe_for(httpx.MockTransport(handle))
    big, name = probe.deviation("cart", T0, T0 + 240)
    small, _ = probe.deviation("payment", T0, T0 + 240)
    assert big > 50 and small < 2
    assert "pod" in name
    params = seen[0].url.params
    assert seen[0].url.path == "/api/v1/query_range"
    assert params["query"] == 'rate(latency_seconds_sum{service="cart"}[1m])'
    assert float(params["start"]) == pytest.approx(T0 - 1800.0)
    assert float(params["end"]) == pytest.approx(T0 + 240)
    assert not probe.errors


def test_service_names_are_quoted_for_promql() -> None:
    assert promql_string('a"b\\c') == 'a\\"b\\\\c'
    sent: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request.url.params["query"])
        return httpx.Response(200, json=matrix([1.0] * 10))

    probe_for(httpx.MockTransport(handle)).deviation('x"} or vector(1) #', T0, T0 + 60)
    assert sent == ['rate(latency_seconds_sum{service="x\\"} or vector(1) #"}[1m])']


@pytest.mark.parametrize(
    ("response", "error"),
    [
        (httpx.Response(503, text="down"), "503"),
        (httpx.Response(200, text="not json"), ""),
        (httpx.Response(200, json={"status": "error", "error": "parse error"}), "parse error"),
        (httpx.Response(200, json={"status": "success", "data": {"resultType": "vector"}}), "matrix"),
        (
            httpx.Response(200, json={"status": "success", "data": {"resultType": "matrix", "result": [{}]}}),
            "malformed",
        ),
        (
            httpx.Response(
                200, json={"status": "success", "data": {"resultType": "matrix", "result": ["x"]}}
            ),
            "malformed",
        ),
    ],
)
def test_failures_give_no_evidence_and_are_recorded(response: httpx.Response, error: str) -> None:
    probe = probe_for(httpx.MockTransport(lambda request: response))
    assert probe.deviation("cart", T0, T0 + 60) == (0.0, "")
    assert len(probe.errors) == 1 and error in probe.errors[0]


def test_bad_configuration_is_rejected() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)), base_url="http://p")
    with pytest.raises(ValueError, match="at least one"):
        PrometheusProbe(client, [])
    with pytest.raises(ValueError, match=r"\$service"):
        PrometheusProbe(client, ["up"])
    with pytest.raises(ValueError, match="step_s"):
        PrometheusProbe(client, [QUERY], step_s=0)
    with pytest.raises(ValueError, match="ends before"):
        PrometheusProbe(client, [QUERY]).deviation("x", T0, T0 - 1)
