"""GET /alerts lists an alert's receivers in route order with repeats, as Alertmanager does."""

from __future__ import annotations

from typing import Any

CONFIG = """
route:
  receiver: default
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
    - matchers: [team=~"db|infra"]
      receiver: infra
      continue: true
    - matchers: [team="db"]
      receiver: pager
receivers:
  - name: default
  - name: pager
  - name: infra
"""


async def test_receivers_in_route_order_with_repeats(harness: Any) -> None:
    h = harness(CONFIG)
    await h.post({"labels": {"alertname": "Foo", "severity": "critical", "team": "db"}})
    [alert] = list(h.engine.store)
    st = h.engine.alert_status(alert, h.clock.now())
    assert st.receivers == ["pager", "infra", "pager"]


async def test_no_child_matches_gives_the_root_receiver(harness: Any) -> None:
    h = harness(CONFIG)
    await h.post({"labels": {"alertname": "Bar"}})
    [alert] = list(h.engine.store)
    assert h.engine.alert_status(alert, h.clock.now()).receivers == ["default"]
