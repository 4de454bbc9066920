"""Escalation policies and SLA targets: the definitions and their static checks.

A policy is an ordered list of levels. Each level notifies its targets, waits ``wait`` seconds
for an acknowledgement and then hands over to the next level; after the last level the policy
starts over ``repeat`` more times. An acknowledgement (or resolve) at any point stops it. The
moving parts (timers, state) live in ``manager``; this module holds what a config says.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from tocsin.incidents.business_hours import BusinessHours


class TargetKind(enum.StrEnum):
    USER = "user"
    TEAM = "team"
    SCHEDULE = "schedule"
    CHANNEL = "channel"
    POLICY = "policy"


class SelectMode(enum.StrEnum):
    #: Notify every person the level's targets resolve to.
    ALL = "all"
    #: Notify one person, chosen by skills, workload and round robin (``responders``).
    ONE = "one"


@dataclass(frozen=True, slots=True)
class Target:
    kind: TargetKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value} {self.name}"


@dataclass(frozen=True, slots=True)
class Level:
    targets: tuple[Target, ...]
    wait: float
    select: SelectMode = SelectMode.ALL

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("an escalation level needs at least one target")
        if self.wait < 0:
            raise ValueError("an escalation level's wait cannot be negative")
        if any(t.kind is TargetKind.POLICY for t in self.targets) and len(self.targets) > 1:
            raise ValueError("a level that hands off to another policy cannot have other targets")


@dataclass(frozen=True, slots=True)
class Policy:
    name: str
    levels: tuple[Level, ...]
    repeat: int = 0
    business_hours: BusinessHours | None = None

    def __post_init__(self) -> None:
        if not self.levels:
            raise ValueError(f"escalation policy {self.name!r} has no levels")
        if self.repeat < 0:
            raise ValueError(f"escalation policy {self.name!r}: repeat cannot be negative")


@dataclass(frozen=True, slots=True)
class SlaTarget:
    """Acknowledge within ``ack`` and resolve within ``resolve`` seconds (None = no target).

    ``warn_at`` is the fraction of a target after which the SLA is "about to breach": an
    unacknowledged incident escalates to its next level at that point. With ``business_hours``
    only business time counts towards the targets."""

    priority: str
    ack: float | None = None
    resolve: float | None = None
    warn_at: float = 0.75
    business_hours: BusinessHours | None = None

    def __post_init__(self) -> None:
        if not 0 < self.warn_at < 1:
            raise ValueError(f"SLA for {self.priority}: warn_at must be between 0 and 1 (exclusive)")
        for what, v in (("ack", self.ack), ("resolve", self.resolve)):
            if v is not None and v <= 0:
                raise ValueError(f"SLA for {self.priority}: {what} target must be positive")

    def due(self, start: float, seconds: float) -> float:
        if self.business_hours is None:
            return start + seconds
        return self.business_hours.add(start, seconds)

    def elapsed(self, start: float, now: float) -> float:
        if self.business_hours is None:
            return now - start
        return self.business_hours.elapsed(start, now)


def policy_cycle(policies: Mapping[str, Policy]) -> list[str] | None:
    """A cycle of policy hand-offs (``[a, b, a]``), or None. Hand-offs follow ``policy`` targets."""
    edges = {
        name: [t.name for lv in p.levels for t in lv.targets if t.kind is TargetKind.POLICY]
        for name, p in policies.items()
    }
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        path.append(n)
        for m in edges.get(n, []):
            if state.get(m) == 1:
                return [*path[path.index(m) :], m]
            if m in edges and state.get(m) is None:
                found = visit(m)
                if found:
                    return found
        path.pop()
        state[n] = 2
        return None

    for name in sorted(edges):
        if state.get(name) is None:
            found = visit(name)
            if found:
                return found
    return None
