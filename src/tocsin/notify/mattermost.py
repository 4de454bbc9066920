"""Mattermost incoming webhooks (JSON body, Markdown text, Slack-style attachments passed through)."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate
from tocsin.notify.templates import render_part, render_string, template_data

MAX_TEXT = 16_383


class MattermostIntegration(HTTPIntegration):
    kind = "mattermost"
    provider = "Mattermost"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def body(self, n: Notification) -> dict[str, Any]:
        c = self.cfg
        data = template_data(n)
        body: dict[str, Any] = {
            "text": truncate(render_part("mattermost", "text", data, c.text), MAX_TEXT)[0]
        }
        for field in ("channel", "username", "icon_url", "icon_emoji"):
            value = getattr(c, field)
            if value:
                body[field] = render_string(value, data, name=f"mattermost {field}")
        if c.attachments:
            body["attachments"] = c.attachments
        if c.props:
            body["props"] = c.props
        if c.priority:
            body["priority"] = c.priority
        return body

    async def notify(self, n: Notification) -> None:
        url = self.secret(self.cfg.webhook_url, self.cfg.webhook_url_file, "Mattermost webhook_url")
        await self.request("POST", url, json=self.body(n))


def build(receiver: str, index: int, cfg: Any) -> MattermostIntegration:
    return MattermostIntegration(receiver, index, cfg, **http_kwargs(cfg))
