"""Real peers, real time: Prometheus fires → tocsin opens an incident → level 1 paged (webhook sink)
→ no ack → level 2 after the wait → ack through the signed link → escalation stops; the CLI shows
the timeline. Escalation waits are at their minimum, one minute, so this test takes about 70 s;
the same flow on simulated time is in tests/unit/incidents/test_incidents_engine_e2e.py."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from peers import PROMETHEUS, missing_binaries, prometheus_process
from tocsin_proc import Sink, start_tocsin
from typer.testing import CliRunner

from testkit import free_port
from tocsin.cli import app

pytestmark = pytest.mark.slow

RULES = """
groups:
  - name: e2e
    interval: 1s
    rules:
      - alert: DatabaseDown
        expr: vector(1) > 0
        for: 0s
        labels: {severity: critical}
        annotations: {summary: "the database is down"}
"""
PROMETHEUS_CONFIG = """
global: {{evaluation_interval: 1s}}
rule_files: [{rules}]
alerting:
  alertmanagers:
    - static_configs: [{{targets: ["127.0.0.1:{port}"]}}]
"""
CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  escalation_policy: standard
receivers:
  - name: team
    webhook_configs: [{{url: "{sink}/team"}}]
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
      - {{targets: [{{user: ana}}], wait: 1m}}
      - {{targets: [{{user: bob}}], wait: 1m}}
    repeat: 2
links:
  secrets: ["a-secret-of-at-least-16-bytes"]
"""


def pages(sink: Sink) -> list[str]:
    return [p["tocsin"]["user"] for p in sink.payloads if "tocsin" in p]


def wait_for(cond, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def test_prometheus_to_incident_escalation_and_signed_link_ack(tmp_path: Path) -> None:
    reason = missing_binaries(PROMETHEUS)
    if reason:
        pytest.skip(reason)
    sink = Sink()
    base = sink.url.removesuffix("/hook")
    port = free_port()
    (tmp_path / "am.yml").write_text(CONFIG.format(sink=base))
    (tmp_path / "incidents.yml").write_text(INCIDENTS.format(sink=base))
    (tmp_path / "rules.yml").write_text(RULES)
    prom_cfg = PROMETHEUS_CONFIG.format(rules=tmp_path / "rules.yml", port=port)
    (tmp_path / "prometheus.yml").write_text(prom_cfg)
    tocsin = start_tocsin(
        tmp_path / "am.yml",
        [f"--storage.path={tmp_path / 'data'}", f"--incidents.file={tmp_path / 'incidents.yml'}"],
        port,
        tmp_path / "tocsin.log",
    )
    prom = prometheus_process(tmp_path / "prometheus.yml", tmp_path)
    prom.start()
    try:
        log = tmp_path / "tocsin.log"
        assert wait_for(lambda: pages(sink) == ["ana"], 20), (pages(sink), log.read_text()[-3000:])
        assert wait_for(lambda: pages(sink) == ["ana", "bob"], 70), pages(sink)
        bob = next(p for p in sink.payloads if p.get("tocsin", {}).get("user") == "bob")
        incident_id = bob["tocsin"]["incident_id"]
        ack_url = bob["tocsin"]["ack_url"].replace("http://localhost:", "http://127.0.0.1:")
        assert httpx.post(ack_url).status_code == 200
        time.sleep(3)
        assert pages(sink) == ["ana", "bob"]
        url = f"http://127.0.0.1:{port}"
        shown = CliRunner().invoke(app, ["incidents", "show", incident_id, "--url", url])
        assert shown.exit_code == 0, shown.output
        for expected in ("created", "escalated", "delivery", "acknowledged"):
            assert expected in shown.output
        listed = CliRunner().invoke(app, ["incidents", "list", "--json", "--url", url])
        assert '"state": "acknowledged"' in listed.output
    finally:
        prom.stop()
        tocsin.terminate()
        tocsin.wait(10)
        sink.close()
