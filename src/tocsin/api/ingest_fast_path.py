"""POST /api/v2/alerts without Starlette's routing: the one request that arrives thousands of times
a second.

Prometheus posts every evaluation's alerts here; everything else the API serves is occasional.
Going through Starlette cost this request two ``Mount`` regex scans, a ``Request`` and a
``Response`` object and their header parsing: about a fifth of the event loop's time while
ingesting (py-spy, GIL-holding samples, 100k alerts). This ASGI middleware answers exactly that
method and path itself, with the same handler (``V2.ingest_body``), the same body limit and the
same answers; any other request, including the path with a trailing slash, goes on to Starlette.
It sits inside Starlette's error middleware, so a failure still becomes a 500 as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from starlette.types import ASGIApp, Receive, Scope, Send

from tocsin.api.http import TENANT_HEADER
from tocsin.model import DEFAULT_TENANT

_TENANT = TENANT_HEADER.encode("latin-1")
_JSON_HEADERS = [(b"content-type", b"application/json")]

IngestBody = Callable[[bytes, str], Awaitable[tuple[int, bytes]]]


class IngestFastPath:
    def __init__(self, app: ASGIApp, *, path: str, ingest: IngestBody, max_body: int) -> None:
        self.app = app
        self.path = path
        self.ingest = ingest
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        declared = b""
        tenant = DEFAULT_TENANT
        for name, value in scope["headers"]:  # ASGI servers lower-case header names
            if name == b"content-length":
                declared = value
            elif name == _TENANT and value:
                tenant = value.decode("latin-1")
        limit = self.max_body
        refused = declared_too_large(declared, limit)
        if refused is not None:
            await _answer(send, 413, refused)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client is gone: nothing was decoded, nothing stored
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    await _answer(send, 413, streamed_too_large(limit))
                    return
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        status, payload = await self.ingest(body, tenant)
        await _answer(send, status, payload)


def _json_string(text: str) -> bytes:
    return msgspec.json.encode(text)  # Alertmanager answers errors with a bare JSON string


def declared_too_large(declared: bytes, limit: int) -> bytes | None:
    """The 413 body for a ``Content-Length`` over ``limit`` (None when it is not), answered before
    the body is read; shared with ``ingest_protocol`` so that both paths say the same."""
    if declared.isdigit() and int(declared) > limit:
        return _json_string(f"request body of {declared.decode()} bytes exceeds the limit of {limit} bytes")
    return None


def streamed_too_large(limit: int) -> bytes:
    """The 413 body once the body read so far is over ``limit`` (no length, or a wrong one)."""
    return _json_string(f"request body exceeds the limit of {limit} bytes")


async def _answer(send: Send, status: int, payload: bytes) -> None:
    headers: list[Any] = [(b"content-length", str(len(payload)).encode())]
    if payload:
        headers += _JSON_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
