"""Seeded random walks over the incident manager: whatever people and alerts do, the state stays
consistent, serialises losslessly, and a restored copy behaves exactly like the original."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime

import pytest

from tocsin.incidents.actions import CancelTimer, Notify, ScheduleTimer
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.lifecycle import TransitionError
from tocsin.incidents.manager import ESCALATION_TIMERS, IncidentManager
from tocsin.incidents.model import EventKind, IncidentState
from tocsin.model import Alert

T0 = datetime(2026, 3, 27, 8, tzinfo=UTC).timestamp()  # a Friday, two days before the DST change

CONFIG = """
users:
  - id: ana
    email: ana@example.com
    phone: "+1"
    skills: [db]
    notification_rules: [{via: email}, {via: sms, after: 3m, urgency: high}]
  - {id: bob, email: bob@example.com, skills: [net]}
  - {id: cy, email: cy@example.com, skills: [db, net]}
teams:
  - {id: ops, members: [ana, bob, cy], business_hours: office}
business_hours:
  - {name: office, time_zone: Europe/Paris, start: "09:00", end: "18:00", holidays: {country: FR}}
schedules:
  - name: s
    time_zone: Europe/Paris
    layers:
      - {name: d, start: "2026-03-01T09:00", rotation: {unit: days}, users: [ana, bob, cy]}
escalation_policies:
  - name: main
    repeat: 2
    levels:
      - {targets: [{schedule: s}], wait: 5m}
      - {targets: [{team: ops}], select: one, wait: 10m}
  - name: office
    business_hours: office
    levels:
      - {targets: [{team: ops}], wait: 15m}
      - {targets: [{policy: main}]}
slas:
  - {priority: P1, ack: 10m, resolve: 1h}
  - {priority: P3, ack: 2h, business_hours: office}
label_skills: [{label: need}]
default_policy: main
reopen_window: 20m
links: {secrets: ["0123456789abcdef-walk"]}
"""

GROUPS = ["g1", "g2", "g3", "g4"]
USERS = ["ana", "bob", "cy"]


def check(m: IncidentManager, now: float) -> None:
    for key, t in m.timers.items():
        inc = m.incidents[t.incident_id]
        assert key.startswith(inc.id + ":")
        if inc.state is IncidentState.RESOLVED:
            raise AssertionError(f"timer {key} left on resolved incident {inc.id}")
        if inc.state is IncidentState.ACKNOWLEDGED:
            assert t.kind not in ESCALATION_TIMERS, (key, t.kind)
    for inc in m.incidents.values():
        kinds = {t.kind for t in m.timers.values() if t.incident_id == inc.id}
        if inc.state is IncidentState.TRIGGERED and not inc.escalation.finished:
            assert kinds & {"level", "deferred"}, f"{inc.id} is stuck: triggered, no escalation timer"
        if inc.snoozed_until is not None:
            assert "snooze" in kinds and inc.state is IncidentState.ACKNOWLEDGED
        assert [e.at for e in inc.timeline] == sorted(e.at for e in inc.timeline)
        assert inc.first_acknowledged_at is None or inc.first_acknowledged_at >= inc.created_at
    assert m.next_due() is None or m.next_due() == min(t.at for t in m.timers.values())


def step(m: IncidentManager, rng: random.Random, now: float, fired: dict[str, list[Alert]]) -> list[object]:
    op = rng.random()
    g = rng.choice(GROUPS)
    incs = sorted(m.incidents)
    try:
        if op < 0.35:
            name = f"A{rng.randrange(3)}"
            labels = {"alertname": name, "severity": rng.choice(["critical", "warning"])}
            if rng.random() < 0.5:
                labels["need"] = rng.choice(["db", "net"])
            a = Alert(labels=labels, starts_at=now, ends_at=now + 3600, updated_at=now)
            fired[g] = [x for x in fired.get(g, []) if x.labels["alertname"] != name] + [a]
            return m.on_group_update(g, fired[g], [], {}, now)
        if op < 0.5 and fired.get(g):
            gone = fired[g].pop(rng.randrange(len(fired[g])))
            done = Alert(labels=gone.labels, starts_at=gone.starts_at, ends_at=now, updated_at=now)
            return m.on_group_update(g, fired[g], [done], {}, now)
        if not incs:
            return []
        iid = rng.choice(incs)
        user = rng.choice(USERS)
        if op < 0.65:
            return m.acknowledge(iid, user, now, "api")
        if op < 0.72:
            return m.resolve(iid, user, now, "cli")
        if op < 0.78:
            return m.snooze(iid, user, rng.choice([600, 3600]), now)
        if op < 0.83:
            return m.unacknowledge(iid, user, now)
        if op < 0.87:
            return m.reopen(iid, user, now)
        if op < 0.9:
            return m.assign(iid, [user], "ana", now)
        if op < 0.93:
            return m.set_priority(iid, rng.choice(["P1", "P2", "P3"]), user, now)
        if op < 0.96:
            tokens = m.link_tokens(iid, user, now)
            return m.handle_link(tokens[rng.choice(["ack", "resolve"])], now)[1]
        return m.add_note(iid, user, "note", now)
    except TransitionError:
        return []


@pytest.mark.parametrize("seed", range(6))
def test_random_walk_keeps_invariants_and_restores_identically(seed: int) -> None:
    rng = random.Random(seed)
    setup = load_incidents_text(CONFIG)
    m = IncidentManager(setup)
    fired: dict[str, list[Alert]] = {}
    now = T0
    for i in range(160):
        now += rng.choice([5, 30, 120, 600, 3600])
        m.fire_due(now)
        step(m, rng, now, fired)
        check(m, now)
        if i % 40 == 39:
            # A restart: the restored manager must continue exactly as the original would.
            snapshot = json.loads(json.dumps(m.to_dict()))
            twin = IncidentManager.from_dict(setup, snapshot)
            horizon = now + 2 * 86400
            probe = IncidentManager.from_dict(setup, json.loads(json.dumps(m.to_dict())))
            assert [(t, repr(a)) for t, a in twin.run_until(horizon)] == [
                (t, repr(a)) for t, a in probe.run_until(horizon)
            ]
            assert twin.to_dict() == probe.to_dict()
            m = IncidentManager.from_dict(setup, snapshot)
    assert len(m.incidents) >= 1


def test_actions_are_consistent_with_timer_state() -> None:
    rng = random.Random(99)
    m = IncidentManager(load_incidents_text(CONFIG))
    fired: dict[str, list[Alert]] = {}
    armed: set[str] = set()
    now = T0
    for _ in range(200):
        now += rng.choice([10, 60, 300, 1800])
        actions = list(m.fire_due(now)) + list(step(m, rng, now, fired))
        for a in actions:
            if isinstance(a, ScheduleTimer):
                armed.add(a.key)
            elif isinstance(a, CancelTimer):
                assert a.key in armed
                armed.discard(a.key)
            elif isinstance(a, Notify):
                assert a.links and set(a.links) == {"ack", "resolve"}
        fired_keys = armed - set(m.timers)
        armed -= fired_keys  # fired timers disappear from the state without a CancelTimer
        assert armed == set(m.timers)
    notes = sum(len(i.events(EventKind.NOTIFIED)) for i in m.incidents.values())
    assert notes > 0
