"""The status cache forgets only the statuses a silence change can touch, and its answers always
equal statuses computed afresh."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tocsin.engine.silences import Silence, Silences
from tocsin.engine.status_cache import StatusCache
from tocsin.matchers import Matcher, MatchType
from tocsin.model import Alert

NAMES = ["alertname", "instance", "team"]
VALUES = ["a", "b", "c", "d"]


@dataclass
class Source:
    """Statuses from silences alone (what the cache must follow by itself), counted."""

    silences: Silences = field(default_factory=Silences)
    computed: int = 0
    other_key: int = 0

    def alert_status(self, alert: Alert, now: float) -> Any:
        self.computed += 1
        return tuple(self.silences.mutes(alert.labels, now, alert.tenant_id))

    def status_epoch(self, now: float) -> tuple[tuple[Any, ...], float]:
        return (self.other_key,), float("inf")


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


def test_cached_statuses_equal_fresh_ones_through_silence_changes_and_time() -> None:
    for seed in range(25):
        rng = random.Random(seed)
        src = Source()
        cache = StatusCache(src)
        alerts = [_alert(rng) for _ in range(40)]
        now = 1000.0
        for _ in range(40):
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
            cache.begin(now)
            for a in alerts:
                fresh = tuple(src.silences.mutes(a.labels, now, a.tenant_id))
                assert cache.get(a, now).status == fresh, f"seed {seed}"


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
    assert [i for i, s in enumerate(statuses) if s] == [7]
    # Its end is a time boundary: again only that alert's status is worked out anew.
    assert cache.epoch[1] == now + 60
    cache.begin(now + 61)
    assert not any(cache.get(a, now + 61).status for a in alerts)
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
