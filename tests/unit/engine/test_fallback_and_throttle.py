"""Fallback receivers and per-integration rate limits (tocsin extensions)."""

from __future__ import annotations

import pytest

from tocsin.config import ConfigError, load_config_text
from tocsin.engine.throttle import Throttle
from tocsin.notify.base import NotifyError

FALLBACK = """
route:
  receiver: primary
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
  - name: primary
    fallback_receiver: backup
    webhook_configs: [{url: "http://127.0.0.1:1/p"}]
  - name: backup
    fallback_receiver: last
    webhook_configs: [{url: "http://127.0.0.1:1/b"}]
  - name: last
    webhook_configs: [{url: "http://127.0.0.1:1/l"}]
"""


async def test_failed_delivery_goes_to_fallback_once(harness) -> None:
    h = harness(FALLBACK)
    h.rec["primary"][0].fail_with = NotifyError("410 gone", retryable=False)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(3600)})
    await h.advance(30)
    backup = h.rec["backup"][0].sent
    assert len(backup) == 1 and backup[0].reason == "fallback for primary: first notification"
    assert backup[0].receiver == "backup"
    await h.advance(600)  # delivered through the fallback: no repeat on every tick
    assert len(h.rec["backup"][0].sent) == 1
    assert h.rec["last"][0].sent == []


async def test_fallback_chain_follows_until_someone_gets_it(harness) -> None:
    h = harness(FALLBACK)
    h.rec["primary"][0].fail_with = NotifyError("400", retryable=False)
    h.rec["backup"][0].fail_with = NotifyError("400", retryable=False)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(3600)})
    await h.advance(30)
    assert len(h.rec["last"][0].sent) == 1


@pytest.mark.parametrize(
    ("receivers", "needle"),
    [
        ("[{name: a, fallback_receiver: b}, {name: b, fallback_receiver: a}]", "cycle: a -> b -> a"),
        ("[{name: a, fallback_receiver: zz}]", "undefined fallback receiver 'zz'"),
        ("[{name: a, fallback_receiver: a}]", "cycle: a -> a"),
    ],
)
def test_bad_fallbacks_are_config_errors(receivers: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle):
        load_config_text(f"route: {{receiver: a}}\nreceivers: {receivers}\n")


def test_fallback_is_hidden_from_alertmanager_clients() -> None:
    cfg = load_config_text("route: {receiver: a}\nreceivers: [{name: a, fallback_receiver: b}, {name: b}]\n")
    assert "fallback_receiver" not in cfg.to_yaml()
    assert "fallback_receiver" in cfg.to_yaml(include_extensions=True)


def test_token_bucket() -> None:
    t = Throttle()
    assert all(t.allow("k", (2, 60), 0) for _ in range(2))
    assert not t.allow("k", (2, 60), 0)
    assert not t.allow("k", (2, 60), 29)
    assert t.allow("k", (2, 60), 31)  # one token back after 30 s
    assert t.allow("other", (2, 60), 31)
    assert t.allow("k", None, 31)


async def test_rate_limited_notifications_are_batched_not_lost(harness) -> None:
    h = harness(FALLBACK.replace("group_by: [alertname]", "group_by: [alertname, i]"))
    h.rec["primary"][0].rate_limit = (1, 600)
    await h.post(*({"labels": {"alertname": "A", "i": str(i)}, "endsAt": h.at(7200)} for i in range(3)))
    await h.advance(30)
    assert len(h.rec["primary"][0].sent) == 1  # one token: the other two groups wait
    await h.advance(3600)
    groups = {n.group_labels["i"] for n in h.rec["primary"][0].sent}
    assert groups == {"0", "1", "2"}  # every group got through as tokens came back


async def test_retry_after_is_a_floor_under_backoff(harness) -> None:
    h = harness(FALLBACK.replace("group_interval: 5m", "group_interval: 10m"))
    rec = h.rec["primary"][0]
    waits: list[float] = []
    sleep = h.engine.pipeline.sleep

    async def record_sleep(seconds: float) -> None:
        waits.append(seconds)
        await sleep(seconds)

    h.engine.pipeline.sleep = record_sleep
    rec.fail_with = NotifyError("429", retryable=True, retry_after=120)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(7200)})
    await h.advance(30)
    assert waits and all(w >= 120 for w in waits)
    assert rec.attempts == len(waits) + 1 <= 6  # 10 minutes of deadline at >= 2 minutes apart


def test_extension_fields_are_hidden_from_alertmanager_clients() -> None:
    cfg = load_config_text(
        """
route: {receiver: a, escalation_policy: p}
receivers:
  - name: a
    webhook_configs:
      - {url: "http://h/x", signing_secret: "whsec_c2VjcmV0c2VjcmV0c2VjcmV0", body_template: "{}"}
    slack_configs: [{api_url: "http://s/x", channel: "#c", interactive: true}]
"""
    )
    shown = cfg.to_yaml()
    for key in ("escalation_policy", "signing_secret", "body_template", "interactive"):
        assert key not in shown
    full = cfg.to_yaml(include_extensions=True)
    assert "escalation_policy" in full and "interactive" in full
