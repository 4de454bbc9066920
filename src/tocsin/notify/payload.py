"""Alertmanager's webhook payload, version 4, field for field."""

from __future__ import annotations

import functools
from typing import Any

import msgspec

from tocsin.model import Alert, fingerprint_hex, speedups
from tocsin.model import format_time_nano as _format_time_nano
from tocsin.notify.base import Notification

GO_ZERO = "0001-01-01T00:00:00Z"

# Alerts posted together share their start time, so one flush formats the same few timestamps
# over and over (datetime formatting was 6% of server time while ingesting 250k alerts).
format_time_nano = functools.lru_cache(maxsize=4096)(_format_time_nano)


def alert_dict(a: Alert, now: float) -> dict[str, Any]:
    firing = a.ends_at > now
    return {
        "status": "firing" if firing else "resolved",
        "labels": a.labels,
        # Held as JSON already: written as it is (the webhook encodes this payload with msgspec).
        "annotations": msgspec.Raw(a.annotations_json),
        "startsAt": format_time_nano(a.starts_at),
        # Firing alerts carry Go's zero time as their end, as Alertmanager sends them.
        "endsAt": GO_ZERO if firing else format_time_nano(a.ends_at),
        "generatorURL": a.generator_url,
        "fingerprint": fingerprint_hex(a.fingerprint),
    }


def webhook_payload(n: Notification) -> dict[str, Any]:
    """The payload for msgspec to encode (each alert's annotations are ``msgspec.Raw`` JSON):
    :func:`webhook_body` is its JSON."""
    return _payload(n, [alert_dict(a, n.now) for a in n.alerts])


def _payload(n: Notification, alerts: Any) -> dict[str, Any]:
    payload = {
        "receiver": n.receiver,
        "status": n.status,
        "alerts": alerts,
        "groupLabels": n.group_labels,
        "commonLabels": n.common_labels,
        "commonAnnotations": n.common_annotations,
        "externalURL": n.external_url,
        "version": "4",
        "groupKey": n.group_key,
        "truncatedAlerts": n.truncated_alerts,
    }
    if n.extra:
        # Incident pages carry the incident and its one-click links; plain alert-group
        # notifications have no extra data, so their payload stays Alertmanager's exactly.
        payload["tocsin"] = dict(n.extra)
    return payload


_encode = msgspec.json.Encoder().encode

# The compiled writer of the "alerts" array: msgspec's bytes for the alert_dicts, without the dicts
# (webhook_body, alert_dict and fingerprint_hex were 13.5% of the event loop while ingesting 250k
# alerts, most of it per alert).
_webhook_alerts = speedups.webhook_alerts if speedups is not None else None


def webhook_body(n: Notification) -> bytes:
    """The webhook's JSON body."""
    if _webhook_alerts is None:
        return _encode(webhook_payload(n))
    # True: format_time_nano is model's, which the compiled writer does itself for ordinary times.
    return _encode(_payload(n, msgspec.Raw(_webhook_alerts(n.alerts, n.now, format_time_nano, True))))
