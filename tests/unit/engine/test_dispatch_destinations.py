"""The dispatcher decides an alert's routes and groups once per combination of the label values
routing depends on; the groups it forms equal those of the plain walk over the tree."""

from __future__ import annotations

import random

from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.dispatch import Dispatcher
from tocsin.engine.pipeline import group_key
from tocsin.engine.route import build_routes
from tocsin.model import Alert

TREE = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: ['team="db"']
      receiver: db
      routes:
        - matchers: ['severity=~"crit.*"']
          receiver: db-pager
          group_by: [alertname, instance]
        - matchers: ['severity!="info"', 'env=""']
          receiver: db-chat
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
    - matchers: ['severity="critical"']
      receiver: pager-twin
      group_by: [cluster]
receivers:
  - name: default
  - name: db
  - name: db-pager
  - name: db-chat
  - name: pager
  - name: pager-twin
"""
VALUES = {
    "alertname": ["A", "B"],
    "team": ["db", "web", None],
    "severity": ["critical", "crit-ish", "warning", "info", None],
    "env": ["prod", None],
    "instance": ["i1", "i2", None],
    "cluster": ["c1", "c2", None],
    "noise": ["x", "y", "z", None],
}


def _alert(rng: random.Random, tenant: str) -> Alert:
    labels = {k: v for k, vs in VALUES.items() if (v := rng.choice(vs)) is not None}
    return Alert(labels or {"alertname": "A"}, tenant_id=tenant)


def test_groups_formed_equal_those_of_the_plain_walk() -> None:
    for seed in range(10):
        rng = random.Random(seed)
        root = build_routes(load_config_text(TREE))
        d = Dispatcher(root, pipeline=None, clock=ManualClock(1000.0))  # type: ignore[arg-type]
        expected: dict[tuple[str, str], set[int]] = {}
        for _ in range(30):
            batch = [_alert(rng, rng.choice(["t1", "t2"])) for _ in range(rng.randrange(1, 8))]
            d.process(batch)
            for a in batch:
                for route in root.match(a.labels):
                    gid = (a.tenant_id, group_key(route.id(), route.group_labels(a.labels)))
                    expected.setdefault(gid, set()).add(a.fingerprint)
        assert {gid: set(g.alerts) for gid, g in d.groups.items()} == expected
        for (tenant, _), g in d.groups.items():
            a = next(iter(g.alerts.values()))
            assert g.labels == g.route.group_labels(a.labels) and g.tenant_id == tenant
        # the noise label decides nothing: it is not part of the decision's key
        assert root.decisive_labels() == ("alertname", "cluster", "env", "instance", "severity", "team")


def test_grouping_by_every_label_is_decided_per_alert() -> None:
    root = build_routes(
        load_config_text("route:\n  receiver: r\n  group_by: ['...']\nreceivers:\n  - name: r\n")
    )
    assert root.decisive_labels() is None
    d = Dispatcher(root, pipeline=None, clock=ManualClock(1000.0))  # type: ignore[arg-type]
    d.process([Alert({"alertname": "A", "x": "1"}), Alert({"alertname": "A", "x": "2"})])
    assert sorted(g.labels["x"] for g in d.groups.values()) == ["1", "2"]
