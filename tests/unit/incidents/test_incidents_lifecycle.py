"""Incident lifecycle through the manager: creation from groups, alerts, auto-resolve, reopen
window, snooze, un-ack, assignment, notes, priority, and refused transitions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tocsin.incidents.actions import Notify
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.lifecycle import TransitionError
from tocsin.incidents.manager import IncidentManager, UnknownIncident
from tocsin.incidents.model import EventKind, IncidentState
from tocsin.incidents.people import Urgency
from tocsin.model import Alert

T0 = datetime(2026, 1, 7, 10, tzinfo=UTC).timestamp()

CONFIG = """
users:
  - {id: ana, email: ana@example.com}
  - {id: bob, email: bob@example.com}
escalation_policies:
  - name: main
    levels:
      - {targets: [{user: ana}], wait: 10m}
      - {targets: [{user: bob}], wait: 10m}
default_policy: main
reopen_window: 30m
"""


def manager(extra: str = "") -> IncidentManager:
    return IncidentManager(load_incidents_text(CONFIG + extra))


def alert(name: str, at: float = T0, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=at, ends_at=at + 3600, updated_at=at)


def resolved(a: Alert, at: float) -> Alert:
    return Alert(labels=a.labels, starts_at=a.starts_at, ends_at=at, updated_at=at)


def users(actions: list[object]) -> list[str]:
    return [a.user for a in actions if isinstance(a, Notify)]


def test_group_becomes_incident_and_tracks_alerts() -> None:
    m = manager()
    a, b = alert("A", severity="warning"), alert("B", severity="critical")
    m.on_group_update("g", [a], [], {"alertname": "A"}, T0)
    inc = m.get("INC-1")
    assert (inc.title, inc.severity, inc.priority, inc.urgency) == ("A", "warning", "P3", "low")
    m.on_group_update("g", [a, b], [], {}, T0 + 60)
    assert m.by_group["g"] == "INC-1" and len(m.incidents) == 1
    # A more severe alert raises the priority (and urgency) but never lowers it.
    assert (inc.severity, inc.priority, inc.urgency) == ("critical", "P1", "high")
    assert [e.kind for e in inc.timeline].count(EventKind.ALERT_ADDED) == 2
    m.on_group_update("g", [b], [resolved(a, T0 + 120)], {}, T0 + 120)
    assert inc.state is IncidentState.TRIGGERED and len(inc.firing) == 1
    # Repeated updates with the same alerts add nothing to the timeline.
    n = len(inc.timeline)
    m.on_group_update("g", [b], [], {}, T0 + 180)
    assert len(inc.timeline) == n


def test_auto_resolve_when_all_alerts_resolve_and_reopen_within_window() -> None:
    m = manager()
    a = alert("A")
    m.on_group_update("g", [a], [], {}, T0)
    acts = m.on_group_update("g", [], [resolved(a, T0 + 100)], {}, T0 + 100)
    inc = m.get("INC-1")
    assert inc.state is IncidentState.RESOLVED and inc.resolved_by == "source"
    assert inc.timeline[-1].text == "resolved automatically: all alerts resolved"
    assert m.timers == {} and acts  # pending timers were cancelled
    # Fires again 20 min later (inside the 30 min window): the same incident reopens and pages.
    again = alert("A", at=T0 + 1300)
    acts = m.on_group_update("g", [again], [], {}, T0 + 1300)
    assert inc.state is IncidentState.TRIGGERED and inc.reopen_count == 1
    assert users(acts) == ["ana"]
    assert len(m.incidents) == 1


def test_firing_after_reopen_window_opens_new_incident() -> None:
    m = manager()
    a = alert("A")
    m.on_group_update("g", [a], [], {}, T0)
    m.on_group_update("g", [], [resolved(a, T0 + 100)], {}, T0 + 100)
    m.on_group_update("g", [alert("A", at=T0 + 4000)], [], {}, T0 + 4000)
    assert sorted(m.incidents) == ["INC-1", "INC-2"]
    assert m.get("INC-1").state is IncidentState.RESOLVED
    assert m.by_group["g"] == "INC-2"


def test_manual_resolve_is_not_undone_by_alerts_still_firing() -> None:
    m = manager()
    a = alert("A")
    m.on_group_update("g", [a], [], {}, T0)
    m.resolve("INC-1", "ana", T0 + 60, "cli")
    acts = m.on_group_update("g", [a], [], {}, T0 + 300)  # the group flushes the same alert again
    assert acts == [] and m.get("INC-1").state is IncidentState.RESOLVED


def test_snooze_then_retrigger_restarts_escalation() -> None:
    m = manager()
    m.on_group_update("g", [alert("A")], [], {}, T0)
    with pytest.raises(TransitionError, match="only an acknowledged incident can be snoozed"):
        m.snooze("INC-1", "ana", 3600, T0 + 10)
    m.acknowledge("INC-1", "ana", T0 + 20)
    m.snooze("INC-1", "ana", 3600, T0 + 30)
    inc = m.get("INC-1")
    assert inc.snoozed_until == T0 + 3630
    timed = m.run_until(T0 + 3630 + 700)
    assert [(t - T0, a.user) for t, a in timed if isinstance(a, Notify)] == [
        (3630, "ana"),
        (3630 + 600, "bob"),
    ]
    assert inc.state is IncidentState.TRIGGERED
    assert inc.events(EventKind.SNOOZE_ENDED)[0].at == T0 + 3630
    assert inc.first_acknowledged_at == T0 + 20  # MTTA keeps the first ack


def test_ack_by_someone_else_cancels_snooze() -> None:
    m = manager()
    m.on_group_update("g", [alert("A")], [], {}, T0)
    m.acknowledge("INC-1", "ana", T0 + 20)
    m.snooze("INC-1", "ana", 3600, T0 + 30)
    m.acknowledge("INC-1", "bob", T0 + 40)
    assert m.run_until(T0 + 86400) == []
    assert "snooze cancelled" in m.get("INC-1").timeline[-1].text


def test_unacknowledge_restarts_from_level_one() -> None:
    m = manager()
    m.on_group_update("g", [alert("A")], [], {}, T0)
    m.run_until(T0 + 700)  # bob paged at level 2
    m.acknowledge("INC-1", "bob", T0 + 800)
    acts = m.unacknowledge("INC-1", "bob", T0 + 900)
    assert users(acts) == ["ana"]
    with pytest.raises(TransitionError, match="not acknowledged"):
        m.unacknowledge("INC-1", "bob", T0 + 901)


def test_refused_transitions_name_the_problem() -> None:
    m = manager()
    m.on_group_update("g", [alert("A")], [], {}, T0)
    m.resolve("INC-1", "ana", T0 + 5)
    with pytest.raises(TransitionError, match="INC-1 is resolved; reopen it before acknowledging"):
        m.acknowledge("INC-1", "ana", T0 + 6)
    with pytest.raises(TransitionError, match="already resolved"):
        m.resolve("INC-1", "ana", T0 + 6)
    with pytest.raises(UnknownIncident, match="INC-9"):
        m.acknowledge("INC-9", "ana", T0)
    acts = m.reopen("INC-1", "ana", T0 + 10)
    assert users(acts) == ["ana"]
    with pytest.raises(TransitionError, match="not resolved"):
        m.reopen("INC-1", "ana", T0 + 11)


def test_assign_note_priority() -> None:
    m = manager()
    m.on_group_update("g", [alert("A", severity="warning")], [], {}, T0)
    acts = m.assign("INC-1", ["bob"], "ana", T0 + 10)
    assert users(acts) == ["bob"]
    with pytest.raises(KeyError, match="unknown user 'zed'"):
        m.assign("INC-1", ["zed"], "ana", T0 + 11)
    m.add_note("INC-1", "bob", "disk cleaned", T0 + 20)
    with pytest.raises(TransitionError, match="cannot be empty"):
        m.add_note("INC-1", "bob", "  ", T0 + 21)
    m.set_priority("INC-1", "P1", "bob", T0 + 30)
    with pytest.raises(TransitionError, match="unknown priority 'P9'"):
        m.set_priority("INC-1", "P9", "bob", T0 + 31)
    inc = m.get("INC-1")
    assert inc.assignees == ["bob"] and inc.notes[0].text == "disk cleaned"
    assert (inc.priority, inc.urgency) == ("P1", "high")
    kinds = [e.kind for e in inc.timeline]
    assert kinds[-4:] == [EventKind.ASSIGNED, EventKind.NOTIFIED, EventKind.NOTE, EventKind.PRIORITY_CHANGED]


def test_no_policy_means_nobody_paged_but_incident_recorded() -> None:
    m = IncidentManager(load_incidents_text(CONFIG.replace("default_policy: main\n", "")))
    acts = m.on_group_update("g", [alert("A")], [], {}, T0)
    assert users(acts) == []
    assert "no escalation policy" in m.get("INC-1").events(EventKind.ESCALATION_FAILED)[0].text


def test_resolved_only_update_for_unknown_group_creates_nothing() -> None:
    m = manager()
    a = alert("A")
    assert m.on_group_update("g", [], [resolved(a, T0)], {}, T0) == []
    assert m.incidents == {}


def test_notification_rules_by_urgency_and_fallback() -> None:
    extra_users = CONFIG.replace(
        "  - {id: bob, email: bob@example.com}",
        "  - id: bob\n    email: bob@example.com\n    phone: '+100'\n    notification_rules:\n"
        "      - {via: email}\n      - {via: sms, after: 2m, urgency: high}\n"
        "      - {via: phone, after: 4m, urgency: high}",
    )
    setup = load_incidents_text(extra_users)
    bob = setup.directory.user("bob")
    assert [(d, c.kind.value) for d, c in bob.plan(Urgency.HIGH)] == [
        (0, "email"),
        (120, "sms"),
        (240, "phone"),
    ]
    assert [(d, c.kind.value) for d, c in bob.plan(Urgency.LOW)] == [(0, "email")]
    ana = setup.directory.user("ana")  # no rules: one email at once
    assert [(d, c.kind.value) for d, c in ana.plan(Urgency.HIGH)] == [(0, "email")]


def test_reload_removing_policy_ends_running_escalation() -> None:
    m = manager()
    m.on_group_update("g", [alert("A")], [], {}, T0)
    other = CONFIG.replace("name: main", "name: other").replace(
        "default_policy: main", "default_policy: other"
    )
    m.reload(load_incidents_text(other))
    assert users(m.fire_due(T0 + 600)) == []
    inc = m.get("INC-1")
    assert inc.escalation.finished
    assert "escalation policy 'main' no longer exists" in inc.events(EventKind.ESCALATION_FAILED)[0].text


def test_prune_forgets_old_resolved_incidents_only() -> None:
    m = manager()
    m.on_group_update("g1", [alert("A")], [], {}, T0)
    m.on_group_update("g2", [alert("B")], [], {}, T0)
    m.resolve("INC-1", "ana", T0 + 10)
    assert m.prune(T0 + 5) == []
    assert m.prune(T0 + 20) == ["INC-1"]
    assert sorted(m.incidents) == ["INC-2"] and m.by_group == {"g2": "INC-2"}
    assert all(t.incident_id == "INC-2" for t in m.timers.values())
