"""``route:`` (recursive) and ``inhibit_rules:``. Inheritance between route nodes is resolved by
``tocsin.engine.route``; here each node holds only what its YAML says."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from tocsin.config.types import (
    Duration,
    LabelMap,
    MatcherList,
    RegexMap,
    StrictModel,
    check_label_name,
    matchers_from_maps,
)
from tocsin.matchers import Matcher

GROUP_BY_ALL = "..."


class RouteConfig(StrictModel):
    receiver: str | None = None
    group_by: list[str] | None = None
    continue_: bool = Field(False, alias="continue")
    # The deprecated maps are folded into ``matchers`` on load and never printed back.
    match: LabelMap = Field(default_factory=dict, exclude=True)
    match_re: RegexMap = Field(default_factory=dict, exclude=True)
    matchers: MatcherList = Field(default_factory=list)
    group_wait: Duration | None = None
    group_interval: Duration | None = None
    repeat_interval: Duration | None = None
    mute_time_intervals: list[str] = Field(default_factory=list)
    active_time_intervals: list[str] = Field(default_factory=list)
    routes: list[RouteConfig] = Field(default_factory=list)
    #: tocsin extension: the escalation policy (from the incidents config) for incidents of
    #: this route's groups; inherited by child routes
    escalation_policy: str | None = None

    @field_validator("group_by")
    @classmethod
    def _group_by(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        seen: set[str] = set()
        for name in v:
            if name != GROUP_BY_ALL:
                check_label_name(name, "group_by list")
            if name in seen:
                raise ValueError(f"duplicated label {name!r} in group_by")
            seen.add(name)
        if GROUP_BY_ALL in seen and len(seen) > 1:
            raise ValueError("cannot have wildcard group_by ('...') and other labels at the same time")
        return v

    @field_validator("group_interval")
    @classmethod
    def _group_interval(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("group_interval cannot be zero")
        return v

    @field_validator("repeat_interval")
    @classmethod
    def _repeat_interval(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("repeat_interval cannot be zero")
        return v

    @model_validator(mode="after")
    def _fold_deprecated(self) -> RouteConfig:
        if self.match or self.match_re:
            self.matchers = matchers_from_maps(self.match, self.match_re) + list(self.matchers)
        return self

    @property
    def group_by_all(self) -> bool:
        return self.group_by == [GROUP_BY_ALL]

    @property
    def group_by_labels(self) -> list[str] | None:
        """The labels to group by, or None when this node inherits them (Alertmanager treats an
        empty list and ``['...']`` as "not given a label list")."""
        if not self.group_by or self.group_by_all:
            return None
        return list(self.group_by)

    def has_matchers(self) -> bool:
        return bool(self.matchers)


class InhibitRuleConfig(StrictModel):
    name: str | None = None
    source_match: LabelMap = Field(default_factory=dict, exclude=True)
    source_match_re: RegexMap = Field(default_factory=dict, exclude=True)
    source_matchers: MatcherList = Field(default_factory=list)
    target_match: LabelMap = Field(default_factory=dict, exclude=True)
    target_match_re: RegexMap = Field(default_factory=dict, exclude=True)
    target_matchers: MatcherList = Field(default_factory=list)
    equal: list[str] = Field(default_factory=list)

    @field_validator("equal")
    @classmethod
    def _equal(cls, v: list[str]) -> list[str]:
        for name in v:
            check_label_name(name, "equal list")
        return v

    @model_validator(mode="after")
    def _fold_deprecated(self) -> InhibitRuleConfig:
        if self.source_match or self.source_match_re:
            self.source_matchers = matchers_from_maps(self.source_match, self.source_match_re) + list(
                self.source_matchers
            )
        if self.target_match or self.target_match_re:
            self.target_matchers = matchers_from_maps(self.target_match, self.target_match_re) + list(
                self.target_matchers
            )
        return self


def sorted_matchers(matchers: list[Matcher]) -> list[Matcher]:
    """Alertmanager's matcher order: by name, then value, then operator (= != =~ !~)."""
    order = {"=": 0, "!=": 1, "=~": 2, "!~": 3}
    return sorted(matchers, key=lambda m: (m.name, m.value, order[m.op.value]))
