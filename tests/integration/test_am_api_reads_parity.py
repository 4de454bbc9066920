"""Reads of API v2 (alerts, groups, receivers, silences, status) compared with the real Alertmanager.

The same alerts and silences go to both servers; every GET must answer the same JSON once times and
silence ids (which differ between two servers by nature) are normalised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from parity_scenarios import rfc3339
from peers import ALERTMANAGER, Server, alertmanager_server, http, missing_binaries, post_json, tocsin_server

pytestmark = pytest.mark.slow

CONFIG = """
route:
  receiver: default
  group_by: [alertname, cluster]
  group_wait: 1s
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
    - matchers: [team="db"]
      receiver: db
    - matchers: [team="muted"]
      receiver: db
      mute_time_intervals: [always]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
time_intervals:
  - name: always
    time_intervals:
      - weekdays: ["sunday:saturday"]
receivers:
  - name: default
  - name: pager
  - name: db
"""

TIME_KEYS = {"startsAt", "endsAt", "updatedAt"}


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    reason = missing_binaries(ALERTMANAGER)
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("reads")
    cfg = tmp / "config.yml"
    cfg.write_text(CONFIG)
    pair = {"am": alertmanager_server(cfg, tmp / "am"), "tocsin": tocsin_server(cfg, tmp / "tocsin")}
    try:
        for s in pair.values():
            s.start()
        for s in pair.values():
            s.wait_http_ok(f"{s.url}/-/ready")
        _load(pair)
        yield pair
    finally:
        for s in pair.values():
            s.stop()


def _load(servers: dict[str, Server]) -> None:
    now = time.time()

    def a(name: str, **labels: str) -> dict[str, Any]:
        return {
            "labels": {"alertname": name, **labels},
            "annotations": {"summary": f"{name} on {labels.get('cluster', '-')}"},
            "startsAt": rfc3339(now - 30),
            "endsAt": rfc3339(now + 600),
            "generatorURL": "http://prom.example/graph",
        }

    alerts = [
        a("Down", severity="critical", cluster="a", team="db"),
        a("Slow", severity="warning", cluster="a", team="db"),  # inhibited by Down on cluster a
        a("Slow", severity="warning", cluster="b", team="db"),
        a("Noisy", severity="info", cluster="b", team="web"),  # silenced below
        a("Gone", severity="info", cluster="c") | {"endsAt": rfc3339(now - 1)},  # already resolved
    ]
    silence = {
        "matchers": [{"name": "alertname", "value": "Noisy", "isRegex": False, "isEqual": True}],
        "startsAt": rfc3339(now - 5),
        "endsAt": rfc3339(now + 3600),
        "createdBy": "reads-test",
        "comment": "noisy",
    }
    pending = silence | {
        "matchers": [{"name": "team", "value": "d.*", "isRegex": True, "isEqual": True}],
        "startsAt": rfc3339(now + 1800),
        "comment": "later",
    }
    for s in servers.values():
        for body in (silence, pending):
            r = post_json(s.api("silences"), body)
            assert r.status == 200, (s.name, r.body)
        r = post_json(s.api("alerts"), alerts)
        assert r.status == 200, (s.name, r.body)
    # Alertmanager marks muted alerts only once their group has been through the pipeline.
    time.sleep(2.0)


def _normalise(doc: Any, ids: dict[str, str]) -> Any:
    if isinstance(doc, dict):
        out = {}
        for k, v in doc.items():
            # mutedBy is newer than Alertmanager 0.25 (tocsin answers like upstream does).
            if k in TIME_KEYS or k == "mutedBy":
                continue
            if k in ("id", "silenceID"):
                v = ids.setdefault(v, f"<id{len(ids)}>")
            if k == "silencedBy":
                v = sorted(ids.setdefault(x, f"<id{len(ids)}>") for x in v)
            out[k] = _normalise(v, ids)
        return out
    if isinstance(doc, list):
        return [_normalise(x, ids) for x in doc]
    return doc


def _silence_ids_in_order(server: Server) -> dict[str, str]:
    """Map each server's silence ids to names by comment, so silencedBy can be compared."""
    return {s["id"]: f"<{s['comment']}>" for s in http("GET", server.api("silences")).json()}


def _get(servers: dict[str, Server], path: str) -> tuple[Any, Any]:
    out = []
    for s in servers.values():
        r = http("GET", s.api(path))
        assert r.status == 200, (s.name, path, r.status, r.body)
        out.append(_normalise(r.json(), _silence_ids_in_order(s)))
    return out[0], out[1]


READS = [
    "alerts",
    "alerts?silenced=false",
    "alerts?inhibited=false",
    "alerts?active=false",
    "alerts?silenced=false&inhibited=false&active=true",
    "alerts?filter=team%3D%22db%22",
    "alerts?filter=severity%3D~%22warn.%2A%22&filter=cluster%21%3D%22b%22",
    "alerts?receiver=pager",
    "alerts?receiver=d.%2A",
    "alerts/groups",
    "alerts/groups?silenced=false&inhibited=false",
    "alerts/groups?filter=cluster%3D%22a%22",
    "alerts/groups?receiver=db",
    "receivers",
    "silences",
    "silences?filter=alertname%3D%22Noisy%22",
    "silences?filter=team%3D~%22d.%2A%22",
]


@pytest.mark.parametrize("path", READS)
def test_read_matches_alertmanager(servers: dict[str, Server], path: str) -> None:
    am, ours = _get(servers, path)
    assert ours == am


def test_states_are_what_the_rules_say(servers: dict[str, Server]) -> None:
    """Guard against both servers agreeing on nothing: the loaded data exercises every state."""
    am, _ = _get(servers, "alerts")
    states = {
        (a["labels"]["alertname"], a["labels"]["cluster"]): (
            a["status"]["state"],
            bool(a["status"]["inhibitedBy"]),
            bool(a["status"]["silencedBy"]),
        )
        for a in am
    }
    assert states == {
        ("Down", "a"): ("active", False, False),
        ("Slow", "a"): ("suppressed", True, False),
        ("Slow", "b"): ("active", False, False),
        ("Noisy", "b"): ("suppressed", False, True),
    }


def test_status_cluster_and_version(servers: dict[str, Server]) -> None:
    docs = {k: http("GET", s.api("status")).json() for k, s in servers.items()}
    assert docs["tocsin"]["cluster"]["status"] == docs["am"]["cluster"]["status"]
    assert docs["tocsin"]["versionInfo"]["version"].split(".")[:2] == ["0", "25"]
    assert set(docs["tocsin"]) >= {"cluster", "versionInfo", "config", "uptime"}


def test_time_muted_alert_state(servers: dict[str, Server]) -> None:
    """A documented difference: Alertmanager 0.25 shows an alert muted by a time interval as active;
    upstream (0.27+) and tocsin show it suppressed with mutedBy naming the interval."""
    now = time.time()
    quiet = {
        "labels": {"alertname": "Quiet", "team": "muted", "cluster": "c"},
        "startsAt": rfc3339(now),
        "endsAt": rfc3339(now + 600),
    }
    for s in servers.values():
        assert post_json(s.api("alerts"), [quiet]).status == 200
    time.sleep(1.5)  # past group_wait, so Alertmanager has run the group through its pipeline
    state = {}
    for k, s in servers.items():
        [a] = http("GET", s.api("alerts?filter=alertname%3D%22Quiet%22")).json()
        state[k] = (a["status"]["state"], a["status"].get("mutedBy"))
    assert state == {"am": ("active", None), "tocsin": ("suppressed", ["always"])}
