"""One active tocsin per store: a second one refuses to start, or waits as a standby and takes
over with the full state when the active one dies (PostgreSQL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from tocsin_proc import start_tocsin

from testkit import PG_URL, REPO, free_port, postgres_available

pytestmark = pytest.mark.slow


def test_second_tocsin_on_same_sqlite_store_refuses_to_start(tmp_path: Path) -> None:
    port = free_port()
    first = start_tocsin(None, [f"--storage.path={tmp_path}"], port, tmp_path / "a.log")
    try:
        second = subprocess.run(
            [
                sys.executable,
                "-m",
                "tocsin",
                "serve",
                f"--storage.path={tmp_path}",
                f"--web.listen-address=127.0.0.1:{free_port()}",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env={**os.environ, "PYTHONPATH": str(REPO / "src")},
        )
        assert second.returncode == 2
        assert "another tocsin is running on" in second.stderr and "--storage.standby" in second.stderr
        assert httpx.get(f"http://127.0.0.1:{port}/-/ready").status_code == 200
    finally:
        first.terminate()
        first.wait(10)


def test_standby_takes_over_when_the_active_one_dies(tmp_path: Path) -> None:
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"ha_{uuid.uuid4().hex[:10]}"
    store = f"--storage.url={PG_URL}?schema={schema}"
    port_a, port_b = free_port(), free_port()
    active = start_tocsin(None, [store], port_a, tmp_path / "a.log")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    standby = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            store,
            "--storage.standby",
            f"--web.listen-address=127.0.0.1:{port_b}",
        ],
        stdout=(tmp_path / "b.log").open("wb"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        assert (
            httpx.post(
                f"http://127.0.0.1:{port_a}/api/v2/alerts", json=[{"labels": {"alertname": "Survives"}}]
            ).status_code
            == 200
        )
        deadline = time.time() + 30
        while "waiting as a standby" not in (tmp_path / "b.log").read_text() and time.time() < deadline:
            time.sleep(0.1)
        assert "waiting as a standby" in (tmp_path / "b.log").read_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port_b}/-/ready", timeout=1)  # not serving while it waits
        active.send_signal(signal.SIGKILL)
        active.wait()
        deadline = time.time() + 30
        alerts: list[dict] = []
        while time.time() < deadline:
            try:
                alerts = httpx.get(f"http://127.0.0.1:{port_b}/api/v2/alerts", timeout=1).json()
                break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert [a["labels"]["alertname"] for a in alerts] == ["Survives"], (tmp_path / "b.log").read_text()
        assert "now active" in (tmp_path / "b.log").read_text()
    finally:
        standby.terminate()
        standby.wait(10)
        if active.poll() is None:
            active.kill()
        import psycopg

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
