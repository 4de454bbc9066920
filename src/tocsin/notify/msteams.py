"""Microsoft Teams: the Workflows (Power Automate) webhook with an Adaptive Card
(``msteamsv2_configs``) and the retired Office 365 connector's MessageCard (``msteams_configs``).

Webhook cards cannot call back into tocsin (``Action.Submit`` needs a bot), so acknowledging
from Teams is a link (``Action.OpenUrl``) to the group's acknowledge page in tocsin.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, redact_url, truncate
from tocsin.notify.templates import render_part, template_data

log = logging.getLogger(__name__)

#: Workflows refuse bodies above ~28 KB and a client measured ~21 KB as the real ceiling.
MAX_BODY = 20_000
#: Adaptive Card TextBlock colours by state; MessageCard theme colours (hex without '#').
CARD_COLOR = {"critical": "Attention", "error": "Attention", "warning": "Warning", "info": "Accent"}
THEME_COLOR = {"critical": "C62828", "error": "C62828", "warning": "F9A825", "info": "1565C0"}
RESOLVED_CARD, RESOLVED_THEME = "Good", "2E7D32"


def _severity(n: Notification) -> str:
    return n.common_labels.get("severity", "critical").lower()


def _facts(n: Notification) -> list[tuple[str, str]]:
    facts = [("Status", n.status), ("Alerts", f"{len(n.firing())} firing, {len(n.resolved())} resolved")]
    facts += [(k, v) for k, v in sorted(n.common_labels.items()) if k != "alertname"]
    return facts


class _TeamsBase(HTTPIntegration):
    provider = "Microsoft Teams"

    def __init__(self, receiver: str, index: int, cfg: Any, **kwargs: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg

    def url(self) -> str:
        url = self.secret(self.cfg.webhook_url, self.cfg.webhook_url_file, "Teams webhook_url")
        return url

    def body(self, n: Notification, text_limit: int) -> dict[str, Any]:
        raise NotImplementedError

    def fitted(self, n: Notification) -> bytes:
        """The encoded card, its text shortened until it fits the Workflows size limit."""
        limit = 12_000
        while True:
            data = json.dumps(self.body(n, limit), ensure_ascii=False).encode()
            if len(data) <= MAX_BODY or limit < 500:
                return data
            limit //= 2


class MSTeamsV2Integration(_TeamsBase):
    """A Workflows webhook: ``{"type": "message", "attachments": [Adaptive Card]}``, answered 202."""

    kind = "msteamsv2"

    def body(self, n: Notification, text_limit: int) -> dict[str, Any]:
        data = template_data(n)
        title = render_part("msteams", "title", data, self.cfg.title)
        text = truncate(render_part("msteams", "text", data, self.cfg.text), text_limit)[0]
        color = RESOLVED_CARD if n.status == "resolved" else CARD_COLOR.get(_severity(n), "Attention")
        links = data["tocsin"]
        actions: list[dict[str, Any]] = [
            {"type": "Action.OpenUrl", "title": "Open in tocsin", "url": links["group_url"]}
        ]
        if n.status == "firing":
            if links["ack_url"]:
                actions.append({"type": "Action.OpenUrl", "title": "Acknowledge", "url": links["ack_url"]})
            actions.append({"type": "Action.OpenUrl", "title": "Silence", "url": links["silence_url"]})
        runbook = n.common_annotations.get("runbook_url")
        if runbook:
            actions.append({"type": "Action.OpenUrl", "title": "Runbook", "url": runbook})
        card = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "msteams": {"width": "Full"},
            "body": [
                {
                    "type": "TextBlock",
                    "text": title,
                    "weight": "Bolder",
                    "size": "Medium",
                    "color": color,
                    "wrap": True,
                },
                {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(n)]},
                {"type": "TextBlock", "text": text, "wrap": True},
            ],
            "actions": actions,
        }
        return {
            "type": "message",
            "attachments": [
                {
                    "contentType": "application/vnd.microsoft.card.adaptive",
                    "contentUrl": None,
                    "content": card,
                }
            ],
        }

    async def notify(self, n: Notification) -> None:
        await self.request(
            "POST", self.url(), content=self.fitted(n), headers={"Content-Type": "application/json"}
        )


class MSTeamsIntegration(_TeamsBase):
    """The Office 365 connector's MessageCard. Connectors are retired: tocsin still sends to
    existing URLs so configurations keep working, and warns once that they should move."""

    kind = "msteams"
    _warned = False

    def body(self, n: Notification, text_limit: int) -> dict[str, Any]:
        data = template_data(n)
        title = render_part("msteams", "title", data, self.cfg.title)
        text = truncate(render_part("msteams", "text", data, self.cfg.text), text_limit)[0]
        summary = render_part("msteams", "title", data, self.cfg.summary) if self.cfg.summary else title
        color = RESOLVED_THEME if n.status == "resolved" else THEME_COLOR.get(_severity(n), "C62828")
        links = data["tocsin"]
        actions = [("Open in tocsin", links["group_url"])]
        if n.status == "firing" and links["ack_url"]:
            actions.append(("Acknowledge", links["ack_url"]))
        return {
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": summary,
            "themeColor": color,
            "title": title,
            "text": text,
            "sections": [
                {"facts": [{"name": k, "value": v} for k, v in _facts(n)], "markdown": True},
            ],
            "potentialAction": [
                {"@type": "OpenUri", "name": name, "targets": [{"os": "default", "uri": uri}]}
                for name, uri in actions
            ],
        }

    async def notify(self, n: Notification) -> None:
        url = self.url()
        if not MSTeamsIntegration._warned:
            MSTeamsIntegration._warned = True
            log.warning(
                "receiver %r uses a retired Office 365 connector URL (%s); move it to a Teams Workflow "
                "and msteamsv2_configs",
                self.receiver,
                redact_url(url),
            )
        resp = await self.request(
            "POST", url, content=self.fitted(n), headers={"Content-Type": "application/json"}
        )
        # Connectors reported throttling as HTTP 200 with the error in the body.
        if "429" in resp.text:
            raise NotifyError("Microsoft Teams throttled the request (429 in the reply body)", retryable=True)


def build_v2(receiver: str, index: int, cfg: Any) -> MSTeamsV2Integration:
    return MSTeamsV2Integration(receiver, index, cfg, **http_kwargs(cfg))


def build(receiver: str, index: int, cfg: Any) -> MSTeamsIntegration:
    return MSTeamsIntegration(receiver, index, cfg, **http_kwargs(cfg))
