"""max_alerts truncation: the payload describes the alerts it carries, as Alertmanager's does."""

from __future__ import annotations

import msgspec

from tocsin.model import Alert
from tocsin.notify.base import Notification
from tocsin.notify.payload import webhook_body
from tocsin.notify.webhook import truncate

NOW = 1_700_000_000.0


def _alert(instance: str, summary: str, ends_at: float) -> Alert:
    return Alert(
        labels={"alertname": "A", "instance": instance},
        annotations={"summary": summary, "runbook": "r"},
        starts_at=NOW - 60,
        ends_at=ends_at,
    )


def _notification(alerts: list[Alert]) -> Notification:
    return Notification(
        receiver="r",
        status="firing",
        alerts=alerts,
        group_key="{}:{}",
        group_labels={},
        common_labels={"alertname": "A"},
        common_annotations={"runbook": "r"},
        external_url="http://x",
        now=NOW,
    )


def test_common_annotations_and_labels_come_from_the_kept_alerts() -> None:
    n = _notification(
        [_alert("a", "same", NOW + 60), _alert("b", "same", NOW + 60), _alert("c", "x", NOW + 60)]
    )
    p = msgspec.json.decode(webhook_body(truncate(n, 2)))
    assert p["truncatedAlerts"] == 1
    assert [a["labels"]["instance"] for a in p["alerts"]] == ["a", "b"]
    assert p["commonAnnotations"] == {"summary": "same", "runbook": "r"}
    assert p["commonLabels"] == {"alertname": "A"}


def test_status_comes_from_the_kept_alerts() -> None:
    n = _notification([_alert("a", "s", NOW - 1), _alert("b", "s", NOW + 60)])
    p = msgspec.json.decode(webhook_body(truncate(n, 1)))
    assert p["status"] == "resolved"
    assert p["truncatedAlerts"] == 1


def test_no_truncation_leaves_the_notification_alone() -> None:
    n = _notification([_alert("a", "s", NOW + 60)])
    assert truncate(n, 0) is n
    assert truncate(n, 1) is n
