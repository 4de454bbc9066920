"""Prometheus evaluates alerting rules and sends to tocsin (and to Alertmanager, for comparison).

The rule fires from its first evaluation; a webhook receiver must get the group with the rule's
labels and annotations. Then the rule file is swapped for one whose expression is false, Prometheus
is reloaded, and the resolved notification must follow, from tocsin as from Alertmanager.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from peers import (
    ALERTMANAGER,
    PROMETHEUS,
    Server,
    WebhookSink,
    alertmanager_server,
    http,
    missing_binaries,
    prometheus_process,
    tocsin_server,
)

pytestmark = pytest.mark.slow

RULES = """
groups:
  - name: peers
    interval: 1s
    rules:
      - alert: PeersAlwaysFiring
        expr: {expr}
        for: 0s
        labels:
          severity: page
          team: peers
        annotations:
          summary: "value is {{{{ $value }}}}"
"""

AM_CONFIG = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
"""

PROMETHEUS_CONFIG = """
global:
  evaluation_interval: 1s
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs:
        - targets: [{targets}]
"""


class Setup:
    def __init__(self, sink: WebhookSink, am: Server, tocsin: Server, prom: Server, rules: Path) -> None:
        self.sink, self.am, self.tocsin, self.prom, self.rules = sink, am, tocsin, prom, rules


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    reason = missing_binaries(PROMETHEUS, ALERTMANAGER)
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("prometheus")
    sink = WebhookSink()
    started: list[Server] = []
    try:
        servers = {}
        for who, make in (("am", alertmanager_server), ("tocsin", tocsin_server)):
            cfg = tmp / f"{who}.yml"
            cfg.write_text(AM_CONFIG.format(url=f"{sink.url}/{who}/hook"))
            servers[who] = make(cfg, tmp / who)
        rules = tmp / "rules.yml"
        rules.write_text(RULES.format(expr="vector(1) > 0"))
        prom_cfg = tmp / "prometheus.yml"
        targets = ", ".join(f"'127.0.0.1:{s.port}'" for s in servers.values())
        prom_cfg.write_text(PROMETHEUS_CONFIG.format(rules=rules, targets=targets))
        prom = prometheus_process(prom_cfg, tmp / "prom")
        for s in [*servers.values(), prom]:
            s.start()
            started.append(s)
        for s in servers.values():
            s.wait_http_ok(f"{s.url}/-/ready")
        prom.wait_http_ok(f"{prom.url}/-/ready")
        yield Setup(sink, servers["am"], servers["tocsin"], prom, rules)
    finally:
        for s in reversed(started):
            s.stop()
        sink.close()


def test_rule_fires_then_resolves_after_reload(setup: Setup) -> None:
    sink = setup.sink
    fired = sink.wait_for("/tocsin/hook", 1, timeout=30)
    assert fired, f"no notification from tocsin; tocsin log:\n{setup.tocsin.log_tail()}"
    first = fired[0].payload
    assert first["status"] == "firing"
    assert first["groupLabels"] == {"alertname": "PeersAlwaysFiring"}
    assert first["commonLabels"] == {"alertname": "PeersAlwaysFiring", "severity": "page", "team": "peers"}
    assert first["commonAnnotations"] == {"summary": "value is 1"}
    [a] = first["alerts"]
    assert a["status"] == "firing"
    assert a["endsAt"] == "0001-01-01T00:00:00Z"
    assert "/graph?g0.expr=" in a["generatorURL"]

    # What tocsin's API shows while the rule fires.
    listed = http("GET", setup.tocsin.api("alerts?filter=alertname%3D%22PeersAlwaysFiring%22")).json()
    assert [x["labels"]["team"] for x in listed] == ["peers"]
    assert listed[0]["fingerprint"] == a["fingerprint"]

    # Stop the rule firing: same alert, false expression; Prometheus then sends it resolved.
    setup.rules.write_text(RULES.format(expr="vector(1) < 0"))
    r = http("POST", f"{setup.prom.url}/-/reload")
    assert r.status == 200, r.body
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(d.payload["status"] == "resolved" for d in sink.at("/tocsin/hook")) and any(
            d.payload["status"] == "resolved" for d in sink.at("/am/hook")
        ):
            break
        time.sleep(0.1)
    ours = sink.at("/tocsin/hook")
    resolved = [d.payload for d in ours if d.payload["status"] == "resolved"]
    assert resolved, f"no resolved notification; got {[d.payload['status'] for d in ours]}"
    [ra] = resolved[0]["alerts"]
    assert ra["status"] == "resolved"
    assert ra["fingerprint"] == a["fingerprint"]
    assert ra["endsAt"] != "0001-01-01T00:00:00Z"

    # Alertmanager, fed by the same Prometheus, sent the same sequence of notifications.
    am = sink.at("/am/hook")
    summary = [(d.payload["status"], [x["fingerprint"] for x in d.payload["alerts"]]) for d in ours]
    assert summary == [(d.payload["status"], [x["fingerprint"] for x in d.payload["alerts"]]) for d in am]
    for o, m in zip(ours, am, strict=True):
        assert abs(o.at - m.at) <= 1.0, (o.at, m.at)
        assert o.payload["groupKey"] == m.payload["groupKey"]
        assert [x["labels"] for x in o.payload["alerts"]] == [x["labels"] for x in m.payload["alerts"]]
        assert [x["startsAt"] for x in o.payload["alerts"]] == [x["startsAt"] for x in m.payload["alerts"]]
