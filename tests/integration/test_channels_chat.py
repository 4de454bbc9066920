"""Opsgenie, Telegram, Discord, Mattermost, Pushover, VictorOps, Webex and Apprise: each
provider's documented request, and error replies classified for retry."""

from __future__ import annotations

import hashlib

import pytest
from _channels_httpd import Provider, integration, provider_fixture  # noqa: F401

from tocsin.notify.base import NotifyError
from tocsin.notify.pushover import PushoverIntegration
from tocsin.notify.templates import sample_notification

GROUP_HASH = hashlib.sha256(b'{}:{alertname="HighLatency"}').hexdigest()


# --- Opsgenie ------------------------------------------------------------------------------------
def _opsgenie(url: str) -> str:
    return f"""  opsgenie_configs:
  - api_key: GENIEKEY-SECRET
    api_url: {url}
    priority: '{{{{ if eq .CommonLabels.severity "critical" }}}}P1{{{{ else }}}}P3{{{{ end }}}}'
    tags: 'team-api,{{{{ .CommonLabels.service }}}}'
    responders:
    - name: sre
      type: team
"""


async def test_opsgenie_create_and_close(provider: Provider) -> None:
    integ = integration(_opsgenie(provider.url))
    provider.reply(202, {"result": "Request will be processed", "requestId": "r1"})
    await integ.notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/v2/alerts")
    assert req.headers["authorization"] == "GenieKey GENIEKEY-SECRET"
    body = req.json()
    assert body["message"] == "[FIRING:2] HighLatency" and len(body["message"]) <= 130
    assert body["alias"] == GROUP_HASH
    assert body["priority"] == "P1"
    assert body["tags"] == ["team-api", "api"]
    assert body["responders"] == [{"type": "team", "name": "sre"}]
    assert body["details"]["service"] == "api"
    provider.reply(202, {"result": "Request will be processed"})
    await integ.notify(sample_notification("resolved"))
    req = provider.last
    assert req.path == f"/v2/alerts/{GROUP_HASH}/close"
    assert req.query["identifierType"] == ["alias"]


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (500, True), (422, False), (401, False)])
async def test_opsgenie_errors(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, {"message": "nope"})
    with pytest.raises(NotifyError) as e:
        await integration(_opsgenie(provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable
    assert "GENIEKEY-SECRET" not in str(e.value)


# --- Telegram ------------------------------------------------------------------------------------
def _telegram(url: str) -> str:
    return f"""  telegram_configs:
  - bot_token: '123456:ABC-SECRET'
    chat_id: -1001234
    api_url: {url}
    message_thread_id: 7
"""


async def test_telegram_send_message(provider: Provider) -> None:
    provider.reply(200, {"ok": True, "result": {"message_id": 1}})
    await integration(_telegram(provider.url)).notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/bot123456:ABC-SECRET/sendMessage")
    body = req.json()
    assert body["chat_id"] == -1001234 and body["parse_mode"] == "HTML"
    assert body["message_thread_id"] == 7
    assert body["text"].startswith("<b>[FIRING:2] HighLatency</b>")
    assert len(body["text"]) <= 4096


async def test_telegram_429_uses_retry_after_from_body(provider: Provider) -> None:
    provider.reply(
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests",
            "parameters": {"retry_after": 5},
        },
    )
    with pytest.raises(NotifyError) as e:
        await integration(_telegram(provider.url)).notify(sample_notification())
    assert e.value.retryable and e.value.retry_after == 5.0
    assert "ABC-SECRET" not in str(e.value)


async def test_telegram_400_is_permanent_and_hides_token(provider: Provider) -> None:
    provider.reply(400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"})
    with pytest.raises(NotifyError) as e:
        await integration(_telegram(provider.url)).notify(sample_notification())
    assert not e.value.retryable
    assert "ABC-SECRET" not in str(e.value)


# --- Discord -------------------------------------------------------------------------------------
async def test_discord_embed(provider: Provider) -> None:
    provider.reply(204, "")
    integ = integration(f"""  discord_configs:
  - webhook_url: {provider.url}/api/webhooks/123/TOKEN-SECRET
    username: tocsin
""")
    await integ.notify(sample_notification())
    req = provider.last
    assert req.path == "/api/webhooks/123/TOKEN-SECRET"
    body = req.json()
    assert body["allowed_mentions"] == {"parse": []}
    assert body["username"] == "tocsin"
    embed = body["embeds"][0]
    assert embed["title"] == "[FIRING:2] HighLatency (api critical)"
    assert embed["color"] == 0x992D22
    assert len(embed["description"]) <= 4096
    provider.reply(429, {"message": "You are being rate limited.", "retry_after": 1.5, "global": False})
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable and e.value.retry_after == 1.5
    assert "TOKEN-SECRET" not in str(e.value)


# --- Mattermost ----------------------------------------------------------------------------------
async def test_mattermost_webhook(provider: Provider) -> None:
    provider.reply(200, "ok")
    integ = integration(f"""  mattermost_configs:
  - webhook_url: {provider.url}/hooks/KEYSECRET
    channel: town-square
    username: tocsin
""")
    await integ.notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/hooks/KEYSECRET")
    body = req.json()
    assert body["channel"] == "town-square" and body["username"] == "tocsin"
    assert body["text"].startswith("#### [FIRING:2] HighLatency")
    provider.reply(400, "Unable to parse")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert not e.value.retryable


# --- Pushover ------------------------------------------------------------------------------------
def _pushover(url: str) -> PushoverIntegration:
    from tocsin.config import load_config_text

    cfg = (
        load_config_text("""
route: {receiver: r}
receivers:
- name: r
  pushover_configs:
  - user_key: USERKEY
    token: APPTOKEN
    sound: siren
""")
        .receivers[0]
        .pushover_configs[0]
    )
    return PushoverIntegration("r", 0, cfg, api_url=url + "/1/messages.json")


async def test_pushover_emergency_priority(provider: Provider) -> None:
    provider.reply(200, {"status": 1, "request": "abc", "receipt": "r" * 30})
    await _pushover(provider.url).notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/1/messages.json")
    form = req.form()
    assert form["token"] == "APPTOKEN" and form["user"] == "USERKEY"
    assert form["priority"] == "2" and form["retry"] == "60" and form["expire"] == "3600"
    assert form["sound"] == "siren"
    assert len(form["message"]) <= 1024 and len(form["title"]) <= 250
    provider.reply(200, {"status": 1})
    await _pushover(provider.url).notify(sample_notification("resolved"))
    form = provider.last.form()
    assert form["priority"] == "0" and "retry" not in form


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (429, False), (400, False)])
async def test_pushover_errors(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, {"status": 0, "errors": ["nope"]})
    with pytest.raises(NotifyError) as e:
        await _pushover(provider.url).notify(sample_notification())
    assert e.value.retryable is retryable
    assert "APPTOKEN" not in str(e.value)


# --- VictorOps -----------------------------------------------------------------------------------
async def test_victorops_critical_then_recovery(provider: Provider) -> None:
    integ = integration(f"""  victorops_configs:
  - api_key: VOKEY
    api_url: {provider.url}/integrations/generic/20131114/alert/
    routing_key: team-api
    custom_fields:
      runbook: '{{{{ .CommonAnnotations.runbook_url }}}}'
""")
    provider.reply(200, {"result": "success"})
    await integ.notify(sample_notification())
    req = provider.last
    assert req.path == "/integrations/generic/20131114/alert/VOKEY/team-api"
    body = req.json()
    assert body["message_type"] == "CRITICAL"
    assert body["entity_id"] == GROUP_HASH
    assert body["monitoring_tool"] == "tocsin"
    assert body["runbook"] == "https://runbooks.example.com/high-latency"
    provider.reply(200, {"result": "success"})
    await integ.notify(sample_notification("resolved"))
    assert provider.last.json()["message_type"] == "RECOVERY"
    assert provider.last.json()["entity_id"] == GROUP_HASH
    provider.reply(503, "down")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable and "VOKEY" not in str(e.value)


# --- Webex ---------------------------------------------------------------------------------------
async def test_webex_message(provider: Provider) -> None:
    integ = integration(f"""  webex_configs:
  - api_url: {provider.url}/v1/messages
    room_id: ROOM1
    http_config:
      authorization:
        credentials: WEBEXBOT
""")
    provider.reply(200, {"id": "m1"})
    await integ.notify(sample_notification())
    req = provider.last
    assert req.path == "/v1/messages"
    assert req.headers["authorization"] == "Bearer WEBEXBOT"
    body = req.json()
    assert body["roomId"] == "ROOM1"
    assert body["markdown"].startswith("**[FIRING:2] HighLatency**")
    assert len(body["markdown"].encode()) <= 7439
    provider.reply(429, "slow down", Retry_After="4")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable and e.value.retry_after == 4.0


# --- Apprise -------------------------------------------------------------------------------------
async def test_apprise_json_url(provider: Provider) -> None:
    host = provider.url.removeprefix("http://")
    integ = integration(f"""  apprise_configs:
  - urls: ['json://{host}/notify']
    title: '{{{{ .CommonLabels.alertname }}}}'
""")
    provider.reply(200, "ok")
    await integ.notify(sample_notification())
    req = provider.last
    assert (req.method, req.path) == ("POST", "/notify")
    body = req.json()
    assert body["title"] == "HighLatency"
    assert "p99 latency above 2s" in body["message"]
    assert body["type"] == "failure"
    provider.reply(500, "down")
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable


def test_apprise_bad_url_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="apprise cannot use a nosuchservice:// URL"):
        integration("""  apprise_configs:
  - urls: ['nosuchservice://token@host']
""")


_SIMPLE = {
    "discord": "  discord_configs:\n  - webhook_url: {url}/api/webhooks/1/SECRETTOKEN\n",
    "mattermost": "  mattermost_configs:\n  - webhook_url: {url}/hooks/SECRETTOKEN\n",
    "victorops": (
        "  victorops_configs:\n  - api_key: SECRETTOKEN\n    api_url: {url}/alert/\n    routing_key: team\n"
    ),
    "webex": (
        "  webex_configs:\n  - api_url: {url}/v1/messages\n    room_id: R\n"
        "    http_config:\n      authorization:\n        credentials: SECRETTOKEN\n"
    ),
    "telegram": "  telegram_configs:\n  - bot_token: SECRETTOKEN\n    chat_id: 5\n    api_url: {url}\n",
    "opsgenie": "  opsgenie_configs:\n  - api_key: SECRETTOKEN\n    api_url: {url}/\n",
}


@pytest.mark.parametrize("kind", sorted(_SIMPLE))
@pytest.mark.parametrize(
    ("status", "retryable", "retry_after"),
    [(429, True, 2.0), (500, True, 2.0), (503, True, 2.0), (400, False, None)],
)
async def test_reply_classes_for_every_provider(
    provider: Provider, kind: str, status: int, retryable: bool, retry_after: float | None
) -> None:
    provider.reply(status, '{"message": "nope"}', Retry_After="2")
    with pytest.raises(NotifyError) as e:
        await integration(_SIMPLE[kind].format(url=provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable, kind
    assert e.value.retry_after == retry_after
    assert "SECRETTOKEN" not in str(e.value)
    assert len(provider.seen) == 1
