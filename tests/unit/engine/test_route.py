"""Routing tree: Alertmanager's matching walk, inheritance, keys and ids, group labels."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tocsin.config import load_config_text
from tocsin.engine.route import Route, build_routes, go_quote

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "alertmanager.yml"

TREE = """
route:
  receiver: default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['team="db"']
      receiver: db
      group_interval: 1m
      routes:
        - matchers: ['severity="critical"']
          receiver: db-pager
          repeat_interval: 1h
        - matchers: ['severity=~"warning|info"']
          receiver: db-chat
          group_by: ['...']
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
      mute_time_intervals: [nights]
    - matchers: ['severity="critical"', 'env="prod"']
      receiver: prod-pager
      group_by: [cluster, alertname]
    - match:
        service: billing
      match_re:
        env: prod|production
      receiver: billing
receivers:
  - name: default
  - name: db
  - name: db-pager
  - name: db-chat
  - name: pager
  - name: prod-pager
  - name: billing
time_intervals:
  - name: nights
    time_intervals:
      - times: [{start_time: '00:00', end_time: '06:00'}]
"""


@pytest.fixture(scope="module")
def root() -> Route:
    return build_routes(load_config_text(TREE))


def receivers(root: Route, **labels: str) -> list[str]:
    return [r.receiver for r in root.match(labels)]


def test_first_matching_child_wins(root: Route) -> None:
    # team=db matches the db subtree; severity=critical would also match a later sibling,
    # but the db child has no continue, so the walk stops there.
    assert receivers(root, team="db", severity="critical") == ["db-pager"]


def test_continue_lets_later_siblings_match(root: Route) -> None:
    assert receivers(root, severity="critical", env="prod") == ["pager", "prod-pager"]


def test_no_child_match_returns_the_node_itself(root: Route) -> None:
    assert receivers(root, team="db", severity="debug") == ["db"]
    assert receivers(root, alertname="Anything") == ["default"]


def test_root_matchers_fail_returns_nothing() -> None:
    root = build_routes(load_config_text(TREE))
    child = root.routes[0]
    assert child.match({"team": "web"}) == []


def test_continue_on_last_match_still_falls_back_only_when_nothing_matched(root: Route) -> None:
    # Only the continue route matches: the result is that route, not the root as well.
    assert receivers(root, severity="critical", env="dev") == ["pager"]


def test_inheritance_of_receiver_group_by_and_timings(root: Route) -> None:
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (10.0, 300.0, 4 * 3600.0)
    db = root.routes[0]
    assert db.group_by == ["alertname"] and not db.group_by_all
    assert (db.group_wait, db.group_interval, db.repeat_interval) == (10.0, 60.0, 4 * 3600.0)
    db_pager = db.routes[0]
    assert (db_pager.group_wait, db_pager.group_interval, db_pager.repeat_interval) == (10.0, 60.0, 3600.0)
    assert db_pager.group_by == ["alertname"]
    db_chat = db.routes[1]
    assert db_chat.group_by_all and db_chat.group_by == []


def test_time_intervals_are_not_inherited() -> None:
    text = TREE.replace(
        "      receiver: pager\n", "      receiver: pager\n      routes:\n        - receiver: db\n"
    )
    root = build_routes(load_config_text(text))
    pager = root.routes[1]
    assert pager.mute_time_intervals == ["nights"]
    assert pager.routes[0].mute_time_intervals == []
    assert pager.routes[0].receiver == "db"


def test_defaults_at_root_when_not_given() -> None:
    root = build_routes(load_config_text("route: {receiver: r}\nreceivers: [{name: r}]\n"))
    assert (root.group_wait, root.group_interval, root.repeat_interval) == (30.0, 300.0, 14400.0)
    assert root.group_by == [] and not root.group_by_all
    assert root.receiver == "r"


def test_receiver_inherited_when_child_has_none() -> None:
    text = "route:\n  receiver: r\n  routes:\n    - matchers: [a=b]\nreceivers: [{name: r}]\n"
    root = build_routes(load_config_text(text))
    assert root.routes[0].receiver == "r"
    assert receivers(root, a="b") == ["r"]


def test_deprecated_match_and_match_re(root: Route) -> None:
    billing = root.routes[3]
    assert [str(m) for m in billing.matchers] == ['env=~"^(?:prod|production)$"', 'service="billing"']
    assert receivers(root, service="billing", env="production") == ["billing"]
    # match_re is anchored: a partial match is not a match.
    assert receivers(root, service="billing", env="preproduction") == ["default"]


def test_keys_and_ids_for_a_nested_tree(root: Route) -> None:
    db, pager = root.routes[0], root.routes[1]
    assert root.key() == "{}"
    assert root.id() == "{}"
    assert db.key() == '{}/{team="db"}'
    assert db.id() == '{}/{team="db"}/0'
    assert db.routes[1].key() == '{}/{team="db"}/{severity=~"warning|info"}'
    assert db.routes[1].id() == '{}/{team="db"}/0/{severity=~"warning|info"}/1'
    assert pager.key() == '{}/{severity="critical"}'
    # Matchers are sorted by name in keys, whatever order the config gives them in.
    assert root.routes[2].key() == '{}/{env="prod",severity="critical"}'
    ids = [n.id() for n in root.walk()]
    assert len(ids) == len(set(ids))


def test_identical_siblings_share_a_key_but_not_an_id() -> None:
    text = """
route:
  receiver: r
  routes:
    - {matchers: [a=b], receiver: r, continue: true}
    - {matchers: [a=b], receiver: r}
receivers: [{name: r}]
"""
    root = build_routes(load_config_text(text))
    a, b = root.routes
    assert a.key() == b.key()
    assert a.id() != b.id()


def test_matchers_sorted_like_alertmanager() -> None:
    text = """
route:
  receiver: r
  routes:
    - matchers: ['b="2"', 'a!~"x"', 'a="x"', 'a=~"x"', 'a!="x"', 'a="w"']
receivers: [{name: r}]
"""
    node = build_routes(load_config_text(text)).routes[0]
    assert [str(m) for m in node.matchers] == ['a="w"', 'a="x"', 'a!="x"', 'a=~"x"', 'a!~"x"', 'b="2"']


def test_key_quotes_values_like_go() -> None:
    assert go_quote('a"b\\c') == '"a\\"b\\\\c"'
    assert go_quote("line\nnext\ttab") == '"line\\nnext\\ttab"'
    assert go_quote("\x01") == '"\\x01"'
    assert go_quote("é✓") == '"é✓"'
    assert go_quote("\u200b") == '"\\u200b"'


def test_group_labels(root: Route) -> None:
    labels = {"alertname": "Disk", "team": "db", "severity": "info", "instance": "h1"}
    assert root.group_labels(labels) == {"alertname": "Disk"}
    db_chat = root.routes[0].routes[1]
    assert db_chat.group_labels(labels) == labels
    prod = root.routes[2]
    # Missing labels are omitted, not given as empty strings.
    assert prod.group_labels({"alertname": "X"}) == {"alertname": "X"}


def test_group_by_all_inherited_and_reset() -> None:
    text = """
route:
  receiver: r
  group_by: ['...']
  routes:
    - matchers: [a=b]
      routes:
        - matchers: [c=d]
          group_by: [c]
receivers: [{name: r}]
"""
    root = build_routes(load_config_text(text))
    assert root.group_by_all
    assert root.routes[0].group_by_all
    leaf = root.routes[0].routes[0]
    assert not leaf.group_by_all and leaf.group_by == ["c"]


def test_walk_and_parent_links(root: Route) -> None:
    nodes = list(root.walk())
    assert len(nodes) == 7
    assert nodes[0] is root and root.parent is None
    for n in nodes[1:]:
        assert n.parent is not None and n in n.parent.routes
    assert nodes[2].depth() == 2


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) not installed"
)
def test_matches_amtool_routes_test_on_the_example() -> None:
    root = build_routes(load_config_text(EXAMPLE.read_text(), filename=str(EXAMPLE)))
    cases = [
        {"severity": "critical", "team": "database", "env": "staging"},
        {"severity": "critical"},
        {"severity": "warning", "team": "database"},
        {"service": "billing", "env": "prod"},
        {"service": "billing", "env": "prod-eu"},
        {"alertname": "X"},
        {"severity": "critical", "service": "billing", "env": "production"},
    ]
    for labels in cases:
        args = [f"{k}={v}" for k, v in labels.items()]
        out = subprocess.run(
            ["amtool", "config", "routes", "test", f"--config.file={EXAMPLE}", *args],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        assert ",".join(r.receiver for r in root.match(labels)) == out, labels


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) not installed"
)
def test_route_keys_match_amtool_tree() -> None:
    out = subprocess.run(
        ["amtool", "config", "routes", "show", f"--config.file={EXAMPLE}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout
    root = build_routes(load_config_text(EXAMPLE.read_text(), filename=str(EXAMPLE)))
    from tocsin.engine.route import matchers_key

    for node in list(root.walk())[1:]:
        assert f"{matchers_key(node.matchers)}  " in out


REAL_AM_CONFIG = """
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 0s
  routes:
    - matchers: ['severity=~"crit.*"', 'env="prod"']
      receiver: hook
      continue: true
      routes:
        - match_re: {team: 'db|web'}
          receiver: hook
    - match: {severity: critical}
      receiver: hook
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:%d/'}]
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("prometheus-alertmanager") is None, reason="Debian prometheus-alertmanager not installed"
)
def test_route_keys_equal_real_alertmanager_group_keys(tmp_path: Path) -> None:
    """Start Alertmanager 0.25, post one alert, and compare the webhook's groupKey values with
    ``key() + ":" + group labels`` for the routes tocsin picks."""
    import http.server
    import json
    import threading
    import time
    import urllib.request

    keys: list[str] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            keys.append(body["groupKey"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    conf = tmp_path / "am.yml"
    conf.write_text(REAL_AM_CONFIG % server.server_address[1])
    port = _free_port()
    proc = subprocess.Popen(
        [
            "prometheus-alertmanager",
            f"--config.file={conf}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"{base}/-/ready", timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("Alertmanager did not become ready")
                time.sleep(0.1)
        labels = {"alertname": "X", "severity": "critical", "env": "prod", "team": "db"}
        req = urllib.request.Request(
            f"{base}/api/v2/alerts",
            data=json.dumps([{"labels": labels}]).encode(),
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req, timeout=5).close()
        root = build_routes(load_config_text(conf.read_text()))
        expected = sorted(f'{r.key()}:{{alertname="X"}}' for r in root.match(labels))
        deadline = time.monotonic() + 20
        while len(keys) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sorted(keys) == expected
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        server.shutdown()
        server.server_close()
