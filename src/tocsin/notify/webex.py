"""Webex Messages API: a Markdown message to a room, the bot token from ``http_config.authorization``."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate_bytes
from tocsin.notify.templates import render_part, template_data

DEFAULT_API = "https://webexapis.com/v1/messages"
MAX_BYTES = 7439


class WebexIntegration(HTTPIntegration):
    kind = "webex"
    provider = "Webex"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        auth = self.headers.get("Authorization", "")
        if auth:
            self.secrets.add(auth.split(" ", 1)[-1])

    def body(self, n: Notification) -> dict[str, Any]:
        text = render_part("webex", "message", template_data(n), self.cfg.message)
        return {"roomId": self.cfg.room_id, "markdown": truncate_bytes(text, MAX_BYTES)[0]}

    async def notify(self, n: Notification) -> None:
        await self.request("POST", str(self.cfg.api_url or DEFAULT_API), json=self.body(n))


def build(receiver: str, index: int, cfg: Any) -> WebexIntegration:
    return WebexIntegration(receiver, index, cfg, **http_kwargs(cfg))
