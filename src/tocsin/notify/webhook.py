"""The webhook channel: Alertmanager's v4 JSON payload by HTTP POST."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import httpx
import msgspec

from tocsin.notify.base import Integration, Notification, NotifyError, common
from tocsin.notify.payload import webhook_payload

_encode = msgspec.json.Encoder().encode


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
        common_annotations=common([a.annotations for a in kept]),
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
    ) -> None:
        super().__init__(receiver, index, send_resolved)
        self._url = url
        self._url_file = url_file
        self.max_alerts = max_alerts
        self.timeout = timeout
        self.headers = {"Content-Type": "application/json", "User-Agent": "tocsin", **(headers or {})}
        self._client = client
        self._own_client = client is None

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
        payload = webhook_payload(truncate(n, self.max_alerts))
        headers = dict(self.headers)
        if n.idempotency_key:
            headers["Idempotency-Key"] = n.idempotency_key
        try:
            resp = await self.client().post(
                self.url(), content=_encode(payload), headers=headers, timeout=self.timeout or 30.0
            )
        except httpx.HTTPError as e:
            raise NotifyError(f"webhook POST failed: {type(e).__name__}: {e}", retryable=True) from e
        if resp.status_code // 100 == 2:
            return
        retryable = resp.status_code >= 500 or resp.status_code == 429
        body = resp.text[:200]
        raise NotifyError(f"webhook answered {resp.status_code}: {body}", retryable=retryable)

    async def close(self) -> None:
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None
