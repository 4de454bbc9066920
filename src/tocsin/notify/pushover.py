"""Pushover ``messages.json`` (form-encoded). Emergency priority (2) repeats until acknowledged
in the Pushover app, every ``retry`` seconds for up to ``expire`` seconds."""

from __future__ import annotations

from typing import Any

from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, read_secret, truncate
from tocsin.notify.templates import render_part, render_string, template_data

DEFAULT_API = "https://api.pushover.net/1/messages.json"


class PushoverIntegration(HTTPIntegration):
    kind = "pushover"
    provider = "Pushover"

    def __init__(
        self, receiver: str, index: int, cfg: Any, api_url: str = DEFAULT_API, **kwargs: Any
    ) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        self.api_url = api_url

    def form(self, n: Notification, token: str, user: str) -> dict[str, str]:
        c = self.cfg
        data = template_data(n)
        priority = render_string(c.priority, data, name="pushover priority").strip() if c.priority else ""
        if not priority:
            priority = "2" if n.status == "firing" else "0"
        if priority not in ("-2", "-1", "0", "1", "2"):
            raise NotifyError(f"pushover priority must be -2..2, got {priority!r}", retryable=False)
        form = {
            "token": token,
            "user": user,
            "title": truncate(render_part("pushover", "title", data, c.title).strip(), 250)[0],
            "message": truncate(render_part("pushover", "message", data, c.message).strip(), 1024)[0],
            "url": truncate(
                render_string(c.url, data, name="pushover url") if c.url else data["tocsin"]["group_url"], 512
            )[0],
            "priority": priority,
        }
        if c.url_title:
            form["url_title"] = truncate(render_string(c.url_title, data, name="pushover url_title"), 100)[0]
        if c.device:
            form["device"] = render_string(c.device, data, name="pushover device")
        if c.sound:
            form["sound"] = render_string(c.sound, data, name="pushover sound")
        if c.html:
            form["html"] = "1"
        elif c.monospace:
            form["monospace"] = "1"
        if priority == "2":
            form["retry"] = str(max(int(c.retry), 30))
            form["expire"] = str(min(int(c.expire), 10800))
        if c.ttl:
            form["ttl"] = str(int(c.ttl))
        return form

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        token = read_secret(c.token, c.token_file, "Pushover token")
        user = read_secret(c.user_key, c.user_key_file, "Pushover user_key")
        self.secrets.update((token, user))
        # Pushover's 429 means the application's monthly quota is spent: no retry within this
        # notification's window can succeed, so it is not among the retried codes.
        await self.request("POST", self.api_url, data=self.form(n, token, user), retry_codes=())


def build(receiver: str, index: int, cfg: Any) -> PushoverIntegration:
    return PushoverIntegration(receiver, index, cfg, **http_kwargs(cfg))
