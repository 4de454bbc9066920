"""Carry out the incident manager's notifications through the configured channels.

A personal page (``Notify``) goes through the receiver named for its contact kind in the incidents
config (``contact_receivers``), addressed to the user: the channel gets the address in
``Notification.extra["to"]``. A page to a channel (``NotifyChannel``) goes through that receiver as
configured. A user's ``webhook`` contact needs no receiver: tocsin posts the incident to the URL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tocsin.engine.clock import Clock
from tocsin.incidents.model import Incident, IncidentState
from tocsin.incidents.service import Deliver, Delivery
from tocsin.model import Alert
from tocsin.notify.base import Integration, Notification, NotifyError, common
from tocsin.notify.webhook import WebhookIntegration

#: attempts per integration for one page, and the pause before each retry
RETRY_DELAYS = (0.0, 1.0, 3.0)


def incident_alerts(inc: Incident, now: float) -> list[Alert]:
    """The incident's alerts as model Alerts (firing ones end in the future), for templates."""
    return [
        Alert(
            labels=dict(ref.labels),
            starts_at=ref.starts_at,
            ends_at=ref.ends_at if ref.status == "resolved" and ref.ends_at else now + 300,
            tenant_id=inc.tenant_id,
        )
        for ref in inc.alerts.values()
    ]


def link_urls(external_url: str, links: dict[str, str]) -> dict[str, str]:
    return {f"{action}_url": f"{external_url}/api/tocsin/v1/links/{token}" for action, token in links.items()}


def incident_notification(
    inc: Incident, d: Delivery, receiver: str, external_url: str, now: float
) -> Notification:
    alerts = incident_alerts(inc, now)
    extra = {
        "incident_id": inc.id,
        "incident_title": inc.title,
        "incident_state": str(inc.state),
        "incident_url": f"{external_url}/api/tocsin/v1/incidents/{inc.id}",
        "priority": inc.priority,
        "urgency": d.urgency or inc.urgency,
        **link_urls(external_url, d.links),
    }
    if d.target == "user":
        extra["to"] = d.address
        extra["user"] = d.recipient
    return Notification(
        receiver=receiver,
        status="resolved" if inc.state is IncidentState.RESOLVED else "firing",
        alerts=alerts,
        group_key=inc.group_key,
        group_labels=dict(inc.labels),
        common_labels=common([a.labels for a in alerts]),
        common_annotations={"summary": inc.title},
        external_url=external_url,
        now=now,
        reason=d.reason,
        tenant_id=inc.tenant_id,
        idempotency_key=f"{inc.id}\x1f{d.recipient}\x1f{d.via}\x1f{d.reason}",
        extra=extra,
    )


async def _send(integ: Integration, n: Notification, sleep: Callable[[float], object]) -> str | None:
    """None on success, else the last error."""
    error = ""
    for delay in RETRY_DELAYS:
        if delay:
            await sleep(delay)  # type: ignore[misc]
        try:
            await integ.notify(n)
            return None
        except NotifyError as e:
            error = str(e)
            if not e.retryable:
                break
    return error


def make_deliver(
    integrations: Callable[[], dict[str, list[Integration]]],
    contact_receivers: Callable[[], dict[str, str]],
    external_url: str,
    clock: Clock,
    sleep: Callable[[float], object] = asyncio.sleep,
) -> Deliver:
    async def deliver(d: Delivery, inc: Incident) -> tuple[bool, str]:
        now = clock.now()
        if d.target == "channel":
            receiver: str | None = d.recipient
        else:
            receiver = contact_receivers().get(d.via)
        if receiver is None:
            if d.via == "webhook" and d.address:
                integ = WebhookIntegration(f"user:{d.recipient}", 0, url=d.address)
                try:
                    n = incident_notification(inc, d, integ.receiver, external_url, now)
                    error = await _send(integ, n, sleep)
                finally:
                    await integ.close()
                return (error is None, error or "")
            hint = f"set contact_receivers.{d.via} in the incidents config"
            return False, f"no receiver carries {d.via} contacts ({hint})"
        integs = integrations().get(receiver)
        if not integs:
            return False, f"receiver {receiver!r} has no integrations"
        n = incident_notification(inc, d, receiver, external_url, now)
        errors = [await _send(i, n, sleep) for i in integs]
        if any(e is None for e in errors):
            return True, ""
        return False, "; ".join(e for e in errors if e)

    return deliver
