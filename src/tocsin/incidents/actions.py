"""What the incident manager asks its shell to do. The manager never performs I/O itself."""

from __future__ import annotations

from dataclasses import dataclass, field

from tocsin.incidents.people import ContactMethod


@dataclass(frozen=True, slots=True)
class Notify:
    """Reach ``user`` through ``contact`` about ``incident_id``. ``links`` maps an action
    (``ack``, ``resolve``) to a signed token for one-click links, when a secret is configured."""

    incident_id: str
    user: str
    contact: ContactMethod
    reason: str
    urgency: str
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotifyChannel:
    """Post about ``incident_id`` to the receiver (channel) named ``channel``."""

    incident_id: str
    channel: str
    reason: str
    links: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScheduleTimer:
    """Call ``on_timer(key, now)`` at ``at``. The timer is part of the manager's durable state."""

    at: float
    key: str


@dataclass(frozen=True, slots=True)
class CancelTimer:
    key: str


Action = Notify | NotifyChannel | ScheduleTimer | CancelTimer
