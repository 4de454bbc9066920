"""Opsgenie Alert API: create on firing, close on resolution, keyed by an alias derived from
the group key so repeats bump the same alert instead of opening new ones."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate
from tocsin.notify.templates import render_part, render_string, template_data

DEFAULT_API = "https://api.opsgenie.com/"


class OpsGenieIntegration(HTTPIntegration):
    kind = "opsgenie"
    provider = "Opsgenie"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def _t(self, source: str | None, data: dict[str, Any], what: str) -> str:
        return render_string(source, data, name=f"opsgenie {what}") if source else ""

    def create_body(self, n: Notification, data: dict[str, Any]) -> dict[str, Any]:
        c = self.cfg
        body: dict[str, Any] = {
            "message": truncate(render_part("opsgenie", "message", data, c.message).strip(), 130)[0],
            "alias": alias(n.group_key),
            "description": truncate(render_part("opsgenie", "description", data, c.description), 15_000)[0],
            "details": {k: self._t(v, data, f"details.{k}") for k, v in c.details.items()}
            or dict(n.common_labels),
            "source": self._t(c.source, data, "source") or "tocsin",
        }
        responders = []
        for r in c.responders:
            kind = self._t(r.type, data, "responder type").lower()
            entry = {"type": "team" if kind == "teams" else kind}
            for key in ("id", "name", "username"):
                value = getattr(r, key)
                if value:
                    entry[key] = self._t(value, data, f"responder {key}")
            responders.append(entry)
        if responders:
            body["responders"] = responders
        for field, src in (("entity", c.entity), ("note", c.note), ("priority", c.priority)):
            value = self._t(src, data, field).strip()
            if value:
                body[field] = value
        for field, src, limit in (("tags", c.tags, 20), ("actions", c.actions, 10)):
            items = [t.strip() for t in self._t(src, data, field).split(",") if t.strip()]
            if items:
                body[field] = items[:limit]
        return body

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        key = self.secret(c.api_key, c.api_key_file, "Opsgenie api_key")
        base = str(c.api_url or DEFAULT_API)
        base = base if base.endswith("/") else base + "/"
        headers = {"Authorization": f"GenieKey {key}", "Content-Type": "application/json"}
        data = template_data(n)
        if n.status == "resolved":
            url = f"{base}v2/alerts/{quote(alias(n.group_key), safe='')}/close?identifierType=alias"
            body: dict[str, Any] = {"source": "tocsin", "note": "All alerts of the group resolved"}
        else:
            url = f"{base}v2/alerts"
            body = self.create_body(n, data)
        await self.request("POST", url, json=body, headers=headers)


def alias(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def build(receiver: str, index: int, cfg: Any) -> OpsGenieIntegration:
    return OpsGenieIntegration(receiver, index, cfg, **http_kwargs(cfg))
