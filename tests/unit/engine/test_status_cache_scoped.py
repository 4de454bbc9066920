"""The status cache forgets only the statuses a silence or inhibition change can touch, and its
answers always equal statuses computed afresh."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tocsin.engine.inhibit import Inhibitor, InhibitRule
from tocsin.engine.silences import Silence, Silences
from tocsin.engine.status_cache import ScopedDependency, StatusCache, shared_equalities
from tocsin.matchers import Matcher, MatchType
from tocsin.model import Alert

NAMES = ["alertname", "instance", "team"]
VALUES = ["a", "b", "c", "d"]


@dataclass
class Source:
    """Statuses from silences and inhibition (what the cache follows change by change), counted."""

    silences: Silences = field(default_factory=Silences)
    inhibitor: Inhibitor = field(default_factory=lambda: Inhibitor([]))
    computed: int = 0
    other_key: int = 0

    def fresh(self, alert: Alert, now: float) -> Any:
        return (
            tuple(self.silences.mutes(alert.labels, now, alert.tenant_id)),
            tuple(self.inhibitor.inhibited_by(alert.labels, alert.fingerprint, alert.tenant_id, now)),
        )

    def alert_status(self, alert: Alert, now: float) -> Any:
        self.computed += 1
        return self.fresh(alert, now)

    def status_epoch(self, now: float) -> tuple[Any, ...]:
        return (self.other_key,)

    def status_dependencies(self) -> Sequence[ScopedDependency]:
        return (self.silences, self.inhibitor)


def _silence(rng: random.Random, now: float) -> Silence:
    matchers = [
        Matcher.create(n, rng.choice([MatchType.EQUAL, MatchType.EQUAL, MatchType.REGEX]), rng.choice(VALUES))
        for n in rng.sample(NAMES, rng.randrange(1, 3))
    ]
    start = now + rng.choice([-50.0, 0.0, 10.0, 40.0])
    end = start + rng.choice([5.0, 30.0, 300.0])
    return Silence(matchers, start, end, tenant_id=rng.choice(["t1", "t2"]))


def _alert(rng: random.Random) -> Alert:
    return Alert({n: rng.choice(VALUES) for n in NAMES}, tenant_id=rng.choice(["t1", "t2"]))


Step = Callable[[random.Random, Source, list[Alert], float], float]


def _replay(seed: int, src: Source, step: Step) -> None:
    """40 random steps (each may change things and returns the new time); after each, every
    cached status must equal the one computed afresh."""
    rng = random.Random(seed)
    cache = StatusCache(src)
    alerts = [_alert(rng) for _ in range(40)]
    now = 1000.0
    for _ in range(40):
        now = step(rng, src, alerts, now)
        cache.begin(now)
        for a in alerts:
            assert cache.get(a, now).status == src.fresh(a, now), f"seed {seed}"


def _silence_step(rng: random.Random, src: Source, alerts: list[Alert], now: float) -> float:
    op = rng.random()
    if op < 0.4:
        src.silences.set(_silence(rng, now), now)
    elif op < 0.55 and len(src.silences):
        sil = rng.choice(list(src.silences._by_id.values()))
        src.silences.expire(sil.id, now, sil.tenant_id)
    elif op < 0.6:
        src.other_key += 1  # e.g. a reload: everything goes
    else:
        now += rng.choice([1.0, 5.0, 10.0, 30.0, 0.0])
    if rng.random() < 0.1:
        alerts[rng.randrange(len(alerts))] = _alert(rng)
    return now


def test_cached_statuses_equal_fresh_ones_through_silence_changes_and_time() -> None:
    for seed in range(25):
        _replay(seed, Source(), _silence_step)


def _warm(n: int, now: float) -> tuple[Source, StatusCache, list[Alert]]:
    """A cache holding the statuses of ``n`` alerts, one instance each."""
    src = Source()
    cache = StatusCache(src)
    alerts = [Alert({"alertname": "a", "instance": f"i{i}"}) for i in range(n)]
    cache.begin(now)
    for a in alerts:
        cache.get(a, now)
    return src, cache, alerts


def test_a_new_silence_recomputes_only_the_alerts_it_selects() -> None:
    now = 1000.0
    src, cache, alerts = _warm(100, now)
    epoch = cache.epoch
    assert src.computed == 100
    sil = Silence([Matcher.create("instance", MatchType.EQUAL, "i7")], now - 1, now + 60)
    src.silences.set(sil, now)
    cache.begin(now)
    assert cache.epoch != epoch, "answers built on the old statuses must not be reused"
    statuses = [cache.get(a, now).status for a in alerts]
    assert src.computed == 101
    assert [i for i, s in enumerate(statuses) if s[0]] == [7]
    # Its end is a time boundary: again only that alert's status is worked out anew.
    assert cache.epoch[1] == now + 60
    cache.begin(now + 61)
    assert not any(cache.get(a, now + 61).status[0] for a in alerts)
    assert src.computed == 102
    # Anything else the statuses depend on still clears them all.
    src.other_key += 1
    cache.begin(now + 62)
    for a in alerts:
        cache.get(a, now + 62)
    assert src.computed == 202


def test_a_reader_behind_the_change_log_starts_over() -> None:
    now = 1000.0
    src, cache, alerts = _warm(10, now)
    for i in range(5000):  # more changes than the log keeps, none of which selects these alerts
        src.silences.set(Silence([Matcher.create("instance", MatchType.EQUAL, f"x{i}")], now, now + 60), now)
    assert src.silences.changed_since(0) is None
    cache.begin(now)
    for a in alerts:
        cache.get(a, now)
    assert src.computed == 20


def _rules() -> list[InhibitRule]:
    critical = [Matcher.create("team", MatchType.EQUAL, "a")]
    return [
        InhibitRule(critical, [Matcher.create("alertname", MatchType.EQUAL, "b")], ["instance"]),
        InhibitRule(
            [Matcher.create("alertname", MatchType.REGEX, "c|d")],
            [Matcher.create("team", MatchType.REGEX, ".*")],
            [],
        ),
    ]


def _source_step(rng: random.Random, src: Source, alerts: list[Alert], now: float) -> float:
    op = rng.random()
    if op < 0.35:
        # A new or re-posted alert: a source of some rule, maybe, ending some time ahead.
        a = _alert(rng)
        a.updated_at = now  # as ingest stamps it: how a re-post reviving an ended source shows
        a.ends_at = now + rng.choice([5.0, 20.0, 300.0])
        alerts[rng.randrange(len(alerts))] = a
        src.inhibitor.observe([a])
    elif op < 0.5:
        src.inhibitor.forget([alerts[rng.randrange(len(alerts))]])
    elif op < 0.6:
        src.silences.set(_silence(rng, now), now)
    else:
        now += rng.choice([1.0, 5.0, 10.0, 30.0, 0.0])
    return now


def test_cached_statuses_equal_fresh_ones_through_inhibition_sources_coming_and_going() -> None:
    for seed in range(25):
        _replay(1000 + seed, Source(inhibitor=Inhibitor(_rules())), _source_step)


def test_a_new_source_recomputes_only_the_targets_sharing_its_equal_labels() -> None:
    now = 1000.0
    src = Source(inhibitor=Inhibitor(_rules()[:1]))
    cache = StatusCache(src)
    targets = [Alert({"alertname": "b", "instance": f"i{i % 10}"}, fingerprint=i) for i in range(100)]
    cache.begin(now)
    for a in targets:
        cache.get(a, now)
    source = Alert({"alertname": "x", "team": "a", "instance": "i3"}, starts_at=now, ends_at=now + 30)
    src.inhibitor.observe([source])
    cache.begin(now)
    inhibited = [a for a in targets if cache.get(a, now).status[1]]
    assert src.computed == 110, "only the ten targets on instance i3"
    assert {a.labels["instance"] for a in inhibited} == {"i3"} and len(inhibited) == 10
    # The source's end: the same ten, again.
    cache.begin(now + 31)
    assert not any(cache.get(a, now + 31).status[1] for a in targets)
    assert src.computed == 120


def test_shared_equalities_are_the_equality_tests_every_matcher_set_makes() -> None:
    eq, ne, rx = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX
    sets = [
        [
            Matcher.create("alertname", eq, "A"),
            Matcher.create("instance", eq, "i1"),
            Matcher.create("job", rx, "x"),
        ],
        [
            Matcher.create("alertname", eq, "B"),
            Matcher.create("instance", ne, "i2"),
            Matcher.create("job", eq, "y"),
        ],
    ]
    # instance and job are tested for equality by one set only: an alert the other set selects
    # may have any value there, so only alertname narrows.
    assert shared_equalities(sets) == (("alertname", frozenset({"A", "B"})),)
    assert shared_equalities(sets[:1]) == (("alertname", frozenset({"A"})), ("instance", frozenset({"i1"})))
    assert shared_equalities([]) == ()
    assert shared_equalities([[Matcher.create("team", rx, ".*")]]) == ()


def test_the_label_index_follows_entries_dropped_and_added() -> None:
    """A change narrowed by an indexed label finds exactly the entries a scan would, after
    entries were dropped by earlier changes and computed again."""
    now = 1000.0
    src = Source()
    cache = StatusCache(src)
    alerts = [Alert({"alertname": "A", "instance": f"i{i % 5}", "n": str(i)}) for i in range(50)]

    def read() -> None:
        cache.begin(now)
        for a in alerts:
            assert cache.get(a, now).status == src.fresh(a, now)

    read()
    for round_ in range(6):
        instance = f"i{round_ % 5}"
        src.silences.set(
            Silence([Matcher.create("instance", MatchType.EQUAL, instance)], now - 1, now + 60), now
        )
        before = src.computed
        read()
        # Exactly the ten alerts of that instance were recomputed: the index found all of them.
        assert src.computed - before == 10
        assert set(cache._by_label) == {"instance"}
        assert cache._by_label["instance"].count(f"i{i}" for i in range(5)) == len(alerts)
