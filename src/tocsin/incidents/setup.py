"""Everything the incident manager needs to know, resolved and cross-checked: the runtime form
of the incidents config (``config.build`` makes one; tests may build one directly)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tocsin.incidents.business_hours import BusinessHours
from tocsin.incidents.escalation import Policy, SlaTarget, TargetKind, policy_cycle
from tocsin.incidents.people import Directory, Urgency
from tocsin.incidents.schedules import Layer, Schedule
from tocsin.matchers import Matcher, matches_all

if TYPE_CHECKING:
    # numpy and the correlation code load only when correlation is configured
    from tocsin.intelligence.correlation.rootcause import RootCauseWeights

DEFAULT_SEVERITY_PRIORITY = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P4"}
PRIORITIES = ("P1", "P2", "P3", "P4", "P5")


@dataclass(frozen=True, slots=True)
class LabelSkill:
    """Alerts with label ``label`` (equal to ``value`` when given) need ``skill``. Without a
    ``skill``, the label's value itself names the skill (``label: component`` → ``postgres``)."""

    label: str
    value: str | None = None
    skill: str | None = None

    def skill_for(self, labels: Mapping[str, str]) -> str | None:
        v = labels.get(self.label)
        if not v or (self.value is not None and v != self.value):
            return None
        return self.skill or v


@dataclass(frozen=True, slots=True)
class PolicyRoute:
    """Incidents whose labels match ``matchers`` use ``policy`` (first match wins)."""

    matchers: tuple[Matcher, ...]
    policy: str


@dataclass(frozen=True, slots=True)
class HistorySetup:
    """Co-occurrence and token weights learned from the alerts the service sees (incidents.yml
    ``correlation.history``; see ``incidents/correlation_history.py``)."""

    #: alerts that start this close together (seconds) co-occur
    window: float = 120.0
    #: a tenant's history takes part in joins once it has learned this many alerts
    min_alerts: int = 200
    #: most alert kinds (service/alertname) and services kept per tenant; the rarest go first
    max_keys: int = 2000
    #: most co-occurring pairs kept per tenant
    max_pairs: int = 20000
    #: most label/text tokens whose frequency is kept per tenant
    max_tokens: int = 20000
    #: how often (seconds) what was learned is written to storage
    save_interval: float = 300.0
    #: how often (seconds) the correlator re-reads the token weights and the learned graph
    refresh_interval: float = 60.0


@dataclass(frozen=True, slots=True)
class PrometheusSetup:
    """The metric probe of root-cause ranking (incidents.yml ``correlation.prometheus``)."""

    url: str
    #: PromQL with ``$service`` where the candidate service goes
    queries: tuple[str, ...]
    #: query_range resolution (seconds)
    step: float = 60.0
    #: trailing window (seconds) the incident's metrics are compared against
    baseline: float = 1800.0
    #: the longest one ranking spends querying (seconds); each request times out after it too
    timeout: float = 10.0
    #: PromQL returning every service's client-side latency at once (the latency of the calls it
    #: makes), each series labelled with ``client_label``; read for the callers' signal
    client_queries: tuple[str, ...] = ()
    client_label: str = "service"


@dataclass(frozen=True, slots=True)
class CorrelationSetup:
    """Groups joined into open incidents by the alert correlator (incidents.yml ``correlation``;
    see ``incidents/correlation.py``)."""

    #: (caller, callee) service pairs; empty: no service graph, similarity and time only
    edges: tuple[tuple[str, str], ...] = ()
    #: the first of these labels an alert carries names its service
    service_labels: tuple[str, ...] = ("service", "app", "job", "deployment", "container")
    #: evidence needed to join (0-1]; higher keeps more groups apart
    join_threshold: float = 0.25
    #: longest quiet time (seconds) after an incident's latest alert for an alert to still join it
    max_gap: float = 240.0
    #: learned co-occurrence and token weights (None: not learned, time/graph/labels only)
    history: HistorySetup | None = field(default_factory=HistorySetup)
    #: metrics for root-cause ranking (None: the alerts and the graph only)
    prometheus: PrometheusSetup | None = None
    #: root-cause weights (None: the library's defaults)
    root_cause: RootCauseWeights | None = None
    #: weights for the component of the graph holding each named service (its system)
    root_cause_by_component: tuple[tuple[str, RootCauseWeights], ...] = ()


@dataclass(slots=True)
class IncidentsSetup:
    directory: Directory
    schedules: dict[str, Schedule] = field(default_factory=dict)
    policies: dict[str, Policy] = field(default_factory=dict)
    slas: dict[str, SlaTarget] = field(default_factory=dict)
    business_hours: dict[str, BusinessHours] = field(default_factory=dict)
    label_skills: list[LabelSkill] = field(default_factory=list)
    policy_routes: list[PolicyRoute] = field(default_factory=list)
    default_policy: str | None = None
    severity_priority: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_SEVERITY_PRIORITY))
    high_urgency: frozenset[str] = frozenset({"P1", "P2"})
    default_priority: str = "P3"
    #: A resolved incident whose alerts fire again within this many seconds is reopened.
    reopen_window: float = 3600.0
    #: Resolve the incident when every alert of its group has resolved.
    auto_resolve: bool = True
    #: "Recent pages" in responder selection count this many seconds back.
    workload_window: float = 86400.0
    link_secrets: tuple[bytes, ...] = ()
    link_ttl: float = 86400.0
    id_prefix: str = "INC-"
    #: contact kind -> receiver name in the alert configuration (checked by the service)
    contact_receivers: dict[str, str] = field(default_factory=dict)
    #: join new groups into open incidents by correlation (None: one incident per group)
    correlation: CorrelationSetup | None = None

    def problems(self) -> list[str]:
        """Every broken cross-reference, as sentences (empty when the setup is consistent)."""
        out: list[str] = []
        users = self.directory.users
        for s in self.schedules.values():
            for layer in s.layers:
                if isinstance(layer, Layer):
                    for turn in layer.users:
                        out.extend(
                            f"schedule {s.name!r}, layer {layer.name!r}: unknown user {u!r}"
                            for u in turn
                            if u not in users
                        )
            out.extend(
                f"schedule {s.name!r}: override for unknown user {o.user!r}"
                for o in s.overrides
                if o.user not in users
            )
        names: dict[TargetKind, set[str]] = {
            TargetKind.USER: set(users),
            TargetKind.TEAM: set(self.directory.teams),
            TargetKind.SCHEDULE: set(self.schedules),
            TargetKind.POLICY: set(self.policies),
        }
        for p in self.policies.values():
            for i, lv in enumerate(p.levels, 1):
                for t in lv.targets:
                    known = names.get(t.kind)
                    if known is not None and t.name not in known:
                        out.append(
                            f"escalation policy {p.name!r}, level {i}: unknown {t.kind.value} {t.name!r}"
                        )
        cycle = policy_cycle(self.policies)
        if cycle:
            out.append("escalation policies hand off to each other in a cycle: " + " -> ".join(cycle))
        for route in self.policy_routes:
            if route.policy not in self.policies:
                out.append(f"policy route: unknown escalation policy {route.policy!r}")
        if self.default_policy is not None and self.default_policy not in self.policies:
            out.append(f"default_policy: unknown escalation policy {self.default_policy!r}")
        for sev, prio in self.severity_priority.items():
            if prio not in PRIORITIES:
                out.append(f"severity {sev!r} maps to unknown priority {prio!r} (expected P1..P5)")
        for prio in self.slas:
            if prio not in PRIORITIES:
                out.append(f"SLA for unknown priority {prio!r} (expected P1..P5)")
        return out

    def check(self) -> None:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))

    def policy_for(self, labels: Mapping[str, str]) -> str | None:
        for route in self.policy_routes:
            if matches_all(route.matchers, labels):
                return route.policy
        return self.default_policy

    def skills_for(self, labels: Mapping[str, str]) -> set[str]:
        return {s for ls in self.label_skills if (s := ls.skill_for(labels)) is not None}

    def urgency_of(self, priority: str) -> Urgency:
        return Urgency.HIGH if priority in self.high_urgency else Urgency.LOW
