"""Bad input over HTTP: tocsin answers with the status codes the real Alertmanager answers with."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from peers import ALERTMANAGER, Server, alertmanager_server, http, missing_binaries, post_json, tocsin_server
from scenarios import rfc3339

pytestmark = pytest.mark.slow

CONFIG = """
route:
  receiver: blackhole
receivers:
  - name: blackhole
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    reason = missing_binaries(ALERTMANAGER)
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("badinput")
    cfg = tmp / "config.yml"
    cfg.write_text(CONFIG)
    pair = [alertmanager_server(cfg, tmp / "am"), tocsin_server(cfg, tmp / "tocsin")]
    try:
        for s in pair:
            s.start()
        for s in pair:
            s.wait_http_ok(f"{s.url}/-/ready")
        yield pair[0], pair[1]
    finally:
        for s in pair:
            s.stop()


def _silence(matchers: Any, start: float = -60, end: float = 3600, **extra: Any) -> str:
    now = time.time()
    body = {
        "matchers": matchers,
        "startsAt": rfc3339(now + start),
        "endsAt": rfc3339(now + end),
        "createdBy": "test",
        "comment": "bad input test",
        **extra,
    }
    return json.dumps(body)


def _m(name: str, value: str, regex: bool = False, equal: bool = True) -> dict[str, Any]:
    return {"name": name, "value": value, "isRegex": regex, "isEqual": equal}


def _alerts(*alerts: dict[str, Any]) -> str:
    return json.dumps(list(alerts))


NOW = time.time()
UNKNOWN_ID = "7d8b1d8a-0b1a-4a6e-9f58-3c1f2e4d5a6b"

# (case id, method, path, body)
CASES: list[tuple[str, str, str, str | None]] = [
    ("alerts-malformed-json", "POST", "alerts", '[{"labels": {"a": "b"}'),
    ("alerts-not-an-array", "POST", "alerts", '{"labels": {"alertname": "X"}}'),
    ("alerts-string-body", "POST", "alerts", '"hello"'),
    ("alerts-empty-array", "POST", "alerts", "[]"),
    ("alerts-missing-labels", "POST", "alerts", '[{"annotations": {"a": "b"}}]'),
    ("alerts-labels-not-object", "POST", "alerts", '[{"labels": "alertname=X"}]'),
    ("alerts-empty-labels", "POST", "alerts", '[{"labels": {}}]'),
    ("alerts-invalid-label-name", "POST", "alerts", _alerts({"labels": {"alertname": "X", "0bad": "v"}})),
    ("alerts-dash-label-name", "POST", "alerts", _alerts({"labels": {"alertname": "X", "bad-name": "v"}})),
    ("alerts-bad-time", "POST", "alerts", _alerts({"labels": {"alertname": "X"}, "startsAt": "yesterday"})),
    (
        "alerts-ends-before-starts",
        "POST",
        "alerts",
        _alerts(
            {"labels": {"alertname": "Backwards"}, "startsAt": rfc3339(NOW), "endsAt": rfc3339(NOW - 60)}
        ),
    ),
    ("alerts-filter-bad-matcher", "GET", "alerts?filter=%7Bfoo%3D", None),
    ("alerts-active-yes", "GET", "alerts?active=yes&silenced=off", None),
    ("alerts-array-of-strings", "POST", "alerts", '["alertname=X"]'),
    ("alerts-label-value-number", "POST", "alerts", '[{"labels": {"alertname": 1}}]'),
    ("alerts-starts-number", "POST", "alerts", '[{"labels": {"alertname": "X"}, "startsAt": 5}]'),
    ("groups-filter-bad-matcher", "GET", "alerts/groups?filter=%3D%3D", None),
    ("silences-filter-bad-matcher", "GET", "silences?filter=%7Bfoo", None),
    ("silence-malformed-json", "POST", "silences", '{"matchers": ['),
    ("silence-not-an-object", "POST", "silences", "[]"),
    ("silence-missing-fields", "POST", "silences", '{"matchers": []}'),
    ("silence-matchers-not-array", "POST", "silences", _silence("alertname=X")),
    ("silence-created-by-number", "POST", "silences", _silence([_m("alertname", "X")], createdBy=5)),
    ("silence-id-number", "POST", "silences", _silence([_m("alertname", "X")], id=5)),
    ("silence-matcher-not-object", "POST", "silences", _silence(["alertname=X"])),
    ("silence-matcher-missing-isregex", "POST", "silences", _silence([{"name": "a", "value": "b"}])),
    ("silence-end-before-start", "POST", "silences", _silence([_m("alertname", "X")], start=60, end=30)),
    ("silence-end-in-past", "POST", "silences", _silence([_m("alertname", "X")], start=-120, end=-60)),
    ("silence-no-matchers", "POST", "silences", _silence([])),
    ("silence-bad-regex", "POST", "silences", _silence([_m("alertname", "(unclosed", regex=True)])),
    ("silence-bad-label-name", "POST", "silences", _silence([_m("0bad", "x")])),
    ("silence-matches-empty", "POST", "silences", _silence([_m("alertname", ".*", regex=True)])),
    (
        "silence-all-match-empty",
        "POST",
        "silences",
        _silence([_m("alertname", ""), _m("job", "x", equal=False)]),
    ),
    ("silence-unknown-id-update", "POST", "silences", _silence([_m("alertname", "X")], id=UNKNOWN_ID)),
    ("silence-get-unknown", "GET", f"silence/{UNKNOWN_ID}", None),
]


@pytest.mark.parametrize(("method", "path", "body"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_same_status_as_alertmanager(
    servers: tuple[Server, Server], method: str, path: str, body: str | None
) -> None:
    am, tocsin = servers
    want = http(method, am.api(path), body)
    got = http(method, tocsin.api(path), body)
    assert got.status == want.status, (
        f"tocsin {got.status} {got.body[:300]!r}, Alertmanager {want.status} {want.body[:300]!r}"
    )
    if got.status >= 400 and got.status != 404:
        # tocsin names the problem rather than answering with an empty body.
        assert len(got.body.strip()) > 2, got.body


def test_valid_alerts_in_a_bad_batch_are_still_stored(servers: tuple[Server, Server]) -> None:
    now = time.time()
    batch = [
        {"labels": {"alertname": "GoodOne", "case": "mixed"}, "startsAt": rfc3339(now)},
        {
            "labels": {"alertname": "BadOne", "case": "mixed"},
            "startsAt": rfc3339(now),
            "endsAt": rfc3339(now - 5),
        },
        {"labels": {"alertname": "BadName", "case": "mixed", "in-valid": "x"}},
    ]
    for server in servers:
        r = post_json(server.api("alerts"), batch)
        assert r.status == 400, (server.name, r.status, r.body)
        stored = http("GET", server.api("alerts?filter=case%3D%22mixed%22")).json()
        assert [a["labels"]["alertname"] for a in stored] == ["GoodOne"], (server.name, stored)
    our_message = http("POST", servers[1].api("alerts"), json.dumps(batch)).body.decode()
    assert "end" in our_message.lower() and "in-valid" in our_message, our_message


def test_delete_unknown_silence(servers: tuple[Server, Server]) -> None:
    """Alertmanager 0.25 answers 500 here (a documented bug, 404 upstream since); tocsin says 404."""
    am, tocsin = servers
    assert http("DELETE", am.api(f"silence/{UNKNOWN_ID}")).status in (404, 500)
    assert http("DELETE", tocsin.api(f"silence/{UNKNOWN_ID}")).status == 404


def test_active_not_a_boolean(servers: tuple[Server, Server]) -> None:
    """A deliberate difference: Alertmanager reads any unknown word as false; tocsin says what is wrong."""
    am, tocsin = servers
    assert http("GET", am.api("alerts?active=maybe")).status == 200
    r = http("GET", tocsin.api("alerts?active=maybe"))
    assert r.status == 400
    assert b"active" in r.body and b"maybe" in r.body


def test_update_keeps_or_replaces_the_id_like_alertmanager(servers: tuple[Server, Server]) -> None:
    """Changing only the end of an active silence updates it in place (the start echoed back from
    GET, as amtool does); changing matchers makes a new silence and expires the old one."""
    results = []
    for server in servers:
        first = post_json(server.api("silences"), json.loads(_silence([_m("alertname", "Upd")]))).json()
        sid = first["silenceID"]
        got = http("GET", server.api(f"silence/{sid}")).json()
        body = {k: got[k] for k in ("id", "matchers", "startsAt", "createdBy", "comment")}
        body["endsAt"] = rfc3339(time.time() + 7200)
        same = post_json(server.api("silences"), body).json()["silenceID"]
        body["matchers"] = [_m("alertname", "Upd2")]
        other = post_json(server.api("silences"), body).json()["silenceID"]
        old_state = http("GET", server.api(f"silence/{sid}")).json()["status"]["state"]
        results.append((same == sid, other == sid, old_state))
    assert results[1] == results[0], results
    assert results[0] == (True, False, "expired")
