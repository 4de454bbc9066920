"""The webhook channel's tocsin extensions: Standard Webhooks HMAC-SHA256 signature, hashed
idempotency key stable across retries, templated body, circuit breaker, max_alerts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from _channels_httpd import Provider, integration, provider_fixture  # noqa: F401

from tocsin.notify.base import NotifyError
from tocsin.notify.signing import verify
from tocsin.notify.templates import sample_notification

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def _cfg(url: str, extra: str = "") -> str:
    return f"""  webhook_configs:
  - url: {url}/hook/PATHSECRET
    signing_secret: {SECRET}{extra}
"""


async def test_signature_is_standard_webhooks(provider: Provider) -> None:
    n = sample_notification()
    n.idempotency_key = "grp\x1fteam-é\x1fwebhook\x1f0\x1f1700000000.000000"
    await integration(_cfg(provider.url)).notify(n)
    req = provider.last
    msg_id, ts = req.headers["webhook-id"], req.headers["webhook-timestamp"]
    assert msg_id.startswith("msg_") and "." not in msg_id
    assert req.headers["idempotency-key"] == msg_id
    # Recompute independently from the spec: HMAC-SHA256 over "{id}.{timestamp}.{body}".
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + req.body, hashlib.sha256).digest())
    assert req.headers["webhook-signature"] == "v1," + expected.decode()
    assert verify(SECRET, req.headers, req.body, now=time.time())
    assert not verify(SECRET, req.headers, req.body + b" ", now=time.time())
    assert not verify(SECRET, req.headers, req.body, now=time.time() + 600)
    assert req.json()["version"] == "4"


async def test_retry_keeps_id_and_re_signs(provider: Provider) -> None:
    clock = [1_700_000_000.0]
    integ = integration(_cfg(provider.url))
    integ.clock = lambda: clock[0]  # type: ignore[attr-defined]
    n = sample_notification()
    provider.reply(503, "busy")
    with pytest.raises(NotifyError) as e:
        await integ.notify(n)
    assert e.value.retryable
    clock[0] += 5
    await integ.notify(n)
    first, second = provider.seen
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert (first.headers["webhook-timestamp"], second.headers["webhook-timestamp"]) == (
        "1700000000",
        "1700000005",
    )
    assert first.headers["webhook-signature"] != second.headers["webhook-signature"]


async def test_templated_body_and_max_alerts(provider: Provider) -> None:
    extra = """
    max_alerts: 1
    body_template: >-
      {"text": "{{ .Status }}: {{ range .Alerts }}{{ .Labels.instance }}{{ end }}",
      "more": {{ .TruncatedAlerts }}}"""
    await integration(_cfg(provider.url, extra)).notify(sample_notification())
    assert provider.last.json() == {"text": "firing: api-1:9100", "more": 1}


async def test_circuit_opens_after_repeated_server_errors(provider: Provider) -> None:
    integ = integration(_cfg(provider.url))
    for _ in range(5):
        provider.reply(500, "down")
        with pytest.raises(NotifyError):
            await integ.notify(sample_notification())
    with pytest.raises(NotifyError) as e:
        await integ.notify(sample_notification())
    assert "circuit open" in str(e.value) and e.value.retryable and e.value.retry_after
    assert len(provider.seen) == 5  # the sixth call never reached the endpoint
    assert "PATHSECRET" not in str(e.value)


@pytest.mark.parametrize(("status", "retryable"), [(429, True), (502, True), (400, False), (410, False)])
async def test_webhook_error_classes(provider: Provider, status: int, retryable: bool) -> None:
    provider.reply(status, "x", Retry_After="9")
    with pytest.raises(NotifyError) as e:
        await integration(_cfg(provider.url)).notify(sample_notification())
    assert e.value.retryable is retryable
    assert e.value.retry_after == (9.0 if retryable else None)


def test_bad_secret_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="not base64"):
        integration("""  webhook_configs:
  - url: http://127.0.0.1:1/x
    signing_secret: whsec_!!!notbase64
""")
