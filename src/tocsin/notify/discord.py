"""Discord webhooks: one embed per notification, mentions disabled so alert text cannot ping
``@everyone``."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate
from tocsin.notify.templates import render_part, render_string, template_data

COLOR_FIRING, COLOR_RESOLVED, COLOR_WARNING = 0x992D22, 0x2ECC71, 0xE67E22


class DiscordIntegration(HTTPIntegration):
    kind = "discord"
    provider = "Discord"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def body(self, n: Notification) -> dict[str, Any]:
        c = self.cfg
        data = template_data(n)
        if n.status == "resolved":
            color = COLOR_RESOLVED
        elif n.common_labels.get("severity", "").lower() in ("warning", "warn"):
            color = COLOR_WARNING
        else:
            color = COLOR_FIRING
        embed = {
            "title": truncate(render_part("discord", "title", data, c.title), 256)[0],
            "description": truncate(render_part("discord", "message", data, c.message), 4096)[0],
            "color": color,
            "url": data["tocsin"]["group_url"],
        }
        body: dict[str, Any] = {"embeds": [embed], "allowed_mentions": {"parse": []}}
        if c.content:
            body["content"] = truncate(render_string(c.content, data, name="discord content"), 2000)[0]
        if c.username:
            body["username"] = render_string(c.username, data, name="discord username")
        if c.avatar_url:
            body["avatar_url"] = c.avatar_url
        return body

    async def notify(self, n: Notification) -> None:
        url = self.secret(self.cfg.webhook_url, self.cfg.webhook_url_file, "Discord webhook_url")
        await self.request("POST", url, json=self.body(n))


def build(receiver: str, index: int, cfg: Any) -> DiscordIntegration:
    return DiscordIntegration(receiver, index, cfg, **http_kwargs(cfg))
