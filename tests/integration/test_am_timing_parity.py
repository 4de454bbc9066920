"""tocsin against the real Alertmanager: the same scenarios, the same webhook batches.

Both servers run the same configuration at the same time; every scenario is played against both,
and the webhook deliveries are compared batch for batch: count, status, alert set, fingerprints,
every payload field, and time (within a second).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from peers import (
    ALERTMANAGER,
    Delivery,
    Server,
    WebhookSink,
    alertmanager_server,
    missing_binaries,
    tocsin_server,
)
from scenarios import Run, Scenario, build, config_yaml, summary_key

pytestmark = pytest.mark.slow

SCENARIOS = build()
#: Long enough for the last expected batch (13 s) plus a tick of slack to catch extra ones.
PLAY_SECONDS = 15.5
#: How far apart the two servers' deliveries of the same batch may be.
TIME_TOLERANCE = 1.0
#: How far a delivery may be from the time Alertmanager's rules predict.
EXPECT_TOLERANCE = 0.8


class Played:
    def __init__(self, run: Run, sink: WebhookSink, am: Server, tocsin: Server) -> None:
        self.run = run
        self.sink = sink
        self.am = am
        self.tocsin = tocsin

    def deliveries(self, who: str, receiver: str) -> list[Delivery]:
        return self.sink.at(f"/{who}/{receiver}")


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Played]:
    reason = missing_binaries(ALERTMANAGER)
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("parity")
    sink = WebhookSink()
    servers: list[Server] = []
    try:
        for who, make in (("am", alertmanager_server), ("tocsin", tocsin_server)):
            cfg = tmp / f"{who}.yml"
            cfg.write_text(config_yaml(sink.url, who))
            servers.append(make(cfg, tmp / who))
        for s in servers:
            s.start()
        for s in servers:
            s.wait_http_ok(f"{s.url}/-/ready")
        am, tocsin = servers
        run = Run([am, tocsin], sink, SCENARIOS)
        run.play(PLAY_SECONDS)
        yield Played(run, sink, am, tocsin)
    finally:
        for s in servers:
            s.stop()
        sink.close()


def _summary(sc: Scenario, d: Delivery) -> tuple[str, dict[str, str]]:
    p = d.payload
    return p["status"], {summary_key(sc.name, a["labels"]): a["status"] for a in p["alerts"]}


def _check_expected(sc: Scenario, receiver: str, got: list[Delivery], start: float) -> None:
    """Alertmanager's own deliveries must match what its documented rules predict."""
    want = list(sc.expected[receiver])
    unmatched = []
    for d in got:
        status, alerts = _summary(sc, d)
        t = d.at - start
        hit = next(
            (w for w in want if w[1] == status and w[2] == alerts and abs(w[0] - t) <= EXPECT_TOLERANCE),
            None,
        )
        if hit is None:
            unmatched.append((round(t, 2), status, alerts))
        else:
            want.remove(hit)
    assert not unmatched and not want, f"{receiver}: unexpected {unmatched}, missing {want}"


def _normalise(payload: dict[str, Any], server: Server) -> dict[str, Any]:
    """Drop what legitimately differs between two servers: their own URL and receipt times."""
    p = dict(payload)
    url = p.pop("externalURL")
    # Both default the host part (tocsin to localhost, Alertmanager to the hostname); the port is theirs.
    assert url.startswith("http://") and url.endswith(f":{server.port}"), url
    p["alerts"] = [{k: v for k, v in a.items() if k not in ("startsAt", "endsAt")} for a in p["alerts"]]
    return p


def _by_group(ds: list[Delivery]) -> dict[str, list[Delivery]]:
    out: dict[str, list[Delivery]] = {}
    for d in ds:
        out.setdefault(d.payload.get("groupKey", ""), []).append(d)
    return out


def _compare(played: Played, receiver: str, explicit_times: bool) -> None:
    am = _by_group(played.deliveries("am", receiver))
    ours = _by_group(played.deliveries("tocsin", receiver))
    assert sorted(ours) == sorted(am), f"{receiver}: group keys differ"
    for key, am_ds in am.items():
        our_ds = ours[key]
        assert len(our_ds) == len(am_ds), (
            f"{receiver} {key}: tocsin sent {len(our_ds)} notifications, Alertmanager {len(am_ds)}: "
            f"tocsin at {[round(d.at - played.run.start, 2) for d in our_ds]}, "
            f"Alertmanager at {[round(d.at - played.run.start, 2) for d in am_ds]}"
        )
        for i, (a, o) in enumerate(zip(am_ds, our_ds, strict=True)):
            assert abs(a.at - o.at) <= TIME_TOLERANCE, (
                f"{receiver} {key} #{i}: tocsin {o.at - played.run.start:.2f}s, "
                f"Alertmanager {a.at - played.run.start:.2f}s"
            )
            assert _normalise(o.payload, played.tocsin) == _normalise(a.payload, played.am)
            if explicit_times:
                # Both servers were sent the same startsAt/endsAt strings: they must echo them alike.
                assert [(x["startsAt"], x["endsAt"]) for x in o.payload["alerts"]] == [
                    (x["startsAt"], x["endsAt"]) for x in a.payload["alerts"]
                ]


@pytest.mark.parametrize("sc", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario_matches_alertmanager(played: Played, sc: Scenario) -> None:
    errors = [e for e in played.run.errors if e.startswith(f"{sc.name}:")]
    assert not errors, errors
    for receiver in sc.receivers:
        _check_expected(sc, receiver, played.deliveries("am", receiver), played.run.start)
        _compare(played, receiver, explicit_times=sc.name != "resolve-timeout")


def test_nothing_reaches_the_default_receiver(played: Played) -> None:
    assert played.deliveries("am", "default") == []
    assert played.deliveries("tocsin", "default") == []


def test_webhook_payload_fields(played: Played) -> None:
    """The payload scenario, field by field, on tocsin's side (the parity test covers equality)."""
    [d] = played.deliveries("tocsin", "payload")
    p = d.payload
    assert p["version"] == "4"
    assert p["receiver"] == "payload"
    assert p["status"] == "firing"
    assert p["groupKey"] == '{}/{scenario="payload"}:{alertname="Payload", cluster="eu"}'
    assert p["groupLabels"] == {"alertname": "Payload", "cluster": "eu"}
    assert p["commonLabels"] == {"alertname": "Payload", "cluster": "eu", "job": "api", "scenario": "payload"}
    # Computed over the two alerts sent, not the truncated third (summary "third"), as Alertmanager does.
    assert p["commonAnnotations"] == {"summary": "same", "runbook": "https://runbooks.example/payload"}
    assert p["truncatedAlerts"] == 1
    assert p["externalURL"].startswith("http://")
    assert [a["labels"]["instance"] for a in p["alerts"]] == ["a", "b"]
    first = p["alerts"][0]
    assert set(first) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert first["endsAt"] == "0001-01-01T00:00:00Z"
    assert len(first["fingerprint"]) == 16
    [am] = played.deliveries("am", "payload")
    assert [a["fingerprint"] for a in p["alerts"]] == [a["fingerprint"] for a in am.payload["alerts"]]
