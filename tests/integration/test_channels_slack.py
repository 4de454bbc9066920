"""Slack: the incoming webhook and Web API requests, chat.update on resolution, error classes."""

from __future__ import annotations

import json

import pytest
from _channels_httpd import Provider, integration, provider_fixture  # noqa: F401

from tocsin.notify.base import NotifyError
from tocsin.notify.templates import sample_notification

TOKEN = "xoxb-test-token-123456"


def _webhook(url: str, extra: str = "") -> str:
    return f"""  slack_configs:
  - api_url: {url}/services/T000/B000/XXXXSECRET
    channel: '#alerts'
    send_resolved: true{extra}
"""


def _webapi(url: str, extra: str = "") -> str:
    return f"""  slack_configs:
  - api_url: {url}/api/chat.postMessage
    app_token: {TOKEN}
    channel: C123
    send_resolved: true
    interactive: true{extra}
"""


def _blocks(body: dict) -> list[dict]:
    return body["attachments"][0]["blocks"]


async def test_incoming_webhook_posts_block_kit(provider: Provider) -> None:
    integ = integration(_webhook(provider.url))
    await integ.notify(sample_notification())
    req = provider.last
    assert req.method == "POST"
    assert req.path == "/services/T000/B000/XXXXSECRET"
    assert req.headers["content-type"].startswith("application/json")
    body = req.json()
    assert body["text"] == "[FIRING:2] HighLatency (api critical)"
    assert body["channel"] == "#alerts"
    att = body["attachments"][0]
    assert att["color"] == "danger"
    blocks = _blocks(body)
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "[FIRING:2] HighLatency (api critical)", "emoji": True},
    }
    assert (
        blocks[1]["type"] == "section" and "p99 latency above 2s on api-1:9100" in blocks[1]["text"]["text"]
    )
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section" and "text" in b)
    # No buttons unless the receiver asks for them.
    assert not [b for b in blocks if b["type"] == "actions"]


async def test_web_api_buttons_and_update_on_resolve(provider: Provider) -> None:
    integ = integration(_webapi(provider.url))
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"})
    await integ.notify(sample_notification("firing"))
    post = provider.last
    assert post.path == "/api/chat.postMessage"
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert post.headers["content-type"] == "application/json; charset=utf-8"
    assert TOKEN not in post.body.decode()  # the token travels in the header only
    actions = next(b for b in _blocks(post.json()) if b["type"] == "actions")
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == ["ack", "resolve", "silence_1h"]
    value = json.loads(actions["elements"][0]["value"])
    assert value == {"gk": '{}:{alertname="HighLatency"}', "t": "default", "l": {"alertname": "HighLatency"}}
    assert actions["elements"][0]["style"] == "primary"
    assert actions["elements"][2]["confirm"]["confirm"]["text"] == "Silence"

    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"})
    await integ.notify(sample_notification("resolved"))
    upd = provider.last
    assert upd.path == "/api/chat.update"
    body = upd.json()
    assert body["channel"] == "C123" and body["ts"] == "1700000000.000100"
    assert body["attachments"][0]["color"] == "good"
    assert not [b for b in _blocks(body) if b["type"] == "actions"]  # no buttons on a resolved group
    assert len(provider.seen) == 2


async def test_resolved_without_stored_message_posts_new(provider: Provider) -> None:
    integ = integration(_webapi(provider.url))
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1.2"})
    await integ.notify(sample_notification("resolved"))
    assert provider.last.path == "/api/chat.postMessage"


async def test_update_of_deleted_message_falls_back_to_post(provider: Provider) -> None:
    integ = integration(_webapi(provider.url))
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1.2"})
    await integ.notify(sample_notification("firing"))
    provider.reply(200, {"ok": False, "error": "message_not_found"})
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1.3"})
    await integ.notify(sample_notification("resolved"))
    assert [r.path for r in provider.seen] == [
        "/api/chat.postMessage",
        "/api/chat.update",
        "/api/chat.postMessage",
    ]


@pytest.mark.parametrize(
    ("status", "body", "headers", "retryable", "retry_after"),
    [
        (429, "rate limited", {"Retry-After": "7"}, True, 7.0),
        (500, "rollup_error", {}, True, None),
        (503, "", {}, True, None),
        (400, "invalid_payload", {}, False, None),
        (404, "channel_not_found", {}, False, None),
        (410, "channel_is_archived", {}, False, None),
    ],
)
async def test_webhook_errors_are_classified(
    provider: Provider, status: int, body: str, headers: dict, retryable: bool, retry_after: float | None
) -> None:
    integ = integration(_webhook(provider.url))
    provider.reply(status, body, **headers)
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable is retryable
    assert e.value.retry_after == retry_after
    assert "XXXXSECRET" not in str(e.value)


@pytest.mark.parametrize(
    ("error", "retryable"),
    [
        ("invalid_auth", False),
        ("channel_not_found", False),
        ("ratelimited", True),
        ("service_unavailable", True),
    ],
)
async def test_web_api_ok_false_is_classified(provider: Provider, error: str, retryable: bool) -> None:
    integ = integration(_webapi(provider.url))
    provider.reply(200, {"ok": False, "error": error})
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable is retryable
    assert error in str(e.value)
    assert TOKEN not in str(e.value)


async def test_network_error_is_retryable_and_hides_url() -> None:
    integ = integration(_webhook("http://127.0.0.1:9"))
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert e.value.retryable
    assert "XXXXSECRET" not in str(e.value)


async def test_go_template_overrides(provider: Provider) -> None:
    extra = """
    title: '{{ .CommonLabels.alertname }} on {{ .CommonLabels.service }}'
    text: '{{ range .Alerts }}* {{ .Labels.instance }}{{ "\\n" }}{{ end }}'"""
    integ = integration(_webhook(provider.url, extra))
    await integ.notify(sample_notification())
    blocks = _blocks(provider.last.json())
    assert blocks[0]["text"]["text"] == "HighLatency on api"
    assert blocks[1]["text"]["text"] == "* api-1:9100\n* api-2:9100\n"


async def test_rate_limit_queues_a_burst_per_webhook(provider: Provider) -> None:
    from tocsin.notify.ratelimit import RateLimits

    now = [0.0]
    waits: list[float] = []

    async def sleep(s: float) -> None:
        waits.append(s)
        now[0] += s

    integ = integration(_webhook(provider.url))
    integ.limits = RateLimits(60, 60.0, clock=lambda: now[0], sleep=sleep)  # type: ignore[attr-defined]
    for _ in range(63):
        await integ.notify(sample_notification())
    assert len(provider.seen) == 63  # none dropped
    assert waits == pytest.approx([1.0, 1.0, 1.0])  # beyond the burst, one message a second


async def test_message_to_update_survives_a_restart(provider: Provider, tmp_path) -> None:
    """The (channel, ts) of a group's message is kept in the store, so a resolution after a
    restart still edits the original message."""
    from tocsin.engine.channel_state import ChannelStateStore
    from tocsin.storage import open_storage
    from tocsin.storage.writer import GroupCommitWriter

    def state_of(storage):  # type: ignore[no-untyped-def]
        store = ChannelStateStore(GroupCommitWriter(storage))
        store.load(storage.load_docs("channel_state"))
        return store

    storage = open_storage(url=f"sqlite:///{tmp_path}/s.db")
    first = state_of(storage)
    integ = integration(_webapi(provider.url))
    integ.state = first.scoped("team/slack/0")
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"})
    await integ.notify(sample_notification("firing"))
    first.writer.flush()
    first.writer.close()

    restarted = integration(_webapi(provider.url))  # a new process: nothing in memory
    second = state_of(storage)
    restarted.state = second.scoped("team/slack/0")
    provider.reply(200, {"ok": True, "channel": "C123", "ts": "1700000000.000100"})
    await restarted.notify(sample_notification("resolved"))
    assert provider.last.path == "/api/chat.update"
    assert provider.last.json()["ts"] == "1700000000.000100"
    second.writer.flush()
    assert storage.load_docs("channel_state") == []  # forgotten once resolved
    second.writer.close()
    storage.close()
