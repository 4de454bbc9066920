"""PagerDuty Events API v2 (``routing_key``) and the legacy v1 API (``service_key``).

The ``dedup_key`` is a hash of the group key, so every event of a group (trigger, acknowledge,
resolve) lands on the same PagerDuty alert. Events per routing key go through a token bucket
(PagerDuty accepts about 120 a minute per key): excess waits instead of being refused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.ratelimit import PAGERDUTY_LIMITS, RateLimits
from tocsin.notify.retry_http import HTTPIntegration, http_kwargs, read_secret, truncate
from tocsin.notify.templates import render_part, render_string, template_data

V2_URL = "https://events.pagerduty.com/v2/enqueue"
V1_URL = "https://events.pagerduty.com/generic/2010-04-15/create_event.json"
MAX_EVENT_BYTES = 512_000

#: Common severity spellings → the four PagerDuty accepts.
SEVERITY = {
    "critical": "critical", "crit": "critical", "page": "critical", "p1": "critical", "high": "critical",
    "fatal": "critical", "emergency": "critical",
    "error": "error", "err": "error", "major": "error", "p2": "error",
    "warning": "warning", "warn": "warning", "minor": "warning", "p3": "warning", "medium": "warning",
    "info": "info", "informational": "info", "low": "info", "none": "info", "p4": "info", "p5": "info",
}  # fmt: skip


def dedup_key(group_key: str) -> str:
    return hashlib.sha256(group_key.encode()).hexdigest()


def map_severity(value: str) -> str:
    return SEVERITY.get(value.strip().lower(), "error")


class PagerDutyIntegration(HTTPIntegration):
    kind = "pagerduty"
    provider = "PagerDuty"

    def __init__(
        self, receiver: str, index: int, cfg: Any, limits: RateLimits = PAGERDUTY_LIMITS, **kwargs: Any
    ):
        super().__init__(receiver, index, cfg.send_resolved, **kwargs)
        self.cfg = cfg
        self.limits = limits

    def action(self, n: Notification) -> str:
        """trigger, acknowledge or resolve; the incident layer asks for an acknowledge through
        ``n.extra["action"]``."""
        if n.status == "resolved":
            return "resolve"
        return "acknowledge" if n.extra.get("action") == "acknowledge" else "trigger"

    def _t(self, source: str | None, data: dict[str, Any], what: str) -> str:
        return render_string(source, data, name=f"pagerduty {what}") if source else ""

    def event_v2(self, n: Notification, routing_key: str) -> dict[str, Any]:
        c = self.cfg
        data = template_data(n)
        action = self.action(n)
        event: dict[str, Any] = {
            "routing_key": routing_key,
            "event_action": action,
            "dedup_key": dedup_key(n.group_key),
        }
        if action != "trigger":
            return event
        summary = truncate(render_part("pagerduty", "description", data, c.description).strip(), 1024)[0]
        sev_source = self._t(c.severity, data, "severity") or n.common_labels.get("severity", "")
        client = self._t(c.client, data, "client") or "tocsin"
        details = (
            {k: self._t(v, data, f"details.{k}") for k, v in c.details.items()}
            if c.details
            else {
                "firing": str(len(n.firing())),
                "resolved": str(len(n.resolved())),
                "num_alerts": str(len(n.alerts)),
                "group_labels": n.group_labels,
                "common_labels": n.common_labels,
                "common_annotations": n.common_annotations,
            }
        )
        payload: dict[str, Any] = {
            "summary": summary or "alert",
            "source": self._t(c.source, data, "source") or client,
            "severity": map_severity(sev_source),
            "timestamp": datetime.fromtimestamp(n.now, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000",
            "custom_details": details,
        }
        for field, src in (("component", c.component), ("group", c.group), ("class", c.class_)):
            value = self._t(src, data, field)
            if value:
                payload[field] = value
        event["payload"] = payload
        event["client"] = client
        event["client_url"] = self._t(c.client_url, data, "client_url") or data["tocsin"]["group_url"]
        links = [
            {"href": self._t(li.href, data, "link href"), "text": self._t(li.text, data, "link text")}
            for li in c.links
        ] or [{"href": data["tocsin"]["group_url"], "text": "Open in tocsin"}]
        event["links"] = [li for li in links if li["href"]]
        images = []
        for i in c.images:
            image = {k: self._t(getattr(i, k), data, f"image {k}") for k in ("src", "href", "alt")}
            images.append({k: v for k, v in image.items() if v})
        # PagerDuty only shows HTTPS images.
        images = [i for i in images if i.get("src", "").startswith("https://")]
        if images:
            event["images"] = images
        return event

    def event_v1(self, n: Notification, service_key: str) -> dict[str, Any]:
        data = template_data(n)
        return {
            "service_key": service_key,
            "event_type": "resolve" if n.status == "resolved" else "trigger",
            "incident_key": dedup_key(n.group_key),
            "description": truncate(
                render_part("pagerduty", "description", data, self.cfg.description).strip(), 1024
            )[0],
            "client": self._t(self.cfg.client, data, "client") or "tocsin",
            "client_url": self._t(self.cfg.client_url, data, "client_url") or data["tocsin"]["group_url"],
            "details": {k: self._t(v, data, f"details.{k}") for k, v in self.cfg.details.items()},
        }

    async def notify(self, n: Notification) -> None:
        c = self.cfg
        if c.routing_key or c.routing_key_file:
            key = read_secret(c.routing_key, c.routing_key_file, "PagerDuty routing_key")
            event = self.event_v2(n, key)
            url, retry_codes = str(c.url or V2_URL), [429]
        else:
            key = read_secret(c.service_key, c.service_key_file, "PagerDuty service_key")
            event = self.event_v1(n, key)
            # Events v1 signalled throttling with 403. The global default URL is the v2 one.
            url = str(c.url) if c.url and "/v2/" not in str(c.url) else V1_URL
            retry_codes = [403, 429]
        self.secrets.add(key)
        body = json.dumps(event, ensure_ascii=False).encode()
        if len(body) > MAX_EVENT_BYTES and "payload" in event:
            event["payload"]["custom_details"] = {"note": "details dropped: event above PagerDuty's 512 KB"}
            body = json.dumps(event, ensure_ascii=False).encode()
        if len(body) > MAX_EVENT_BYTES:
            raise NotifyError(
                f"PagerDuty event is {len(body)} bytes, above the 512 KB limit", retryable=False
            )
        await self.limits.acquire(hashlib.sha256(key.encode()).hexdigest())
        await self.request(
            "POST", url, content=body, headers={"Content-Type": "application/json"}, retry_codes=retry_codes
        )


def build(receiver: str, index: int, cfg: Any) -> PagerDutyIntegration:
    return PagerDutyIntegration(receiver, index, cfg, **http_kwargs(cfg))
