"""Starting and stopping the servers under test as separate processes."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.alerts.httpio import Connection
from benchmarks.alerts.procstat import Usage, usage

REPO = Path(__file__).resolve().parents[2]
ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"

TARGETS = ("tocsin-sqlite", "tocsin-postgres", "alertmanager")
#: also accepted by --targets, not run by default: tocsin committing from a thread of its own
#: process (--no-storage.commit-process), to measure what the commit process buys
THREAD_TARGETS = ("tocsin-sqlite-thread", "tocsin-postgres-thread")


class ServerError(RuntimeError):
    """A server under test did not start or died; the message carries the end of its log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def available(target: str, pg_url: str = DEFAULT_PG_URL) -> str | None:
    """Why ``target`` cannot run here, or None."""
    if target == "alertmanager" and not os.access(ALERTMANAGER, os.X_OK):
        return f"{ALERTMANAGER} is not installed"
    if target.startswith("tocsin-postgres"):
        host_port = pg_url.split("@", 1)[-1].split("/", 1)[0]
        host, _, port = host_port.partition(":")
        try:
            socket.create_connection((host or "127.0.0.1", int(port or 5432)), timeout=2).close()
        except OSError as e:
            return f"PostgreSQL at {host_port} is not reachable: {e}"
    if target not in TARGETS + THREAD_TARGETS:
        return f"unknown target {target!r}; choose from {', '.join(TARGETS + THREAD_TARGETS)}"
    return None


@dataclass
class Server:
    target: str
    config_text: str
    pg_url: str = DEFAULT_PG_URL
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="tocsin-bench-")))
    schema: str = ""
    #: when set, py-spy samples the server into this file (collapsed stacks) while it runs
    profile_path: Path | None = None
    #: sample only the thread holding the GIL (where the event loop's time goes)
    profile_gil: bool = False
    _profiler: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def command(self) -> list[str]:
        cfg = self.workdir / "alertmanager.yml"
        cfg.write_text(self.config_text)
        addr = f"127.0.0.1:{self.port}"
        if self.target == "alertmanager":
            return [
                ALERTMANAGER,
                f"--config.file={cfg}",
                f"--storage.path={self.workdir / 'am-data'}",
                f"--web.listen-address={addr}",
                "--cluster.listen-address=",
                "--log.level=warn",
            ]
        cmd = [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            "--config.file",
            str(cfg),
            "--web.listen-address",
            addr,
        ]
        if self.target.endswith("-thread"):
            cmd.append("--no-storage.commit-process")
        if self.target.startswith("tocsin-postgres"):
            # A fresh schema per run keeps runs apart and starts every run from an empty database.
            self.schema = f"bench_{os.getpid()}_{self.port}"
            cmd += ["--storage.url", f"{self.pg_url}?schema={self.schema}"]
        else:
            cmd += ["--storage.path", str(self.workdir / "tocsin-data")]
        return cmd

    async def start(self, timeout: float = 60.0) -> None:
        self.port = free_port()
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
        log = (self.workdir / "server.log").open("wb")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, cwd=self.workdir
        )
        conn = Connection("127.0.0.1", self.port)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(f"{self.target} exited with {self.proc.returncode}: {self.log_tail()}")
                try:
                    status, _ = await conn.request("GET", "/-/ready")
                    if status == 200:
                        self._start_profiler()
                        return
                except (OSError, asyncio.IncompleteReadError):
                    await conn.close()
                await asyncio.sleep(0.1)
            raise ServerError(f"{self.target} not ready after {timeout:.0f}s: {self.log_tail()}")
        finally:
            await conn.close()

    def _start_profiler(self) -> None:
        if self.profile_path is None or self.target == "alertmanager":
            return
        self._profiler = subprocess.Popen(
            [
                "py-spy",
                "record",
                "--pid",
                str(self.pid),
                "--format",
                "raw",
                "--rate",
                "100",
                "--nonblocking",
                *(["--gil"] if self.profile_gil else []),
                "--threads",
                "-o",
                str(self.profile_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def usage(self) -> Usage:
        return usage(self.pid)

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return (self.workdir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self._profiler is not None:
            self._profiler.send_signal(signal.SIGINT)
            try:
                self._profiler.wait(30)
            except subprocess.TimeoutExpired:
                self._profiler.kill()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.schema:
            drop_schema(self.pg_url, self.schema)
        shutil.rmtree(self.workdir, ignore_errors=True)


def drop_schema(pg_url: str, schema: str) -> None:
    try:
        import psycopg

        with psycopg.connect(pg_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    except Exception as e:  # leaving a schema behind must not fail the benchmark
        print(f"warning: could not drop schema {schema}: {e}", file=sys.stderr)
