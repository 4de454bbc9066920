"""The store's fingerprint order (what GET /api/v2/alerts lists) stays equal to a fresh sort
through merges, garbage collection, keys that come back, and loads."""

from __future__ import annotations

import random

from tocsin.engine.alerts import AlertStore
from tocsin.model import Alert


def _alert(i: int, tenant: str, ends_at: float) -> Alert:
    return Alert({"alertname": "A", "i": str(i)}, tenant_id=tenant, starts_at=0.0, ends_at=ends_at)


def test_fingerprint_order_equals_a_fresh_sort_through_every_kind_of_change() -> None:
    for seed in range(8):
        rng = random.Random(seed)
        store = AlertStore()
        now = 100.0
        for _ in range(60):
            op = rng.random()
            if op < 0.6:
                batch = [
                    _alert(rng.randrange(40), rng.choice(["t1", "t2"]), now + rng.choice([-1.0, 50.0]))
                    for _ in range(rng.randrange(1, 6))
                ]
                store.merge_all(batch, now)
            elif op < 0.8:
                store.gc(now, keep=set())
            elif op < 0.9:
                store.load([_alert(rng.randrange(40), "t1", now + 50.0)])
            if rng.random() < 0.5:
                got = store.in_fingerprint_order("t1") + store.in_fingerprint_order("t2")
                for tenant in ("t1", "t2"):
                    fingerprints = [a.fingerprint for a in got if a.tenant_id == tenant]
                    assert fingerprints == sorted(fingerprints)
                assert len(got) == len(store)
                # the stored objects themselves, each once, not those of an earlier call
                assert {id(a) for a in got} == {id(a) for a in store}


def test_order_is_sorted_afresh_when_nobody_read_it_for_long() -> None:
    store = AlertStore()
    now = 100.0
    for k in range(5):
        store.merge_all([_alert(i, "t1", now - 1.0) for i in range(k * 10, k * 10 + 10)], now)
        store.gc(now, keep=set())
    store.merge_all([_alert(i, "t1", now + 50.0) for i in range(3)], now)
    assert [a.fingerprint for a in store.in_fingerprint_order("t1")] == sorted(a.fingerprint for a in store)
    assert store.in_fingerprint_order("t2") == []
