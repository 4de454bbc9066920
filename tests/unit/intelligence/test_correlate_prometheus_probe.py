"""The Prometheus-backed metric probe, against a fake query API (no network)."""

from __future__ import annotations

from collections.abc import Sequence

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


CLIENT_QUERY = "histogram_quantile(0.9, sum by (le, service) (rate(client_duration_seconds_bucket[1m])))"


def client_matrix(series: dict[str, list[float]], extra: Sequence[dict[str, str]] = ()) -> dict[str, object]:
    """One series per service (labelled ``service``), plus series with the labels in ``extra``."""
    start = T0 - 1800.0
    result = [
        {"metric": {"service": svc}, "values": [[start + 60.0 * i, str(v)] for i, v in enumerate(values)]}
        for svc, values in series.items()
    ]
    result += [{"metric": labels, "values": [[start, "1"]]} for labels in extra]
    return {"status": "success", "data": {"resultType": "matrix", "result": result}}


def test_client_latency_of_every_service_from_one_query_per_window() -> None:
    seen: list[httpx.Request] = []
    flat = [0.1 + 0.001 * (i % 3) for i in range(30)]

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json=client_matrix(
                # a: the calls it makes take ten times longer for five samples; b: one sample only.
                {"a": flat + [1.0] * 5, "b": flat + [1.0] + [0.1] * 4, "c": flat + [0.1] * 5},
                extra=[{"pod": "p-without-service"}],
            ),
        )

    probe = PrometheusProbe(
        httpx.Client(transport=httpx.MockTransport(handle), base_url="http://prom"),
        [QUERY],
        client_queries=[CLIENT_QUERY],
    )
    assert probe.client_services is None  # depends on the window: every service is asked
    held = probe.client_rise("a", T0, T0 + 240, 2)
    blip_once = probe.client_rise("b", T0, T0 + 240, 1)
    blip_held = probe.client_rise("b", T0, T0 + 240, 2)
    quiet = probe.client_rise("c", T0, T0 + 240, 2)
    assert held is not None and held > 100
    assert blip_once is not None and blip_once > 100 and blip_held is not None and blip_held < 3
    assert quiet is not None and quiet < 3
    assert probe.client_rise("nobody", T0, T0 + 240, 2) is None
    assert len(seen) == 1  # the window's answer is kept for every service
    assert seen[0].url.params["query"] == CLIENT_QUERY
    assert float(seen[0].url.params["start"]) == pytest.approx(T0 - 1800.0)
    assert any("without the label 'service'" in e for e in probe.errors)
    probe.client_rise("a", T0 + 60, T0 + 240, 2)
    assert len(seen) == 2  # another window: asked again


def test_a_failing_client_query_measures_nobody() -> None:
    probe = PrometheusProbe(
        httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(503)), base_url="http://p"),
        [QUERY],
        client_queries=[CLIENT_QUERY],
    )
    assert probe.client_rise("a", T0, T0 + 60, 2) is None
    assert len(probe.errors) == 1 and "503" in probe.errors[0]


def test_bad_client_configuration_is_rejected() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)), base_url="http://p")
    with pytest.raises(ValueError, match=r"every service's series at once, each labelled with 'app'"):
        PrometheusProbe(
            client, [QUERY], client_queries=['client_latency{app="$service"}'], client_label="app"
        )
    with pytest.raises(ValueError, match="client-latency query is empty"):
        PrometheusProbe(client, [QUERY], client_queries=[" "])
    with pytest.raises(ValueError, match="client_label"):
        PrometheusProbe(client, [QUERY], client_queries=[CLIENT_QUERY], client_label="")
    with pytest.raises(ValueError, match="samples"):
        PrometheusProbe(client, [QUERY]).client_rise("x", T0, T0 + 60, 0)
