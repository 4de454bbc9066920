"""The incidents config: users, teams, business hours, schedules, escalation policies, SLAs and
the label→skill map. ``load_incidents_text`` parses YAML, validates every field, then checks
cross-references (unknown users, overlapping overrides, cyclic policies, ...) and reports every
problem with ``file:line`` in one ``ConfigError``. ``build`` turns a valid config into the
``IncidentsSetup`` the manager runs on.
"""

from __future__ import annotations

import itertools
import os
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, ValidationInfo, field_validator, model_validator

from tocsin.config.errors import ConfigError, ConfigIssue
from tocsin.config.loader import _duplicate_keys, _issues_from_validation, _Loader, _locate, _path_text
from tocsin.config.types import URL, Duration, MatcherList, StrictModel
from tocsin.incidents.business_hours import BusinessHours
from tocsin.incidents.escalation import Level, Policy, SelectMode, SlaTarget, Target, TargetKind, policy_cycle
from tocsin.incidents.holidays_cal import HolidayCalendar, check_holiday_country
from tocsin.incidents.people import ContactKind, Directory, NotificationRule, Team, Urgency, User
from tocsin.incidents.schedules import Layer, Override, Restriction, Rota, Schedule, TurnUnit
from tocsin.incidents.setup import (
    DEFAULT_SEVERITY_PRIORITY,
    PRIORITIES,
    CorrelationSetup,
    HistorySetup,
    IncidentsSetup,
    LabelSkill,
    PolicyRoute,
    PrometheusSetup,
)
from tocsin.incidents.timeutil import parse_hhmm, parse_local_or_instant, parse_weekdays, zone

if TYPE_CHECKING:
    from tocsin.intelligence.correlation.rootcause import RootCauseWeights

Loc = tuple[str | int, ...]


def _tz(v: str) -> str:
    zone(v)
    return v


def _hhmm(v: str) -> str:
    parse_hhmm(v)
    return v


def _days(v: list[str]) -> list[str]:
    parse_weekdays(v)
    return v


TimeZone = Annotated[str, AfterValidator(_tz)]
WallTime = Annotated[str, AfterValidator(_hhmm)]
Weekdays = Annotated[list[str], AfterValidator(_days)]


class NotificationRuleConfig(StrictModel):
    via: ContactKind
    after: Duration = 0.0
    urgency: Literal["high", "low", "any"] = "any"


class UserConfig(StrictModel):
    id: str = Field(min_length=1)
    name: str = ""
    email: str | None = None
    phone: str | None = None
    slack_id: str | None = None
    webhook_url: str | None = None
    time_zone: TimeZone = "UTC"
    skills: list[str] = Field(default_factory=list)
    notification_rules: list[NotificationRuleConfig] = Field(default_factory=list)

    @field_validator("phone", mode="before")
    @classmethod
    def _phone_text(cls, v: Any) -> Any:
        # YAML reads +33600000001 as a number and drops the "+": refuse rather than dial wrong.
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError(f'phone {v!r} must be quoted text, e.g. "+33600000001"')
        return v


class HolidaysConfig(StrictModel):
    country: str
    subdiv: str | None = None

    @model_validator(mode="after")
    def _known(self) -> HolidaysConfig:
        check_holiday_country(self.country, self.subdiv)
        return self


class BusinessHoursConfig(StrictModel):
    name: str = Field(min_length=1)
    time_zone: TimeZone
    days: Weekdays = Field(default_factory=lambda: ["mon-fri"])
    start: WallTime
    end: WallTime
    holidays: HolidaysConfig | None = None


class TeamConfig(StrictModel):
    id: str = Field(min_length=1)
    name: str = ""
    members: list[str] = Field(min_length=1)
    time_zone: TimeZone = "UTC"
    business_hours: str | None = None


class RestrictionConfig(StrictModel):
    days: Weekdays = Field(default_factory=lambda: ["mon-sun"])
    start: WallTime
    end: WallTime


class RotationConfig(StrictModel):
    every: int = Field(1, ge=1)
    unit: TurnUnit


class LayerConfig(StrictModel):
    name: str = Field(min_length=1)
    #: Defaults to the schedule's zone.
    time_zone: TimeZone | None = None
    #: The first handoff, local wall time: ``YYYY-MM-DDTHH:MM``.
    start: str
    rotation: RotationConfig
    #: One entry per turn: a user id, or a list of user ids on call together.
    users: list[str | list[str]] = Field(min_length=1)
    restrictions: list[RestrictionConfig] = Field(default_factory=list)
    end: str | None = None
    skip_holidays: HolidaysConfig | None = None

    @field_validator("start")
    @classmethod
    def _start(cls, v: str) -> str:
        try:
            dt = datetime.fromisoformat(v)
        except ValueError:
            raise ValueError(f"invalid layer start {v!r}: expected a local time 'YYYY-MM-DDTHH:MM'") from None
        if dt.tzinfo is not None:
            raise ValueError(
                f"invalid layer start {v!r}: give a local wall time without offset; the layer's"
                " time_zone says where it is"
            )
        return v


class OverrideConfig(StrictModel):
    user: str
    start: str
    end: str


class ScheduleConfig(StrictModel):
    name: str = Field(min_length=1)
    time_zone: TimeZone
    layers: list[LayerConfig] = Field(default_factory=list)
    overrides: list[OverrideConfig] = Field(default_factory=list)


class TargetConfig(StrictModel):
    user: str | None = None
    team: str | None = None
    schedule: str | None = None
    channel: str | None = None
    policy: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> TargetConfig:
        given = [k for k in ("user", "team", "schedule", "channel", "policy") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "a target names exactly one of user, team, schedule, channel or policy"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    def target(self) -> Target:
        for kind in TargetKind:
            value = getattr(self, kind.value)
            if value is not None:
                return Target(kind, value)
        raise AssertionError("validated to hold one target")


class LevelConfig(StrictModel):
    targets: list[TargetConfig] = Field(min_length=1)
    wait: Duration = 300.0
    select: SelectMode = SelectMode.ALL

    @field_validator("wait")
    @classmethod
    def _wait(cls, v: float) -> float:
        if v < 60:
            raise ValueError(f"wait must be at least 1m, got {v:g}s")
        return v


class PolicyConfig(StrictModel):
    name: str = Field(min_length=1)
    levels: list[LevelConfig] = Field(min_length=1)
    repeat: int = Field(0, ge=0, le=9)
    business_hours: str | None = None


class SlaConfig(StrictModel):
    priority: Literal["P1", "P2", "P3", "P4", "P5"]
    ack: Duration | None = None
    resolve: Duration | None = None
    warn_at: float = Field(0.75, gt=0, lt=1)
    business_hours: str | None = None


class LabelSkillConfig(StrictModel):
    label: str
    value: str | None = None
    skill: str | None = None


class PolicyRouteConfig(StrictModel):
    matchers: MatcherList
    policy: str


Priority = Literal["P1", "P2", "P3", "P4", "P5"]


def _default_high() -> list[Priority]:
    return ["P1", "P2"]


class PrioritiesConfig(StrictModel):
    severity: dict[str, Literal["P1", "P2", "P3", "P4", "P5"]] = Field(
        default_factory=lambda: dict(DEFAULT_SEVERITY_PRIORITY)  # type: ignore[arg-type]
    )
    high_urgency: list[Priority] = Field(default_factory=_default_high)
    default: Literal["P1", "P2", "P3", "P4", "P5"] = "P3"


class LinksConfig(StrictModel):
    #: HMAC secrets; the first signs, all verify (rotate by prepending a new one).
    secrets: list[str] = Field(default_factory=list)
    #: Environment variable holding the signing secret, so it need not live in the file.
    secret_env: str | None = None
    ttl: Duration = 86400.0

    @field_validator("secrets")
    @classmethod
    def _long_enough(cls, v: list[str]) -> list[str]:
        for s in v:
            if len(s.encode()) < 16:
                raise ValueError("link secrets must be at least 16 bytes long")
        return v


def _positive(name: str, v: float) -> float:
    if not v > 0:
        raise ValueError(f"{name} must be greater than 0")
    return v


class HistoryConfigModel(StrictModel):
    """``correlation.history``: co-occurrence learned from the alerts tocsin sees."""

    enabled: bool = True
    window: Duration = 120.0
    min_alerts: Annotated[int, Field(ge=0)] = 200
    max_keys: Annotated[int, Field(ge=10)] = 2000
    max_pairs: Annotated[int, Field(ge=10)] = 20000
    max_tokens: Annotated[int, Field(ge=10)] = 20000
    save_interval: Duration = 300.0

    @field_validator("window", "save_interval")
    @classmethod
    def _durations(cls, v: float, info: ValidationInfo) -> float:
        return _positive(str(info.field_name), v)


class PrometheusConfigModel(StrictModel):
    """``correlation.prometheus``: where root-cause ranking reads each candidate service's metrics."""

    url: URL
    queries: list[str] = Field(min_length=1)
    step: Duration = 60.0
    baseline: Duration = 1800.0
    timeout: Duration = 10.0
    #: PromQL returning every service's client-side latency at once, labelled with client_label
    client_queries: list[str] = Field(default_factory=list)
    client_label: str = "service"

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str:
        if not v:
            raise ValueError("url must name the Prometheus server, e.g. http://prometheus:9090")
        return v

    @field_validator("queries")
    @classmethod
    def _queries(cls, v: list[str]) -> list[str]:
        for i, q in enumerate(v):
            if "$service" not in q:
                raise ValueError(
                    f"queries[{i}] must contain $service (where the candidate service goes), got {q!r}"
                )
        return v

    @field_validator("client_queries")
    @classmethod
    def _client_queries(cls, v: list[str]) -> list[str]:
        for i, q in enumerate(v):
            if not q.strip():
                raise ValueError(f"client_queries[{i}] is empty")
            if "$service" in q:
                raise ValueError(
                    f"client_queries[{i}] must return every service's series at once, each labelled"
                    f" with client_label, not name one service with $service: {q!r}"
                )
        return v

    @field_validator("client_label")
    @classmethod
    def _client_label(cls, v: str) -> str:
        if not v:
            raise ValueError("client_label must name the label that carries the service")
        return v

    @field_validator("step", "baseline", "timeout")
    @classmethod
    def _durations(cls, v: float, info: ValidationInfo) -> float:
        return _positive(str(info.field_name), v)


class CorrelationConfigModel(StrictModel):
    #: caller service -> the services it calls
    topology: dict[str, list[str]] = Field(default_factory=dict)
    service_labels: list[str] = Field(
        default_factory=lambda: ["service", "app", "job", "deployment", "container"]
    )
    join_threshold: float = 0.25
    max_gap: Duration = 240.0
    history: HistoryConfigModel = Field(default_factory=HistoryConfigModel)
    prometheus: PrometheusConfigModel | None = None
    #: root-cause weights by name (RootCauseWeights' fields); checked when the setup is built
    root_cause: dict[str, Any] = Field(default_factory=dict)
    #: service -> weights for the component of the graph holding it (overriding root_cause)
    root_cause_by_component: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @field_validator("join_threshold")
    @classmethod
    def _threshold(cls, v: float) -> float:
        if not 0.0 < v <= 1.0:
            raise ValueError(f"join_threshold must be in (0, 1], got {v}")
        return v

    @field_validator("service_labels")
    @classmethod
    def _labels(cls, v: list[str]) -> list[str]:
        if not v or not all(v):
            raise ValueError("service_labels must name at least one label, and no empty one")
        return v

    @field_validator("topology")
    @classmethod
    def _names(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for caller, callees in v.items():
            if not caller or not all(callees):
                raise ValueError(f"topology: service names must not be empty (under {caller!r})")
        return v


class IncidentsConfig(StrictModel):
    users: list[UserConfig] = Field(default_factory=list)
    teams: list[TeamConfig] = Field(default_factory=list)
    business_hours: list[BusinessHoursConfig] = Field(default_factory=list)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    escalation_policies: list[PolicyConfig] = Field(default_factory=list)
    slas: list[SlaConfig] = Field(default_factory=list)
    label_skills: list[LabelSkillConfig] = Field(default_factory=list)
    policy_routes: list[PolicyRouteConfig] = Field(default_factory=list)
    default_policy: str | None = None
    priorities: PrioritiesConfig = Field(default_factory=PrioritiesConfig)
    reopen_window: Duration = 3600.0
    auto_resolve: bool = True
    workload_window: Duration = 86400.0
    links: LinksConfig = Field(default_factory=LinksConfig)
    #: receiver (from alertmanager.yml) that carries each kind of personal contact, e.g.
    #: {email: mail, sms: twilio}; the user's address replaces the receiver's own recipient
    contact_receivers: dict[ContactKind, str] = Field(default_factory=dict)
    #: join new groups into open incidents by alert correlation (absent: one incident per group)
    correlation: CorrelationConfigModel | None = None


# --- building the runtime setup --------------------------------------------------------------


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[Loc, str]] = []

    def add(self, loc: Loc, message: str) -> None:
        self.items.append((loc, message))


def _dupes(names: list[str], what: str, section: str, probs: _Problems) -> None:
    seen: set[str] = set()
    for i, n in enumerate(names):
        if n in seen:
            probs.add((section, i), f"duplicate {what} {n!r}")
        seen.add(n)


def _build(cfg: IncidentsConfig, probs: _Problems) -> IncidentsSetup | None:
    _dupes([u.id for u in cfg.users], "user id", "users", probs)
    _dupes([t.id for t in cfg.teams], "team id", "teams", probs)
    _dupes([b.name for b in cfg.business_hours], "business hours name", "business_hours", probs)
    _dupes([s.name for s in cfg.schedules], "schedule name", "schedules", probs)
    _dupes([p.name for p in cfg.escalation_policies], "escalation policy name", "escalation_policies", probs)
    _dupes([s.priority for s in cfg.slas], "SLA priority", "slas", probs)

    hours: dict[str, BusinessHours] = {}
    for i, b in enumerate(cfg.business_hours):
        try:
            hours[b.name] = BusinessHours(
                b.name,
                b.time_zone,
                parse_weekdays(b.days),
                parse_hhmm(b.start),
                parse_hhmm(b.end),
                HolidayCalendar(b.holidays.country, b.holidays.subdiv) if b.holidays else None,
            )
        except ValueError as e:
            probs.add(("business_hours", i), str(e))

    def hours_ref(name: str | None, loc: Loc) -> BusinessHours | None:
        if name is None:
            return None
        if name not in hours:
            probs.add(loc, f"unknown business hours {name!r}")
        return hours.get(name)

    users: list[User] = []
    for i, u in enumerate(cfg.users):
        rules = tuple(
            NotificationRule(r.via, r.after, None if r.urgency == "any" else Urgency(r.urgency))
            for r in u.notification_rules
        )
        try:
            users.append(
                User(
                    u.id,
                    u.name,
                    u.email,
                    u.phone,
                    u.slack_id,
                    u.webhook_url,
                    u.time_zone,
                    frozenset(u.skills),
                    rules,
                )
            )
        except ValueError as e:
            probs.add(("users", i, "notification_rules"), str(e))
    known_users = {u.id for u in cfg.users}

    teams: list[Team] = []
    for i, t in enumerate(cfg.teams):
        for j, m in enumerate(t.members):
            if m not in known_users:
                probs.add(("teams", i, "members", j), f"team {t.id!r}: unknown user {m!r}")
        bh = hours_ref(t.business_hours, ("teams", i, "business_hours"))
        teams.append(Team(t.id, tuple(m for m in t.members if m in known_users), t.name, t.time_zone, bh))

    schedules: dict[str, Schedule] = {}
    for i, s in enumerate(cfg.schedules):
        sched = _schedule(s, i, known_users, probs)
        if sched is not None:
            schedules[s.name] = sched

    policies: dict[str, Policy] = {}
    for i, p in enumerate(cfg.escalation_policies):
        levels: list[Level] = []
        for j, lv in enumerate(p.levels):
            try:
                levels.append(Level(tuple(t.target() for t in lv.targets), lv.wait, lv.select))
            except ValueError as e:
                probs.add(("escalation_policies", i, "levels", j), str(e))
        bh = hours_ref(p.business_hours, ("escalation_policies", i, "business_hours"))
        if levels:
            policies[p.name] = Policy(p.name, tuple(levels), p.repeat, bh)
    names = {
        TargetKind.USER: known_users,
        TargetKind.TEAM: {t.id for t in cfg.teams},
        TargetKind.SCHEDULE: {s.name for s in cfg.schedules},
        TargetKind.POLICY: {p.name for p in cfg.escalation_policies},
    }
    for i, p in enumerate(cfg.escalation_policies):
        for j, lv in enumerate(p.levels):
            for k, tc in enumerate(lv.targets):
                tg = tc.target()
                if tg.kind in names and tg.name not in names[tg.kind]:
                    probs.add(
                        ("escalation_policies", i, "levels", j, "targets", k, tg.kind.value),
                        f"policy {p.name!r}: unknown {tg.kind.value} {tg.name!r}",
                    )
    cycle = policy_cycle(policies)
    if cycle:
        idx = next(i for i, p in enumerate(cfg.escalation_policies) if p.name == cycle[0])
        probs.add(
            ("escalation_policies", idx),
            "escalation policies hand off to each other in a cycle: " + " -> ".join(cycle),
        )

    slas: dict[str, SlaTarget] = {}
    for i, sc in enumerate(cfg.slas):
        if sc.ack is None and sc.resolve is None:
            probs.add(("slas", i), f"SLA for {sc.priority} sets neither ack nor resolve")
            continue
        bh = hours_ref(sc.business_hours, ("slas", i, "business_hours"))
        slas[sc.priority] = SlaTarget(sc.priority, sc.ack, sc.resolve, sc.warn_at, bh)

    for i, r in enumerate(cfg.policy_routes):
        if r.policy not in names[TargetKind.POLICY]:
            probs.add(("policy_routes", i, "policy"), f"unknown escalation policy {r.policy!r}")
    if cfg.default_policy is not None and cfg.default_policy not in names[TargetKind.POLICY]:
        probs.add(("default_policy",), f"unknown escalation policy {cfg.default_policy!r}")

    secrets = [s.encode() for s in cfg.links.secrets]
    if cfg.links.secret_env:
        env = os.environ.get(cfg.links.secret_env)
        if not env:
            probs.add(("links", "secret_env"), f"environment variable {cfg.links.secret_env!r} is not set")
        elif len(env.encode()) < 16:
            probs.add(
                ("links", "secret_env"), f"the secret in {cfg.links.secret_env!r} is shorter than 16 bytes"
            )
        else:
            secrets.insert(0, env.encode())

    if probs.items:
        return None
    try:
        directory = Directory.of(users, teams)
    except ValueError as e:
        probs.add((), str(e))
        return None
    return IncidentsSetup(
        directory=directory,
        schedules=schedules,
        policies=policies,
        slas=slas,
        business_hours=hours,
        label_skills=[LabelSkill(x.label, x.value, x.skill) for x in cfg.label_skills],
        policy_routes=[PolicyRoute(tuple(r.matchers), r.policy) for r in cfg.policy_routes],
        default_policy=cfg.default_policy,
        severity_priority=dict(cfg.priorities.severity),
        high_urgency=frozenset(cfg.priorities.high_urgency),
        default_priority=cfg.priorities.default,
        reopen_window=cfg.reopen_window,
        auto_resolve=cfg.auto_resolve,
        workload_window=cfg.workload_window,
        link_secrets=tuple(secrets),
        link_ttl=cfg.links.ttl,
        contact_receivers={str(k): v for k, v in cfg.contact_receivers.items()},
        correlation=_correlation(cfg.correlation, probs),
    )


def _correlation(c: CorrelationConfigModel | None, probs: _Problems) -> CorrelationSetup | None:
    if c is None:
        return None
    edges = tuple((caller, callee) for caller, callees in c.topology.items() for callee in callees)
    root_cause, by_component = _root_cause_weights(c, edges, probs)
    return CorrelationSetup(
        edges=edges,
        service_labels=tuple(c.service_labels),
        join_threshold=c.join_threshold,
        max_gap=c.max_gap,
        history=_history(c.history),
        prometheus=_prometheus(c.prometheus),
        root_cause=root_cause,
        root_cause_by_component=by_component,
    )


def _root_cause_weights(
    c: CorrelationConfigModel, edges: tuple[tuple[str, str], ...], probs: _Problems
) -> tuple[RootCauseWeights | None, tuple[tuple[str, RootCauseWeights], ...]]:
    """``root_cause`` and ``root_cause_by_component`` as weights, every mistake reported at its
    place. The correlation code (and numpy) is imported only when either is set."""
    if not c.root_cause and not c.root_cause_by_component:
        return None, ()
    from tocsin.intelligence.correlation.component_weights import component_claims, weights_from_mapping
    from tocsin.intelligence.correlation.topology import ServiceGraph

    base = None
    try:
        base = weights_from_mapping(c.root_cause, where="root_cause")
    except ValueError as e:
        probs.add(("correlation", "root_cause"), _without_prefix(str(e), "root_cause"))
    # With a configured graph, each entry names one service of its component (its system).
    entries = c.root_cause_by_component
    claims = component_claims(entries, ServiceGraph(edges)) if edges else ((s, True, None) for s in entries)
    out = []
    for service, in_graph, earlier in claims:
        loc: Loc = ("correlation", "root_cause_by_component", service)
        if not in_graph:
            probs.add(loc, f"service {service!r} is not in the topology")
            continue
        if earlier is not None:
            probs.add(
                loc, f"{service!r} is in the same part of the topology as {earlier!r}: name one of them"
            )
            continue
        values = entries[service]
        try:
            out.append((service, weights_from_mapping(values, base, where=service)))
        except ValueError as e:
            probs.add(loc, _without_prefix(str(e), service))
    return base, tuple(out)


def _without_prefix(message: str, where: str) -> str:
    # The library names the field as `where.field: ...`; the location already says `where`.
    return message[len(where) + 1 :].lstrip(". ") if message.startswith(where) else message


def _history(h: HistoryConfigModel) -> HistorySetup | None:
    if not h.enabled:
        return None
    return HistorySetup(
        window=h.window,
        min_alerts=h.min_alerts,
        max_keys=h.max_keys,
        max_pairs=h.max_pairs,
        max_tokens=h.max_tokens,
        save_interval=h.save_interval,
    )


def _prometheus(p: PrometheusConfigModel | None) -> PrometheusSetup | None:
    if p is None:
        return None
    assert p.url is not None  # the validator refuses a missing url
    return PrometheusSetup(
        url=p.url,
        queries=tuple(p.queries),
        step=p.step,
        baseline=p.baseline,
        timeout=p.timeout,
        client_queries=tuple(p.client_queries),
        client_label=p.client_label,
    )


def _schedule(s: ScheduleConfig, i: int, known_users: set[str], probs: _Problems) -> Schedule | None:
    base: Loc = ("schedules", i)
    ok = True
    layers: list[Rota] = []
    for j, lc in enumerate(s.layers):
        loc = (*base, "layers", j)
        turns: list[tuple[str, ...]] = []
        for k, entry in enumerate(lc.users):
            turn = (entry,) if isinstance(entry, str) else tuple(entry)
            for u in turn:
                if u not in known_users:
                    probs.add(
                        (*loc, "users", k), f"schedule {s.name!r}, layer {lc.name!r}: unknown user {u!r}"
                    )
                    ok = False
            turns.append(turn)
        tz_name = lc.time_zone or s.time_zone
        try:
            end = parse_local_or_instant(lc.end, zone(tz_name), "layer end") if lc.end else None
            layers.append(
                Layer(
                    lc.name,
                    tz_name,
                    datetime.fromisoformat(lc.start),
                    lc.rotation.every,
                    lc.rotation.unit,
                    tuple(turns),
                    tuple(
                        Restriction(parse_weekdays(r.days), parse_hhmm(r.start), parse_hhmm(r.end))
                        for r in lc.restrictions
                    ),
                    end,
                    HolidayCalendar(lc.skip_holidays.country, lc.skip_holidays.subdiv)
                    if lc.skip_holidays
                    else None,
                )
            )
        except ValueError as e:
            probs.add(loc, str(e))
            ok = False
    overrides: list[Override] = []
    for j, oc in enumerate(s.overrides):
        loc = (*base, "overrides", j)
        if oc.user not in known_users:
            probs.add((*loc, "user"), f"schedule {s.name!r}: override for unknown user {oc.user!r}")
            ok = False
        try:
            tz = zone(s.time_zone)
            start = parse_local_or_instant(oc.start, tz, "override start")
            end = parse_local_or_instant(oc.end, tz, "override end")
            overrides.append(Override(oc.user, start, end))
        except ValueError as e:
            probs.add(loc, str(e))
            ok = False
    # Report overlaps against the override that comes second in time, naming both.
    ordered = sorted(range(len(overrides)), key=lambda n: (overrides[n].start, overrides[n].end))
    for a, b in itertools.pairwise(ordered):
        if overrides[b].start < overrides[a].end:
            probs.add(
                (*base, "overrides", b),
                f"schedule {s.name!r}: override for {overrides[b].user!r} overlaps the override for"
                f" {overrides[a].user!r} (overrides #{a + 1} and #{b + 1})",
            )
            ok = False
    return Schedule(s.name, s.time_zone, layers, overrides) if ok else None


def build(
    cfg: IncidentsConfig, filename: str = "<incidents>", node: yaml.Node | None = None
) -> IncidentsSetup:
    """The runtime setup, or ConfigError listing every cross-reference problem."""
    probs = _Problems()
    setup = _build(cfg, probs)
    if setup is None or probs.items:
        issues = []
        for loc, msg in probs.items:
            line = _locate(node, loc)[0] if node is not None else None
            where = _path_text(loc)
            issues.append(ConfigIssue(filename, line, f"{where}: {msg}" if where else msg))
        issues.sort(key=lambda x: x.line or 0)
        raise ConfigError.from_issues(issues)
    return setup


def load_incidents_text(text: str, filename: str = "<incidents>") -> IncidentsSetup:
    """Parse and check an incidents config (the mapping described in docs/incidents.md)."""
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        raise ConfigError(
            filename, mark.line + 1 if mark else None, f"invalid YAML: {e.problem or e.context}"
        ) from None
    except yaml.YAMLError as e:
        raise ConfigError(filename, None, f"invalid YAML: {e}") from None
    return load_incidents_data(data if data is not None else {}, filename, node)


def load_incidents_data(
    data: Any, filename: str = "<incidents>", node: yaml.Node | None = None
) -> IncidentsSetup:
    if not isinstance(data, dict):
        raise ConfigError(filename, 1 if node is not None else None, "the incidents config must be a mapping")
    issues = _duplicate_keys(node, filename)
    try:
        cfg = IncidentsConfig.model_validate(data)
    except ValidationError as e:
        raise ConfigError.from_issues(issues + _issues_from_validation(e, filename, node, data)) from None
    if issues:
        raise ConfigError.from_issues(issues)
    return build(cfg, filename, node)


def load_incidents_file(path: str) -> IncidentsSetup:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ConfigError(path, None, f"cannot read incidents config: {e.strerror or e}") from None
    return load_incidents_text(text, path)


__all__ = [
    "PRIORITIES",
    "IncidentsConfig",
    "build",
    "load_incidents_data",
    "load_incidents_file",
    "load_incidents_text",
]
