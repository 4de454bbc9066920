"""`tocsin template render`, the preview API, and previews from a webhook payload."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from typer.testing import CliRunner

from tocsin.api.template_preview import template_routes
from tocsin.cli import app
from tocsin.notify.payload import webhook_body
from tocsin.notify.templates import TemplateError, sample_notification
from tocsin.notify.templates.preview import preview

runner = CliRunner()

CONFIG = """
route: {receiver: team}
receivers:
- name: team
  slack_configs:
  - api_url: https://hooks.slack.com/services/T/B/X
    title: '{{ .Status | toUpper }} {{ .CommonLabels.alertname }}'
  email_configs:
  - to: a@example.com
    from: b@example.com
    smarthost: mail.example.com:587
    headers: {Subject: 'Alert {{ .GroupLabels.alertname }}'}
"""


def test_cli_renders_channel_defaults() -> None:
    r = runner.invoke(app, ["template", "render", "pagerduty", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"description": "[FIRING:2] HighLatency"}


def test_cli_set_and_status() -> None:
    r = runner.invoke(
        app,
        ["template", "render", "slack", "--status", "resolved", "--set", "title={{ .Status }}!", "--json"],
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["title"] == "resolved!"


def test_cli_receiver_from_config(tmp_path: Path) -> None:
    cfg = tmp_path / "alertmanager.yml"
    cfg.write_text(CONFIG)
    r = runner.invoke(app, ["template", "render", "--config.file", str(cfg), "--receiver", "team", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["slack[0]"]["title"] == "FIRING HighLatency"
    assert out["email[0]"]["subject"] == "Alert HighLatency"
    assert out["email[0]"]["html"].lstrip().lower().startswith("<!doctype html>")


def test_cli_renders_given_payload(tmp_path: Path) -> None:
    n = sample_notification()
    n.common_labels["alertname"] = "FromFile"
    data = tmp_path / "payload.json"
    data.write_bytes(webhook_body(n))
    r = runner.invoke(
        app,
        ["template", "render", "slack", "--data", str(data), "--set", "title={{ .CommonLabels.alertname }}"],
    )
    assert r.exit_code == 0, r.output
    assert "FromFile" in r.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["fax"], "unknown channel 'fax'"),
        (["slack", "--set", "nope"], "PART=TEMPLATE"),
        (["slack", "--set", "title={% if %}"], "line 1"),
        ([], "give a channel"),
    ],
)
def test_cli_errors_are_clear(args: list[str], message: str) -> None:
    r = runner.invoke(app, ["template", "render", *args])
    assert r.exit_code != 0
    assert message in " ".join(r.output.split())


def test_payload_errors_name_the_field() -> None:
    with pytest.raises(TemplateError, match="non-empty 'alerts'"):
        preview("slack", payload={"alerts": []})
    with pytest.raises(TemplateError, match=r"alerts\[0\] needs a 'labels'"):
        preview("slack", payload={"alerts": [{}]})


async def test_preview_api() -> None:
    app_ = Starlette(routes=template_routes())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app_), base_url="http://t") as c:
        ok = await c.post(
            "/api/tocsin/v1/templates/render",
            json={"channel": "telegram", "overrides": {"message": "{{ .Status }}"}},
        )
        assert ok.status_code == 200 and ok.json() == {"parts": {"message": "firing"}}
        bad = await c.post(
            "/api/tocsin/v1/templates/render", json={"channel": "slack", "overrides": {"title": "{{ if }}"}}
        )
        assert bad.status_code == 400 and "slack title" in bad.json()["error"]
        missing = await c.post("/api/tocsin/v1/templates/render", json={})
        assert missing.status_code == 400 and "channel" in missing.json()["error"]
