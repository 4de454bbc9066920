"""API v2 shapes, validation and status codes, in process (no sockets)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tocsin.api.app import create_app
from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.model import Alert, fingerprint, fingerprint_hex, format_time
from tocsin.storage import open_storage

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - receiver: pager
      matchers: ['severity="critical"']
receivers:
  - name: default
  - name: pager
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [instance]
"""
T0 = 1_800_000_000.0


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Engine, ManualClock]]:
    clock = ManualClock(T0)
    engine = Engine(load_config_text(CONFIG), open_storage(url=f"sqlite:///{tmp_path}/t.db"), clock=clock)

    async def reload() -> str | None:
        return None

    app = create_app(lambda: engine, reload, lambda: engine.config.to_yaml(), max_body=64 * 1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, engine, clock
    engine.writer.flush()
    engine.writer.close()
    engine.storage.close()


async def test_post_and_get_alert_shape(api) -> None:
    c, _, _ = api
    r = await c.post(
        "/api/v2/alerts",
        json=[
            {
                "labels": {"alertname": "A", "instance": "i1"},
                "annotations": {"x": "y"},
                "generatorURL": "http://prom/graph",
            }
        ],
    )
    assert r.status_code == 200 and r.content == b""
    alerts = (await c.get("/api/v2/alerts")).json()
    assert len(alerts) == 1
    a = alerts[0]
    assert set(a) == {
        "annotations",
        "endsAt",
        "fingerprint",
        "receivers",
        "startsAt",
        "status",
        "updatedAt",
        "generatorURL",
        "labels",
    }
    assert a["fingerprint"] == fingerprint_hex(fingerprint({"alertname": "A", "instance": "i1"}))
    assert a["startsAt"] == format_time(T0)
    assert a["endsAt"] == format_time(T0 + 300)  # resolve_timeout default
    assert a["receivers"] == [{"name": "default"}]
    assert a["status"] == {"inhibitedBy": [], "silencedBy": [], "mutedBy": [], "state": "active"}


def _fnv1a_64_reference(labels: dict[str, str]) -> int:
    """Prometheus's LabelSet.Fingerprint written out byte by byte, independent of tocsin's code."""
    h = 0xCBF29CE484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode() + b"\xff":
                h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


@pytest.mark.parametrize(
    "labels",
    [
        {},
        {"alertname": "foo"},
        {"b": "2", "a": "1"},
        {"alertname": "Häßlich", "job": "✓", "x": ""},
        # U+00FF and U+DCFF-like text next to the 0xFF separator; emoji; NUL
        {"ÿ": "ÿÿ", "a\x00": "🔥", "z": "\x7f"},
    ],
)
def test_fingerprint_matches_prometheus(labels: dict[str, str]) -> None:
    assert fingerprint(labels) == _fnv1a_64_reference(labels)
    assert len(fingerprint_hex(fingerprint(labels))) == 16


@pytest.mark.parametrize("value", ["\udcff", "x\udcffy", "\ud800"])
def test_fingerprint_refuses_lone_surrogates_instead_of_hashing_them_as_separators(value: str) -> None:
    # "\udcff" would encode to the separator byte under surrogateescape: {"a": "\udcff"} must not
    # collide with another label set; it cannot be UTF-8, so it is refused as before.
    with pytest.raises(UnicodeEncodeError):
        fingerprint({"a": value})


async def test_filters_and_inhibited_flag(api) -> None:
    c, _, _ = api
    await c.post(
        "/api/v2/alerts",
        json=[
            {"labels": {"alertname": "Down", "severity": "critical", "instance": "a"}},
            {"labels": {"alertname": "Slow", "severity": "warning", "instance": "a"}},
            {"labels": {"alertname": "Slow", "severity": "warning", "instance": "b"}},
        ],
    )
    all_ = (await c.get("/api/v2/alerts")).json()
    assert len(all_) == 3
    not_inhibited = (await c.get("/api/v2/alerts", params={"inhibited": "false"})).json()
    assert sorted(a["labels"]["instance"] + a["labels"]["alertname"] for a in not_inhibited) == [
        "aDown",
        "bSlow",
    ]
    f = (
        await c.get("/api/v2/alerts", params=[("filter", 'alertname="Slow"'), ("filter", "instance=~b")])
    ).json()
    assert [a["labels"]["instance"] for a in f] == ["b"]
    r = (await c.get("/api/v2/alerts", params={"receiver": "pag.*"})).json()
    assert [a["labels"]["alertname"] for a in r] == ["Down"]
    bad = await c.get("/api/v2/alerts", params={"filter": "alertname=~(("})
    assert bad.status_code == 400 and "bad matcher" in bad.json()
    bad = await c.get("/api/v2/alerts", params={"active": "maybe"})
    assert bad.status_code == 400 and "active" in bad.json()


async def test_groups(api) -> None:
    c, _, _ = api
    await c.post(
        "/api/v2/alerts",
        json=[
            {"labels": {"alertname": "A", "i": "1"}},
            {"labels": {"alertname": "A", "i": "2"}},
            {"labels": {"alertname": "B"}},
        ],
    )
    groups = (await c.get("/api/v2/alerts/groups")).json()
    assert [(g["labels"], g["receiver"]["name"], len(g["alerts"])) for g in groups] == [
        ({"alertname": "A"}, "default", 2),
        ({"alertname": "B"}, "default", 1),
    ]


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        (b"{not json", 400, "malformed JSON"),
        (b'{"labels": {"a": "b"}}', 400, "JSON array"),
        (b'[{"labels": {"a": 1}}]', 400, "invalid alert"),
        (b'[{"annotations": {}}]', 422, "labels"),
    ],
)
async def test_post_alerts_rejects_bad_bodies(api, body: bytes, status: int, needle: str) -> None:
    c, engine, _ = api
    r = await c.post("/api/v2/alerts", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status
    assert needle in r.json()
    assert len(engine.store) == 0


async def test_bad_alerts_rejected_good_ones_kept(api) -> None:
    c, engine, _ = api
    r = await c.post(
        "/api/v2/alerts",
        json=[
            {"labels": {"alertname": "Good"}},
            {"labels": {"0bad": "x"}},
            {"labels": {}},
            {"labels": {"alertname": "Early"}, "startsAt": format_time(T0), "endsAt": format_time(T0 - 60)},
            {"labels": {"alertname": "BadTime"}, "startsAt": "yesterday"},
        ],
    )
    assert r.status_code == 400
    msg = r.json()
    assert 'invalid name "0bad"' in msg
    assert "at least one label pair required" in msg
    assert "start time must be before end time" in msg
    assert "invalid timestamp 'yesterday'" in msg
    assert [a.labels for a in engine.store] == [{"alertname": "Good"}]


async def test_empty_label_values_are_dropped(api) -> None:
    c, engine, _ = api
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "empty": ""}}])
    assert [a.labels for a in engine.store] == [{"alertname": "A"}]


async def test_oversized_body(api) -> None:
    c, engine, _ = api
    big = json.dumps([{"labels": {"alertname": "A", "x": "y" * 100_000}}])
    r = await c.post("/api/v2/alerts", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "exceeds the limit" in r.json()
    assert len(engine.store) == 0


async def test_silence_lifecycle_and_update_rules(api) -> None:
    c, _, clock = api
    sil = {
        "matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
        "startsAt": format_time(T0),
        "endsAt": format_time(T0 + 3600),
        "createdBy": "me",
        "comment": "c",
    }
    sid = (await c.post("/api/v2/silences", json=sil)).json()["silenceID"]
    got = (await c.get(f"/api/v2/silence/{sid}")).json()
    assert got["status"]["state"] == "active" and got["matchers"][0]["isEqual"] is True
    # Same matchers, same start, new end: updated in place.
    upd = (await c.post("/api/v2/silences", json={**sil, "id": sid, "endsAt": format_time(T0 + 7200)})).json()
    assert upd["silenceID"] == sid
    # Different matchers: a new silence replaces (and expires) the old one.
    new = (
        await c.post(
            "/api/v2/silences",
            json={**sil, "id": sid, "matchers": [{"name": "alertname", "value": "B", "isRegex": False}]},
        )
    ).json()["silenceID"]
    assert new != sid
    clock.advance(1)
    assert (await c.get(f"/api/v2/silence/{sid}")).json()["status"]["state"] == "expired"
    listed = (await c.get("/api/v2/silences", params={"filter": 'alertname="B"'})).json()
    assert [s["id"] for s in listed] == [new]
    assert (await c.delete(f"/api/v2/silence/{new}")).status_code == 200
    assert (await c.delete(f"/api/v2/silence/{new}")).status_code == 200  # idempotent
    assert (await c.delete("/api/v2/silence/00000000-0000-0000-0000-000000000000")).status_code == 404
    assert (await c.get("/api/v2/silence/nope")).status_code == 404


@pytest.mark.parametrize(
    ("change", "status", "needle"),
    [
        ({"endsAt": "START"}, 400, "start time must be before end time"),
        ({"startsAt": "PAST2", "endsAt": "PAST"}, 400, "end time can't be in the past"),
        ({"matchers": []}, 422, "at least 1 items"),
        ({"matchers": [{"name": "a", "value": "((", "isRegex": True}]}, 400, "invalid regular expression"),
        (
            {"matchers": [{"name": "a", "value": ".*", "isRegex": True}]},
            400,
            "must not match the empty string",
        ),
        ({"createdBy": None}, 422, "createdBy"),
        ({"id": "4b1e0f7e-0000-0000-0000-000000000000"}, 404, "not found"),
    ],
)
async def test_bad_silences(api, change: dict, status: int, needle: str) -> None:
    c, engine, _ = api
    sil = {
        "matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
        "startsAt": format_time(T0),
        "endsAt": format_time(T0 + 3600),
        "createdBy": "me",
        "comment": "c",
    }
    times = {"START": format_time(T0), "PAST": format_time(T0 - 60), "PAST2": format_time(T0 - 120)}
    for k, v in change.items():
        if v is None:
            sil.pop(k)
        else:
            sil[k] = times.get(v, v) if isinstance(v, str) else v
    r = await c.post("/api/v2/silences", json=sil)
    assert r.status_code == status, r.text
    assert needle in r.text
    assert len(engine.silences) == 0


async def test_status_receivers_health_and_v1(api) -> None:
    c, _, _ = api
    st = (await c.get("/api/v2/status")).json()
    assert st["versionInfo"]["version"] and st["cluster"]["status"] == "disabled"
    assert "route:" in st["config"]["original"]
    assert (await c.get("/api/v2/receivers")).json() == [{"name": "default"}, {"name": "pager"}]
    assert (await c.get("/-/healthy")).status_code == 200
    assert (await c.get("/-/ready")).status_code == 200
    assert (await c.get("/api/v1/alerts")).status_code == 410
    doc = (await c.get("/api/v2/openapi.json")).json()
    assert doc["openapi"].startswith("3.") and "/api/v2/alerts" in doc["paths"]


async def test_tenants_are_isolated(api) -> None:
    c, _, _ = api
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A"}}], headers={"X-Tocsin-Tenant": "blue"})
    assert (await c.get("/api/v2/alerts")).json() == []
    blue = (await c.get("/api/v2/alerts", headers={"X-Tocsin-Tenant": "blue"})).json()
    assert [a["labels"]["alertname"] for a in blue] == ["A"]


async def _states(c: httpx.AsyncClient) -> dict[str, str]:
    return {
        a["labels"]["alertname"] + a["labels"].get("instance", ""): a["status"]["state"]
        for a in (await c.get("/api/v2/alerts")).json()
    }


async def test_cached_statuses_follow_silences_over_time(api) -> None:
    c, _, clock = api
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A"}, "endsAt": format_time(T0 + 7200)}])
    assert await _states(c) == {"A": "active"}
    sil = {
        "matchers": [{"name": "alertname", "value": "A", "isRegex": False}],
        "startsAt": format_time(T0 + 60),
        "endsAt": format_time(T0 + 120),
        "createdBy": "me",
        "comment": "c",
    }
    await c.post("/api/v2/silences", json=sil)
    assert await _states(c) == {"A": "active"}  # pending silence
    clock.advance(60)
    assert await _states(c) == {"A": "suppressed"}  # the silence started: the cache knew to expire
    clock.advance(61)
    assert await _states(c) == {"A": "active"}  # and ended


async def test_cached_statuses_follow_inhibition_sources(api) -> None:
    c, _, clock = api
    target = {
        "labels": {"alertname": "Slow", "severity": "warning", "instance": "a"},
        "endsAt": format_time(T0 + 7200),
    }
    await c.post("/api/v2/alerts", json=[target])
    assert await _states(c) == {"Slowa": "active"}
    source = {
        "labels": {"alertname": "Down", "severity": "critical", "instance": "a"},
        "endsAt": format_time(T0 + 30),
    }
    await c.post("/api/v2/alerts", json=[source])
    assert (await _states(c))["Slowa"] == "suppressed"
    clock.advance(31)  # the source ends by time
    assert await _states(c) == {"Slowa": "active"}
    await c.post("/api/v2/alerts", json=[{**source, "endsAt": format_time(T0 + 3600)}])
    assert (await _states(c))["Slowa"] == "suppressed"
    # Resolved explicitly by a re-post: the target is active again at once.
    await c.post(
        "/api/v2/alerts", json=[{**source, "startsAt": format_time(T0), "endsAt": format_time(T0 + 31)}]
    )
    assert (await _states(c))["Slowa"] == "active"


async def test_cached_alert_json_follows_reposts(api) -> None:
    c, _, _ = api
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A"}, "annotations": {"v": "1"}}])
    assert (await c.get("/api/v2/alerts")).json()[0]["annotations"] == {"v": "1"}
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A"}, "annotations": {"v": "2"}}])
    assert (await c.get("/api/v2/alerts")).json()[0]["annotations"] == {"v": "2"}


async def test_repeated_reads_are_answered_from_cache_until_something_changes(api) -> None:
    c, _, clock = api
    await c.post(
        "/api/v2/alerts",
        json=[
            {"labels": {"alertname": "A", "instance": "a"}, "endsAt": format_time(T0 + 100)},
            {"labels": {"alertname": "B", "instance": "b"}, "endsAt": format_time(T0 + 900)},
        ],
    )
    first = await c.get("/api/v2/alerts")
    assert [a["labels"]["alertname"] for a in first.json()] in (["A", "B"], ["B", "A"])
    assert (await c.get("/api/v2/alerts")).content == first.content
    # Another query is its own entry.
    only_b = (await c.get("/api/v2/alerts", params={"filter": 'alertname="B"'})).json()
    assert [a["labels"]["alertname"] for a in only_b] == ["B"]
    # Time passing A's end drops it, though nothing else changed.
    clock.advance(101)
    assert [a["labels"]["alertname"] for a in (await c.get("/api/v2/alerts")).json()] == ["B"]
    # A new silence changes B's status at once.
    sil = {
        "matchers": [{"name": "alertname", "value": "B", "isRegex": False}],
        "startsAt": format_time(clock.now()),
        "endsAt": format_time(clock.now() + 60),
        "createdBy": "me",
        "comment": "c",
    }
    assert (await c.post("/api/v2/silences", json=sil)).status_code == 200
    (b,) = (await c.get("/api/v2/alerts")).json()
    assert b["status"]["state"] == "suppressed"
    # Its end (a time boundary, not a change) unmutes B in the next answer.
    clock.advance(61)
    (b,) = (await c.get("/api/v2/alerts")).json()
    assert b["status"]["state"] == "active"
    # A new alert shows up in the next read.
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "C"}}])
    assert {a["labels"]["alertname"] for a in (await c.get("/api/v2/alerts")).json()} == {"B", "C"}


async def test_repeated_group_reads_are_answered_from_cache_until_something_changes(api) -> None:
    c, engine, clock = api
    built = 0
    groups_of = engine.groups

    def counting(tenant_id: str = "default") -> list:
        nonlocal built
        built += 1
        return groups_of(tenant_id)

    engine.groups = counting  # type: ignore[method-assign]

    async def listed() -> list[tuple[str, str, str]]:
        return [
            (g["labels"]["alertname"], a["labels"]["instance"], a["status"]["state"])
            for g in (await c.get("/api/v2/alerts/groups")).json()
            for a in g["alerts"]
        ]

    await c.post(
        "/api/v2/alerts",
        json=[
            {"labels": {"alertname": "A", "instance": "a"}, "endsAt": format_time(T0 + 100)},
            {"labels": {"alertname": "B", "instance": "b"}, "endsAt": format_time(T0 + 900)},
        ],
    )
    first = await c.get("/api/v2/alerts/groups")
    assert (await c.get("/api/v2/alerts/groups")).content == first.content
    assert built == 1, "an unchanged answer is not built again"
    assert await listed() == [("A", "a", "active"), ("B", "b", "active")]
    clock.advance(101)  # A's end: it leaves the answer though nothing else changed
    assert await listed() == [("B", "b", "active")]
    sil = {
        "matchers": [{"name": "instance", "value": "b", "isRegex": False}],
        "startsAt": format_time(clock.now()),
        "endsAt": format_time(clock.now() + 60),
        "createdBy": "me",
        "comment": "c",
    }
    assert (await c.post("/api/v2/silences", json=sil)).status_code == 200
    assert await listed() == [("B", "b", "suppressed")]
    clock.advance(61)  # the silence's end
    assert await listed() == [("B", "b", "active")]
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "B", "instance": "b2"}}])
    assert await listed() == [("B", "b", "active"), ("B", "b2", "active")]
    # A reload regroups (a new dispatcher): the next answer follows the new grouping.
    await engine.reload(load_config_text(CONFIG.replace("group_by: [alertname]", "group_by: [instance]")))
    groups = (await c.get("/api/v2/alerts/groups")).json()
    assert sorted(g["labels"]["instance"] for g in groups) == ["b", "b2"]


async def test_group_reads_follow_alerts_routed_after_their_commit(api) -> None:
    # Ingest merges an alert into the store, waits for its commit, then routes it into its group:
    # a read in between must not leave the answer without the alert once it is routed.
    c, engine, clock = api
    await c.post("/api/v2/alerts", json=[{"labels": {"alertname": "A", "instance": "a"}}])
    b = Alert({"alertname": "A", "instance": "b"}, starts_at=clock.now(), ends_at=clock.now() + 300)
    (merged,) = engine.store.merge_all([b], clock.now())
    before = (await c.get("/api/v2/alerts/groups")).json()
    assert [a["labels"]["instance"] for g in before for a in g["alerts"]] == ["a"]
    engine.dispatcher.process([merged])
    after = (await c.get("/api/v2/alerts/groups")).json()
    assert [a["labels"]["instance"] for g in after for a in g["alerts"]] == ["a", "b"]
