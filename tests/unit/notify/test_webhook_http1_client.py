"""The keep-alive HTTP/1.1 client used for plain-HTTP webhooks, against a local asyncio server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from tocsin.model import Alert
from tocsin.notify.base import Notification, NotifyError
from tocsin.notify.http1 import HTTP1Pool, plain_http_target
from tocsin.notify.webhook import WebhookIntegration

Reply = Callable[[int, bytes], bytes]


class Peer:
    """A scripted HTTP server: ``reply(n, body)`` gives the raw response to the n-th request."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.requests: list[bytes] = []
        self.connections = 0
        self.port = 0
        self.server: asyncio.Server | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.requests.append(head + body)
                out = self.reply(len(self.requests), body)
                if not out:
                    writer.close()
                    return
                writer.write(out)
                await writer.drain()
                if b"Connection: close" in out:
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.fixture
async def peer_factory() -> AsyncIterator[Callable[[Reply], asyncio.Future[Peer]]]:
    servers: list[asyncio.Server] = []

    async def make(reply: Reply) -> Peer:
        p = Peer(reply)
        p.server = await asyncio.start_server(p.serve, "127.0.0.1", 0)
        p.port = p.server.sockets[0].getsockname()[1]
        servers.append(p.server)
        return p

    yield make  # type: ignore[misc]
    for s in servers:
        s.close()


def ok(n: int, body: bytes) -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def test_plain_http_target() -> None:
    assert plain_http_target("http://127.0.0.1:8080/hook?x=1") == ("127.0.0.1", 8080, "/hook?x=1")
    assert plain_http_target("http://example.net") == ("example.net", 80, "/")
    assert plain_http_target("https://example.net/hook") is None
    assert plain_http_target("http://user:pw@example.net/hook") is None
    assert plain_http_target("http://example.net:99999/hook") is None


def test_environment_proxy_leaves_requests_to_httpx(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.example.net:3128")
    monkeypatch.delenv("no_proxy", raising=False)
    plain_http_target.cache_clear()  # the environment is read once per URL
    assert plain_http_target("http://example.net/hook") is None
    plain_http_target.cache_clear()


async def test_reuses_the_connection(peer_factory: Callable[[Reply], asyncio.Future[Peer]]) -> None:
    peer = await peer_factory(ok)
    pool = HTTP1Pool("127.0.0.1", peer.port)
    for i in range(3):
        resp = await pool.post("/hook", f"body{i}".encode(), {"X-Test": "1"}, 5)
        assert (resp.status, resp.body, resp.headers["content-length"]) == (200, b"ok", "2")
    assert peer.connections == 1
    assert peer.requests[2].startswith(b"POST /hook HTTP/1.1\r\n")
    assert b"X-Test: 1\r\n" in peer.requests[2] and peer.requests[2].endswith(b"body2")
    pool.close()


async def test_chunked_and_empty_responses(peer_factory: Callable[[Reply], asyncio.Future[Peer]]) -> None:
    def reply(n: int, body: bytes) -> bytes:
        if n == 1:
            return b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    peer = await peer_factory(reply)
    pool = HTTP1Pool("127.0.0.1", peer.port)
    first = await pool.post("/", b"x", {}, 5)
    assert (first.status, first.body) == (500, b"abcde")
    second = await pool.post("/", b"x", {}, 5)
    assert (second.status, second.body) == (204, b"")
    assert peer.connections == 1
    pool.close()


async def test_closed_idle_connection_is_replaced(
    peer_factory: Callable[[Reply], asyncio.Future[Peer]],
) -> None:
    # The second request finds its keep-alive connection closed by the peer and goes on a new one.
    peer = await peer_factory(lambda n, body: b"" if n == 2 else ok(n, body))
    pool = HTTP1Pool("127.0.0.1", peer.port)
    assert (await pool.post("/", b"a", {}, 5)).status == 200
    assert (await pool.post("/", b"b", {}, 5)).status == 200
    assert peer.connections == 2
    pool.close()


async def test_connection_close_is_honoured(peer_factory: Callable[[Reply], asyncio.Future[Peer]]) -> None:
    peer = await peer_factory(
        lambda n, b: b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )
    pool = HTTP1Pool("127.0.0.1", peer.port)
    await pool.post("/", b"a", {}, 5)
    await pool.post("/", b"b", {}, 5)
    assert peer.connections == 2
    pool.close()


async def test_malformed_response_and_bad_header(
    peer_factory: Callable[[Reply], asyncio.Future[Peer]],
) -> None:
    peer = await peer_factory(lambda n, b: b"SMTP ready\r\n\r\n")
    pool = HTTP1Pool("127.0.0.1", peer.port)
    with pytest.raises(OSError, match="malformed status line"):
        await pool.post("/", b"a", {}, 5)
    with pytest.raises(ValueError, match="invalid HTTP header 'X-Bad'"):
        await pool.post("/", b"a", {"X-Bad": "a\r\nInjected: 1"}, 5)


async def test_timeout(peer_factory: Callable[[Reply], asyncio.Future[Peer]]) -> None:
    never = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await never.wait()

    server = await asyncio.start_server(slow, "127.0.0.1", 0)
    pool = HTTP1Pool("127.0.0.1", server.sockets[0].getsockname()[1])
    with pytest.raises(TimeoutError):
        await pool.post("/", b"a", {}, 0.2)
    server.close()


def _notification() -> Notification:
    a = Alert(labels={"alertname": "A"}, starts_at=1.0, ends_at=2e9)
    return Notification(
        receiver="r",
        status="firing",
        alerts=[a],
        group_key="{}:{}",
        group_labels={},
        common_labels={"alertname": "A"},
        common_annotations={},
        external_url="http://tocsin",
        now=100.0,
        idempotency_key="k1",
    )


async def test_webhook_uses_the_plain_client_and_maps_errors(
    peer_factory: Callable[[Reply], asyncio.Future[Peer]],
) -> None:
    def reply(n: int, body: bytes) -> bytes:
        status = {1: b"200 OK", 2: b"503 Busy", 3: b"400 Bad"}[n]
        return b"HTTP/1.1 " + status + b"\r\nContent-Length: 4\r\n\r\nnope"

    peer = await peer_factory(reply)
    w = WebhookIntegration("r", 0, url=f"http://127.0.0.1:{peer.port}/hook")
    await w.notify(_notification())
    assert b"\r\nIdempotency-Key: " in peer.requests[0]
    assert b'"groupKey":"{}:{}"' in peer.requests[0]
    with pytest.raises(NotifyError, match="webhook answered 503: nope") as e1:
        await w.notify(_notification())
    assert e1.value.retryable
    with pytest.raises(NotifyError, match="webhook answered 400") as e2:
        await w.notify(_notification())
    assert not e2.value.retryable
    assert peer.connections == 1
    await w.close()


async def test_webhook_unreachable_is_retryable() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    w = WebhookIntegration("r", 0, url=f"http://127.0.0.1:{port}/hook", timeout=2)
    with pytest.raises(NotifyError, match="webhook POST failed") as e:
        await w.notify(_notification())
    assert e.value.retryable


def test_is_plain() -> None:
    from types import SimpleNamespace

    from tocsin.notify.http_options import is_plain

    assert is_plain(None)
    assert is_plain(SimpleNamespace(tls_config=None, proxy_url=None, follow_redirects=True))
    assert not is_plain(SimpleNamespace(tls_config=object()))
    assert not is_plain(SimpleNamespace(proxy_url="http://proxy:3128"))


async def test_redirect_is_followed_through_httpx(
    peer_factory: Callable[[Reply], asyncio.Future[Peer]],
) -> None:
    import httpx

    def reply(n: int, body: bytes) -> bytes:
        if n < 3:
            return b"HTTP/1.1 307 Temporary Redirect\r\nLocation: /moved\r\nContent-Length: 0\r\n\r\n"
        return ok(n, body)

    peer = await peer_factory(reply)
    client = httpx.AsyncClient(follow_redirects=True)
    w = WebhookIntegration(
        "r",
        0,
        url=f"http://127.0.0.1:{peer.port}/hook",
        client=client,
        plain_http=True,
        follow_redirects=True,
    )
    await w.notify(_notification())
    assert [r.split(b" ", 2)[1] for r in peer.requests] == [b"/hook", b"/hook", b"/moved"]
    await client.aclose()
