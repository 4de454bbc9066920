"""Alert → incident → level 1 paged → no ack → level 2 → ack through a signed link → escalation
stops, on simulated time with real HTTP deliveries to a local sink; restart mid-escalation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tocsin.api.app import create_app

CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  escalation_policy: standard
  routes:
    - receiver: team
      matchers: [team="db"]
      escalation_policy: databases
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/unused"}]
"""

INCIDENTS = """
users:
  - id: ana
    webhook_url: {sink}/ana
    notification_rules: [{{via: webhook, after: 0s}}]
  - id: bob
    webhook_url: {sink}/bob
    notification_rules: [{{via: webhook, after: 0s}}]
escalation_policies:
  - name: standard
    levels:
      - targets: [{{user: ana}}]
        wait: 5m
      - targets: [{{user: bob}}]
        wait: 10m
  - name: databases
    levels:
      - targets: [{{user: bob}}]
        wait: 5m
links:
  secrets: ["0123456789abcdef0123"]
  ttl: 1h
"""


def pages(sink) -> list[tuple[str, str]]:
    """(who, reason) of every incident page the sink received."""
    out = []
    for p in sink.payloads:
        if "tocsin" in p:
            out.append((p["tocsin"]["user"], p["tocsin"]["incident_id"]))
    return out


@pytest.fixture
def setup(harness, sink):
    h = harness(CONFIG, incidents_yaml=INCIDENTS.format(sink=sink.url.removesuffix("/hook")))
    return h, sink


async def test_escalation_then_ack_by_signed_link(setup) -> None:
    h, sink = setup
    await h.post({"labels": {"alertname": "DiskFull", "severity": "critical"}, "endsAt": h.at(7200)})
    await h.advance(30)
    svc = h.engine.incidents
    (inc,) = svc.manager.incidents.values()
    assert pages(sink) == [("ana", inc.id)]
    await h.advance(299)
    assert len(pages(sink)) == 1
    await h.advance(1)  # level 1 waited 5 minutes without an ack: level 2
    assert pages(sink) == [("ana", inc.id), ("bob", inc.id)]
    bob_page = sink.payloads[-1]["tocsin"]
    assert bob_page["ack_url"].startswith("http://localhost:9093/api/tocsin/v1/links/")
    assert sink.payloads[-1]["alerts"][0]["labels"]["alertname"] == "DiskFull"

    token = bob_page["ack_url"].rsplit("/", 1)[1]
    app = create_app(lambda: h.engine, _noop_reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        page = await c.get(f"/api/tocsin/v1/links/{token}")
        assert page.status_code == 200 and "<form" in page.text
        assert str(inc.state) == "triggered", "opening the link must not acknowledge"
        done = await c.post(f"/api/tocsin/v1/links/{token}")
        assert done.status_code == 200 and "acknowledged" in done.text
        forged = await c.post(f"/api/tocsin/v1/links/{token[:-2]}xx")
        assert forged.status_code == 403
        detail = (await c.get(f"/api/tocsin/v1/incidents/{inc.id}")).json()
    assert detail["state"] == "acknowledged" and detail["acknowledgedBy"] == "bob"
    kinds = [e["kind"] for e in detail["timeline"]]
    for expected in ("created", "escalated", "notified", "delivery", "acknowledged"):
        assert expected in kinds, (expected, kinds)
    await h.advance(3600)
    assert len(pages(sink)) == 2, "escalation stops on acknowledgement"


async def test_route_selects_policy_and_resolution_resolves(setup) -> None:
    h, sink = setup
    await h.post({"labels": {"alertname": "Replication", "team": "db"}, "endsAt": h.at(600)})
    await h.advance(30)
    (inc,) = h.engine.incidents.manager.incidents.values()
    assert pages(sink) == [("bob", inc.id)]  # the databases policy starts with bob
    await h.advance(900)  # the alert ends at t0+600; the next flush resolves the incident
    assert str(inc.state) == "resolved"


async def test_restart_mid_escalation_fires_next_step_once_on_time(setup) -> None:
    h, sink = setup
    await h.post({"labels": {"alertname": "DiskFull"}, "endsAt": h.at(7200)})
    await h.advance(100)
    assert len(pages(sink)) == 1
    h.restart()  # crash: the manager's state and timers come back from storage
    await h.advance(229)
    assert len(pages(sink)) == 1
    await h.advance(1)  # t0 + 330 = first page (t0+30) + 5 min
    assert [who for who, _ in pages(sink)] == ["ana", "bob"]
    await h.advance(600)
    assert [who for who, _ in pages(sink)] == ["ana", "bob"], "no step fires twice"


async def test_api_ack_note_and_bad_input(setup) -> None:
    h, _ = setup
    await h.post({"labels": {"alertname": "X"}, "endsAt": h.at(7200)})
    await h.advance(30)
    (inc,) = h.engine.incidents.manager.incidents.values()
    app = create_app(lambda: h.engine, _noop_reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        listed = (await c.get("/api/tocsin/v1/incidents", params={"state": "triggered"})).json()
        assert [i["id"] for i in listed] == [inc.id]
        r = await c.post(f"/api/tocsin/v1/incidents/{inc.id}/note", json={"user": "ana", "text": "looking"})
        assert r.status_code == 200
        assert (
            await c.post(f"/api/tocsin/v1/incidents/{inc.id}/note", json={"user": "ana"})
        ).status_code == 400
        assert (await c.post(f"/api/tocsin/v1/incidents/{inc.id}/fly", json={})).status_code == 404
        assert (await c.post("/api/tocsin/v1/incidents/INC-404/ack", json={})).status_code == 404
        assert (await c.post(f"/api/tocsin/v1/incidents/{inc.id}/ack", content=b"{x")).status_code == 400
        r = await c.post(f"/api/tocsin/v1/incidents/{inc.id}/ack", json={"user": "ana"})
        assert r.json()["state"] == "acknowledged"
        r = await c.post(
            f"/api/tocsin/v1/incidents/{inc.id}/snooze", json={"user": "ana", "duration": "soon"}
        )
        assert r.status_code == 400 and "soon" in r.text
        assert (await c.get("/api/tocsin/v1/incidents", params={"state": "open"})).status_code == 400


async def _noop_reload() -> str | None:
    return None


def test_cross_check_names_missing_references(tmp_path: Path) -> None:
    from tocsin.config import load_config_text
    from tocsin.incidents.config import load_incidents_text
    from tocsin.incidents.crosscheck import cross_check

    cfg = load_config_text(CONFIG.replace("escalation_policy: databases", "escalation_policy: nope"))
    setup = load_incidents_text(
        INCIDENTS.format(sink="http://x") + "contact_receivers: {email: missing-mail}\n"
    )
    problems = cross_check(cfg, setup)
    assert any("escalation_policy 'nope'" in p for p in problems)
    assert any("receiver 'missing-mail'" in p for p in problems)


SCHEDULES = """
users:
  - {id: ana, email: ana@example.com, time_zone: Europe/Paris}
  - {id: bob, email: bob@example.com}
schedules:
  - name: primary
    time_zone: Europe/Paris
    layers:
      - {name: daily, start: "2023-11-01T09:00", rotation: {every: 1, unit: days}, users: [ana, bob]}
escalation_policies:
  - name: standard
    levels: [{targets: [{schedule: primary}], wait: 5m}]
  - name: databases
    levels: [{targets: [{schedule: primary}], wait: 5m}]
"""


async def test_schedule_endpoints(harness) -> None:
    import icalendar

    h = harness(CONFIG, incidents_yaml=SCHEDULES)
    app = create_app(lambda: h.engine, _noop_reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        listed = (await c.get("/api/tocsin/v1/schedules")).json()
        assert listed[0]["name"] == "primary" and len(listed[0]["onCall"]) == 1
        at = (
            await c.get("/api/tocsin/v1/schedules/primary/oncall", params={"at": "2023-11-02T10:00:00Z"})
        ).json()
        assert at["onCall"] == ["bob"]  # day 2 of the rotation (handoff 09:00 Paris = 08:00 UTC)
        shifts = (
            await c.get(
                "/api/tocsin/v1/schedules/primary/oncall",
                params={"from": "2023-11-02T08:00:00Z", "to": "2023-11-04T08:00:00Z"},
            )
        ).json()["shifts"]
        assert [s["users"] for s in shifts] == [["bob"], ["ana"]]
        ics = await c.get("/api/tocsin/v1/schedules/primary/calendar.ics", params={"days": "7"})
        assert ics.headers["content-type"].startswith("text/calendar")
        events = [e for e in icalendar.Calendar.from_ical(ics.content).walk("VEVENT")]
        assert len(events) >= 7
        user = await c.get("/api/tocsin/v1/users/ana/calendar.ics")
        ana = list(icalendar.Calendar.from_ical(user.content).walk("VEVENT"))
        assert 14 <= len(ana) <= 16  # every other day over the default 30 days
        assert {str(e.get("summary")) for e in ana} == {"On call: primary"}
        assert (await c.get("/api/tocsin/v1/schedules/nope/oncall")).status_code == 404
        assert (await c.get("/api/tocsin/v1/users/zed/calendar.ics")).status_code == 404
        bad = await c.get("/api/tocsin/v1/schedules/primary/calendar.ics", params={"days": "9999"})
        assert bad.status_code == 400 and "days" in bad.text
        bad = await c.get("/api/tocsin/v1/schedules/primary/oncall", params={"from": "x"})
        assert bad.status_code == 400


async def test_incident_endpoints_without_incidents_config(harness) -> None:
    h = harness(
        CONFIG.replace("  escalation_policy: standard\n", "").replace(
            "      escalation_policy: databases\n", ""
        )
    )
    app = create_app(lambda: h.engine, _noop_reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/api/tocsin/v1/incidents")
        assert r.status_code == 404 and "--incidents.file" in r.text


async def test_slack_button_acknowledges_the_incident(harness, sink) -> None:
    import hashlib
    import hmac
    import json
    import time
    from urllib.parse import urlencode

    secret = "slack-signing-secret-for-tests"
    incidents = INCIDENTS.format(sink=sink.url.removesuffix("/hook")).replace(
        "  - id: ana\n", "  - id: ana\n    slack_id: U0ANA\n"
    )
    h = harness(CONFIG, incidents_yaml=incidents)
    await h.post({"labels": {"alertname": "DiskFull"}, "endsAt": h.at(7200)})
    await h.advance(30)
    (inc,) = h.engine.incidents.manager.incidents.values()
    value = json.dumps({"gk": inc.group_key, "t": "default", "l": {"alertname": "DiskFull"}})
    payload = {
        "type": "block_actions",
        "user": {"id": "U0ANA"},
        "response_url": sink.url,
        "actions": [{"action_id": "ack", "value": value}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    ts = str(int(time.time()))
    sig = "v0=" + hmac.new(secret.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256).hexdigest()
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sig,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    app = create_app(lambda: h.engine, _noop_reload, lambda: "", slack_signing_secret=secret)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        forged = await c.post(
            "/api/tocsin/v1/slack/interactions",
            content=body,
            headers={**headers, "X-Slack-Signature": "v0=" + "0" * 64},
        )
        assert forged.status_code == 401 and str(inc.state) == "triggered"
        r = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=headers)
        assert r.status_code == 200
        replay = await c.post("/api/tocsin/v1/slack/interactions", content=body, headers=headers)
        assert replay.status_code == 401
    assert str(inc.state) == "acknowledged" and inc.acknowledged_by == "ana"
    assert any(e.kind == "acknowledged" and "slack" in (e.text + str(e.data)) for e in inc.timeline)
    assert "acknowledged by <@U0ANA>" in sink.payloads[-1]["text"]
    await h.advance(3600)
    assert [who for who, _ in pages(sink)] == ["ana"], "escalation stopped at the Slack acknowledgement"


async def test_correlated_groups_become_one_incident_with_causes_through_the_api(harness, sink) -> None:
    # group_by alertname: the latency and the CPU alert are two Alertmanager groups; the service
    # graph says frontend calls cart, so the second group joins the first group's incident.
    incidents = INCIDENTS.format(sink=sink.url.removesuffix("/hook")) + (
        "correlation:\n  topology:\n    frontend: [cart]\n"
    )
    h = harness(CONFIG, incidents_yaml=incidents)
    await h.post({"labels": {"alertname": "HighLatency", "service": "frontend"}, "endsAt": h.at(7200)})
    await h.advance(10)
    await h.post({"labels": {"alertname": "CPUSaturated", "service": "cart"}, "endsAt": h.at(7200)})
    await h.advance(60)
    (inc,) = h.engine.incidents.manager.incidents.values()
    assert pages(sink) == [("ana", inc.id)]  # one page, not one per group
    app = create_app(lambda: h.engine, _noop_reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        doc = (await c.get(f"/api/tocsin/v1/incidents/{inc.id}")).json()
    assert len(doc["groups"]) == 1 and "CPUSaturated" in doc["groups"][0]
    (joined,) = [e for e in doc["timeline"] if e["kind"] == "correlated"]
    assert "service graph path frontend → cart" in joined["text"]
    assert doc["probableCauses"][0]["service"] == "cart" and doc["probableCauses"][0]["reasons"]
