"""Start and stop real processes (tocsin, Alertmanager, Prometheus) and a recording webhook sink.

Each process gets a free loopback port and its own temporary directory; nothing outlives the test
that started it. Output goes to a log file next to its data so a failing test can show it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

#: The worktree's src, found from this file so a fresh clone (CI) runs its own code, not an install.
SRC = Path(__file__).resolve().parents[2] / "src"

ALERTMANAGER = "prometheus-alertmanager"
PROMETHEUS = "prometheus"
AMTOOL = "amtool"


def missing_binaries(*names: str) -> str | None:
    """None when every binary is on PATH, else a skip reason naming the missing ones."""
    missing = [n for n in names if shutil.which(n) is None]
    if not missing:
        return None
    return f"not installed: {', '.join(missing)} (Debian packages prometheus, prometheus-alertmanager)"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpResult:
    status: int
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http(method: str, url: str, body: bytes | str | None = None, timeout: float = 10.0) -> HttpResult:
    """One request; HTTP error statuses are returned, not raised, so tests can compare them."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return HttpResult(resp.status, resp.read())
    except urllib.error.HTTPError as e:
        return HttpResult(e.code, e.read())


def post_json(url: str, payload: Any) -> HttpResult:
    return http("POST", url, json.dumps(payload))


class PeerProcess:
    """A child process with a log file, started by ``start`` and reaped by ``stop``."""

    def __init__(self, name: str, argv: list[str], workdir: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.argv = argv
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=self.env,
            )

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_http_ok(self, url: str, timeout: float = 30.0) -> None:
        """Poll ``url`` until it answers 200; fail with the process log if it dies or never does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode} before it was ready:\n{self.log_tail()}"
                )
            try:
                if http("GET", url, timeout=2).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready at {url} after {timeout}s:\n{self.log_tail()}")

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


class Server(PeerProcess):
    """An Alertmanager-API server (real Alertmanager or tocsin) listening on ``url``."""

    def __init__(
        self, name: str, argv: list[str], workdir: Path, port: int, env: dict[str, str] | None = None
    ) -> None:
        super().__init__(name, argv, workdir, env)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    def api(self, path: str) -> str:
        return f"{self.url}/api/v2/{path.lstrip('/')}"

    def start_and_wait(self) -> Server:
        self.start()
        self.wait_http_ok(f"{self.url}/-/ready")
        return self


def tocsin_server(config_file: Path, workdir: Path) -> Server:
    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), *filter(None, [env.get("PYTHONPATH")])])
    argv = [
        sys.executable,
        "-m",
        "tocsin",
        "serve",
        "--config.file",
        str(config_file),
        "--storage.path",
        str(workdir / "data"),
        "--web.listen-address",
        f"127.0.0.1:{port}",
        "--log.level",
        "debug",
    ]
    return Server("tocsin", argv, workdir, port, env)


def alertmanager_server(config_file: Path, workdir: Path) -> Server:
    port = free_port()
    argv = [
        ALERTMANAGER,
        f"--config.file={config_file}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
        "--log.level=debug",
    ]
    return Server("alertmanager", argv, workdir, port)


def prometheus_process(config_file: Path, workdir: Path) -> Server:
    port = free_port()
    argv = [
        PROMETHEUS,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        # Prometheus re-sends firing alerts only every resend-delay; short so the test is quick.
        "--rules.alert.resend-delay=1s",
    ]
    return Server("prometheus", argv, workdir, port)


def backfill_incident_time() -> float:
    """An instant 45 minutes into a past two-hour TSDB block (``promtool`` writes whole blocks),
    within Prometheus' default retention: where a test places its incident among backfilled series."""
    return (time.time() // 7200) * 7200 - 2 * 3600 + 45 * 60


def gauge_hour(
    metric: str, label: str, services: Iterable[str], start: float, value: Callable[[str, float, int], float]
) -> list[str]:
    """OpenMetrics lines of an hour of 15 s samples of gauge ``metric`` from ``start``, one series
    per service (named by ``label``), each sample ``value(service, time, index)``."""
    lines = [f"# TYPE {metric} gauge"]
    for service in services:
        for i in range(240):
            t = start + 15 * i
            lines.append(f'{metric}{{{label}="{service}"}} {value(service, t, i)} {t:.0f}')
    return lines


@contextlib.contextmanager
def backfilled_prometheus(work: Path, openmetrics: Iterable[str]) -> Iterator[str]:
    """A real Prometheus over the series of ``openmetrics`` (OpenMetrics lines, ``gauge_hour``'s;
    the ``# EOF`` is added here), written into a TSDB under ``work`` by ``promtool``; yields its
    URL. Skips the test where either binary is missing."""
    missing = missing_binaries(PROMETHEUS, "promtool")
    if missing:
        pytest.skip(missing)
    (work / "series.om").write_text("\n".join([*openmetrics, "# EOF"]) + "\n")
    argv = ["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q"]
    subprocess.run([*argv, str(work / "series.om"), str(work / "tsdb")], check=True, capture_output=True)
    config = work / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\n")
    server = prometheus_process(config, work)
    server.start()
    try:
        server.wait_http_ok(f"{server.url}/-/ready")
        yield server.url
    finally:
        server.stop()


@dataclass
class Delivery:
    """One webhook POST as the sink saw it: when (monotonic seconds), where, what."""

    at: float
    path: str
    payload: dict[str, Any]
    #: the status the sink answered with
    status: int = 200


@dataclass
class WebhookSink:
    """A local HTTP server that records every POST; receivers are told apart by URL path."""

    deliveries: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    #: per path, statuses to answer the next requests with (then 200)
    fail_next: dict[str, list[int]] = field(default_factory=dict)
    #: per path, a status to answer every request with
    fail_always: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = {"_unparsable": raw.decode(errors="replace")}
                with sink.lock:
                    queued = sink.fail_next.get(self.path)
                    status = sink.fail_always.get(self.path) or (queued.pop(0) if queued else 200)
                    sink.deliveries.append(Delivery(time.monotonic(), self.path, payload, status))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        class Listener(ThreadingHTTPServer):
            # Many groups flush on the same tick; the default backlog of 5 drops connections and
            # the senders' SYN retry then delays them by a second.
            request_queue_size = 128
            daemon_threads = True

        self.server = Listener(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def at(self, path: str) -> list[Delivery]:
        """The deliveries to ``path`` that the sink accepted (2xx)."""
        with self.lock:
            return [d for d in self.deliveries if d.path == path and d.status < 300]

    def attempts(self, path: str) -> list[Delivery]:
        """Every request to ``path``, accepted or not."""
        with self.lock:
            return [d for d in self.deliveries if d.path == path]

    def wait_for(self, path: str, count: int, timeout: float) -> list[Delivery]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.at(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.at(path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
