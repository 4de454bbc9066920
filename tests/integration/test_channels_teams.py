"""Microsoft Teams: Workflows Adaptive Card and the legacy MessageCard, sizes and errors."""

from __future__ import annotations

import pytest
from _channels_httpd import Provider, integration, provider_fixture  # noqa: F401

from tocsin.model import Alert
from tocsin.notify.base import NotifyError
from tocsin.notify.msteams import MAX_BODY
from tocsin.notify.templates import sample_notification


def _v2(url: str) -> str:
    return f"""  msteamsv2_configs:
  - webhook_url: {url}/workflows/abc/triggers/manual/paths/invoke?api-version=2016-06-01&sig=SECRETSIG
"""


async def test_workflows_adaptive_card(provider: Provider) -> None:
    provider.reply(202, "")
    n = sample_notification()
    # With an incident for the group, the card carries its signed acknowledgement link.
    n.extra["ack_url"] = "http://tocsin.example.com:9093/api/tocsin/v1/links/TOKEN"
    await integration(_v2(provider.url)).notify(n)
    req = provider.last
    assert req.method == "POST"
    assert req.path == "/workflows/abc/triggers/manual/paths/invoke"
    assert req.query["sig"] == ["SECRETSIG"]
    assert req.headers["content-type"] == "application/json"
    body = req.json()
    assert body["type"] == "message"
    att = body["attachments"][0]
    assert att["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = att["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    title = card["body"][0]
    assert title["type"] == "TextBlock" and title["color"] == "Attention" and title["weight"] == "Bolder"
    assert title["text"] == "[FIRING:2] HighLatency (api critical)"
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts["severity"] == "critical" and facts["Status"] == "firing"
    actions = {a["title"]: a for a in card["actions"]}
    assert {"Open in tocsin", "Acknowledge", "Silence", "Runbook"} <= set(actions)
    assert all(a["type"] == "Action.OpenUrl" for a in card["actions"])
    assert actions["Acknowledge"]["url"] == "http://tocsin.example.com:9093/api/tocsin/v1/links/TOKEN"
    assert actions["Silence"]["url"].startswith("http://tocsin.example.com:9093/api/tocsin/v1/silence-link?")


async def test_no_ack_button_without_an_incident(provider: Provider) -> None:
    provider.reply(202, "")
    await integration(_v2(provider.url)).notify(sample_notification())
    card = provider.last.json()["attachments"][0]["content"]
    assert "Acknowledge" not in {a["title"] for a in card["actions"]}


async def test_resolved_card_is_good_and_has_no_ack(provider: Provider) -> None:
    provider.reply(202, "")
    await integration(_v2(provider.url)).notify(sample_notification("resolved"))
    card = provider.last.json()["attachments"][0]["content"]
    assert card["body"][0]["color"] == "Good"
    assert "Acknowledge" not in {a["title"] for a in card["actions"]}


async def test_big_group_is_trimmed_under_size_limit(provider: Provider) -> None:
    n = sample_notification()
    n.alerts = [
        Alert(
            labels={"alertname": "Disk", "i": str(i)}, annotations={"summary": "x" * 300}, ends_at=n.now + 60
        )
        for i in range(500)
    ]
    provider.reply(202, "")
    await integration(_v2(provider.url)).notify(n)
    assert len(provider.last.body) <= MAX_BODY


@pytest.mark.parametrize(
    ("status", "retryable"), [(429, True), (500, True), (502, True), (400, False), (413, False)]
)
async def test_errors(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, "nope", Retry_After="3")
    with pytest.raises(NotifyError) as e:
        await integration(_v2(provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable
    assert e.value.retry_after == (3.0 if retryable else None)
    assert "SECRETSIG" not in str(e.value)


async def test_legacy_connector_message_card(provider: Provider) -> None:
    provider.reply(200, "1")
    integ = integration(f"""  msteams_configs:
  - webhook_url: {provider.url}/webhookb2/tenant/IncomingWebhook/SECRET
""")
    await integ.notify(sample_notification())
    body = provider.last.json()
    assert body["@type"] == "MessageCard" and body["@context"] == "https://schema.org/extensions"
    assert body["themeColor"] == "C62828"
    assert body["summary"] == body["title"] == "[FIRING:2] HighLatency (api critical)"
    assert body["potentialAction"][0]["@type"] == "OpenUri"
    assert {"name": "severity", "value": "critical"} in body["sections"][0]["facts"]


async def test_legacy_connector_throttle_in_200_body(provider: Provider) -> None:
    provider.reply(200, "Microsoft Teams endpoint returned HTTP error 429")
    integ = integration(f"""  msteams_configs:
  - webhook_url: {provider.url}/webhookb2/x
""")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable
