"""Helpers for tests that run tocsin as a real process: start it, and receive its webhooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from testkit import REPO


class Sink:
    """A webhook receiver that records every payload (and its headers), optionally slowly."""

    def __init__(self, delay: float = 0.0) -> None:
        self.payloads: list[dict] = []
        self.headers: list[dict[str, str]] = []
        self.started = 0
        lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    payload = json.loads(body)
                except ValueError:
                    return  # the sender died mid-request: nothing was delivered
                with lock:
                    sink.started += 1
                if delay:
                    time.sleep(delay)
                with lock:
                    sink.payloads.append(payload)
                    sink.headers.append(dict(self.headers))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def start_tocsin(
    config: Path | None, storage_args: list[str], port: int, log: Path, ready_path: str = "/-/ready"
) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tocsin",
            "serve",
            *([f"--config.file={config}"] if config else []),
            f"--web.listen-address=127.0.0.1:{port}",
            *storage_args,
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}{ready_path}", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"tocsin exited: {log.read_text()[-2000:]}")
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"tocsin did not become ready: {log.read_text()[-2000:]}")
