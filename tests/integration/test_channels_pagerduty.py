"""PagerDuty Events API v2 (and v1): trigger / acknowledge / resolve with one dedup_key per group."""

from __future__ import annotations

import hashlib

import pytest
from _channels_httpd import Provider, integration, provider_fixture  # noqa: F401

from tocsin.notify.base import NotifyError
from tocsin.notify.pagerduty import map_severity
from tocsin.notify.ratelimit import RateLimits
from tocsin.notify.templates import sample_notification

KEY = "R0123456789abcdef0123456789abcdef"[:32]
DEDUP = hashlib.sha256(b'{}:{alertname="HighLatency"}').hexdigest()


def _cfg(url: str, extra: str = "") -> str:
    return f"""  pagerduty_configs:
  - routing_key: {KEY}
    url: {url}/v2/enqueue{extra}
"""


async def test_trigger_event(provider: Provider) -> None:
    provider.reply(202, {"status": "success", "message": "Event processed", "dedup_key": DEDUP})
    await integration(_cfg(provider.url)).notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/v2/enqueue")
    assert req.headers["content-type"] == "application/json"
    assert "authorization" not in req.headers  # the routing key in the body is the credential
    ev = req.json()
    assert ev["routing_key"] == KEY
    assert ev["event_action"] == "trigger"
    assert ev["dedup_key"] == DEDUP and len(ev["dedup_key"]) <= 255
    p = ev["payload"]
    assert p["summary"] == "[FIRING:2] HighLatency"
    assert p["severity"] == "critical"
    assert p["source"] == "tocsin"
    assert p["timestamp"] == "2023-11-14T22:13:20.000+0000"
    assert p["custom_details"]["firing"] == "2"
    assert p["custom_details"]["common_labels"]["service"] == "api"
    assert ev["client"] == "tocsin"
    assert ev["links"][0]["href"].startswith("http://tocsin.example.com:9093/api/v2/alerts/groups?filter=")


async def test_resolve_and_acknowledge_use_same_dedup_key(provider: Provider) -> None:
    integ = integration(_cfg(provider.url))
    provider.reply(202, {"status": "success"})
    await integ.notify(sample_notification("resolved"))
    ev = provider.last.json()
    assert ev == {"routing_key": KEY, "event_action": "resolve", "dedup_key": DEDUP}
    n = sample_notification()
    n.extra["action"] = "acknowledge"
    provider.reply(202, {"status": "success"})
    await integ.notify(n)
    assert provider.last.json() == {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": DEDUP}


async def test_templated_fields(provider: Provider) -> None:
    extra = """
    description: '{{ .CommonLabels.alertname }} is slow'
    severity: '{{ .CommonLabels.severity }}'
    component: '{{ .CommonLabels.service }}'
    class: latency
    group: prod
    details:
      runbook: '{{ .CommonAnnotations.runbook_url }}'
    links:
    - href: https://grafana.example.com/d/1
      text: Dashboard
    images:
    - src: https://grafana.example.com/render.png
      alt: graph
    - src: http://insecure.example.com/x.png"""
    provider.reply(202, {"status": "success"})
    await integration(_cfg(provider.url, extra)).notify(sample_notification())
    ev = provider.last.json()
    p = ev["payload"]
    assert p["summary"] == "HighLatency is slow"
    assert (p["component"], p["class"], p["group"]) == ("api", "latency", "prod")
    assert p["custom_details"] == {"runbook": "https://runbooks.example.com/high-latency"}
    assert ev["links"] == [{"href": "https://grafana.example.com/d/1", "text": "Dashboard"}]
    assert ev["images"] == [{"src": "https://grafana.example.com/render.png", "alt": "graph"}]


@pytest.mark.parametrize(
    ("given", "expected"),
    [("critical", "critical"), ("P1", "critical"), ("page", "critical"), ("major", "error"),
     ("warn", "warning"), ("info", "info"), ("", "error"), ("weird", "error")],
)  # fmt: skip
def test_severity_mapping(given: str, expected: str) -> None:
    assert map_severity(given) == expected


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (503, True), (400, False), (403, False), (404, False)]
)
async def test_error_classification(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, {"status": "invalid event", "message": "Event object is invalid"})
    with pytest.raises(NotifyError) as e:
        await integration(_cfg(provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable
    assert KEY not in str(e.value)


async def test_v1_service_key_403_is_retryable(provider: Provider) -> None:
    integ = integration(f"""  pagerduty_configs:
  - service_key: SERVICEKEY123
    url: {provider.url}/generic/2010-04-15/create_event.json
""")
    provider.reply(200, {"status": "success"})
    await integ.notify(sample_notification())
    ev = provider.last.json()
    assert ev["service_key"] == "SERVICEKEY123" and ev["event_type"] == "trigger"
    assert ev["incident_key"] == DEDUP
    provider.reply(403, "throttled")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable


async def test_rate_limit_waits_instead_of_dropping(provider: Provider) -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    integ = integration(_cfg(provider.url))
    integ.limits = RateLimits(120, 60.0, clock=lambda: now[0], sleep=sleep)  # type: ignore[attr-defined]
    for _ in range(125):
        await integ.notify(sample_notification())
    assert len(provider.seen) == 125  # none lost
    assert len(waits) == 5  # the last five waited for tokens
    assert sum(waits) == pytest.approx(2.5)  # refilled at 2 per second
