"""Smoke run of the side-by-side benchmark: proves the command works end to end on a few
thousand alerts. No timing is asserted; the figures live in benchmarks/README.md."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER = Path("/usr/bin/prometheus-alertmanager")


@pytest.mark.slow
def test_benchmark_smoke(tmp_path: Path) -> None:
    targets = "tocsin-sqlite,alertmanager" if os.access(ALERTMANAGER, os.X_OK) else "tocsin-sqlite"
    out = tmp_path / "results.json"
    cmd = [
        sys.executable, "-m", "benchmarks.alerts",
        "--targets", targets,
        "--scales", "3000", "--rounds", "2",
        "--read-alerts", "2000", "--read-silences", "50", "--read-inhibit-rules", "10", "--read-repeats", "2",
        "--steady-alerts", "1000", "--steady-interval", "2", "--steady-duration", "4",
        "--json", str(out), "--markdown", str(tmp_path / "results.md"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "## Ingest" in proc.stdout and "## Reads" in proc.stdout and "## Steady state" in proc.stdout
    results = json.loads(out.read_text())
    expected_targets = targets.split(",")
    assert [r["target"] for r in results["ingest"]] == expected_targets
    for r in results["ingest"]:
        assert r["alerts"] == 3000 and not r["errors"], r
        assert r["delivered_fraction"] == 1.0, r
        assert r["peak_rss_mib"] > 0 and r["cpu_seconds"] > 0
        # Two interleaved rounds; the row is the slower one (the lower middle of two).
        assert len(r["rounds_alerts_per_s"]) == 2 and r["alerts_per_s"] == min(r["rounds_alerts_per_s"])
    assert "the ingest rate of every round" in (tmp_path / "results.md").read_text()
    for r in results["read"]:
        # 2,000 benchmark alerts plus one firing source alert per inhibit rule.
        assert r["returned_alerts"] == 2010 and not r["errors"], r
        assert r["get_alerts_after_silence_median_s"] > 0
        assert r["get_groups_after_silence_median_s"] > 0
    tocsin_read = results["read"][0]
    for r in results["read"][1:]:
        # Both servers see the same workload, so they must agree on what is suppressed.
        assert r["suppressed_alerts"] == tocsin_read["suppressed_alerts"]
    for r in results["steady"]:
        assert r["rounds"] == 2 and not r["errors"], r


def _refused(*args: str) -> str:
    """Run the benchmark command with bad arguments; it must exit 2. Returns its stderr."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.alerts", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    return proc.stderr


def test_bad_arguments_are_named() -> None:
    err = _refused("--scales", "20000,-5")
    assert "--scales" in err and "positive integers" in err
    assert "--rounds must be at least 1, got 0" in _refused("--rounds", "0")


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("valgrind") is None, reason="valgrind is not installed (Debian package valgrind)"
)
def test_instruction_counts_smoke() -> None:
    """The callgrind counts run end to end on a few hundred alerts (figures: benchmarks/README.md)."""
    cmd = [sys.executable, "-m", "benchmarks.alerts.instructions", "codec", "--alerts", "128"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == ["codec"], proc.stdout
    for line in lines:
        count = int(line.split(": ")[1].split(" ")[0].replace(",", ""))
        assert count > 1000, line  # converting an alert takes thousands of instructions


@pytest.mark.slow
def test_idle_memory_reports_the_server_and_its_commit_child() -> None:
    cmd = [sys.executable, "-m", "benchmarks.alerts.idle_memory", "--runs", "1", "--settle", "0"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = proc.stdout.strip()
    found = re.fullmatch(
        r"run 1: server rss +([\d.]+) hwm +([\d.]+) +child rss +([\d.]+) hwm +([\d.]+)"
        r" +\| total rss +([\d.]+) hwm .*",
        line,
    )
    assert found is not None, line
    server, child, total = float(found[1]), float(found[3]), float(found[5])
    assert server > 10 and child > 5 and abs(total - server - child) < 0.2


def test_idle_memory_refuses_runs_below_one() -> None:
    cmd = [sys.executable, "-m", "benchmarks.alerts.idle_memory", "--runs", "0"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--runs must be at least 1, got 0" in proc.stderr
