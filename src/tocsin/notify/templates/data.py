"""The data a template sees: Alertmanager's names (Receiver, Status, Alerts, GroupLabels, ...)
plus tocsin's own (``tocsin.group_url``, ``tocsin.silence_url``, ``tocsin.incident``...).

Alertmanager templates walk Go structs; these small classes give Jinja2 the same shapes, so
``Alerts.Firing``, ``CommonLabels.SortedPairs`` and ``.Labels.alertname`` all work.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from tocsin.matchers import quote
from tocsin.model import Alert, fingerprint_hex
from tocsin.notify.base import Notification


@dataclass(frozen=True, slots=True)
class Pair:
    Name: str
    Value: str


class KV(dict[str, str]):
    """A label or annotation map with Alertmanager's template helpers."""

    @property
    def SortedPairs(self) -> list[Pair]:
        return [Pair(k, self[k]) for k in sorted(self)]

    @property
    def Names(self) -> list[str]:
        return sorted(self)

    @property
    def Values(self) -> list[str]:
        return [self[k] for k in sorted(self)]

    def Remove(self, names: list[str]) -> KV:
        drop = set(names)
        return KV({k: v for k, v in self.items() if k not in drop})


@dataclass(slots=True)
class AlertData:
    Status: str
    Labels: KV
    Annotations: KV
    StartsAt: datetime
    EndsAt: datetime | None
    GeneratorURL: str
    Fingerprint: str


class AlertList(list[AlertData]):
    @property
    def Firing(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "firing")

    @property
    def Resolved(self) -> AlertList:
        return AlertList(a for a in self if a.Status == "resolved")


def _when(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def alert_data(a: Alert, now: float) -> AlertData:
    firing = a.ends_at > now
    return AlertData(
        Status="firing" if firing else "resolved",
        Labels=KV(a.labels),
        Annotations=KV(a.annotations),
        StartsAt=_when(a.starts_at),
        EndsAt=None if firing else _when(a.ends_at),
        GeneratorURL=a.generator_url,
        Fingerprint=fingerprint_hex(a.fingerprint),
    )


def group_id(group_key: str) -> str:
    """A short stable id for a group key, safe in URLs, Slack values and email Message-IDs."""
    return hashlib.sha256(group_key.encode()).hexdigest()[:16]


def links(n: Notification) -> dict[str, str]:
    """tocsin's own links for the group: where to see it, silence it and, when an incident
    exists for it, acknowledge it (a signed one-click link; empty otherwise)."""
    base = n.external_url.rstrip("/")
    filters = urlencode([("filter", f"{k}={quote(v)}") for k, v in sorted(n.group_labels.items())])
    return {
        "group_url": n.extra.get("incident_url") or f"{base}/api/v2/alerts/groups?{filters}",
        "ack_url": n.extra.get("ack_url", ""),
        "resolve_url": n.extra.get("resolve_url", ""),
        "silence_url": f"{base}/api/tocsin/v1/silence-link?{filters}",
    }


def template_data(n: Notification) -> dict[str, Any]:
    """Everything a template can use for notification ``n``."""
    return {
        "Receiver": n.receiver,
        "Status": n.status,
        "Alerts": AlertList(alert_data(a, n.now) for a in n.alerts),
        "GroupLabels": KV(n.group_labels),
        "CommonLabels": KV(n.common_labels),
        "CommonAnnotations": KV(n.common_annotations),
        "ExternalURL": n.external_url,
        "GroupKey": n.group_key,
        "TruncatedAlerts": n.truncated_alerts,
        "tocsin": {
            **links(n),
            "group_id": group_id(n.group_key),
            "tenant": n.tenant_id,
            "reason": n.reason,
            # Incidents do not exist yet; the engine may pass one through ``extra``.
            "incident": n.extra.get("incident", ""),
            "now": _when(n.now),
        },
    }


def sample_notification(status: str = "firing", now: float = 1_700_000_000.0) -> Notification:
    """Realistic sample data for previews (``tocsin template render``)."""
    ends = now + 300 if status == "firing" else now - 60
    alerts = [
        Alert(
            labels={"alertname": "HighLatency", "service": "api", "severity": "critical", "instance": host},
            annotations={
                "summary": f"p99 latency above 2s on {host}",
                "description": "The 99th percentile of request latency has been above 2s for 10 minutes.",
                "runbook_url": "https://runbooks.example.com/high-latency",
            },
            starts_at=now - 900,
            ends_at=ends,
            generator_url="http://prometheus.example.com/graph?g0.expr=latency",
        )
        for host in ("api-1:9100", "api-2:9100")
    ]
    return Notification(
        receiver="team-api",
        status=status,
        alerts=alerts,
        group_key='{}:{alertname="HighLatency"}',
        group_labels={"alertname": "HighLatency"},
        common_labels={"alertname": "HighLatency", "service": "api", "severity": "critical"},
        common_annotations={
            "description": "The 99th percentile of request latency has been above 2s for 10 minutes.",
            "runbook_url": "https://runbooks.example.com/high-latency",
        },
        external_url="http://tocsin.example.com:9093",
        now=now,
        reason="new alerts",
        idempotency_key="sample",
    )


def notification_from_payload(d: dict[str, Any], now: float | None = None) -> Notification:
    """A Notification from an Alertmanager v4 webhook payload (to preview templates on real data).

    Raises ValueError naming the field that is missing or malformed."""
    from tocsin.model import GO_ZERO_TIME, parse_time

    if not isinstance(d, dict):
        raise ValueError("payload must be a JSON object")
    raw_alerts = d.get("alerts")
    if not isinstance(raw_alerts, list) or not raw_alerts:
        raise ValueError("payload needs a non-empty 'alerts' list")
    alerts: list[Alert] = []
    latest = 0.0
    for i, a in enumerate(raw_alerts):
        if not isinstance(a, dict) or not isinstance(a.get("labels"), dict):
            raise ValueError(f"alerts[{i}] needs a 'labels' object")
        try:
            starts = parse_time(a["startsAt"]) if a.get("startsAt") else 0.0
            ends_raw = a.get("endsAt") or GO_ZERO_TIME
            ends = float("inf") if ends_raw == GO_ZERO_TIME else parse_time(ends_raw)
        except (ValueError, TypeError) as e:
            raise ValueError(f"alerts[{i}]: bad time: {e}") from None
        if a.get("status") == "firing":
            ends = float("inf")
        latest = max(latest, starts, ends if ends != float("inf") else 0.0)
        alerts.append(
            Alert(
                labels={str(k): str(v) for k, v in a["labels"].items()},
                annotations={str(k): str(v) for k, v in (a.get("annotations") or {}).items()},
                starts_at=starts,
                ends_at=ends,
                generator_url=str(a.get("generatorURL", "")),
            )
        )
    at = now if now is not None else latest + 1
    firing = any(a.ends_at > at for a in alerts)
    return Notification(
        receiver=str(d.get("receiver", "preview")),
        status="firing" if firing else "resolved",
        alerts=alerts,
        group_key=str(d.get("groupKey", "{}:{}")),
        group_labels=dict(d.get("groupLabels") or {}),
        common_labels=dict(d.get("commonLabels") or {}),
        common_annotations=dict(d.get("commonAnnotations") or {}),
        external_url=str(d.get("externalURL", "http://localhost:9093")),
        now=at,
        truncated_alerts=int(d.get("truncatedAlerts") or 0),
    )
