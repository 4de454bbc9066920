"""A local HTTP server standing in for a provider: it records every request exactly as it
arrived (method, path, query, headers, raw body) and answers from a script of replies."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tocsin.config import load_config_text
from tocsin.notify.base import Integration
from tocsin.notify.registry import build_integrations


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode(), keep_blank_values=True).items()}


@dataclass
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)


class Provider:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.script: list[Reply] = []
        self.default = Reply()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                outer.seen.append(
                    Seen(
                        self.command,
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                reply = outer.script.pop(0) if outer.script else outer.default
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _any

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True)
        self.thread.start()

    def reply(self, status: int, body: bytes | str | dict[str, Any] = b"", **headers: str) -> None:
        if isinstance(body, dict):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.script.append(Reply(status, body, {k.replace("_", "-"): v for k, v in headers.items()}))

    @property
    def last(self) -> Seen:
        assert self.seen, "the provider received no request"
        return self.seen[-1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(name="provider")
def provider_fixture() -> Iterator[Provider]:
    """The ``provider`` fixture (import ``provider_fixture`` into a test module to use it)."""
    p = Provider()
    yield p
    p.stop()


def integration(receiver_yaml: str, global_yaml: str = "") -> Integration:
    """The single integration of a one-receiver config, built as tocsin builds it at load."""
    text = f"""
{global_yaml}
route:
  receiver: r
receivers:
- name: r
{receiver_yaml}
"""
    config = load_config_text(text)
    built = build_integrations(config)["r"]
    assert len(built) == 1, built
    return built[0]
