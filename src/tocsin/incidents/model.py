"""Incident data: states, the timeline, SLA breaches and escalation progress. Pure data.

An incident gathers the alerts of one aggregation group. Every field round-trips through
``to_dict``/``from_dict`` as JSON-able values so the shell can store incidents durably.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any


class IncidentState(enum.StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class EventKind(enum.StrEnum):
    CREATED = "created"
    ALERT_ADDED = "alert_added"
    ALERT_RESOLVED = "alert_resolved"
    ESCALATED = "escalated"
    ESCALATION_REPEATED = "escalation_repeated"
    ESCALATION_FINISHED = "escalation_finished"
    ESCALATION_FAILED = "escalation_failed"
    LEVEL_SKIPPED = "level_skipped"
    HANDED_OFF = "handed_off"
    RESPONDER_CHOSEN = "responder_chosen"
    NOTIFIED = "notified"
    DELIVERY = "delivery"
    DEFERRED = "deferred"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    SNOOZED = "snoozed"
    SNOOZE_ENDED = "snooze_ended"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    ASSIGNED = "assigned"
    NOTE = "note"
    PRIORITY_CHANGED = "priority_changed"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    CORRELATED = "correlated"


@dataclass(slots=True)
class TimelineEvent:
    at: float
    kind: EventKind
    text: str
    actor: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "kind": self.kind.value,
            "text": self.text,
            "actor": self.actor,
            "data": self.data,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TimelineEvent:
        return cls(
            float(d["at"]), EventKind(d["kind"]), str(d["text"]), str(d.get("actor", "")), dict(d["data"])
        )


@dataclass(slots=True)
class AlertRef:
    """What the incident remembers of one alert of its group."""

    fingerprint: str
    labels: dict[str, str]
    status: str  # "firing" | "resolved"
    starts_at: float
    ends_at: float = 0.0


@dataclass(slots=True)
class Breach:
    """An SLA target missed: ``kind`` is ``ack`` or ``resolve``; ``elapsed`` counts from the start."""

    kind: str
    due: float
    at: float
    elapsed: float


@dataclass(slots=True)
class Note:
    at: float
    author: str
    text: str


@dataclass(slots=True)
class EscalationState:
    """Where the incident is in its policy. ``generation`` changes on every (re)start, so timers
    armed by an earlier run are recognised as stale."""

    policy: str | None
    level: int = 0
    loop: int = 0
    generation: int = 0
    finished: bool = False


@dataclass(slots=True)
class Incident:
    id: str
    group_key: str
    title: str
    labels: dict[str, str]
    created_at: float
    severity: str
    priority: str
    urgency: str
    tenant_id: str = "default"
    state: IncidentState = IncidentState.TRIGGERED
    alerts: dict[str, AlertRef] = field(default_factory=dict)
    required_skills: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    acknowledged_at: float | None = None
    first_acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    snoozed_until: float | None = None
    resolved_at: float | None = None
    resolved_by: str | None = None
    reopen_count: int = 0
    notes: list[Note] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    escalation: EscalationState = field(default_factory=lambda: EscalationState(None))
    timeline: list[TimelineEvent] = field(default_factory=list)
    #: other aggregation groups joined into this incident by correlation
    groups: list[str] = field(default_factory=list)
    #: probable root-cause services (service, score, reasons), when correlation is on
    probable_causes: list[dict[str, Any]] = field(default_factory=list)

    def log(self, at: float, kind: EventKind, text: str, actor: str = "", **data: Any) -> TimelineEvent:
        ev = TimelineEvent(at, kind, text, actor, data)
        self.timeline.append(ev)
        return ev

    def events(self, kind: EventKind) -> list[TimelineEvent]:
        return [e for e in self.timeline if e.kind is kind]

    @property
    def firing(self) -> list[AlertRef]:
        return [a for a in self.alerts.values() if a.status == "firing"]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["state"] = self.state.value
        d["timeline"] = [e.to_dict() for e in self.timeline]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Incident:
        data = dict(d)
        data["state"] = IncidentState(d["state"])
        data["alerts"] = {k: AlertRef(**v) for k, v in d["alerts"].items()}
        data["notes"] = [Note(**n) for n in d["notes"]]
        data["breaches"] = [Breach(**b) for b in d["breaches"]]
        data["escalation"] = EscalationState(**d["escalation"])
        data["timeline"] = [TimelineEvent.from_dict(e) for e in d["timeline"]]
        return cls(**data)
