"""The webhook channel: Alertmanager's v4 JSON payload by HTTP POST."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import msgspec

from tocsin.notify.base import Integration, Notification, NotifyError
from tocsin.notify.http1 import HTTP1Pool, plain_http_target
from tocsin.notify.payload import webhook_payload

_encode = msgspec.json.Encoder().encode

#: Requests in flight per webhook. httpx's pool rescans every queued request on each state change,
#: so a thousand groups flushing together cost quadratic time there; waiting here is O(1).
MAX_IN_FLIGHT = 64

_REDIRECTS = frozenset((301, 302, 303, 307, 308))


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
            self._client = httpx.AsyncClient(follow_redirects=False)
        return self._client

    async def notify(self, n: Notification) -> None:
        alerts = n.alerts
        truncated = 0
        if self.max_alerts and len(alerts) > self.max_alerts:
            truncated = len(alerts) - self.max_alerts
            alerts = alerts[: self.max_alerts]
        payload = webhook_payload(n)
        if truncated:
            payload["alerts"] = payload["alerts"][: self.max_alerts]
            payload["truncatedAlerts"] = truncated
        headers = dict(self.headers)
        if n.idempotency_key:
            headers["Idempotency-Key"] = n.idempotency_key
        body = _encode(payload)
        url = self.url()
        target = plain_http_target(url) if self.plain_http else None
        try:
            async with self._in_flight:
                status, text = 0, ""
                if target is not None:
                    status, text = await self._post_plain(target, body, headers)
                if target is None or (self.follow_redirects and status in _REDIRECTS):
                    resp = await self.client().post(
                        url, content=body, headers=headers, timeout=self.timeout or 30.0
                    )
                    status, text = resp.status_code, resp.text
        except httpx.HTTPError as e:
            raise NotifyError(f"webhook POST failed: {type(e).__name__}: {e}", retryable=True) from e
        except (OSError, TimeoutError) as e:
            raise NotifyError(f"webhook POST failed: {type(e).__name__}: {e}", retryable=True) from e
        if status // 100 == 2:
            return
        retryable = status >= 500 or status == 429
        raise NotifyError(f"webhook answered {status}: {text[:200]}", retryable=retryable)

    async def _post_plain(
        self, target: tuple[str, int, str], body: bytes, headers: dict[str, str]
    ) -> tuple[int, str]:
        host, port, path = target
        pool = self._pools.get((host, port))
        if pool is None:
            pool = self._pools[(host, port)] = HTTP1Pool(host, port, MAX_IN_FLIGHT)
        resp = await pool.post(path, body, headers, self.timeout or 30.0)
        return resp.status, resp.body[:200].decode("utf-8", "replace")

    async def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
