"""The shipped example configs load in tocsin, and the Alertmanager-compatible one in amtool too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tocsin.config import load_config_file, summarize
from tocsin.engine.route import build_routes
from tocsin.engine.timeintervals import TimeIntervals

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.mark.parametrize("name", ["alertmanager.yml", "tocsin-extended.yml"])
def test_example_loads(name: str) -> None:
    cfg = load_config_file(EXAMPLES / name)
    root = build_routes(cfg)
    names = set(cfg.receiver_names())
    assert all(node.receiver in names for node in root.walk())
    TimeIntervals.from_config(cfg)
    assert "Routing tree:" in summarize(cfg)


def test_full_example_covers_the_schema() -> None:
    cfg = load_config_file(EXAMPLES / "alertmanager.yml")
    kinds = {kind for r in cfg.receivers for kind, _, _ in r.integrations()}
    assert len(kinds) >= 11
    assert len(cfg.inhibit_rules) == 2 and set(cfg.time_intervals) == {"business-hours", "offhours"}
    assert any(r.continue_ for r in build_routes(cfg).walk())


@pytest.mark.skipif(
    shutil.which("amtool") is None, reason="amtool (Debian prometheus-alertmanager) not installed"
)
def test_alertmanager_accepts_the_full_example() -> None:
    res = subprocess.run(
        ["amtool", "check-config", str(EXAMPLES / "alertmanager.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
