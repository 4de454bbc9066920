"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels.

Each rule keeps the source alerts it has seen, bucketed by the values of its ``equal`` labels, so
checking a target costs one look-up per rule instead of a scan of every alert (Alertmanager
#3932: GET /alerts took seconds with many rules).
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from tocsin.engine.status_cache import Narrowing, Selector, shared_equalities
from tocsin.matchers import Matcher, MatchType, matches_all
from tocsin.model import Alert, fingerprint_hex

# map(labels.get, names, _EMPTY) is labels.get(name, "") per name without a generator frame.
_EMPTY = itertools.repeat("")


@dataclass
class InhibitRule:
    source_matchers: list[Matcher]
    target_matchers: list[Matcher]
    equal: list[str]
    # tenant -> equal-label values -> fingerprint -> source alert
    _sources: dict[str, dict[tuple[str, ...], dict[int, Alert]]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(dict))
    )

    def key(self, labels: Mapping[str, str]) -> tuple[str, ...]:
        # A missing label counts as the empty value, as in Alertmanager.
        return tuple(map(labels.get, self.equal, _EMPTY))

    def observe(self, alert: Alert) -> bool:
        """Record a source alert; True when inhibition results may change (not for a re-post
        that keeps a firing source firing at least as long)."""
        if not matches_all(self.source_matchers, alert.labels):
            return False
        bucket = self._sources[alert.tenant_id][self.key(alert.labels)]
        old = bucket.get(alert.fingerprint)
        bucket[alert.fingerprint] = alert
        return old is None or alert.ends_at < old.ends_at or old.ends_at <= alert.updated_at

    def forget(self, alert: Alert) -> bool:
        bucket = self._sources.get(alert.tenant_id, {}).get(self.key(alert.labels))
        if bucket is not None and bucket.get(alert.fingerprint) is alert:
            del bucket[alert.fingerprint]
            if not bucket:
                del self._sources[alert.tenant_id][self.key(alert.labels)]
            return True
        return False

    def next_end(self, now: float) -> float:
        """The earliest end, after ``now``, of a source alert (when results change by time)."""
        ends = [a.ends_at for b in self._sources.values() for bucket in b.values() for a in bucket.values()]
        return min((t for t in ends if t > now), default=float("inf"))

    def ended_between(self, t0: float, t1: float) -> list[tuple[str, tuple[str, ...]]]:
        """(tenant, equal-label values) of the buckets one of whose sources ended in (t0, t1]."""
        return [
            (tenant, key)
            for tenant, buckets in self._sources.items()
            for key, bucket in buckets.items()
            if any(t0 < a.ends_at <= t1 for a in bucket.values())
        ]

    def inhibiting(self, labels: Mapping[str, str], fp: int, tenant_id: str, now: float) -> int | None:
        """Fingerprint of a firing source alert that inhibits ``labels``, or None."""
        # The source bucket is two dict look-ups; most targets have no source sharing their
        # equal labels, so looking there first skips running the target matchers for them.
        bucket = self._sources.get(tenant_id, {}).get(self.key(labels))
        if not bucket or not matches_all(self.target_matchers, labels):
            return None
        # An alert on both sides of the rule may not be inhibited by others on both sides,
        # or two such alerts would silence each other.
        both_sides = matches_all(self.source_matchers, labels)
        for src_fp, src in bucket.items():
            if src.ends_at <= now or src_fp == fp:
                continue
            if both_sides and matches_all(self.target_matchers, src.labels):
                continue
            return src_fp
        return None


def _equality_keys(matchers: Sequence[Matcher]) -> list[tuple[str, str]]:
    """The (name, value) pairs an alert must carry for ``matchers`` to match it."""
    return [(m.name, m.value) for m in matchers if m.op is MatchType.EQUAL and m.value]


class _RuleIndex:
    """Which rules can match a label set, found by label look-ups instead of trying every rule:
    with 100 rules, checking each alert against all of them made GET /alerts take seconds
    (Alertmanager #3932) and cost 100 matcher runs per ingested alert.

    Each rule is filed under one pair its matchers require: the one the fewest rules share, so
    a pair common to every rule (severity="warning") does not make every rule a candidate."""

    def __init__(self, keys: Sequence[list[tuple[str, str]]]) -> None:
        shared: dict[tuple[str, str], int] = {}
        for ks in keys:
            for k in ks:
                shared[k] = shared.get(k, 0) + 1
        self.scan: list[int] = []
        self.by_label: dict[tuple[str, str], list[int]] = {}
        for i, ks in enumerate(keys):
            if not ks:
                self.scan.append(i)
            else:
                best = min(ks, key=lambda k: (shared[k], -len(k[1])))
                self.by_label.setdefault(best, []).append(i)

    def candidates(self, labels: Mapping[str, str]) -> list[int]:
        out = list(self.scan)
        by_label = self.by_label
        if by_label:
            for item in labels.items():
                ids = by_label.get(item)
                if ids:
                    out.extend(ids)
        if len(out) > 1:
            out.sort()  # rule order decides which inhibiting alert is reported
        return out


#: a change of the firing sources: (rule index, tenant, the source's ``equal`` label values)
SourceChange = tuple[int, str, tuple[str, ...]]
#: source changes remembered for changed_since (a reader further behind starts over)
_CHANGES_KEPT = 4096


class Inhibitor:
    def __init__(self, rules: Sequence[InhibitRule]) -> None:
        self.rules = list(rules)
        self._sources = _RuleIndex([_equality_keys(r.source_matchers) for r in self.rules])
        self._targets = _RuleIndex([_equality_keys(r.target_matchers) for r in self.rules])
        #: bumped whenever the set of firing source alerts may have changed
        self.version = 0
        #: (version, change) per change, so a cache of results can forget only what it touches
        self._changes: deque[tuple[int, SourceChange]] = deque(maxlen=_CHANGES_KEPT)
        self._changes_floor = 0  # changes up to this version may have left the log

    def _changed(self, i: int, alert: Alert) -> None:
        self.version += 1
        if len(self._changes) == self._changes.maxlen:
            self._changes_floor = self._changes[0][0]
        self._changes.append((self.version, (i, alert.tenant_id, self.rules[i].key(alert.labels))))

    def observe(self, alerts: Iterable[Alert]) -> None:
        rules = self.rules
        if not rules:
            return  # every ingested batch comes here: without rules there is nothing to index
        for a in alerts:
            for i in self._sources.candidates(a.labels):
                if rules[i].observe(a):
                    self._changed(i, a)

    def forget(self, alerts: Iterable[Alert]) -> None:
        rules = self.rules
        for a in alerts:
            for i in self._sources.candidates(a.labels):
                if rules[i].forget(a):
                    self._changed(i, a)

    def changed_since(self, version: int) -> list[SourceChange] | None:
        """Every source change after ``version``; None when the log no longer reaches back."""
        if version < self._changes_floor:
            return None
        return [c for v, c in self._changes if v > version]

    def turned_between(self, t0: float, t1: float) -> list[SourceChange]:
        """Source buckets one of whose alerts stopped firing by time between two instants."""
        return [(i, t, key) for i, rule in enumerate(self.rules) for t, key in rule.ended_between(t0, t1)]

    def selector(self, changes: list[SourceChange]) -> Selector:
        """Whether source changes may change an alert's status: it is a target of a changed rule
        and shares the changed sources' ``equal`` labels."""
        wanted: dict[int, set[tuple[str, tuple[str, ...]]]] = {}
        for i, tenant, key in changes:
            wanted.setdefault(i, set()).add((tenant, key))
        rules = [(self.rules[i], keys) for i, keys in wanted.items()]

        def test(alert: Alert) -> bool:
            labels = alert.labels
            for rule, keys in rules:
                if (alert.tenant_id, rule.key(labels)) in keys and matches_all(rule.target_matchers, labels):
                    return True
            return False

        return Selector(test, _equal_values(rules) + shared_equalities([r.target_matchers for r, _ in rules]))

    def next_change(self, now: float) -> float:
        return min((r.next_end(now) for r in self.rules), default=float("inf"))

    def not_inhibited(self, alerts: list[Alert], tenant_id: str, now: float) -> list[Alert]:
        """Those of ``alerts`` no source inhibits (each flush asks this for all its alerts; without
        rules, the answer needs no look-up per alert)."""
        if not self.rules:
            return alerts
        return [a for a in alerts if not self.inhibited_by(a.labels, a.fingerprint, tenant_id, now)]

    def inhibited_by(self, labels: Mapping[str, str], fp: int, tenant_id: str, now: float) -> list[str]:
        """Fingerprints (hex) of the alerts inhibiting this one; empty when it is not inhibited."""
        rules = self.rules
        for i in self._targets.candidates(labels):
            src = rules[i].inhibiting(labels, fp, tenant_id, now)
            if src is not None:
                return [fingerprint_hex(src)]
        return []


def _equal_values(rules: list[tuple[InhibitRule, set[tuple[str, tuple[str, ...]]]]]) -> tuple[Narrowing, ...]:
    """For each label every changed rule has among its ``equal`` labels, the values the changed
    sources have there: a target whose status may change has one of them."""
    names = set.intersection(*(set(rule.equal) for rule, _ in rules)) if rules else set()
    out = []
    for name in sorted(names):
        values = {key[rule.equal.index(name)] for rule, keys in rules for _, key in keys}
        out.append((name, frozenset(values)))
    return tuple(out)
