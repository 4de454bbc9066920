"""Escalation on an injected clock: level timing, repeats, stop on ack, SLA warnings and breaches,
business-hours deferral, responder selection, and restart in the middle of an escalation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from tocsin.incidents.actions import Action, CancelTimer, Notify, NotifyChannel, ScheduleTimer
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.manager import IncidentManager
from tocsin.incidents.model import EventKind, IncidentState
from tocsin.model import Alert

PARIS = ZoneInfo("Europe/Paris")
#: Wednesday 7 January 2026, 10:00 UTC: ana holds the first week of the primary schedule.
T0 = datetime(2026, 1, 7, 10, tzinfo=UTC).timestamp()

CONFIG = """
users:
  - id: ana
    email: ana@example.com
    phone: "+33600000001"
    slack_id: UANA
    skills: [postgres]
    notification_rules:
      - {via: slack}
      - {via: sms, after: 5m, urgency: high}
  - {id: bob, email: bob@example.com, skills: [kubernetes]}
  - {id: carl, email: carl@example.com, skills: [postgres]}
teams:
  - {id: ops, members: [ana, bob, carl]}
  - {id: dba, members: [ana, carl], business_hours: office}
business_hours:
  - name: office
    time_zone: Europe/Paris
    days: [mon-fri]
    start: "09:00"
    end: "18:00"
    holidays: {country: FR}
schedules:
  - name: primary
    time_zone: UTC
    layers:
      - {name: weekly, start: "2026-01-05T00:00", rotation: {unit: weeks}, users: [ana, bob]}
escalation_policies:
  - name: main
    repeat: 1
    levels:
      - {targets: [{schedule: primary}], wait: 15m}
      - {targets: [{user: carl}, {channel: ops-hook}], wait: 15m}
  - name: pick
    levels:
      - {targets: [{team: ops}], select: one, wait: 10m}
  - name: lowdesk
    business_hours: office
    levels:
      - {targets: [{user: bob}], wait: 30m}
      - {targets: [{user: carl}], wait: 30m}
  - name: teamdesk
    levels:
      - {targets: [{team: dba}], wait: 30m}
slas:
  - {priority: P1, ack: 20m, resolve: 2h, warn_at: 0.5}
label_skills:
  - {label: service, value: postgres, skill: postgres}
default_policy: main
links: {secrets: ["0123456789abcdef-test"], ttl: 1h}
"""


def manager() -> IncidentManager:
    return IncidentManager(load_incidents_text(CONFIG))


def alert(name: str = "DiskFull", at: float = T0, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=at, ends_at=at + 3600, updated_at=at)


def notified(actions: list[Action]) -> list[tuple[str, str]]:
    return [(a.user, a.contact.kind.value) for a in actions if isinstance(a, Notify)]


def pages(timed: list[tuple[float, Action]]) -> list[tuple[float, str, str]]:
    return [(t - T0, a.user, a.contact.kind.value) for t, a in timed if isinstance(a, Notify)]


def test_level_one_then_level_two_after_wait_then_repeat_then_finish() -> None:
    m = manager()
    acts = m.on_group_update("g1", [alert(priority="P2")], [], {"alertname": "DiskFull"}, T0)
    assert notified(acts) == [("ana", "slack")]
    timers = [a for a in acts if isinstance(a, ScheduleTimer)]
    assert sorted(t.at - T0 for t in timers) == [300, 900]  # SMS rule, level wait
    later = m.run_until(T0 + 3 * 3600)
    assert pages(later) == [
        (300, "ana", "sms"),
        (900, "carl", "email"),
        (1800, "ana", "slack"),  # repeat 1/1 starts from level 1 again
        (2100, "ana", "sms"),
        (2700, "carl", "email"),
    ]
    channels = [(t - T0, a.channel) for t, a in later if isinstance(a, NotifyChannel)]
    assert channels == [(900, "ops-hook"), (2700, "ops-hook")]
    inc = m.get("INC-1")
    assert inc.escalation.finished
    assert [e.at - T0 for e in inc.events(EventKind.ESCALATED)] == [0, 900, 1800, 2700]
    assert inc.events(EventKind.ESCALATION_REPEATED)[0].at == T0 + 1800
    assert inc.events(EventKind.ESCALATION_FINISHED)[0].at == T0 + 3600
    assert m.next_due() is None


def test_acknowledgement_stops_escalation_and_pending_notifications() -> None:
    m = manager()
    m.on_group_update("g1", [alert(priority="P2")], [], {}, T0)
    acts = m.acknowledge("INC-1", "ana", T0 + 120, source="slack")
    assert {type(a) for a in acts} == {CancelTimer}
    assert len(acts) == 2  # the SMS step and the level timer
    assert m.run_until(T0 + 86400) == []
    inc = m.get("INC-1")
    assert inc.state is IncidentState.ACKNOWLEDGED
    assert inc.first_acknowledged_at == T0 + 120
    assert inc.timeline[-1].text == "acknowledged by ana via slack"


def test_late_timer_after_ack_does_nothing() -> None:
    m = manager()
    acts = m.on_group_update("g1", [alert(priority="P2")], [], {}, T0)
    level_key = next(a.key for a in acts if isinstance(a, ScheduleTimer) and a.at == T0 + 900)
    m.acknowledge("INC-1", "ana", T0 + 60)
    assert m.on_timer(level_key, T0 + 900) == []


def test_ack_sla_warning_escalates_early_and_breach_is_recorded() -> None:
    m = manager()
    m.on_group_update("g1", [alert(severity="critical")], [], {}, T0)  # critical -> P1 -> high
    inc = m.get("INC-1")
    assert inc.priority == "P1"
    timed = m.run_until(T0 + 1500)
    # At half of the 20 min ack target (10 min) the SLA is at risk: level 2 is paged at once
    # instead of after the 15 min wait.
    assert (600, "carl", "email") in pages(timed)
    assert inc.events(EventKind.SLA_WARNING)[0].at == T0 + 600
    assert [(b.kind, b.due - T0, b.at - T0, b.elapsed) for b in inc.breaches] == [("ack", 1200, 1200, 1200)]
    assert inc.events(EventKind.SLA_BREACHED)[0].text == "ack SLA for P1 breached (20 min)"
    # Acknowledged late: resolve SLA still runs; its warning pages the assignees, then it breaches.
    m.acknowledge("INC-1", "carl", T0 + 1500)
    m.run_until(T0 + 3 * 3600)
    assert [b.kind for b in inc.breaches] == ["ack", "resolve"]
    assert inc.breaches[1].at == T0 + 7200
    warn = inc.events(EventKind.SLA_WARNING)[1]
    assert (warn.at, warn.data["which"]) == (T0 + 3600, "resolve")


def test_sla_met_means_no_breach() -> None:
    m = manager()
    m.on_group_update("g1", [alert(severity="critical")], [], {}, T0)
    m.acknowledge("INC-1", "ana", T0 + 200)
    m.resolve("INC-1", "ana", T0 + 1000)
    m.run_until(T0 + 86400)
    inc = m.get("INC-1")
    assert inc.breaches == [] and inc.events(EventKind.SLA_WARNING) == []
    assert m.timers == {}


def test_low_urgency_outside_business_hours_is_deferred_then_delivered() -> None:
    m = manager()
    friday_evening = datetime(2026, 7, 10, 19, tzinfo=PARIS).timestamp()
    monday_open = datetime(2026, 7, 13, 9, tzinfo=PARIS).timestamp()
    acts = m.on_group_update(
        "g", [alert(at=friday_evening, severity="warning")], [], {}, friday_evening, "lowdesk"
    )
    inc = m.get("INC-1")
    assert inc.urgency == "low"
    assert notified(acts) == []
    assert [a.at for a in acts if isinstance(a, ScheduleTimer)] == [monday_open]
    assert "deferred until 2026-07-13T07:00:00Z" in inc.events(EventKind.DEFERRED)[0].text
    # Nothing is lost across the weekend: the page goes out at the opening, and escalation runs
    # from there (level 2 after the 30 min wait).
    timed = m.run_until(monday_open + 3600)
    assert [(t, a.user) for t, a in timed if isinstance(a, Notify)] == [
        (monday_open, "bob"),
        (monday_open + 1800, "carl"),
    ]


def test_low_urgency_deferral_skips_public_holiday() -> None:
    m = manager()
    monday_evening = datetime(2026, 7, 13, 18, 30, tzinfo=PARIS).timestamp()
    m.on_group_update("g", [alert(at=monday_evening, severity="info")], [], {}, monday_evening, "lowdesk")
    timed = m.run_until(monday_evening + 3 * 86400)
    first = next(t for t, a in timed if isinstance(a, Notify))
    assert first == datetime(2026, 7, 15, 9, tzinfo=PARIS).timestamp()  # 14 July is a holiday


def test_level_that_comes_due_after_hours_waits_for_the_opening() -> None:
    m = manager()
    t = datetime(2026, 7, 10, 17, 45, tzinfo=PARIS).timestamp()  # Friday, 15 min before closing
    m.on_group_update("g", [alert(at=t, severity="warning")], [], {}, t, "lowdesk")
    timed = m.run_until(t + 4 * 86400)
    monday_open = datetime(2026, 7, 13, 9, tzinfo=PARIS).timestamp()
    assert [(ts, a.user) for ts, a in timed if isinstance(a, Notify)] == [(monday_open, "carl")]


def test_high_urgency_pages_outside_business_hours() -> None:
    m = manager()
    saturday = datetime(2026, 7, 11, 3, tzinfo=PARIS).timestamp()
    acts = m.on_group_update("g", [alert(at=saturday, severity="critical")], [], {}, saturday, "lowdesk")
    assert notified(acts) == [("bob", "email")]
    acts = m.on_group_update("h", [alert(at=saturday, severity="critical")], [], {}, saturday, "teamdesk")
    assert sorted(notified(acts)) == [("ana", "slack"), ("carl", "email")]


def test_team_business_hours_defer_each_member() -> None:
    m = manager()
    saturday = datetime(2026, 7, 11, 11, tzinfo=PARIS).timestamp()
    acts = m.on_group_update("g", [alert(at=saturday, severity="warning")], [], {}, saturday, "teamdesk")
    assert notified(acts) == []
    inc = m.get("INC-1")
    assert [e.data["user"] for e in inc.events(EventKind.DEFERRED)] == ["ana", "carl"]
    monday_open = datetime(2026, 7, 13, 9, tzinfo=PARIS).timestamp()
    timed = m.run_until(monday_open)
    assert sorted((t, a.user) for t, a in timed if isinstance(a, Notify)) == [
        (monday_open, "ana"),
        (monday_open, "carl"),
    ]


def test_deferred_page_is_not_sent_once_acknowledged() -> None:
    m = manager()
    saturday = datetime(2026, 7, 11, 11, tzinfo=PARIS).timestamp()
    m.on_group_update("g", [alert(at=saturday, severity="warning")], [], {}, saturday, "teamdesk")
    m.acknowledge("INC-1", "ana", saturday + 600)
    assert m.run_until(saturday + 5 * 86400) == []


def test_restart_mid_escalation_fires_next_step_once_on_time() -> None:
    uninterrupted = manager()
    uninterrupted.on_group_update("g1", [alert(priority="P2")], [], {}, T0)
    expected = pages(uninterrupted.run_until(T0 + 1000))

    m = manager()
    m.on_group_update("g1", [alert(priority="P2")], [], {}, T0)
    before = pages(m.run_until(T0 + 400))  # the SMS step has fired; level 2 is pending
    stored = json.dumps(m.to_dict())
    del m

    restored = IncidentManager.from_dict(load_incidents_text(CONFIG), json.loads(stored))
    pending = restored.pending_timers()
    assert [(t.at - T0) for t in pending] == [900]
    key = pending[0].key
    assert restored.on_timer(key, T0 + 899) == []  # not yet due: nothing, and it stays armed
    fired = restored.on_timer(key, T0 + 900)
    assert notified(fired) == [("carl", "email")]
    assert restored.on_timer(key, T0 + 900) == []  # a duplicate delivery of the same timer
    assert [*before, (900, "carl", "email")] == expected
    again = json.loads(json.dumps(restored.to_dict()))
    assert key not in again["timers"]


def test_state_round_trips_through_json() -> None:
    m = manager()
    m.on_group_update("g1", [alert(severity="critical", service="postgres")], [], {}, T0)
    m.add_note("INC-1", "ana", "looking", T0 + 10)
    m.run_until(T0 + 700)
    d = m.to_dict()
    back = IncidentManager.from_dict(m.setup, json.loads(json.dumps(d)))
    assert back.to_dict() == d


def test_responder_chosen_by_skill_then_workload_then_round_robin() -> None:
    m = manager()
    m.on_group_update("g1", [alert("PgDown", service="postgres", priority="P2")], [], {}, T0, "pick")
    first = m.get("INC-1").events(EventKind.RESPONDER_CHOSEN)[0]
    assert first.data["user"] == "ana"
    assert first.text == (
        "chose ana: has skill postgres; 0 open incidents, 0 pages in the last 24h;"
        " round-robin turn among ana, carl"
    )
    m.on_group_update("g2", [alert("PgSlow", service="postgres", priority="P2")], [], {}, T0 + 60, "pick")
    second = m.get("INC-2").events(EventKind.RESPONDER_CHOSEN)[0]
    assert second.text == "chose carl: has skill postgres; 0 open incidents, 0 pages in the last 24h (fewest)"
    # No skill required: workload decides. ana and carl each have a page; bob has none.
    m.on_group_update("g3", [alert("NodeDown", priority="P2")], [], {}, T0 + 120, "pick")
    third = m.get("INC-3").events(EventKind.RESPONDER_CHOSEN)[0]
    assert third.data["user"] == "bob"


def test_nobody_on_call_skips_the_level() -> None:
    cfg = CONFIG.replace('start: "2026-01-05T00:00"', 'start: "2027-01-04T00:00"')
    m = IncidentManager(load_incidents_text(cfg))
    acts = m.on_group_update("g1", [alert(priority="P2")], [], {}, T0)
    assert notified(acts) == [("carl", "email")]
    inc = m.get("INC-1")
    assert "nobody on call in schedule primary" in inc.events(EventKind.ESCALATION_FAILED)[0].text
    assert inc.events(EventKind.LEVEL_SKIPPED)[0].data["level"] == 1


def test_policy_hand_off() -> None:
    cfg = CONFIG.replace(
        "  - name: teamdesk\n",
        "  - name: front\n    levels:\n      - {targets: [{user: bob}], wait: 5m}\n"
        "      - {targets: [{policy: main}]}\n  - name: teamdesk\n",
    )
    m = IncidentManager(load_incidents_text(cfg))
    m.on_group_update("g1", [alert(priority="P2")], [], {}, T0, "front")
    timed = m.run_until(T0 + 600)
    assert pages(timed)[0] == (300, "ana", "slack")
    inc = m.get("INC-1")
    assert inc.events(EventKind.HANDED_OFF)[0].text.endswith("handed off to policy main")
    assert inc.escalation.policy == "main"


def test_policy_route_by_labels_and_unknown_policy() -> None:
    cfg = CONFIG + "policy_routes:\n  - {matchers: ['team=\"db\"'], policy: pick}\n"
    m = IncidentManager(load_incidents_text(cfg))
    m.on_group_update("g1", [alert(team="db", priority="P2")], [], {"team": "db"}, T0)
    assert m.get("INC-1").escalation.policy == "pick"
    m.on_group_update("g2", [alert(team="web", priority="P2")], [], {"team": "web"}, T0)
    assert m.get("INC-2").escalation.policy == "main"
    try:
        m.on_group_update("g3", [alert(priority="P2")], [], {}, T0, "nope")
    except ValueError as e:
        assert "unknown escalation policy 'nope'" in str(e)
    else:
        raise AssertionError("an unknown policy must be refused")


def test_resolve_sla_warning_notifies_assignees_and_delivery_is_recorded() -> None:
    m = manager()
    m.on_group_update("g1", [alert(severity="critical")], [], {}, T0)
    m.acknowledge("INC-1", "ana", T0 + 60)
    m.record_delivery("INC-1", "ana", "slack", True, "", T0 + 1)
    m.record_delivery("INC-1", "ana", "sms", False, "HTTP 500", T0 + 2)
    timed = m.run_until(T0 + 3600)
    assert [(t - T0, a.user, a.reason) for t, a in timed if isinstance(a, Notify)] == [
        (3600, "ana", "resolve SLA about to breach")
    ]
    deliveries = [e.text for e in m.get("INC-1").events(EventKind.DELIVERY)]
    assert deliveries == ["slack to ana delivered", "sms to ana failed: HTTP 500"]


def test_open_acknowledged_incidents_count_as_workload_and_survive_restore() -> None:
    m = manager()
    m.on_group_update("g1", [alert("PgDown", service="postgres", priority="P2")], [], {}, T0, "pick")
    m.acknowledge("INC-1", "ana", T0 + 30)  # ana holds one open incident
    assert m.workload("ana", T0 + 40).open_incidents == 1
    restored = IncidentManager.from_dict(m.setup, json.loads(json.dumps(m.to_dict())))
    # A day later ana's page has aged out of the window but her incident is still open.
    later = T0 + 86400 + 60
    assert (restored.workload("ana", later).open_incidents, restored.workload("ana", later).recent_pages) == (
        1,
        0,
    )
    restored.on_group_update(
        "g2", [alert("PgSlow", at=later, service="postgres", priority="P2")], [], {}, later, "pick"
    )
    chosen = restored.get("INC-2").events(EventKind.RESPONDER_CHOSEN)[0]
    assert chosen.text == "chose carl: has skill postgres; 0 open incidents, 0 pages in the last 24h (fewest)"
    restored.resolve("INC-1", "ana", later + 10)
    assert restored.workload("ana", later + 20).open_incidents == 0


def test_ack_sla_warning_does_not_skip_a_level_deferred_to_business_hours() -> None:
    cfg = CONFIG.replace(
        "  - {priority: P1, ack: 20m",
        "  - {priority: P3, ack: 1h, warn_at: 0.5}\n  - {priority: P1, ack: 20m",
    )
    m = IncidentManager(load_incidents_text(cfg))
    friday_evening = datetime(2026, 7, 10, 19, tzinfo=PARIS).timestamp()
    m.on_group_update("g", [alert(at=friday_evening, severity="warning")], [], {}, friday_evening, "lowdesk")
    monday_open = datetime(2026, 7, 13, 9, tzinfo=PARIS).timestamp()
    timed = m.run_until(monday_open)
    assert [(t, a.user) for t, a in timed if isinstance(a, Notify)] == [(monday_open, "bob")]
    inc = m.get("INC-1")
    assert inc.events(EventKind.SLA_WARNING)[0].at == friday_evening + 1800
    assert [b.kind for b in inc.breaches] == ["ack"]  # without business_hours on the SLA, nights count


def test_priority_raised_later_applies_the_new_sla_from_the_start() -> None:
    m = manager()
    m.on_group_update("g1", [alert("A", severity="warning")], [], {}, T0)  # P3: no SLA
    inc = m.get("INC-1")
    assert not [t for t in m.timers.values() if t.kind.startswith("sla")]
    # A critical alert joins after 25 min: P1's 20 min ack target was already missed.
    m.on_group_update(
        "g1", [alert("A", severity="warning"), alert("B", severity="critical")], [], {}, T0 + 1500
    )
    assert inc.priority == "P1"
    m.fire_due(T0 + 1500)
    assert [(b.kind, b.due - T0, b.at - T0) for b in inc.breaches] == [("ack", 1200, 1500)]
    # Manual change to P1 on an acknowledged incident arms only the resolve target.
    m2 = manager()
    m2.on_group_update("g", [alert("A", severity="warning")], [], {}, T0)
    m2.acknowledge("INC-1", "ana", T0 + 60)
    acts = m2.set_priority("INC-1", "P1", "ana", T0 + 120)
    armed = sorted(
        (m2.timers[a.key].kind, m2.timers[a.key].data["which"]) for a in acts if isinstance(a, ScheduleTimer)
    )
    assert armed == [("sla_breach", "resolve"), ("sla_warn", "resolve")]


def test_core_flow_fire_escalate_ack_by_link_timeline() -> None:
    """The issue's end-to-end story on the pure core: alerts fire, level 1 is paged, nobody
    acknowledges, level 2 is paged after the wait, a signed link acknowledges, escalation stops."""
    m = manager()
    acts = m.on_group_update(
        '{}:{alertname="DiskFull"}', [alert(priority="P2")], [], {"alertname": "DiskFull"}, T0
    )
    assert notified(acts) == [("ana", "slack")]
    timed = m.run_until(T0 + 900)
    level2 = [a for t, a in timed if isinstance(a, Notify) and a.user == "carl"]
    assert len(level2) == 1
    _, stop = m.handle_link(level2[0].links["ack"], T0 + 1000)
    assert all(isinstance(a, CancelTimer) for a in stop) and stop
    assert m.run_until(T0 + 86400) == []
    kinds = [e.kind.value for e in m.get("INC-1").timeline]
    assert kinds == [
        "created",
        "alert_added",
        "escalated",
        "notified",  # ana by slack
        "notified",  # ana by sms after 5 min
        "escalated",
        "notified",  # carl by email
        "notified",  # posted to ops-hook
        "acknowledged",
    ]
    assert m.get("INC-1").timeline[-1].text == "acknowledged by carl via link"


def test_ack_from_a_channel_link_then_resolve_sla_warning_does_not_crash() -> None:
    m = manager()
    acts = m.on_group_update("g1", [alert(severity="critical")], [], {}, T0)
    timed = m.run_until(T0 + 600)  # SLA warning escalates to level 2, which posts to ops-hook
    post = next(a for _, a in timed if isinstance(a, NotifyChannel))
    m.handle_link(post.links["ack"], T0 + 700)
    inc = m.get("INC-1")
    assert inc.acknowledged_by == "channel:ops-hook"
    later = m.run_until(T0 + 3600)
    assert [a.user for _, a in later if isinstance(a, Notify)] == ["carl"]  # known assignees only
    assert acts


def test_user_removed_by_reload_is_skipped_with_a_timeline_entry() -> None:
    m = manager()
    m.on_group_update("g1", [alert(priority="P2")], [], {}, T0)  # ana's SMS step is pending
    without_ana = """
users:
  - {id: bob, email: bob@example.com}
  - {id: carl, email: carl@example.com}
schedules:
  - name: primary
    time_zone: UTC
    layers:
      - {name: weekly, start: "2026-01-05T00:00", rotation: {unit: weeks}, users: [bob]}
escalation_policies:
  - name: main
    levels:
      - {targets: [{schedule: primary}], wait: 15m}
      - {targets: [{user: carl}], wait: 15m}
default_policy: main
"""
    m.reload(load_incidents_text(without_ana))
    timed = m.run_until(T0 + 900)
    assert [(t - T0, a.user) for t, a in timed if isinstance(a, Notify)] == [(900, "carl")]
    assert "user 'ana' is no longer configured" in m.get("INC-1").events(EventKind.ESCALATION_FAILED)[0].text
