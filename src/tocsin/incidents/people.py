"""Users, teams, contact methods and personal notification rules.

A notification rule says: for incidents of this urgency, reach me by this contact method this
long after I am paged. Rules fire independently at their delays (PagerDuty's model) and stop
once the incident is acknowledged. A user with no rule for an urgency still gets an email at
once, so that a page is never silently dropped.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

from tocsin.incidents.business_hours import BusinessHours
from tocsin.incidents.timeutil import zone


class Urgency(enum.StrEnum):
    HIGH = "high"
    LOW = "low"


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PHONE = "phone"
    SLACK = "slack"
    WEBHOOK = "webhook"


@dataclass(frozen=True, slots=True)
class ContactMethod:
    kind: ContactKind
    address: str


@dataclass(frozen=True, slots=True)
class NotificationRule:
    """Reach the user by ``via`` ``delay`` seconds after the page; ``urgency`` None = both."""

    via: ContactKind
    delay: float = 0.0
    urgency: Urgency | None = None

    def applies(self, urgency: Urgency) -> bool:
        return self.urgency is None or self.urgency is urgency


@dataclass(frozen=True, slots=True)
class User:
    id: str
    name: str = ""
    email: str | None = None
    phone: str | None = None
    slack_id: str | None = None
    webhook_url: str | None = None
    time_zone: str = "UTC"
    skills: frozenset[str] = frozenset()
    rules: tuple[NotificationRule, ...] = ()

    def __post_init__(self) -> None:
        zone(self.time_zone)
        for rule in self.rules:
            if self.contact(rule.via) is None:
                raise ValueError(
                    f"user {self.id!r}: notification rule uses {rule.via.value!r} but the user has no"
                    f" {_FIELD_OF[rule.via]}"
                )

    @property
    def display(self) -> str:
        return self.name or self.id

    def contact(self, kind: ContactKind) -> ContactMethod | None:
        address = {
            ContactKind.EMAIL: self.email,
            ContactKind.SMS: self.phone,
            ContactKind.PHONE: self.phone,
            ContactKind.SLACK: self.slack_id,
            ContactKind.WEBHOOK: self.webhook_url,
        }[kind]
        return ContactMethod(kind, address) if address else None

    def plan(self, urgency: Urgency) -> list[tuple[float, ContactMethod]]:
        """(delay, contact) pairs to reach this user for an incident of ``urgency``, by delay."""
        steps: list[tuple[float, ContactMethod]] = []
        for rule in self.rules:
            cm = self.contact(rule.via)
            if rule.applies(urgency) and cm is not None:
                steps.append((rule.delay, cm))
        if not steps:
            fallback = self.contact(ContactKind.EMAIL) or self.contact(ContactKind.SLACK)
            if fallback is not None:
                steps.append((0.0, fallback))
        steps.sort(key=lambda s: s[0])
        return steps


_FIELD_OF = {
    ContactKind.EMAIL: "email",
    ContactKind.SMS: "phone",
    ContactKind.PHONE: "phone",
    ContactKind.SLACK: "slack_id",
    ContactKind.WEBHOOK: "webhook_url",
}


@dataclass(frozen=True, slots=True)
class Team:
    id: str
    members: tuple[str, ...]
    name: str = ""
    time_zone: str = "UTC"
    business_hours: BusinessHours | None = None

    def __post_init__(self) -> None:
        zone(self.time_zone)


@dataclass(slots=True)
class Directory:
    """Every known user and team, with look-ups that fail with a clear message."""

    users: dict[str, User] = field(default_factory=dict)
    teams: dict[str, Team] = field(default_factory=dict)

    @classmethod
    def of(cls, users: Iterable[User], teams: Iterable[Team] = ()) -> Directory:
        d = cls()
        for u in users:
            if u.id in d.users:
                raise ValueError(f"duplicate user id {u.id!r}")
            d.users[u.id] = u
        for t in teams:
            if t.id in d.teams:
                raise ValueError(f"duplicate team id {t.id!r}")
            for m in t.members:
                if m not in d.users:
                    raise ValueError(f"team {t.id!r}: unknown user {m!r}")
            d.teams[t.id] = t
        return d

    def user(self, user_id: str) -> User:
        try:
            return self.users[user_id]
        except KeyError:
            raise KeyError(f"unknown user {user_id!r}") from None

    def team(self, team_id: str) -> Team:
        try:
            return self.teams[team_id]
        except KeyError:
            raise KeyError(f"unknown team {team_id!r}") from None

    def find(self, text: str) -> User | None:
        """A user by id, display name or email, case-insensitively (iCalendar SUMMARY matching)."""
        key = text.strip().lower()
        for u in self.users.values():
            if key in {u.id.lower(), u.name.lower(), (u.email or "").lower()} - {""}:
                return u
        return None

    def teams_of(self, user_id: str) -> list[Team]:
        return [t for t in self.teams.values() if user_id in t.members]
