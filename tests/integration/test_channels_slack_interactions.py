"""Slack interactions endpoint: signed button clicks act on the group; bad, stale or replayed
signatures get 401 and change nothing. Silence 1h runs against a real Engine."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from _channels_httpd import Provider, provider_fixture  # noqa: F401
from starlette.applications import Starlette

from tocsin.api.slack import EngineInteractionHandler, GroupRef, Outcome, slack_routes
from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.matchers import MatchType
from tocsin.storage import open_storage

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
NOW = 1_700_000_000
GROUP = {
    "gk": '{}:{alertname="HighLatency"}',
    "t": "default",
    "l": {"alertname": "HighLatency", "service": "api"},
}


def _payload(action_id: str, response_url: str = "") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U123", "username": "ana"},
        "container": {"type": "message", "message_ts": "1.2", "channel_id": "C1"},
        "response_url": response_url,
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": json.dumps(GROUP)}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def _signed(body: bytes, ts: int, secret: str = SECRET) -> dict[str, str]:
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }


class Recording:
    def __init__(self) -> None:
        self.calls: list[tuple[str, GroupRef, str]] = []

    async def ack_group(self, group: GroupRef, user: str) -> Outcome:
        self.calls.append(("ack", group, user))
        return Outcome(True, "acknowledged")

    async def resolve_group(self, group: GroupRef, user: str) -> Outcome:
        self.calls.append(("resolve", group, user))
        return Outcome(True, "resolved")

    async def silence_group(self, group: GroupRef, user: str) -> Outcome:
        self.calls.append(("silence", group, user))
        return Outcome(True, "silenced")


def _client(handler: object, clock: list[float]) -> httpx.AsyncClient:
    app = Starlette(routes=slack_routes(SECRET, handler, clock=lambda: clock[0]))  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://tocsin")


async def test_valid_signature_acknowledges_group(provider: Provider) -> None:
    rec = Recording()
    async with _client(rec, [NOW + 10]) as c:
        body = _payload("ack", provider.url + "/actions/T1/1/xyz")
        r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=_signed(body, NOW))
    assert r.status_code == 200
    assert len(rec.calls) == 1
    action, group, user = rec.calls[0]
    assert (action, user) == ("ack", "U123")
    assert group.group_key == GROUP["gk"] and group.labels == GROUP["l"]
    # The outcome is told to the user through response_url as an ephemeral message.
    assert provider.last.path == "/actions/T1/1/xyz"
    assert provider.last.json() == {
        "response_type": "ephemeral",
        "replace_original": False,
        "text": "acknowledged",
    }


@pytest.mark.parametrize(
    ("case", "headers_for"),
    [
        ("bad signature", lambda body: _signed(body, NOW, secret="wrong-secret")),
        ("stale timestamp", lambda body: _signed(body, NOW - 301)),
        ("future timestamp", lambda body: _signed(body, NOW + 301)),
        ("missing headers", lambda body: {"Content-Type": "application/x-www-form-urlencoded"}),
        ("tampered body", lambda body: _signed(body.replace(b"ack", b"resolve"), NOW)),
    ],
)
async def test_bad_signatures_are_rejected(case: str, headers_for: object) -> None:
    rec = Recording()
    async with _client(rec, [NOW]) as c:
        body = _payload("ack")
        r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=headers_for(body))  # type: ignore[operator]
    assert r.status_code == 401, case
    assert rec.calls == []


async def test_replayed_request_is_rejected() -> None:
    rec = Recording()
    async with _client(rec, [NOW]) as c:
        body = _payload("resolve")
        headers = _signed(body, NOW)
        first = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=headers)
        again = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=headers)
    assert (first.status_code, again.status_code) == (200, 401)
    assert [c[0] for c in rec.calls] == ["resolve"]


async def test_malformed_payload_is_400() -> None:
    rec = Recording()
    async with _client(rec, [NOW]) as c:
        body = b"payload=not-json"
        r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=_signed(body, NOW))
    assert r.status_code == 400
    assert "payload" in r.json()["error"]


async def test_silence_button_creates_engine_silence(tmp_path: Path) -> None:
    config = load_config_text("route: {receiver: r}\nreceivers: [{name: r}]\n")
    clock = ManualClock(float(NOW))
    engine = Engine(config, open_storage(url=f"sqlite:///{tmp_path / 't.db'}"), clock=clock)
    try:
        async with _client(EngineInteractionHandler(engine), [NOW]) as c:
            body = _payload("silence_1h")
            r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=_signed(body, NOW))
            assert r.status_code == 200
            silences = engine.silences.all()
            assert len(silences) == 1
            s = silences[0]
            assert s.starts_at == NOW and s.ends_at == NOW + 3600
            assert s.created_by == "slack:U123"
            assert {(m.name, m.op, m.value) for m in s.matchers} == {
                ("alertname", MatchType.EQUAL, "HighLatency"),
                ("service", MatchType.EQUAL, "api"),
            }
            assert engine.silences.mutes({"alertname": "HighLatency", "service": "api", "x": "y"}, NOW + 60)
            # A replay of the same click creates nothing more.
            r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=_signed(body, NOW))
            assert r.status_code == 401
            assert len(engine.silences.all()) == 1
    finally:
        engine.writer.flush()
        engine.writer.close()
        engine.storage.close()
