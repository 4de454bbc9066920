"""amtool, the real client, against tocsin and against the real Alertmanager.

Every command runs against both servers (same configuration); tocsin must succeed where
Alertmanager does and print the same thing once times and silence ids are normalised.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from peers import ALERTMANAGER, AMTOOL, Server, alertmanager_server, missing_binaries, tocsin_server

pytestmark = pytest.mark.slow

CONFIG = """
route:
  receiver: default
  group_by: [alertname]
  routes:
    - matchers: [severity="critical"]
      receiver: pager
      continue: true
    - matchers: [team=~"db|infra"]
      receiver: infra
      continue: true
    - matchers: [team="db"]
      receiver: pager
receivers:
  - name: default
  - name: pager
  - name: infra
"""

TIME_RE = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?( UTC|Z)")
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    reason = missing_binaries(ALERTMANAGER, AMTOOL)
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("amtool")
    cfg = tmp / "config.yml"
    cfg.write_text(CONFIG)
    pair = {"am": alertmanager_server(cfg, tmp / "am"), "tocsin": tocsin_server(cfg, tmp / "tocsin")}
    try:
        for s in pair.values():
            s.start()
        for s in pair.values():
            s.wait_http_ok(f"{s.url}/-/ready")
        yield pair
    finally:
        for s in pair.values():
            s.stop()


def amtool(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TZ": "UTC"}
    return subprocess.run(
        [AMTOOL, f"--alertmanager.url={server.url}", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        input=stdin,
        check=False,
    )


def normalise(text: str) -> str:
    """Times and silence ids differ between two servers by nature; the rest must not."""
    ids: dict[str, str] = {}
    text = TIME_RE.sub("<time>", text)
    return UUID_RE.sub(lambda m: ids.setdefault(m.group(0), f"<id{len(ids)}>"), text)


def both(servers: dict[str, Server], *args: str) -> dict[str, subprocess.CompletedProcess[str]]:
    return {name: amtool(s, *args) for name, s in servers.items()}


def assert_same(results: dict[str, subprocess.CompletedProcess[str]], ok: bool = True) -> str:
    am, ours = results["am"], results["tocsin"]
    assert (ours.returncode == 0) is ok, f"tocsin rc={ours.returncode}: {ours.stdout}{ours.stderr}"
    assert (am.returncode == 0) is ok, f"Alertmanager rc={am.returncode}: {am.stdout}{am.stderr}"
    assert normalise(ours.stdout) == normalise(am.stdout), (
        f"tocsin printed:\n{ours.stdout}\nAlertmanager printed:\n{am.stdout}"
    )
    return ours.stdout


def _json_without_times(text: str) -> Any:
    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {
                k: strip(v)
                for k, v in x.items()
                if k not in ("startsAt", "endsAt", "updatedAt", "id", "silencedBy")
            }
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    return strip(json.loads(text))


def test_alert_add_and_query(servers: dict[str, Server]) -> None:
    assert_same(
        both(
            servers,
            "alert",
            "add",
            "alertname=DiskFull",
            "severity=critical",
            "team=db",
            "--annotation=summary=disk full",
        )
    )
    assert_same(both(servers, "alert", "add", "alertname=CpuHigh", "team=web"))
    out = assert_same(both(servers, "alert", "query"))
    assert "DiskFull" in out and "disk full" in out and "CpuHigh" in out
    out = assert_same(both(servers, "alert", "query", "-o", "extended", "alertname=DiskFull"))
    assert 'severity="critical"' in out and "CpuHigh" not in out
    assert_same(both(servers, "alert", "query", "-r", "infra"))
    res = both(servers, "alert", "query", "-o", "json")
    # JSON carries times; compared structurally.
    ours, am = (_json_without_times(res[k].stdout) for k in ("tocsin", "am"))
    assert ours == am
    disk = next(a for a in ours if a["labels"]["alertname"] == "DiskFull")
    assert [r["name"] for r in disk["receivers"]] == ["pager", "infra", "pager"]
    assert len(disk["fingerprint"]) == 16


def test_silence_add_query_update_expire_import(servers: dict[str, Server], tmp_path: Path) -> None:
    for s in servers.values():
        assert amtool(s, "alert", "add", "alertname=Maint", "team=infra").returncode == 0
    added = both(
        servers, "silence", "add", "alertname=Maint", "-c", "planned work", "-a", "tester", "-d", "1h"
    )
    assert_same(added)
    sid = {k: r.stdout.strip() for k, r in added.items()}
    assert all(UUID_RE.fullmatch(v) for v in sid.values()), sid

    out = assert_same(both(servers, "silence", "query"))
    assert "planned work" in out and 'alertname="Maint"' in out
    assert_same(both(servers, "silence", "query", "-o", "extended"))
    assert_same(both(servers, "silence", "query", "-q", "alertname=Maint"))
    res = both(servers, "silence", "query", "-o", "json")
    assert _json_without_times(res["tocsin"].stdout) == _json_without_times(res["am"].stdout)

    # The silenced alert leaves the default listing and shows up with -s as suppressed.
    assert "Maint" not in assert_same(both(servers, "alert", "query", "alertname=Maint"))
    assert "suppressed" in assert_same(both(servers, "alert", "query", "-s", "alertname=Maint"))

    # update keeps the id (same matchers and start, later end) on both servers.
    # (amtool's -q for update prints a Go pointer, so the table is read instead.)
    updated = {k: amtool(s, "silence", "update", sid[k], "--duration=2h") for k, s in servers.items()}
    assert_same(updated)
    assert {k: UUID_RE.findall(r.stdout) for k, r in updated.items()} == {k: [v] for k, v in sid.items()}

    exported = {k: amtool(s, "silence", "query", "-o", "json") for k, s in servers.items()}
    expired = {k: amtool(s, "silence", "expire", sid[k]) for k, s in servers.items()}
    assert_same(expired)
    assert_same(both(servers, "silence", "query"))
    assert sid["tocsin"] in assert_same(both(servers, "silence", "query", "--expired", "-q"))

    # import re-creates the expired silence (a new id, as the old one cannot be updated) ...
    imported = {k: amtool(s, "silence", "import", stdin=exported[k].stdout) for k, s in servers.items()}
    assert_same(imported)
    active = {k: amtool(s, "silence", "query", "-q").stdout.split() for k, s in servers.items()}
    assert len(active["tocsin"]) == len(active["am"]) == 1
    assert active["tocsin"] != [sid["tocsin"]]

    # ... and an id the server never saw is answered 404, so amtool retries without it.
    for k, s in servers.items():
        doc = json.loads(exported[k].stdout)
        doc[0]["id"] = "00000000-0000-4000-8000-000000000000"
        doc[0]["matchers"][0]["value"] = "Maint2"
        r = amtool(s, "silence", "import", stdin=json.dumps(doc))
        assert r.returncode == 0, (k, r.stdout, r.stderr)
    assert_same(both(servers, "silence", "query", "alertname=Maint2"))
    assert "Maint2" in amtool(servers["tocsin"], "silence", "query").stdout


def test_config_routes_against_status(servers: dict[str, Server]) -> None:
    out = assert_same(both(servers, "config", "routes", "show"))
    assert "receiver: infra" in out and "continue: true" in out
    out = assert_same(both(servers, "config", "routes", "test", "severity=critical", "team=db"))
    assert out.strip() == "pager,infra,pager"
    assert assert_same(both(servers, "config", "routes", "test", "team=web")).strip() == "default"
    assert_same(
        both(
            servers,
            "config",
            "routes",
            "test",
            "--verify.receivers=pager,infra,pager",
            "severity=critical",
            "team=db",
        )
    )
    assert_same(both(servers, "config", "routes", "test", "--verify.receivers=default", "team=db"), ok=False)


def test_config_show_parses(servers: dict[str, Server]) -> None:
    """tocsin prints the configuration as loaded; Alertmanager also prints every default it filled
    in, so the two are compared on what the file said."""
    shown = {k: yaml.safe_load(amtool(s, "config", "show").stdout) for k, s in servers.items()}
    for doc in shown.values():
        assert [r["name"] for r in doc["receivers"]] == ["default", "pager", "infra"]
        assert [r["receiver"] for r in doc["route"]["routes"]] == ["pager", "infra", "pager"]
        assert [r["matchers"] for r in doc["route"]["routes"]] == [
            ['severity="critical"'],
            ['team=~"db|infra"'],
            ['team="db"'],
        ]
