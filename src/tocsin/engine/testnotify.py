"""Test notifications: prove a receiver works before an incident does (Alertmanager #2845)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from tocsin.engine.clock import Clock
from tocsin.engine.pipeline import Delivery
from tocsin.model import Alert
from tocsin.notify.base import Integration, Notification, NotifyError


def sample_notification(receiver: str, external_url: str, now: float, tenant_id: str) -> Notification:
    labels = {"alertname": "TocsinTestNotification", "severity": "info", "receiver": receiver}
    alert = Alert(
        labels=labels,
        annotations={
            "summary": f"Test notification for receiver {receiver}",
            "description": "Sent on request to check that this receiver delivers. No action needed.",
        },
        starts_at=now,
        ends_at=now + 300,
        generator_url=external_url,
        updated_at=now,
        tenant_id=tenant_id,
    )
    return Notification(
        receiver=receiver,
        status="firing",
        alerts=[alert],
        group_key='{}/{tocsin="test"}:{alertname="TocsinTestNotification"}',
        group_labels={"alertname": "TocsinTestNotification"},
        common_labels=labels,
        common_annotations=dict(alert.annotations),
        external_url=external_url,
        now=now,
        reason="test notification",
        tenant_id=tenant_id,
        idempotency_key=f"test-{receiver}-{now:.6f}",
    )


async def send_test_notification(
    receiver: str,
    integrations: Sequence[Integration],
    external_url: str,
    clock: Clock,
    tenant_id: str,
    record: Callable[[Delivery], None] | None = None,
) -> list[dict[str, Any]]:
    results = []
    for integ in integrations:
        n = sample_notification(receiver, external_url, clock.now(), tenant_id)
        started = clock.now()
        t0 = time.perf_counter()
        error = ""
        try:
            await integ.notify(n)
        except NotifyError as e:
            error = str(e)
        except Exception as e:  # report a channel bug as this integration's failure
            error = f"{type(e).__name__}: {e}"
        latency = time.perf_counter() - t0
        name = f"{integ.kind}[{integ.index}]"
        if record is not None:
            record(
                Delivery(
                    name,
                    receiver,
                    tenant_id,
                    n.group_key,
                    n.reason,
                    1,
                    not error,
                    1,
                    error,
                    started,
                    clock.now(),
                )
            )
        results.append(
            {"integration": name, "ok": not error, "error": error, "latency_ms": round(latency * 1000, 1)}
        )
    return results
