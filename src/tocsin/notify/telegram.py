"""Telegram Bot API ``sendMessage``. The bot token is part of the URL path, so it is kept out of
every message and log line."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification
from tocsin.notify.ratelimit import TELEGRAM_LIMITS, limit_key
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, truncate
from tocsin.notify.templates import render_part, template_data

DEFAULT_API = "https://api.telegram.org"


class TelegramIntegration(HTTPIntegration):
    kind = "telegram"
    provider = "Telegram"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        self.limits = TELEGRAM_LIMITS

    def body(self, n: Notification) -> dict[str, Any]:
        c = self.cfg
        text = render_part("telegram", "message", template_data(n), c.message, html=c.parse_mode == "HTML")
        body: dict[str, Any] = {
            "chat_id": c.chat_id,
            "text": truncate(text.strip(), 4096)[0],
            "disable_notification": c.disable_notifications,
            "link_preview_options": {"is_disabled": True},
        }
        if c.parse_mode:
            body["parse_mode"] = c.parse_mode
        if c.message_thread_id:
            body["message_thread_id"] = c.message_thread_id
        return body

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        token = self.secret(c.bot_token, c.bot_token_file, "Telegram bot_token")
        base = str(c.api_url or DEFAULT_API).rstrip("/")
        await self.limits.acquire(limit_key(token, c.chat_id))
        await self.request("POST", f"{base}/bot{token}/sendMessage", json=self.body(n))


def build(receiver: str, index: int, cfg: Any) -> TelegramIntegration:
    return TelegramIntegration(receiver, index, cfg, **http_kwargs(cfg))
