"""The incident state machine: which transitions are allowed and what each records.

These functions change one ``Incident`` and write its timeline; they know nothing of timers or
notifications (``manager`` reacts to the transitions). An action that does not apply in the
current state raises ``TransitionError`` with a sentence the API can return as-is.
"""

from __future__ import annotations

from tocsin.incidents.model import EventKind, Incident, IncidentState, Note
from tocsin.incidents.setup import PRIORITIES

#: Snooze durations above this are refused: an incident snoozed for weeks is really resolved.
MAX_SNOOZE = 7 * 86400.0


class TransitionError(ValueError):
    """An action that the incident's current state does not allow."""


def acknowledge(inc: Incident, user: str, now: float, source: str) -> None:
    if inc.state is IncidentState.RESOLVED:
        raise TransitionError(f"incident {inc.id} is resolved; reopen it before acknowledging")
    was_snoozed = inc.snoozed_until is not None
    inc.state = IncidentState.ACKNOWLEDGED
    inc.acknowledged_at = now
    inc.acknowledged_by = user
    inc.snoozed_until = None
    if inc.first_acknowledged_at is None:
        inc.first_acknowledged_at = now
    if user not in inc.assignees:
        inc.assignees.insert(0, user)
    extra = " (snooze cancelled)" if was_snoozed else ""
    inc.log(now, EventKind.ACKNOWLEDGED, f"acknowledged by {user} via {source}{extra}", user, source=source)


def unacknowledge(inc: Incident, user: str, now: float, source: str) -> None:
    if inc.state is not IncidentState.ACKNOWLEDGED:
        raise TransitionError(f"incident {inc.id} is {inc.state.value}, not acknowledged")
    inc.state = IncidentState.TRIGGERED
    inc.acknowledged_at = None
    inc.acknowledged_by = None
    inc.snoozed_until = None
    inc.log(now, EventKind.UNACKNOWLEDGED, f"unacknowledged by {user} via {source}", user, source=source)


def snooze(inc: Incident, user: str, seconds: float, now: float, source: str) -> None:
    if inc.state is not IncidentState.ACKNOWLEDGED:
        raise TransitionError(
            f"incident {inc.id} is {inc.state.value}: only an acknowledged incident can be snoozed"
        )
    if not 0 < seconds <= MAX_SNOOZE:
        raise TransitionError(f"snooze duration must be between 1 second and {MAX_SNOOZE / 86400:g} days")
    inc.snoozed_until = now + seconds
    inc.acknowledged_by = user
    inc.log(
        now,
        EventKind.SNOOZED,
        f"snoozed by {user} via {source} for {seconds / 60:g} min",
        user,
        source=source,
        until=inc.snoozed_until,
    )


def end_snooze(inc: Incident, now: float) -> None:
    inc.state = IncidentState.TRIGGERED
    inc.snoozed_until = None
    inc.acknowledged_at = None
    inc.acknowledged_by = None
    inc.log(now, EventKind.SNOOZE_ENDED, "snooze ended: incident triggered again")


def resolve(inc: Incident, user: str, now: float, source: str) -> None:
    if inc.state is IncidentState.RESOLVED:
        raise TransitionError(f"incident {inc.id} is already resolved")
    inc.state = IncidentState.RESOLVED
    inc.resolved_at = now
    inc.resolved_by = user
    inc.snoozed_until = None
    what = (
        "resolved automatically: all alerts resolved"
        if source == "source"
        else f"resolved by {user} via {source}"
    )
    inc.log(now, EventKind.RESOLVED, what, user, source=source)


def reopen(inc: Incident, user: str, now: float, reason: str) -> None:
    if inc.state is not IncidentState.RESOLVED:
        raise TransitionError(f"incident {inc.id} is {inc.state.value}, not resolved")
    inc.state = IncidentState.TRIGGERED
    inc.resolved_at = None
    inc.resolved_by = None
    inc.acknowledged_at = None
    inc.acknowledged_by = None
    inc.reopen_count += 1
    inc.log(now, EventKind.REOPENED, f"reopened: {reason}", user)


def assign(inc: Incident, users: list[str], by: str, now: float) -> None:
    if inc.state is IncidentState.RESOLVED:
        raise TransitionError(f"incident {inc.id} is resolved; reopen it before reassigning")
    if not users:
        raise TransitionError("assign needs at least one user")
    inc.assignees = list(dict.fromkeys(users))
    inc.log(
        now, EventKind.ASSIGNED, f"assigned to {', '.join(inc.assignees)} by {by}", by, users=inc.assignees
    )


def add_note(inc: Incident, author: str, text: str, now: float) -> None:
    if not text.strip():
        raise TransitionError("a note cannot be empty")
    inc.notes.append(Note(now, author, text))
    inc.log(now, EventKind.NOTE, text, author)


def set_priority(inc: Incident, priority: str, by: str, now: float) -> None:
    if priority not in PRIORITIES:
        raise TransitionError(f"unknown priority {priority!r}: expected one of {', '.join(PRIORITIES)}")
    if priority == inc.priority:
        return
    old, inc.priority = inc.priority, priority
    inc.log(
        now, EventKind.PRIORITY_CHANGED, f"priority {old} -> {priority} by {by}", by, old=old, new=priority
    )
