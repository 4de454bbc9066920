"""Slack: incoming webhooks and the Web API (``chat.postMessage`` / ``chat.update``) with Block Kit.

The message is a legacy attachment (the only way to get the coloured side bar) whose content is
Block Kit: a header, the alert text, links, and optionally Acknowledge / Resolve / Silence 1h
buttons whose clicks reach tocsin's interactions endpoint (``tocsin.api.slack``).

With the Web API the ``(channel, ts)`` of the last message posted for each group is kept, and
when the group resolves that message is edited in place (``chat.update``) rather than a new one
posted, so the channel shows the current state of each group once.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.ratelimit import SLACK_LIMITS, limit_key
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, read_secret, retry_after, truncate
from tocsin.notify.templates import render_part, render_string, template_data

DEFAULT_API = "https://slack.com/api/chat.postMessage"
#: ``ok: false`` codes that may succeed later; every other code is a configuration problem.
RETRYABLE_ERRORS = frozenset(
    {"ratelimited", "service_unavailable", "request_timeout", "internal_error", "fatal_error"}
)
MAX_TRACKED = 10_000
ACTIONS = (
    ("ack", "Acknowledge", "primary"),
    ("resolve", "Resolve", None),
    ("silence_1h", "Silence 1h", "danger"),
)


def button_value(n: Notification) -> str:
    """What a button carries back: the group key, tenant and labels (≤2000 chars, Slack's limit)."""
    value = json.dumps({"gk": n.group_key, "t": n.tenant_id, "l": n.group_labels}, separators=(",", ":"))
    if len(value) > 2000:
        value = json.dumps({"gk": n.group_key, "t": n.tenant_id}, separators=(",", ":"))
    if len(value) > 2000:
        raise NotifyError("group key too long for Slack button values (2000 characters)", retryable=False)
    return value


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": truncate(text, limit)[0] or " ", "emoji": True}


def _color(n: Notification, configured: str | None, data: dict[str, Any]) -> str:
    if configured is not None:
        return render_string(configured, data, name="slack color")
    if n.status == "resolved":
        return "good"
    sev = n.common_labels.get("severity", "").lower()
    return "warning" if sev in ("warning", "warn", "info") else "danger"


class SlackIntegration(HTTPIntegration):
    kind = "slack"
    provider = "Slack"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        self.limits = SLACK_LIMITS
        #: group key → (channel id, ts) of the last message posted for it (Web API only)
        self.messages: OrderedDict[str, tuple[str, str]] = OrderedDict()

    # --- what to send ----------------------------------------------------------------------------
    def _endpoint(self) -> tuple[str, str | None]:
        """(URL, bot token or None). A token means the Web API; no token means a webhook."""
        c = self.cfg
        token = None
        if c.app_token or c.app_token_file:
            token = self.secret(c.app_token, c.app_token_file, "Slack app_token")
        url = c.api_url or (read_secret(None, c.api_url_file, "Slack api_url") if c.api_url_file else None)
        if url is None:
            if token is None:
                raise NotifyError("Slack needs api_url or app_token", retryable=False)
            url = DEFAULT_API
        return str(url), token

    def blocks(self, n: Notification, data: dict[str, Any]) -> list[dict[str, Any]]:
        c = self.cfg
        title = render_part("slack", "title", data, c.title)
        text = render_part("slack", "text", data, c.text)
        blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(title, 150)}]
        if c.pretext:
            pre = render_string(c.pretext, data, name="slack pretext")
            blocks.append(
                {"type": "context", "elements": [{"type": "mrkdwn", "text": truncate(pre, 3000)[0]}]}
            )
        # A section holds at most 3000 characters: long alert lists continue in further sections.
        # Slack refuses messages with more than ~12k characters of block text in total.
        text = truncate(text, 9000)[0]
        for start in range(0, len(text), 3000):
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text[start : start + 3000]}})
        fields = [
            {
                "type": "mrkdwn",
                "text": truncate(
                    f"*{render_string(f.title, data, name='slack field title')}*\n"
                    f"{render_string(f.value, data, name='slack field value')}",
                    2000,
                )[0],
            }
            for f in c.fields[:10]
        ]
        if fields:
            blocks.append({"type": "section", "fields": fields})
        link = (
            render_string(c.title_link, data, name="slack title_link")
            if c.title_link
            else data["tocsin"]["group_url"]
        )
        links = f"<{link}|Open in tocsin> · <{data['tocsin']['silence_url']}|Silence…>"
        footer = render_string(c.footer, data, name="slack footer") if c.footer else n.receiver
        blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"{links} · {footer}"}]})
        elements: list[dict[str, Any]] = []
        if c.interactive and n.status == "firing":
            value = button_value(n)
            for action_id, label, style in ACTIONS:
                button: dict[str, Any] = {
                    "type": "button",
                    "action_id": action_id,
                    "text": _plain(label, 75),
                    "value": value,
                }
                if style:
                    button["style"] = style
                if action_id == "silence_1h":
                    button["confirm"] = {
                        "title": _plain("Silence for 1 hour?", 100),
                        "text": _plain("Mute every alert of this group for one hour.", 300),
                        "confirm": _plain("Silence", 30),
                        "deny": _plain("Cancel", 30),
                    }
                elements.append(button)
        for a in c.actions:
            if a.url:
                elements.append(
                    {
                        "type": "button",
                        "action_id": f"link_{len(elements)}",
                        "text": _plain(render_string(a.text, data, name="slack action text"), 75),
                        "url": render_string(a.url, data, name="slack action url"),
                        **({"style": a.style} if a.style in ("primary", "danger") else {}),
                    }
                )
        if elements:
            # A fresh block_id per message version, as Slack asks when a message is updated.
            blocks.append(
                {"type": "actions", "block_id": f"tocsin:{n.status}:{int(n.now)}", "elements": elements[:25]}
            )
        return blocks[:50]

    def payload(self, n: Notification) -> dict[str, Any]:
        c = self.cfg
        data = template_data(n)
        title = render_part("slack", "title", data, c.title)
        fallback = render_string(c.fallback, data, name="slack fallback") if c.fallback else title
        body: dict[str, Any] = {
            "text": truncate(fallback, 4000)[0],
            "attachments": [
                {"color": _color(n, c.color, data), "fallback": fallback, "blocks": self.blocks(n, data)}
            ],
        }
        if n.extra.get("to"):
            # A personal incident page goes to the user (a user id as channel opens a DM).
            body["channel"] = n.extra["to"]
        elif c.channel:
            body["channel"] = render_string(c.channel, data, name="slack channel")
        if c.username:
            body["username"] = render_string(c.username, data, name="slack username")
        if c.icon_emoji:
            body["icon_emoji"] = c.icon_emoji
        elif c.icon_url:
            body["icon_url"] = c.icon_url
        if c.link_names:
            body["link_names"] = True
        return body

    # --- sending ---------------------------------------------------------------------------------
    async def notify(self, n: Notification) -> None:
        url, token = self._endpoint()
        body = self.payload(n)
        await self.limits.acquire(limit_key(url, body.get("channel", "")))
        if token is None and not url.rstrip("/").endswith("/api/chat.postMessage"):
            await self.request("POST", url, json=body)
            return
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        previous = self.messages.get(n.group_key)
        if previous is None and self.state is not None:
            saved = self.state.get(n.group_key)
            previous = (str(saved[0]), str(saved[1])) if saved else None
        if n.status == "resolved" and previous is not None:
            channel, ts = previous
            update = {**body, "channel": channel, "ts": ts}
            try:
                await self._api(_method_url(url, "chat.update"), update, headers)
                self._forget(n.group_key)
                return
            except NotifyError as e:
                if e.retryable:
                    raise
                # The message is gone or too old to edit: post the resolution as a new one.
                self._forget(n.group_key)
        reply = await self._api(url, body, headers)
        if n.status == "firing" and reply.get("channel") and reply.get("ts"):
            self.messages[n.group_key] = (str(reply["channel"]), str(reply["ts"]))
            self.messages.move_to_end(n.group_key)
            while len(self.messages) > MAX_TRACKED:
                old_key, _ = self.messages.popitem(last=False)
                if self.state is not None:
                    self.state.put(old_key, None)
            if self.state is not None:
                # Remembered durably, so a resolution after a restart still edits the message.
                self.state.put(n.group_key, [str(reply["channel"]), str(reply["ts"])])
        elif n.status == "resolved":
            self._forget(n.group_key)

    def _forget(self, group_key: str) -> None:
        self.messages.pop(group_key, None)
        if self.state is not None:
            self.state.put(group_key, None)

    async def _api(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
        resp = await self.request("POST", url, json=body, headers=headers)
        try:
            reply = resp.json()
        except ValueError:
            raise NotifyError(f"Slack answered {resp.status_code} without JSON", retryable=True) from None
        if not isinstance(reply, dict):
            raise NotifyError("Slack answered with unexpected JSON", retryable=True)
        if reply.get("ok"):
            return reply
        code = str(reply.get("error", "unknown_error"))
        raise NotifyError(
            f"Slack API error: {code}",
            retryable=code in RETRYABLE_ERRORS,
            retry_after=retry_after(resp.headers.get("Retry-After")),
        )


def _method_url(post_url: str, method: str) -> str:
    """``https://slack.com/api/chat.postMessage`` → ``https://slack.com/api/<method>``."""
    parts = urlsplit(post_url)
    path = parts.path.rstrip("/").rsplit("/", 1)[0] + "/" + method
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


def build(receiver: str, index: int, cfg: Any) -> SlackIntegration:
    return SlackIntegration(receiver, index, cfg, **http_kwargs(cfg))


__all__ = ["SlackIntegration", "build", "button_value"]
