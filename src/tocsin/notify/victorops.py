"""Splunk On-Call (VictorOps) REST endpoint: ``CRITICAL`` while the group fires, ``RECOVERY``
once it has resolved, with one ``entity_id`` per group."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate
from tocsin.notify.templates import render_part, render_string, template_data

DEFAULT_API = "https://alert.victorops.com/integrations/generic/20131114/alert/"


class VictorOpsIntegration(HTTPIntegration):
    kind = "victorops"
    provider = "VictorOps"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def body(self, n: Notification) -> dict[str, Any]:
        c = self.cfg
        data = template_data(n)
        message_type = (
            "RECOVERY"
            if n.status == "resolved"
            else render_string(c.message_type, data, name="victorops message_type").upper()
        )
        body: dict[str, Any] = {
            "message_type": message_type,
            "entity_id": hashlib.sha256(n.group_key.encode()).hexdigest(),
            "entity_display_name": render_part(
                "victorops", "entity_display_name", data, c.entity_display_name
            ).strip(),
            "state_message": truncate(
                render_part("victorops", "state_message", data, c.state_message), 20480
            )[0],
            "monitoring_tool": render_string(c.monitoring_tool, data, name="victorops monitoring_tool")
            if c.monitoring_tool
            else "tocsin",
            "state_start_time": int(min((a.starts_at for a in n.alerts), default=n.now)),
        }
        for k, v in c.custom_fields.items():
            body[k] = render_string(v, data, name=f"victorops custom field {k}")
        return body

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        key = self.secret(c.api_key, c.api_key_file, "VictorOps api_key")
        base = str(c.api_url or DEFAULT_API)
        base = base if base.endswith("/") else base + "/"
        url = f"{base}{quote(key, safe='')}/{quote(c.routing_key, safe='')}"
        await self.request("POST", url, json=self.body(n))


def build(receiver: str, index: int, cfg: Any) -> VictorOpsIntegration:
    return VictorOpsIntegration(receiver, index, cfg, **http_kwargs(cfg))
