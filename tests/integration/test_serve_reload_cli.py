"""The served process: flags, reload by SIGHUP and /-/reload (bad config refused, running one
kept), route prefix, log formats; and the CLI commands users run first."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest
from tocsin_proc import start_tocsin
from typer.testing import CliRunner

from testkit import free_port
from tocsin.cli import app

GOOD = """
route:
  receiver: one
receivers:
  - name: one
"""
GOOD2 = GOOD + "  - name: two\n"
BAD = """
route:
  receiver: one
receivers:
  - name: one
    webhook_configs:
      - url: "http://x"
        bogus_key: 1
"""

runner = CliRunner()


@pytest.mark.slow
def test_reload_refuses_bad_config_and_keeps_running_one(tmp_path: Path) -> None:
    cfg = tmp_path / "am.yml"
    cfg.write_text(GOOD)
    port = free_port()
    log = tmp_path / "log"
    proc = start_tocsin(cfg, [f"--storage.path={tmp_path}/d", "--log.format=json"], port, log)
    base = f"http://127.0.0.1:{port}"
    try:
        httpx.post(f"{base}/api/v2/alerts", json=[{"labels": {"alertname": "Keep"}}])
        cfg.write_text(BAD)
        r = httpx.post(f"{base}/-/reload")
        assert r.status_code == 500
        assert f"{cfg}:8" in r.text and "bogus_key" in r.text
        assert httpx.get(f"{base}/api/v2/receivers").json() == [{"name": "one"}]
        assert [a["labels"]["alertname"] for a in httpx.get(f"{base}/api/v2/alerts").json()] == ["Keep"]
        cfg.write_text(GOOD2)
        proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline:
            if len(httpx.get(f"{base}/api/v2/receivers").json()) == 2:
                break
            time.sleep(0.1)
        assert httpx.get(f"{base}/api/v2/receivers").json() == [{"name": "one"}, {"name": "two"}]
        assert [a["labels"]["alertname"] for a in httpx.get(f"{base}/api/v2/alerts").json()] == ["Keep"]
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert any("reload refused" in line["msg"] for line in lines)
    assert {"ts", "level", "caller", "msg"} <= set(lines[0])


@pytest.mark.slow
def test_route_prefix_from_external_url(tmp_path: Path) -> None:
    port = free_port()
    proc = start_tocsin(
        None,
        [f"--storage.path={tmp_path}", "--web.external-url=http://alerts.example.com/am/"],
        port,
        tmp_path / "log",
        ready_path="/am/-/ready",
    )
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/am/api/v2/status").status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/api/v2/status").status_code == 404
    finally:
        proc.terminate()
        proc.wait(10)


def test_check_config_good_and_bad(tmp_path: Path) -> None:
    good = tmp_path / "good.yml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yml"
    bad.write_text(BAD)
    r = runner.invoke(app, ["check-config", str(good)])
    assert r.exit_code == 0, r.output
    assert "SUCCESS" in r.output and "receivers" in r.output
    r = runner.invoke(app, ["check-config", str(good), str(bad)])
    assert r.exit_code == 1
    assert "FAILED" in r.output and f"{bad}:8" in r.output
    r = runner.invoke(app, ["check-config", str(tmp_path / "missing.yml")])
    assert r.exit_code == 1 and "missing.yml" in r.output


def test_serve_rejects_bad_flags(tmp_path: Path) -> None:
    for args, needle in (
        (["--web.listen-address", "nonsense"], "listen-address"),
        (["--log.level", "loud"], "log.level"),
        (["--data.retention", "forever"], "forever"),
        (["--config.file", str(tmp_path / "nope.yml")], "nope.yml"),
        (["--storage.url", "mysql://x"], "unsupported storage URL"),
    ):
        r = runner.invoke(app, ["serve", "--storage.path", str(tmp_path / "d"), *args])
        assert r.exit_code == 2, (args, r.output)
        assert needle in r.output, (args, r.output)


def test_every_command_has_help() -> None:
    """Walk the whole command tree, so a new command without help text fails here."""
    from typing import Any

    import typer

    def walk(cmd: Any, path: list[str]) -> list[tuple[list[str], Any]]:
        # typer carries its own copy of click, so groups are recognised by what they can do
        out = [(path, cmd)]
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(None):
                sub = cmd.get_command(None, name)
                assert sub is not None
                out += walk(sub, [*path, name])
        return out

    commands = walk(typer.main.get_command(app), [])
    assert len(commands) >= 20
    for path, cmd in commands[1:]:
        assert (cmd.help or "").strip(), f"no help text: tocsin {' '.join(path)}"
        r = runner.invoke(app, [*path, "--help"])
        assert r.exit_code == 0 and "Usage" in r.output, path
