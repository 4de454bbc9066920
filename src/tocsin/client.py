"""A small client for a remote tocsin (or Alertmanager) speaking API v2; used by the CLI and SDK."""

from __future__ import annotations

from typing import Any

import httpx

from tocsin.api.http import TENANT_HEADER


class ClientError(RuntimeError):
    """The server refused a request or could not be reached; the message says which and why."""


class Client:
    def __init__(self, url: str, tenant_id: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        headers = {TENANT_HEADER: tenant_id} if tenant_id else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def _call(self, method: str, path: str, api: str = "/api/v2", **kw: Any) -> httpx.Response:
        try:
            resp = self._http.request(method, f"{self.url}{api}{path}", **kw)
        except httpx.HTTPError as e:
            raise ClientError(f"cannot reach {self.url}: {e}") from e
        if resp.status_code >= 400:
            raise ClientError(f"{method} {path} answered {resp.status_code}: {resp.text.strip()}")
        return resp

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        self._call("POST", "/alerts", json=alerts)

    def alerts(self, filters: list[str] | None = None, **flags: bool) -> list[dict[str, Any]]:
        params: list[tuple[str, str]] = [(k, str(v).lower()) for k, v in flags.items()]
        params += [("filter", f) for f in filters or []]
        result: list[dict[str, Any]] = self._call("GET", "/alerts", params=params).json()
        return result

    def silences(self, filters: list[str] | None = None) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._call(
            "GET", "/silences", params=[("filter", f) for f in filters or []]
        ).json()
        return result

    def post_silence(self, silence: dict[str, Any]) -> str:
        return str(self._call("POST", "/silences", json=silence).json()["silenceID"])

    def expire_silence(self, sid: str) -> None:
        self._call("DELETE", f"/silence/{sid}")

    def _native(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self._call(method, path, api="/api/tocsin/v1", **kw)

    def test_receiver(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self._native("POST", f"/receivers/{name}/test").json()
        return result

    def deliveries(self, **params: Any) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._native(
            "GET", "/deliveries", params={k: v for k, v in params.items() if v is not None}
        ).json()
        return result

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/status").json()
        return result

    def close(self) -> None:
        self._http.close()
