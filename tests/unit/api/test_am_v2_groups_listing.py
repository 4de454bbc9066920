"""GET /alerts/groups lists groups, alerts and receivers in Alertmanager's order and filters."""

from __future__ import annotations

from typing import Any

import httpx

from tocsin.api.app import create_app

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
    - matchers: [team="db"]
      receiver: db
      group_by: [alertname, team]
receivers:
  - name: default
  - name: pager
  - name: db
"""


async def _groups(h: Any, query: str = "") -> list[dict[str, Any]]:
    async def reload() -> None:
        return None

    app = create_app(lambda: h.engine, reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get(f"/api/v2/alerts/groups{query}")
    assert r.status_code == 200, r.text
    body: list[dict[str, Any]] = r.json()
    return body


async def _load(harness: Any) -> Any:
    h = harness(CONFIG)
    await h.post(
        {"labels": {"alertname": "Down", "severity": "critical", "team": "db"}},
        {"labels": {"alertname": "Web", "instance": "b"}},
        {"labels": {"alertname": "Web", "instance": "a"}},
    )
    return h


async def test_order_of_groups_and_alerts(harness: Any) -> None:
    groups = await _groups(await _load(harness))
    # Fewer group labels first, then by value; equal label sets by receiver name.
    assert [(g["labels"], g["receiver"]["name"]) for g in groups] == [
        ({"alertname": "Down"}, "pager"),
        ({"alertname": "Web"}, "default"),
        ({"alertname": "Down", "team": "db"}, "db"),
    ]
    web = groups[1]["alerts"]
    assert [a["labels"]["instance"] for a in web] == ["a", "b"]


async def test_receivers_are_those_of_the_listed_groups(harness: Any) -> None:
    h = await _load(harness)
    groups = await _groups(h)
    down = [a for g in groups for a in g["alerts"] if a["labels"]["alertname"] == "Down"]
    assert [[r["name"] for r in a["receivers"]] for a in down] == [["db", "pager"], ["db", "pager"]]
    only_db = await _groups(h, "?receiver=db")
    assert [g["receiver"]["name"] for g in only_db] == ["db"]
    assert [r["name"] for r in only_db[0]["alerts"][0]["receivers"]] == ["db"]
