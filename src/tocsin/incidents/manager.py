"""The incident manager: incidents from aggregation groups, escalation, SLAs and durable timers.

Every method takes ``now`` (epoch seconds) and returns the actions for the shell to perform
(``Notify``, ``NotifyChannel``, ``ScheduleTimer``, ``CancelTimer``). Timers are part of the
state: ``to_dict`` captures them with their payloads, and after ``from_dict`` the shell re-arms
``pending_timers()``. ``on_timer`` removes a timer before acting on it, so a timer fires at most
once even when the shell delivers it twice (e.g. once before a crash and once after restore).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tocsin.incidents import lifecycle
from tocsin.incidents.actions import Action, CancelTimer, Notify, NotifyChannel, ScheduleTimer
from tocsin.incidents.business_hours import BusinessHours
from tocsin.incidents.correlation import GroupCorrelator
from tocsin.incidents.correlation_history import LearnedHistory
from tocsin.incidents.escalation import Level, SelectMode, TargetKind
from tocsin.incidents.links import LinkAction, LinkClaims, make_token, verify_token
from tocsin.incidents.model import AlertRef, Breach, EscalationState, EventKind, Incident, IncidentState
from tocsin.incidents.people import ContactKind, ContactMethod, Urgency, User
from tocsin.incidents.responders import Workload, select_responder
from tocsin.incidents.setup import PRIORITIES, IncidentsSetup
from tocsin.incidents.timers import Timer, TimerStore
from tocsin.model import Alert, AlertSeverity, fingerprint_hex

STATE_VERSION = 1

#: Timer kinds. Escalation-side timers die on acknowledgement; SLA timers have their own rules.
ESCALATION_TIMERS = frozenset({"level", "notify", "deferred"})
_SEVERITY_ORDER = [s.value for s in sorted(AlertSeverity, key=lambda s: s.rank)]


def _history_for(setup: IncidentsSetup, current: LearnedHistory | None) -> LearnedHistory | None:
    """The learned history for a (re)loaded setup: the current one kept with its counts when
    learning stays on, a new one when it was off, none when it is off now."""
    wanted = setup.correlation.history if setup.correlation is not None else None
    if wanted is None:
        return None
    if current is None:
        return LearnedHistory(wanted)
    current.configure(wanted)
    return current


class UnknownIncident(KeyError):
    def __str__(self) -> str:
        return f"unknown incident {self.args[0]!r}"


class IncidentManager:
    def __init__(self, setup: IncidentsSetup) -> None:
        setup.check()
        self.setup = setup
        self.incidents: dict[str, Incident] = {}
        self.by_group: dict[str, str] = {}
        self._timers = TimerStore()
        #: Last user chosen per round-robin ring (policy/level), persisted so turns survive restart.
        self.rr: dict[str, str] = {}
        #: When each user was paged, within the workload window.
        self.pages: dict[str, list[float]] = {}
        self._seq = 0
        #: Ids of acknowledged incidents, for workload counts without scanning every incident.
        self._acked: set[str] = set()
        #: what correlation learns from the alerts (incidents.yml ``correlation.history``); the
        #: shell saves it, and it outlives correlators rebuilt by a reload
        self.history = _history_for(setup, None)
        #: joins new groups into open incidents (incidents.yml ``correlation``)
        self.correlator = GroupCorrelator(setup.correlation, self.history) if setup.correlation else None
        #: incidents whose probable causes changed, for the shell to rank again with metrics
        #: (collected only when correlation has a metric probe)
        self.causes_to_probe: set[str] = set()

    # --- state ------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "seq": self._seq,
            "incidents": [i.to_dict() for i in self.incidents.values()],
            "by_group": dict(self.by_group),
            "timers": self._timers.to_dict(),
            "rr": dict(self.rr),
            "pages": {u: list(ts) for u, ts in self.pages.items()},
        }

    @classmethod
    def from_dict(cls, setup: IncidentsSetup, data: Mapping[str, Any]) -> IncidentManager:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported incident state version {data.get('version')!r}")
        m = cls(setup)
        m._seq = int(data["seq"])
        for d in data["incidents"]:
            inc = Incident.from_dict(d)
            m.incidents[inc.id] = inc
            m._index(inc)
        m.by_group = dict(data["by_group"])
        m._timers = TimerStore.from_dict(data["timers"])
        m.rr = dict(data["rr"])
        m.pages = {u: [float(x) for x in ts] for u, ts in data["pages"].items()}
        return m

    @property
    def timers(self) -> dict[str, Timer]:
        """Armed timers by key (read-only view for inspection; change them through the manager)."""
        return self._timers.items

    def reload(self, setup: IncidentsSetup) -> None:
        """Switch to a new config. Running escalations continue by policy name and level; a
        policy that disappeared ends their escalation with a timeline entry when next due."""
        setup.check()
        self.history = _history_for(setup, self.history)
        if setup.correlation != self.setup.correlation:
            self.correlator = GroupCorrelator(setup.correlation, self.history) if setup.correlation else None
        self.setup = setup

    def prune(self, resolved_before: float) -> list[str]:
        """Forget incidents resolved before ``resolved_before`` (already stored elsewhere), so the
        in-memory state stays small. Returns the ids removed."""
        gone = [
            i.id
            for i in self.incidents.values()
            if i.state is IncidentState.RESOLVED
            and i.resolved_at is not None
            and i.resolved_at < resolved_before
        ]
        for iid in gone:
            del self.incidents[iid]
            self._acked.discard(iid)
        self.by_group = {g: i for g, i in self.by_group.items() if i in self.incidents}
        for k, t in self._timers:
            if t.incident_id not in self.incidents:
                self._timers.remove(k)
        return gone

    def pending_timers(self) -> list[ScheduleTimer]:
        """Every armed timer, earliest first: what the shell re-arms after a restart."""
        return [ScheduleTimer(t.at, k) for k, t in self._timers.pending()]

    def next_due(self) -> float | None:
        return self._timers.next_due()

    def get(self, incident_id: str) -> Incident:
        try:
            return self.incidents[incident_id]
        except KeyError:
            raise UnknownIncident(incident_id) from None

    # --- entry from the alert engine ---------------------------------------------------------

    def on_group_update(
        self,
        group_key: str,
        alerts_firing: Sequence[Alert],
        alerts_resolved: Sequence[Alert],
        labels: Mapping[str, str],
        now: float,
        policy: str | None = None,
        tenant_id: str = "default",
    ) -> list[Action]:
        """An aggregation group changed (or was flushed). ``labels`` are the group labels;
        ``policy`` is the route's ``escalation_policy`` extension key, if any."""
        out = self._group_update(group_key, alerts_firing, alerts_resolved, labels, now, policy, tenant_id)
        inc = self.incidents.get(self.by_group.get(group_key, ""))
        if inc is not None:
            self._index(inc)
        return out

    def _group_update(
        self,
        group_key: str,
        alerts_firing: Sequence[Alert],
        alerts_resolved: Sequence[Alert],
        labels: Mapping[str, str],
        now: float,
        policy: str | None = None,
        tenant_id: str = "default",
    ) -> list[Action]:
        out: list[Action] = []
        unseen = False  # some alert started firing that correlation had not seen
        if self.correlator is not None:
            unseen = self.correlator.observe(tenant_id, alerts_firing, alerts_resolved, now)
        inc = self.incidents.get(self.by_group.get(group_key, ""))
        if inc is not None and inc.state is IncidentState.RESOLVED:
            fresh = [a for a in alerts_firing if self._is_new_firing(inc, a)]
            if not fresh:
                self._record_alerts(inc, [], alerts_resolved, now)
                return out
            assert inc.resolved_at is not None
            if now - inc.resolved_at <= self.setup.reopen_window:
                self._record_alerts(inc, alerts_firing, alerts_resolved, now)
                lifecycle.reopen(inc, "source", now, f"{len(fresh)} alert(s) fired again")
                self._arm_slas(inc, now, out)
                self._start_escalation(inc, now, out)
                return out
            inc = None
        if inc is None:
            if not alerts_firing:
                return out
            joined = self._join_correlated(group_key, alerts_firing, tenant_id, now, out)
            if joined:
                return out
            inc = self._create(group_key, alerts_firing, labels, now, policy, tenant_id)
            self._arm_slas(inc, now, out)
            self._start_escalation(inc, now, out)
            self._record_alerts(inc, [], alerts_resolved, now)
            self._note_causes(inc, alerts_firing)
            return out
        self._record_alerts(inc, alerts_firing, alerts_resolved, now)
        if unseen:
            self._note_causes(inc, alerts_firing)
        self._raise_severity(inc, now, out)
        if self.setup.auto_resolve and inc.alerts and not inc.firing:
            lifecycle.resolve(inc, "source", now, "source")
            self._cancel(inc, None, out)
        return out

    def _join_correlated(
        self, group_key: str, firing: Sequence[Alert], tenant_id: str, now: float, out: list[Action]
    ) -> bool:
        """Put a new group into the open incident its alerts were correlated with, if any."""
        if self.correlator is None:
            return False
        found = self.correlator.joined_incident(tenant_id, firing)
        if found is None:
            return False
        target = self.incidents.get(found[0])
        if target is None or target.state is IncidentState.RESOLVED or target.tenant_id != tenant_id:
            return False
        self.by_group[group_key] = target.id
        if group_key != target.group_key and group_key not in target.groups:
            target.groups.append(group_key)
        target.log(now, EventKind.CORRELATED, f"group {group_key} joined: {found[1]}", group_key=group_key)
        self._record_alerts(target, firing, [], now)
        self._note_causes(target, firing)
        self._raise_severity(target, now, out)
        return True

    def _note_causes(self, inc: Incident, firing: Sequence[Alert]) -> None:
        if self.correlator is None or not firing:
            return
        self.correlator.claim(inc.tenant_id, firing, inc.id)
        # At once from the alerts and the graph; the shell ranks again with metrics, off the loop.
        inc.probable_causes = self.correlator.causes(inc.tenant_id, inc.id)
        correlation = self.setup.correlation
        if correlation is not None and correlation.prometheus is not None:
            self.causes_to_probe.add(inc.id)

    def _is_new_firing(self, inc: Incident, a: Alert) -> bool:
        ref = inc.alerts.get(fingerprint_hex(a.fingerprint))
        return ref is None or ref.status == "resolved" or a.starts_at > (inc.resolved_at or 0.0)

    def _create(
        self,
        group_key: str,
        firing: Sequence[Alert],
        labels: Mapping[str, str],
        now: float,
        policy: str | None,
        tenant_id: str,
    ) -> Incident:
        if policy is not None and policy not in self.setup.policies:
            raise ValueError(f"unknown escalation policy {policy!r}")
        self._seq += 1
        common = _common_labels([a.labels for a in firing])
        all_labels = {**common, **labels}
        severity = _max_severity([a.labels for a in firing], all_labels)
        priority = all_labels.get("priority", "").upper()
        if priority not in PRIORITIES:
            priority = self.setup.severity_priority.get(severity, self.setup.default_priority)
        urgency = all_labels.get("urgency", "").lower()
        if urgency not in (Urgency.HIGH, Urgency.LOW):
            urgency = self.setup.urgency_of(priority).value
        policy = policy or self.setup.policy_for(all_labels)
        skills: set[str] = self.setup.skills_for(all_labels)
        for a in firing:
            skills |= self.setup.skills_for(a.labels)
        title = (
            all_labels.get("alertname")
            or ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
            or group_key
        )
        inc = Incident(
            id=f"{self.setup.id_prefix}{self._seq}",
            group_key=group_key,
            title=title,
            labels=dict(all_labels),
            created_at=now,
            severity=severity,
            priority=priority,
            urgency=urgency,
            tenant_id=tenant_id,
            required_skills=sorted(skills),
            escalation=EscalationState(policy),
        )
        self.incidents[inc.id] = inc
        self.by_group[group_key] = inc.id
        inc.log(
            now,
            EventKind.CREATED,
            f"incident created from group {group_key} ({priority}, {urgency} urgency)",
            priority=priority,
            urgency=urgency,
            policy=policy,
        )
        self._record_alerts(inc, firing, [], now)
        return inc

    def _record_alerts(
        self, inc: Incident, firing: Iterable[Alert], resolved: Iterable[Alert], now: float
    ) -> None:
        for a in firing:
            fp = fingerprint_hex(a.fingerprint)
            ref = inc.alerts.get(fp)
            if ref is None or ref.status != "firing":
                inc.alerts[fp] = AlertRef(fp, dict(a.labels), "firing", a.starts_at, a.ends_at)
                inc.log(now, EventKind.ALERT_ADDED, f"alert {a.name or fp} firing", fingerprint=fp)
        for a in resolved:
            fp = fingerprint_hex(a.fingerprint)
            ref = inc.alerts.get(fp)
            if ref is not None and ref.status == "firing":
                ref.status = "resolved"
                ref.ends_at = a.ends_at
                inc.log(now, EventKind.ALERT_RESOLVED, f"alert {a.name or fp} resolved", fingerprint=fp)

    def _raise_severity(self, inc: Incident, now: float, out: list[Action]) -> None:
        sev = _max_severity([a.labels for a in inc.firing], {"severity": inc.severity})
        if _rank(sev) > _rank(inc.severity):
            inc.severity = sev
            prio = self.setup.severity_priority.get(sev)
            if prio is not None and prio < inc.priority:
                lifecycle.set_priority(inc, prio, "source", now)
                inc.urgency = self.setup.urgency_of(prio).value
                self._rearm_slas(inc, out)

    def _rearm_slas(self, inc: Incident, out: list[Action]) -> None:
        """After a priority change the new priority's targets apply, counted from the same start
        (creation, or the last reopen): a target already missed is recorded at once."""
        if inc.state is IncidentState.RESOLVED:
            return
        reopened = inc.events(EventKind.REOPENED)
        self._arm_slas(inc, reopened[-1].at if reopened else inc.created_at, out)

    # --- human (API, CLI, Slack, link) actions ------------------------------------------------

    def acknowledge(self, incident_id: str, user: str, now: float, source: str = "api") -> list[Action]:
        inc = self.get(incident_id)
        out: list[Action] = []
        lifecycle.acknowledge(inc, user, now, source)
        self._index(inc)
        self._cancel(inc, ESCALATION_TIMERS | {"snooze"}, out)
        self._cancel_sla(inc, "ack", out)
        return out

    def unacknowledge(self, incident_id: str, user: str, now: float, source: str = "api") -> list[Action]:
        inc = self.get(incident_id)
        out: list[Action] = []
        lifecycle.unacknowledge(inc, user, now, source)
        self._index(inc)
        self._cancel(inc, {"snooze"}, out)
        self._start_escalation(inc, now, out)
        return out

    def snooze(
        self, incident_id: str, user: str, seconds: float, now: float, source: str = "api"
    ) -> list[Action]:
        inc = self.get(incident_id)
        out: list[Action] = []
        lifecycle.snooze(inc, user, seconds, now, source)
        self._cancel(inc, {"snooze"}, out)
        assert inc.snoozed_until is not None
        self._arm(inc, "snooze", inc.snoozed_until, {}, out)
        return out

    def resolve(self, incident_id: str, user: str, now: float, source: str = "api") -> list[Action]:
        inc = self.get(incident_id)
        out: list[Action] = []
        lifecycle.resolve(inc, user, now, source)
        self._index(inc)
        self._cancel(inc, None, out)
        return out

    def reopen(self, incident_id: str, user: str, now: float, source: str = "api") -> list[Action]:
        inc = self.get(incident_id)
        out: list[Action] = []
        lifecycle.reopen(inc, user, now, f"by {user} via {source}")
        self._index(inc)
        self._arm_slas(inc, now, out)
        self._start_escalation(inc, now, out)
        return out

    def assign(self, incident_id: str, users: list[str], by: str, now: float) -> list[Action]:
        """Reassign and page the new assignees at once (a reassignment is a hand-over)."""
        inc = self.get(incident_id)
        for u in users:
            self.setup.directory.user(u)
        lifecycle.assign(inc, users, by, now)
        out: list[Action] = []
        if inc.state is IncidentState.TRIGGERED:
            for u in inc.assignees:
                self._page(inc, u, f"assigned by {by}", None, now, out)
        return out

    def add_note(self, incident_id: str, author: str, text: str, now: float) -> list[Action]:
        lifecycle.add_note(self.get(incident_id), author, text, now)
        return []

    def set_priority(self, incident_id: str, priority: str, by: str, now: float) -> list[Action]:
        inc = self.get(incident_id)
        old = inc.priority
        lifecycle.set_priority(inc, priority, by, now)
        inc.urgency = self.setup.urgency_of(inc.priority).value
        out: list[Action] = []
        if inc.priority != old:
            self._rearm_slas(inc, out)
        return out

    def record_delivery(
        self, incident_id: str, recipient: str, via: str, ok: bool, detail: str, now: float
    ) -> None:
        """The shell reports how a ``Notify``/``NotifyChannel`` went, for the timeline."""
        inc = self.get(incident_id)
        outcome = "delivered" if ok else f"failed: {detail}"
        inc.log(
            now, EventKind.DELIVERY, f"{via} to {recipient} {outcome}", recipient=recipient, via=via, ok=ok
        )

    # --- signed links -------------------------------------------------------------------------

    def link_tokens(self, incident_id: str, user: str, now: float) -> dict[str, str]:
        if not self.setup.link_secrets:
            return {}
        exp = now + self.setup.link_ttl
        return {
            a.value: make_token(self.setup.link_secrets[0], LinkClaims(incident_id, a, user, exp))
            for a in LinkAction
        }

    def handle_link(self, token: str, now: float) -> tuple[LinkClaims, list[Action]]:
        """Verify a one-click token and apply it. Raises ``LinkError`` for a forged or expired
        token and ``TransitionError`` when the action no longer applies."""
        claims = verify_token(self.setup.link_secrets, token, now)
        if claims.action is LinkAction.ACK:
            return claims, self.acknowledge(claims.incident_id, claims.user, now, "link")
        return claims, self.resolve(claims.incident_id, claims.user, now, "link")

    # --- timers -------------------------------------------------------------------------------

    def on_timer(self, key: str, now: float) -> list[Action]:
        """Fire timer ``key``. Unknown keys (already fired, cancelled) and early calls do nothing."""
        t = self._timers.get(key)
        if t is None or now < t.at:
            return []
        self._timers.remove(key)
        inc = self.incidents.get(t.incident_id)
        out: list[Action] = []
        if inc is None:
            return out
        handler = {
            "level": self._fire_level,
            "notify": self._fire_notify,
            "deferred": self._fire_deferred,
            "snooze": self._fire_snooze,
            "sla_warn": self._fire_sla_warn,
            "sla_breach": self._fire_sla_breach,
        }[t.kind]
        handler(inc, t, now, out)
        self._index(inc)
        return out

    def fire_due(self, now: float) -> list[Action]:
        """Fire every timer due at ``now``, including ones armed while doing so."""
        out: list[Action] = []
        while (key := self._timers.pop_due_key(now)) is not None:
            out.extend(self.on_timer(key, now))
        return out

    def run_until(self, end: float) -> list[tuple[float, Action]]:
        """Simulate time passing to ``end``: fire each timer at its own due time, in order."""
        out: list[tuple[float, Action]] = []
        while (due := self.next_due()) is not None and due <= end:
            out.extend((due, a) for a in self.fire_due(due))
        return out

    def _arm(self, inc: Incident, kind: str, at: float, data: dict[str, Any], out: list[Action]) -> str:
        key = self._timers.arm(inc.id, kind, at, {"gen": inc.escalation.generation, **data})
        out.append(ScheduleTimer(at, key))
        return key

    def _cancel(self, inc: Incident, kinds: Iterable[str] | None, out: list[Action]) -> None:
        wanted = None if kinds is None else set(kinds)
        for k, t in self._timers.of_incident(inc.id):
            if wanted is None or t.kind in wanted:
                self._timers.remove(k)
                out.append(CancelTimer(k))

    def _cancel_sla(self, inc: Incident, which: str, out: list[Action]) -> None:
        for k, t in self._timers.of_incident(inc.id):
            if t.kind in ("sla_warn", "sla_breach") and t.data.get("which") == which:
                self._timers.remove(k)
                out.append(CancelTimer(k))

    def _current(self, inc: Incident, t: Timer) -> bool:
        return inc.state is IncidentState.TRIGGERED and t.data.get("gen") == inc.escalation.generation

    # --- escalation ---------------------------------------------------------------------------

    def _start_escalation(self, inc: Incident, now: float, out: list[Action]) -> None:
        self._cancel(inc, ESCALATION_TIMERS, out)
        esc = inc.escalation
        esc.generation += 1
        esc.level = 0
        esc.loop = 0
        esc.finished = False
        if esc.policy is None:
            inc.log(now, EventKind.ESCALATION_FAILED, "no escalation policy matches: nobody will be paged")
            esc.finished = True
            return
        self._run_level(inc, now, out)

    def _run_level(self, inc: Incident, now: float, out: list[Action]) -> None:
        # Levels that notify nobody are skipped at once; bound the walk so an all-empty policy ends.
        esc = inc.escalation
        for _ in range(64):
            policy = self.setup.policies.get(esc.policy or "")
            if policy is None:
                inc.log(
                    now, EventKind.ESCALATION_FAILED, f"escalation policy {esc.policy!r} no longer exists"
                )
                esc.finished = True
                return
            if Urgency(inc.urgency) is Urgency.LOW and policy.business_hours is not None:
                opens = policy.business_hours.next_open(now)
                if opens > now:
                    inc.log(
                        now,
                        EventKind.DEFERRED,
                        f"low urgency outside business hours {policy.business_hours.name!r}: level"
                        f" {esc.level + 1} deferred until {_fmt(opens)}",
                        until=opens,
                    )
                    self._arm(inc, "level", opens, {"level": esc.level, "loop": esc.loop, "run": True}, out)
                    return
            if esc.level >= len(policy.levels):
                # The policy was shortened by a config reload while this incident escalated.
                inc.log(
                    now, EventKind.ESCALATION_FINISHED, f"policy {policy.name} has no level {esc.level + 1}"
                )
                esc.finished = True
                return
            level = policy.levels[esc.level]
            head = f"level {esc.level + 1}/{len(policy.levels)} of policy {policy.name}"
            if esc.loop:
                head += f" (repeat {esc.loop}/{policy.repeat})"
            target = level.targets[0]
            if target.kind is TargetKind.POLICY:
                inc.log(
                    now,
                    EventKind.HANDED_OFF,
                    f"{head}: handed off to policy {target.name}",
                    policy=target.name,
                )
                esc.policy, esc.level, esc.loop = target.name, 0, 0
                continue
            notified = self._notify_level(inc, policy.name, level, head, now, out)
            if notified:
                self._arm(inc, "level", now + level.wait, {"level": esc.level, "loop": esc.loop}, out)
                return
            inc.log(now, EventKind.LEVEL_SKIPPED, f"{head}: nobody to notify, moving on", level=esc.level + 1)
            if not self._step(inc, now):
                return
        inc.log(now, EventKind.ESCALATION_FAILED, "escalation stopped: too many empty levels or hand-offs")
        esc.finished = True

    def _step(self, inc: Incident, now: float) -> bool:
        """Move to the next level (or the next repeat). False when the policy is exhausted."""
        esc = inc.escalation
        policy = self.setup.policies.get(esc.policy or "")
        if policy is None:
            inc.log(now, EventKind.ESCALATION_FAILED, f"escalation policy {esc.policy!r} no longer exists")
            esc.finished = True
            return False
        if esc.level + 1 < len(policy.levels):
            esc.level += 1
            return True
        if esc.loop < policy.repeat:
            esc.loop += 1
            esc.level = 0
            inc.log(
                now,
                EventKind.ESCALATION_REPEATED,
                f"policy {policy.name} repeats ({esc.loop}/{policy.repeat})",
            )
            return True
        esc.finished = True
        inc.log(now, EventKind.ESCALATION_FINISHED, f"policy {policy.name} exhausted without acknowledgement")
        return False

    def _notify_level(
        self, inc: Incident, policy: str, level: Level, head: str, now: float, out: list[Action]
    ) -> bool:
        # user id -> (why they are a candidate, business hours of the team they came through)
        people: dict[str, tuple[str, BusinessHours | None]] = {}
        channels: list[str] = []
        for t in level.targets:
            if t.kind is TargetKind.USER:
                people.setdefault(t.name, ("named in the level", None))
            elif t.kind is TargetKind.TEAM:
                team = self.setup.directory.team(t.name)
                for m in team.members:
                    people.setdefault(m, (f"member of team {team.id}", team.business_hours))
            elif t.kind is TargetKind.SCHEDULE:
                on_call = self.setup.schedules[t.name].on_call_at(now)
                if not on_call:
                    inc.log(now, EventKind.ESCALATION_FAILED, f"{head}: nobody on call in schedule {t.name}")
                for u in on_call:
                    people.setdefault(u, (f"on call in schedule {t.name}", None))
            elif t.kind is TargetKind.CHANNEL:
                channels.append(t.name)
        inc.log(
            now,
            EventKind.ESCALATED,
            f"{head}: notifying {', '.join(str(t) for t in level.targets)}",
            level=inc.escalation.level + 1,
            loop=inc.escalation.loop,
        )
        if level.select is SelectMode.ONE and len(people) > 1:
            ring = f"{policy}/{inc.escalation.level}"
            users = [self.setup.directory.user(u) for u in people]
            choice = select_responder(
                users,
                frozenset(inc.required_skills),
                {u: self.workload(u, now) for u in people},
                self.rr.get(ring),
                self.setup.workload_window / 3600,
            )
            self.rr[ring] = choice.pointer
            inc.log(now, EventKind.RESPONDER_CHOSEN, choice.explanation, user=choice.user)
            people = {choice.user: people[choice.user]}
        elif level.select is SelectMode.ONE and people:
            only = next(iter(people))
            inc.log(now, EventKind.RESPONDER_CHOSEN, f"chose {only}: the only candidate", user=only)
        if people:
            inc.assignees = list(people)
        for uid, (why, hours) in people.items():
            self._page(inc, uid, why, hours, now, out)
        for ch in channels:
            out.append(NotifyChannel(inc.id, ch, head, self.link_tokens(inc.id, f"channel:{ch}", now)))
            inc.log(now, EventKind.NOTIFIED, f"posted to channel {ch}", channel=ch)
        return bool(people or channels)

    def _page(
        self, inc: Incident, uid: str, why: str, hours: BusinessHours | None, now: float, out: list[Action]
    ) -> None:
        urgency = Urgency(inc.urgency)
        if urgency is Urgency.LOW and hours is not None:
            opens = hours.next_open(now)
            if opens > now:
                inc.log(
                    now,
                    EventKind.DEFERRED,
                    f"low urgency: notifying {uid} deferred until {_fmt(opens)}"
                    f" (business hours {hours.name!r})",
                    user=uid,
                    until=opens,
                )
                self._arm(inc, "deferred", opens, {"user": uid, "why": why}, out)
                return
        user = self._known_user(inc, uid, now)
        if user is None:
            return
        times = self.pages.setdefault(uid, [])
        cut = bisect.bisect_right(times, now - self.setup.workload_window)
        if cut:
            del times[:cut]
        bisect.insort(times, now)
        plan = user.plan(urgency)
        if not plan:
            inc.log(now, EventKind.ESCALATION_FAILED, f"{uid} has no contact method", user=uid)
            return
        for i, (delay, cm) in enumerate(plan):
            if delay <= 0:
                self._emit_notify(inc, uid, cm, why, now, out)
            else:
                self._arm(
                    inc,
                    "notify",
                    now + delay,
                    {"user": uid, "kind": cm.kind.value, "why": why, "step": i},
                    out,
                )

    def _emit_notify(
        self, inc: Incident, uid: str, cm: ContactMethod, why: str, now: float, out: list[Action]
    ) -> None:
        out.append(Notify(inc.id, uid, cm, why, inc.urgency, self.link_tokens(inc.id, uid, now)))
        inc.log(
            now, EventKind.NOTIFIED, f"notified {uid} by {cm.kind.value} ({why})", user=uid, via=cm.kind.value
        )

    def _known_user(self, inc: Incident, uid: str, now: float) -> User | None:
        """The user, or None with a timeline entry when a config reload removed them."""
        user = self.setup.directory.users.get(uid)
        if user is None:
            inc.log(now, EventKind.ESCALATION_FAILED, f"user {uid!r} is no longer configured", user=uid)
        return user

    def workload(self, uid: str, now: float) -> Workload:
        open_n = 0
        for iid in self._acked:
            i = self.incidents[iid]
            if i.acknowledged_by == uid or uid in i.assignees:
                open_n += 1
        times = self.pages.get(uid, [])
        recent = len(times) - bisect.bisect_right(times, now - self.setup.workload_window)
        return Workload(open_n, recent)

    def _index(self, inc: Incident) -> None:
        if inc.state is IncidentState.ACKNOWLEDGED:
            self._acked.add(inc.id)
        else:
            self._acked.discard(inc.id)

    # --- timer handlers -----------------------------------------------------------------------

    def _fire_level(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        if not self._current(inc, t):
            return
        if t.data.get("run"):
            self._run_level(inc, now, out)  # a deferred level runs now
        elif self._step(inc, now):
            self._run_level(inc, now, out)

    def _fire_notify(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        if not self._current(inc, t):
            return
        user = self._known_user(inc, t.data["user"], now)
        cm = user.contact(ContactKind(t.data["kind"])) if user is not None else None
        if user is not None and cm is not None:
            self._emit_notify(inc, user.id, cm, t.data["why"], now, out)

    def _fire_deferred(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        if not self._current(inc, t):
            inc.log(
                now,
                EventKind.DEFERRED,
                f"deferred notification to {t.data['user']} dropped: incident {inc.state}",
            )
            return
        self._page(inc, t.data["user"], t.data["why"], None, now, out)

    def _fire_snooze(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        if inc.state is not IncidentState.ACKNOWLEDGED or inc.snoozed_until is None:
            return
        lifecycle.end_snooze(inc, now)
        self._start_escalation(inc, now, out)

    # --- SLAs ---------------------------------------------------------------------------------

    def _arm_slas(self, inc: Incident, now: float, out: list[Action]) -> None:
        self._cancel(inc, {"sla_warn", "sla_breach"}, out)
        sla = self.setup.slas.get(inc.priority)
        if sla is None:
            return
        for which, target in (("ack", sla.ack), ("resolve", sla.resolve)):
            if target is None or (which == "ack" and inc.state is not IncidentState.TRIGGERED):
                continue
            due = sla.due(now, target)
            self._arm(
                inc, "sla_warn", sla.due(now, target * sla.warn_at), {"which": which, "start": now}, out
            )
            self._arm(inc, "sla_breach", due, {"which": which, "start": now, "due": due}, out)

    def _sla_met(self, inc: Incident, which: str) -> bool:
        if which == "ack":
            return inc.state is not IncidentState.TRIGGERED
        return inc.state is IncidentState.RESOLVED

    def _fire_sla_warn(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        which = t.data["which"]
        if self._sla_met(inc, which):
            return
        inc.log(now, EventKind.SLA_WARNING, f"{which} SLA for {inc.priority} about to breach", which=which)
        if which == "ack":
            if inc.escalation.finished:
                return
            if any(t.kind == "level" and t.data.get("run") for _, t in self._timers.of_incident(inc.id)):
                # Deferred to business hours: moving on would skip a level nobody has seen yet.
                return
            # Escalate early instead of waiting out the level: the target is at risk.
            self._cancel(inc, {"level"}, out)
            if self._step(inc, now):
                self._run_level(inc, now, out)
        else:
            for uid in inc.assignees:
                # Assignees may be actors outside the directory (an API token, a channel link).
                known = self.setup.directory.users.get(uid)
                plan = known.plan(Urgency(inc.urgency)) if known is not None else []
                if plan:
                    self._emit_notify(inc, uid, plan[0][1], "resolve SLA about to breach", now, out)

    def _fire_sla_breach(self, inc: Incident, t: Timer, now: float, out: list[Action]) -> None:
        which = t.data["which"]
        if self._sla_met(inc, which):
            return
        sla = self.setup.slas.get(inc.priority)
        start = float(t.data["start"])
        elapsed = sla.elapsed(start, now) if sla is not None else now - start
        inc.breaches.append(Breach(which, float(t.data["due"]), now, elapsed))
        inc.log(
            now,
            EventKind.SLA_BREACHED,
            f"{which} SLA for {inc.priority} breached ({elapsed / 60:g} min)",
            which=which,
            due=t.data["due"],
        )

    # --- queries for the API and CLI ----------------------------------------------------------

    def open_incidents(self) -> list[Incident]:
        return [i for i in self.incidents.values() if i.state is not IncidentState.RESOLVED]


def _fmt(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _rank(severity: str) -> int:
    return _SEVERITY_ORDER.index(severity) if severity in _SEVERITY_ORDER else -1


def _common_labels(label_sets: Sequence[Mapping[str, str]]) -> dict[str, str]:
    if not label_sets:
        return {}
    first = label_sets[0]
    return {k: v for k, v in first.items() if all(ls.get(k) == v for ls in label_sets[1:])}


def _max_severity(label_sets: Iterable[Mapping[str, str]], fallback: Mapping[str, str]) -> str:
    seen = [ls.get("severity", "").lower() for ls in itertools.chain(label_sets, [fallback])]
    known = [s for s in seen if s in _SEVERITY_ORDER]
    if known:
        return max(known, key=_SEVERITY_ORDER.index)
    return next((s for s in seen if s), "warning")
