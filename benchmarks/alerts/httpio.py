"""A minimal HTTP/1.1 client and webhook sink on asyncio streams.

Hand-rolled on purpose: the load generator must not be the bottleneck on a 2-core machine, and a
keep-alive connection that writes one pre-encoded request and reads one response costs far less
than a general-purpose client library per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class HTTPError(RuntimeError):
    """The server answered with an unexpected status or a malformed response."""


async def _read_body(reader: asyncio.StreamReader, headers: dict[bytes, bytes]) -> bytes:
    length = headers.get(b"content-length")
    if length is not None:
        return await reader.readexactly(int(length)) if int(length) else b""
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # the empty trailer section
                return b"".join(chunks)
            chunks.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return b""


def _parse_head(head: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


class Connection:
    """One keep-alive connection; requests on it are strictly sequential."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port, limit=1 << 24)
        return self._reader, self._writer

    async def request(
        self, method: str, path: str, body: bytes = b"", content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        reader, writer = await self._open()
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        writer.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            writer.write(body)
        await writer.drain()
        status_line, headers = _parse_head(await reader.readuntil(b"\r\n\r\n"))
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HTTPError(f"malformed status line from {self.host}:{self.port}: {status_line!r}")
        data = await _read_body(reader, headers)
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return int(parts[1]), data

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        self._reader = self._writer = None


Handler = Callable[[bytes, float], None]


@dataclass
class Sink:
    """A webhook receiver: answers 200 at once and hands each body with its arrival time to
    ``handler`` (time.monotonic(), taken when the last byte of the request was read)."""

    handler: Handler
    host: str = "127.0.0.1"
    port: int = 0
    requests: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=1 << 24)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                _, headers = _parse_head(head)
                body = await _read_body(reader, headers)
                arrived = time.monotonic()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                self.requests += 1
                self.handler(body, arrived)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            return
        finally:
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
