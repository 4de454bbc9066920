"""A small keep-alive HTTP/1.1 client for plain-HTTP webhook POSTs.

Measured in benchmarks/: httpx spent about 2.5 ms of CPU per webhook POST (its pool polls every
idle socket and rescans its queue on each request), which made notification the largest cost of
ingesting 250k alerts. Plain ``http://`` receivers without proxies or TLS settings only need a
request line, a few headers and a sized body, which this client writes on reused connections for
a tenth of that. Anything else (https, proxies, redirects, http_config) stays on httpx.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import urllib.request
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True, slots=True)
class HTTP1Response:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes


class HTTP1Error(OSError):
    """The peer closed the connection or sent a response that is not HTTP/1.x."""


@functools.lru_cache(maxsize=1024)
def plain_http_target(url: str) -> tuple[str, int, str] | None:
    """(host, port, path?query) when ``url`` can go through this client, else None: https,
    credentials in the URL, or a proxy from the environment need httpx.

    Cached per URL: reading the proxy settings scans the whole environment, once per webhook
    (1% of the event loop while ingesting). Like httpx, which reads them when a client is made,
    tocsin takes the environment as it was when it first sent to the URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password:
        return None
    proxies = urllib.request.getproxies()
    if ("http" in proxies or "all" in proxies) and not urllib.request.proxy_bypass(parts.hostname):
        return None
    try:
        port = parts.port or 80
    except ValueError:
        return None
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return parts.hostname, port, path


def _check_header(name: str, value: str) -> None:
    # Spelled out rather than any() over "\r\n": a generator per header of every webhook request
    # was 1% of the event loop with 25,000 groups flushing.
    if "\r" in name or "\n" in name or ":" in name or "\r" in value or "\n" in value:
        raise ValueError(
            f"invalid HTTP header {name!r}: names and values may not hold CR, LF (or ':' in names)"
        )


Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class HTTP1Pool:
    """Idle keep-alive connections to one host:port, reused last-in first-out."""

    def __init__(self, host: str, port: int, max_idle: int = 64) -> None:
        self.host = host
        self.port = port
        self.max_idle = max_idle
        self._idle: deque[Conn] = deque()

    async def post(self, path: str, body: bytes, headers: dict[str, str], timeout: float) -> HTTP1Response:
        """POST ``body`` and return the response. Raises OSError or TimeoutError."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        for name, value in headers.items():
            _check_header(name, value)
            if name.lower() not in ("host", "content-length", "connection", "transfer-encoding"):
                lines.append(f"{name}: {value}")
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        async with asyncio.timeout(timeout):
            while self._idle:
                conn = self._idle.pop()
                if conn[1].is_closing() or conn[0].at_eof():
                    conn[1].close()
                    continue
                try:
                    return await self._exchange(conn, request)
                except (HTTP1Error, ConnectionError):
                    # The peer closed an idle keep-alive connection: try the next one. The request
                    # carries an Idempotency-Key, so sending it again is what Go clients do too.
                    continue
            conn = await asyncio.open_connection(self.host, self.port)
            return await self._exchange(conn, request)

    async def _exchange(self, conn: Conn, request: bytes) -> HTTP1Response:
        reader, writer = conn
        reuse = False
        try:
            writer.write(request)
            await writer.drain()
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as e:
                raise HTTP1Error("connection closed before a response") from e
            except asyncio.LimitOverrunError as e:
                raise HTTP1Error("response head too large") from e
            lines = head.decode("latin-1").split("\r\n")
            status_line = lines[0].split(" ", 2)
            if (
                len(status_line) < 2
                or not status_line[0].startswith("HTTP/1.")
                or not status_line[1].isdigit()
            ):
                raise HTTP1Error(f"malformed status line {lines[0]!r}")
            headers = {}
            for line in lines[1:]:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            status = int(status_line[1])
            if status in (204, 304) or status < 200:
                body, complete = b"", True
            else:
                body, complete = await _read_body(reader, headers)
            reuse = (
                complete and status_line[0] == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
            )
            return HTTP1Response(status, headers, body)
        finally:
            if reuse and len(self._idle) < self.max_idle:
                self._idle.append(conn)
            else:
                writer.close()

    def close(self) -> None:
        while self._idle:
            _, writer = self._idle.pop()
            with contextlib.suppress(Exception):
                writer.close()


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> tuple[bytes, bool]:
    """The response body and whether the connection is still usable after it."""
    try:
        if "content-length" in headers:
            n = int(headers["content-length"])
            return (await reader.readexactly(n) if n else b""), True
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                        pass
                    return b"".join(chunks), True
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
    except (ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
        raise HTTP1Error(f"malformed response body: {e}") from e
    # Neither length nor chunks: the body runs to the end of the connection.
    return await reader.read(), False
