"""The webhook channel: Alertmanager's v4 JSON payload by HTTP POST."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from tocsin.notify.base import Integration, Notification, NotifyError, common, common_annotations
from tocsin.notify.circuit import CircuitBreaker
from tocsin.notify.http1 import HTTP1Pool, HTTP1Response, plain_http_target
from tocsin.notify.payload import webhook_body
from tocsin.notify.retry_http import redact_url, retry_after
from tocsin.notify.signing import message_id, signature_headers

if TYPE_CHECKING:
    import httpx  # imported when a client is first needed (see retry_http)


#: Requests in flight per webhook. httpx's pool rescans every queued request on each state change,
#: so a thousand groups flushing together cost quadratic time there; waiting here is O(1).
MAX_IN_FLIGHT = 64


def _network_errors() -> tuple[type[Exception], ...]:
    """What a failed POST raises. httpx's errors count only once httpx is loaded: until then no
    request went through it, and importing it here would load it for plain-HTTP webhooks too."""
    httpx = sys.modules.get("httpx")
    return (OSError, TimeoutError) if httpx is None else (httpx.HTTPError, OSError, TimeoutError)


_REDIRECTS = frozenset((301, 302, 303, 307, 308))


def truncate(n: Notification, max_alerts: int) -> Notification:
    """Keep the first ``max_alerts`` alerts. As Alertmanager does, status and common labels and
    annotations then describe only the alerts that are sent, not the ones dropped."""
    if not max_alerts or len(n.alerts) <= max_alerts:
        return n
    kept = n.alerts[:max_alerts]
    return replace(
        n,
        alerts=kept,
        status="firing" if any(a.ends_at > n.now for a in kept) else "resolved",
        common_labels=common([a.labels for a in kept]),
        common_annotations=common_annotations(kept),
        truncated_alerts=len(n.alerts) - max_alerts,
    )


class WebhookIntegration(Integration):
    kind = "webhook"

    def __init__(
        self,
        receiver: str,
        index: int,
        *,
        url: str | None = None,
        url_file: str | None = None,
        send_resolved: bool = True,
        max_alerts: int = 0,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        signing_secret: str | None = None,
        body_template: str | None = None,
        breaker: CircuitBreaker | None = None,
        clock: Callable[[], float] = time.time,
        plain_http: bool | None = None,
        follow_redirects: bool = False,
    ) -> None:
        """``plain_http``: send ``http://`` URLs through the lean keep-alive client (the default
        when no client is handed in); redirects then go through httpx if ``follow_redirects``."""
        super().__init__(receiver, index, send_resolved)
        self._url = url
        self._url_file = url_file
        self.max_alerts = max_alerts
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "User-Agent": "tocsin", **(headers or {})}
        self._client = client
        self._own_client = client is None
        self.signing_secret = signing_secret
        self.body_template = body_template
        self.breaker = breaker or CircuitBreaker()
        self.clock = clock
        self.plain_http = self._own_client if plain_http is None else plain_http
        self.follow_redirects = follow_redirects
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)
        self._pools: dict[tuple[str, int], HTTP1Pool] = {}

    def url(self) -> str:
        if self._url:
            return self._url
        if self._url_file:
            try:
                return Path(self._url_file).read_text().strip()
            except OSError as e:
                raise NotifyError(f"cannot read url_file {self._url_file}: {e}", retryable=False) from e
        raise NotifyError("webhook has no url", retryable=False)

    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx  # here, not at start-up: plain-HTTP webhooks never need it

            # As ``http_options.make_client`` makes it for a plain http_config.
            self._client = httpx.AsyncClient(follow_redirects=self.follow_redirects)
        return self._client

    async def notify(self, n: Notification) -> None:
        shown = truncate(n, self.max_alerts)
        if self.body_template is not None:
            from tocsin.notify.templates import render_string, template_data

            content = render_string(self.body_template, template_data(shown), name="webhook body").encode()
        else:
            content = webhook_body(shown)
        headers = dict(self.headers)
        # The key is hashed: header values must be ASCII, and group keys may hold any label text.
        msg_id = message_id(n.idempotency_key or f"{n.group_key}\x1f{n.now}")
        headers["Idempotency-Key"] = msg_id
        if self.signing_secret:
            headers.update(signature_headers(self.signing_secret, msg_id, int(self.clock()), content))
        url = self.url()
        self.breaker.before_call(f"webhook {redact_url(url)}")
        target = plain_http_target(url) if self.plain_http else None
        try:
            async with self._in_flight:
                status, text, resp_headers = 0, "", {}
                if target is not None:
                    plain = await self._post_plain(target, content, headers)
                    status = plain.status
                    text = plain.body[:200].decode("utf-8", "replace")
                    resp_headers = {k.lower(): v for k, v in plain.headers.items()}
                if target is None or (self.follow_redirects and status in _REDIRECTS):
                    resp = await self.client().post(
                        url, content=content, headers=headers, timeout=self.timeout or 30.0
                    )
                    status, text = resp.status_code, resp.text[:200]
                    resp_headers = {k.lower(): v for k, v in resp.headers.items()}
        except _network_errors() as e:
            message = f"webhook POST failed: {type(e).__name__} ({redact_url(url)})"
            self.breaker.record(failure=True, error=message)
            raise NotifyError(message, retryable=True) from None
        self.breaker.record(failure=status >= 500, error=f"webhook answered {status}")
        if status // 100 == 2:
            return
        retryable = status >= 500 or status == 429
        raise NotifyError(
            f"webhook answered {status}: {text}",
            retryable=retryable,
            retry_after=retry_after(resp_headers.get("retry-after")) if retryable else None,
        )

    async def _post_plain(
        self, target: tuple[str, int, str], body: bytes, headers: dict[str, str]
    ) -> HTTP1Response:
        host, port, path = target
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[(host, port)] = HTTP1Pool(host, port, MAX_IN_FLIGHT)
        return await pool.post(path, body, headers, self.timeout or 30.0)

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
