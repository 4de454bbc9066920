"""Alert statuses (silenced, inhibited, muted, receivers) remembered between API reads.

Working out one alert's status costs a silence look-up, the inhibition rules and the routing
tree; for GET /api/v2/alerts over ten thousand alerts that was most of the answer's time. A status
can only change when (a) the alert is replaced by a re-post (a new object), (b) silences change,
(c) the set of firing inhibition sources changes, (d) the configuration is reloaded, (e) a time
interval switches, or (f) time reaches a silence's start or end or a source alert's end. Each
entry is kept with the alert object it was computed for (a). A change of (d) or (e) clears every
entry. Silences and inhibition (b, c, f) are *scoped* dependencies: each keeps a log of what
changed, and a change drops only the entries of the alerts it can affect (those a silence's
matchers select; the targets of a rule that share the changed source's ``equal`` labels). An
operator silencing one service, or one new critical alert inhibiting its warnings, costs the
next read a few statuses, not ten thousand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.engine.label_value_index import LabelValueIndex
from tocsin.matchers import Matcher, MatchType
from tocsin.model import Alert

#: above this many (change, cached entry) pairs to check, clearing everything is cheaper
_MAX_CHECKS = 2_000_000
#: label names the cache indexes its entries by, at most (the first ones changes narrowed on)
_MAX_INDEXED = 4


@dataclass(slots=True)
class Entry:
    alert: Alert
    status: Any
    #: the alert's encoded JSON for GET /alerts, filled in by the API on first use
    fragment: bytes | None = None


#: a necessary condition on an alert: its value of a label (``""`` when missing) is one of these
Narrowing = tuple[str, frozenset[str]]


@dataclass(frozen=True, slots=True)
class Selector:
    """Which cached statuses some changes may affect (a superset is fine)."""

    test: Callable[[Alert], bool]
    #: conditions every alert ``test`` accepts also meets. A change is tested against every
    #: cached status; these let the cache set most of them aside with one dictionary look-up
    #: each, in a comprehension, before calling ``test`` on the rest.
    narrow: tuple[Narrowing, ...] = ()


def shared_equalities(matcher_sets: Sequence[Sequence[Matcher]]) -> tuple[Narrowing, ...]:
    """The label names every one of these matcher sets tests for equality, each with the values
    any of them asks for: an alert that one of the sets matches has one of those values."""
    if not matcher_sets:
        return ()
    values: dict[str, set[str]] | None = None
    for matchers in matcher_sets:
        here: dict[str, set[str]] = {}
        for m in matchers:
            if m.op is MatchType.EQUAL:
                here.setdefault(m.name, set()).add(m.value)
        # A set with two equality matchers on one name matches nothing, and keeping both
        # values only widens the narrowing: still a necessary condition.
        values = here if values is None else {n: v | here[n] for n, v in values.items() if n in here}
    return tuple((n, frozenset(v)) for n, v in (values or {}).items())


class ScopedDependency(Protocol):
    """Something statuses depend on that can say what changed and whom a change affects."""

    #: bumped on every change
    version: int

    def changed_since(self, version: int) -> list[Any] | None:
        """Every change after ``version``; None when that is no longer known."""
        ...

    def turned_between(self, t0: float, t1: float) -> list[Any]:
        """Changes made by time alone between two instants (something started or ended)."""
        ...

    def next_change(self, now: float) -> float:
        """The earliest time after ``now`` at which something changes by time alone."""
        ...

    def selector(self, changes: list[Any]) -> Selector:
        """Which alerts' statuses may differ because of any of ``changes``; built once per
        read, run on every cached status."""
        ...


class StatusSource(Protocol):
    def alert_status(self, alert: Alert, now: float) -> Any: ...

    def status_epoch(self, now: float) -> tuple[Any, ...]:
        """Key of everything else statuses depend on (what changes by time alone comes from the
        scoped dependencies)."""
        ...

    def status_dependencies(self) -> Sequence[ScopedDependency]: ...


class StatusCache:
    def __init__(self, source: StatusSource, max_entries: int = 1_000_000) -> None:
        self.source = source
        self.max_entries = max_entries
        self._key: tuple[Any, ...] | None = None
        #: per scoped dependency: (version seen, time until which it holds)
        self._seen: list[tuple[int, float]] = []
        self._seen_at = 0.0
        #: bumped whenever entries were dropped: part of the epoch answers are cached under
        self._generation = 0
        self._entries: dict[tuple[str, int], Entry] = {}
        #: label name -> value ("" when missing) -> keys of the entries with it. Built for a name
        #: the first time a change narrows on it: a scan of every entry touches ten thousand
        #: scattered objects (milliseconds), a look-up only the few a change selects.
        self._by_label: dict[str, LabelValueIndex] = {}

    def begin(self, now: float) -> None:
        """Call once per request, before ``get``: drops what changed since the last request."""
        key = self.source.status_epoch(now)
        deps = self.source.status_dependencies()
        if key != self._key or len(deps) != len(self._seen):
            self._clear()
            self._key = key
        else:
            changed: list[tuple[ScopedDependency, list[Any]]] = []
            for dep, (version, until) in zip(deps, self._seen, strict=True):
                found = dep.changed_since(version)
                if found is None:
                    self._clear()
                    break
                if now >= until:
                    found += dep.turned_between(self._seen_at, now)
                if found:
                    changed.append((dep, found))
            else:
                if changed:
                    self._forget(changed)
        seen = []
        for i, dep in enumerate(deps):
            if i < len(self._seen) and self._seen[i][0] == dep.version and now < self._seen[i][1]:
                seen.append(self._seen[i])
            else:
                seen.append((dep.version, dep.next_change(now)))
        self._seen = seen
        self._seen_at = now

    def _clear(self) -> None:
        self._entries.clear()
        for index in self._by_label.values():
            index.clear()
        self._seen = []
        self._generation += 1

    def _forget(self, changed: list[tuple[ScopedDependency, list[Any]]]) -> None:
        """Drop the entries of alerts that any of these changes may affect."""
        if sum(len(c) for _, c in changed) * len(self._entries) > _MAX_CHECKS:
            self._clear()
            return
        entries = self._entries
        gone: set[tuple[str, int]] = set()
        for dep, found in changed:
            sel = dep.selector(found)
            narrow = list(sel.narrow)
            keys = self._indexed(narrow)
            candidates = list(entries.items()) if keys is None else [(k, entries[k]) for k in keys]
            for name, values in narrow:
                candidates = [(k, e) for k, e in candidates if e.alert.labels.get(name, "") in values]
            test = sel.test
            gone.update(k for k, e in candidates if test(e.alert))
        for k in gone:
            self._drop(k)
        self._generation += 1

    def _indexed(self, narrow: list[Narrowing]) -> set[tuple[str, int]] | None:
        """The keys meeting the narrowing that the label index holds the fewest of, taken out
        of ``narrow``; None when no narrowing is (or can be) indexed."""
        best: tuple[int, Narrowing, LabelValueIndex] | None = None
        for cond in narrow:
            name, values = cond
            index = self._by_label.get(name)
            if index is None:
                if len(self._by_label) >= _MAX_INDEXED:
                    continue
                index = self._by_label[name] = LabelValueIndex()
                for k, e in self._entries.items():
                    index.add(e.alert.labels.get(name, ""), k)
            size = index.count(values)
            if best is None or size < best[0]:
                best = (size, cond, index)
        if best is None:
            return None
        _, cond, index = best
        narrow.remove(cond)
        return index.keys(cond[1])

    def _drop(self, k: tuple[str, int]) -> None:
        labels = self._entries.pop(k).alert.labels
        for name, index in self._by_label.items():
            index.discard(labels.get(name, ""), k)

    @property
    def epoch(self) -> tuple[tuple[Any, ...] | None, float]:
        """What the statuses of the current request depend on, and until when they hold."""
        return (self._key, self._generation), min((u for _, u in self._seen), default=float("inf"))

    @property
    def entries(self) -> Mapping[tuple[str, int], Entry]:
        """The cached entries by (tenant, fingerprint); an entry is current only while its
        ``alert`` is the stored object (``get`` checks that)."""
        return self._entries

    def get(self, alert: Alert, now: float) -> Entry:
        k = (alert.tenant_id, alert.fingerprint)
        e = self._entries.get(k)
        if e is None or e.alert is not alert:
            if len(self._entries) >= self.max_entries:
                self._clear()
                e = None
            if e is None:
                # A replaced alert keeps its key and labels: the index already holds it.
                labels = alert.labels
                for name, index in self._by_label.items():
                    index.add(labels.get(name, ""), k)
            e = Entry(alert, self.source.alert_status(alert, now))
            self._entries[k] = e
        return e
