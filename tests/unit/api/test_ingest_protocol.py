"""POST /api/v2/alerts answered by the HTTP protocol (api/ingest_protocol.py), on a real uvicorn
server and real sockets: the same answers as the ASGI path, and every other request left to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tocsin.api.ingest_fast_path import IngestFastPath
from tocsin.api.ingest_protocol import IngestRoute, IngestStart, ingest_protocol
from tocsin.storage import StorageError

PATH = "/api/v2/alerts"
LIMIT = 1000

Handler = Callable[[bytes, str], Awaitable[tuple[int, bytes]]]


class _Started:
    """What V2.ingest_start returns for alerts waiting for their commit."""

    def __init__(self, committed: asyncio.Future[None], fail: bool) -> None:
        self.committed: asyncio.Future[None] | None = committed
        self.fail = fail

    def finish(self) -> tuple[int, bytes]:
        if self.fail:
            raise RuntimeError("boom")
        return 200, b""


class Calls:
    """What reached the handler, and by which path."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, bytes, str]] = []
        self.fail = False
        self.commit_error: Exception | None = None
        self.delay = 0.0

    def handler(self, via: str) -> Handler:
        """The ASGI path's handler (V2.ingest_body)."""

        async def ingest(body: bytes, tenant: str) -> tuple[int, bytes]:
            started = self.starter(via)(body, tenant)
            if isinstance(started, tuple):
                return started
            assert started.committed is not None
            await started.committed
            return started.finish()

        return ingest

    def starter(self, via: str) -> IngestStart:
        """The protocol's (V2.ingest_start): the answer, or a commit to wait for."""

        def start(body: bytes, tenant: str) -> tuple[int, bytes] | _Started:
            self.seen.append((via, body, tenant))
            if body == b"bad":
                return 400, msgspec.json.encode("malformed")
            loop = asyncio.get_running_loop()
            committed: asyncio.Future[None] = loop.create_future()
            error = self.commit_error

            def commit() -> None:
                if error is not None:
                    committed.set_exception(error)
                else:
                    committed.set_result(None)

            loop.call_later(self.delay, commit)
            return _Started(committed, self.fail)

        return start


def _app(calls: Calls) -> Starlette:
    async def healthy(request: Request) -> Response:
        return PlainTextResponse("OK")

    fast = Middleware(IngestFastPath, path=PATH, ingest=calls.handler("asgi"), max_body=LIMIT)
    return Starlette(routes=[Route("/-/healthy", healthy)], middleware=[fast])


@asynccontextmanager
async def _server(calls: Calls) -> AsyncIterator[int]:
    protocol = ingest_protocol(IngestRoute(PATH, LIMIT, calls.starter("protocol")))
    assert protocol is not None  # the installed uvicorn has what the protocol needs
    config = uvicorn.Config(
        _app(calls), host="127.0.0.1", port=0, http=protocol, loop="asyncio", lifespan="off", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


async def _response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    status = int(head[0].split()[1])
    headers = dict(line.lower().split(": ", 1) for line in head[1:] if line)
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers, body


def _post(body: bytes, target: str = PATH, extra: str = "", version: str = "1.1") -> bytes:
    head = f"POST {target} HTTP/{version}\r\nHost: t\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    return head.encode() + body


def run(test: Callable[[int, Calls], Awaitable[Any]]) -> Calls:
    calls = Calls()

    async def main() -> None:
        async with _server(calls) as port:
            await test(port, calls)

    asyncio.run(main())
    return calls


def test_the_protocol_answers_ingest_as_the_asgi_path_does() -> None:
    async def test(port: int, calls: Calls) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        answers = []
        for target in (PATH, PATH + "?x=1"):  # a query string leaves the request to ASGI
            for body in (b"[]", b"bad"):
                writer.write(_post(body, target, "X-Tocsin-Tenant: team-a\r\n"))
                status, headers, payload = await _response(reader)
                headers.pop("date")
                answers.append((status, headers, payload))
        writer.close()
        assert answers[:2] == answers[2:]
        assert answers[0] == (200, {"server": "uvicorn", "content-length": "0"}, b"")
        assert answers[1][0] == 400 and answers[1][1]["content-type"] == "application/json"
        assert answers[1][2] == b'"malformed"'

    calls = run(test)
    assert [via for via, _, _ in calls.seen] == ["protocol", "protocol", "asgi", "asgi"]
    assert {tenant for _, _, tenant in calls.seen} == {"team-a"}


def test_pipelined_requests_are_answered_in_order() -> None:
    async def test(port: int, calls: Calls) -> None:
        calls.delay = 0.02  # each ingest still waits when the next request is parsed
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        healthy = b"GET /-/healthy HTTP/1.1\r\nHost: t\r\n\r\n"
        writer.write(_post(b"[1]") + _post(b"[2]") + healthy + _post(b"[3]"))
        answers = [await _response(reader) for _ in range(4)]
        writer.close()
        assert [(s, b) for s, _, b in answers] == [(200, b""), (200, b""), (200, b"OK"), (200, b"")]

    calls = run(test)
    assert [body for _, body, _ in calls.seen] == [b"[1]", b"[2]", b"[3]"]


def test_a_body_over_the_limit_is_refused_and_the_connection_goes_on() -> None:
    async def test(port: int, calls: Calls) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_post(b"x" * (LIMIT + 1)))
        status, _, payload = await _response(reader)
        assert (status, payload) == (413, b'"request body of 1001 bytes exceeds the limit of 1000 bytes"')
        # Chunked: no length declared, the limit is found while reading.
        chunk = b"y" * 600
        writer.write(
            f"POST {PATH} HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            + b"%x\r\n%s\r\n" % (len(chunk), chunk) * 2
            + b"0\r\n\r\n"
        )
        status, _, payload = await _response(reader)
        assert (status, payload) == (413, b'"request body exceeds the limit of 1000 bytes"')
        writer.write(_post(b"[]"))
        assert (await _response(reader))[0] == 200
        writer.close()

    calls = run(test)
    assert [body for _, body, _ in calls.seen] == [b"[]"]


def test_expect_100_continue_and_http_1_0_are_served() -> None:
    async def test(port: int, calls: Calls) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = f"POST {PATH} HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        writer.write(head.encode())
        assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        writer.write(b"[]")
        assert (await _response(reader))[0] == 200
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_post(b"[]", version="1.0"))
        status, headers, _ = await _response(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await reader.read() == b""  # and closed
        writer.close()

    calls = run(test)
    assert [via for via, _, _ in calls.seen] == ["asgi", "protocol"]


@pytest.mark.parametrize("failure", ["routing", "commit"])
def test_a_failure_after_the_body_answers_500_and_closes(
    caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    async def test(port: int, calls: Calls) -> None:
        if failure == "routing":
            calls.fail = True
        else:
            calls.commit_error = StorageError("t.db: write failed: disk I/O error")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_post(b"[]"))
        status, headers, payload = await _response(reader)
        assert (status, payload, headers["connection"]) == (500, b"Internal Server Error", "close")
        assert await reader.read() == b""
        writer.close()

    run(test)
    assert "POST /api/v2/alerts failed" in caplog.text
    assert ("boom" if failure == "routing" else "disk I/O error") in caplog.text


def test_a_client_gone_before_the_answer_leaves_the_server_serving() -> None:
    async def test(port: int, calls: Calls) -> None:
        calls.delay = 0.05
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_post(b"[1]"))
        await writer.drain()
        writer.close()
        await asyncio.sleep(0.15)  # the ingest finished after the client left
        calls.delay = 0
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(_post(b"[2]"))
        assert (await _response(reader))[0] == 200
        writer.close()

    calls = run(test)
    assert [body for _, body, _ in calls.seen] == [b"[1]", b"[2]"]
