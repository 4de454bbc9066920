"""sort_alerts' fast path must give exactly the order of the full comparator."""

from __future__ import annotations

import functools
import random

from tocsin.engine.labelsets import _compare, sort_alerts
from tocsin.model import Alert


def _random_alert(rng: random.Random) -> Alert:
    labels = {"alertname": rng.choice(["A", "B"])}
    if rng.random() < 0.8:
        labels["job"] = rng.choice(["api", "db", "node"])
    if rng.random() < 0.8:
        labels["instance"] = f"h{rng.randrange(6)}"
    for name in rng.sample(["zone", "team", "a", "severity"], rng.randrange(3)):
        labels[name] = rng.choice(["x", "y", "z"])
    return Alert(labels=labels)


def test_same_order_as_the_comparator() -> None:
    rng = random.Random(7)
    for size in (0, 1, 2, 5, 30, 200):
        for _ in range(20):
            alerts = [_random_alert(rng) for _ in range(size)]
            expected = sorted(alerts, key=functools.cmp_to_key(_compare))
            assert [a.labels for a in sort_alerts(alerts)] == [a.labels for a in expected]


def test_distinct_instances_take_the_fast_path_in_order() -> None:
    alerts = [Alert(labels={"job": "node", "instance": f"h{i}"}) for i in (3, 1, 2)]
    alerts.append(Alert(labels={"instance": "h0"}))  # no job: sorts after every alert with one
    assert [a.labels.get("instance") for a in sort_alerts(alerts)] == ["h1", "h2", "h3", "h0"]
