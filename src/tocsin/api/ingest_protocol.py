"""POST /api/v2/alerts answered by the HTTP protocol itself, below ASGI.

``ingest_fast_path.IngestFastPath`` already spares this request Starlette's routing, but each POST
still went through uvicorn's ASGI machinery: a scope dict, a ``RequestResponseCycle`` with its
``asyncio.Event``, the ``receive`` and ``send`` coroutines and their message dicts, two middleware
calls, and the checks of every response header. Per request of 64 alerts that was about a sixth
of the event loop's time while ingesting (perf, 250k alerts).

``ingest_protocol`` returns a subclass of uvicorn's httptools protocol that recognises the request
once its headers are parsed (POST, exactly the ingest path, no ``Expect: 100-continue``, no request
still answering before it on the connection) and then collects the body and hands it to
``V2.ingest_start`` at once, in the callback that read it: the alerts are read, merged and queued
for their commit there, and a callback on the commit's future routes them
(``IngestStarted.finish``) and writes the same answer as the ASGI path (status line, uvicorn's
default headers, ``content-length``, ``content-type`` when there is a body) straight to the
transport. No task is made for the request. Any other request takes uvicorn's own path to the
ASGI application, ``IngestFastPath`` included (which also serves this request wherever the
protocol cannot: another HTTP implementation, a test client).

It leans on uvicorn's protocol class (its parser callbacks and the fields of its request cycle
that the class reads); ``ingest_protocol`` returns None when the installed uvicorn has not the
pieces it needs, and the server then runs uvicorn's protocol unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from tocsin.api.http import TENANT_HEADER
from tocsin.api.ingest_fast_path import declared_too_large, streamed_too_large
from tocsin.model import DEFAULT_TENANT

log = logging.getLogger(__name__)

_TENANT = TENANT_HEADER.encode("latin-1")


class Started(Protocol):
    """What ``IngestRoute.start`` returns when the alerts wait for their commit."""

    committed: asyncio.Future[None] | None

    def finish(self) -> tuple[int, bytes]: ...


#: the request up to its commit: the answer at once, or what finishes it (``V2.ingest_start``)
IngestStart = Callable[[bytes, str], "tuple[int, bytes] | Started"]


@dataclass(frozen=True)
class IngestRoute:
    """Where POST /api/v2/alerts is served, its body limit, and what serves it below ASGI
    (``create_app`` records it on the app)."""

    path: str
    max_body: int
    start: IngestStart


class _NoEvent:
    """uvicorn's protocol sets its cycle's event on body, end and disconnect; nothing waits here."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _NoEvent()


class IngestCycle:
    """One POST being answered by the protocol: the fields uvicorn's protocol reads of its own
    ``RequestResponseCycle`` outside the callbacks overridden here (response_complete,
    disconnected, keep_alive, message_event), and the request's own."""

    __slots__ = (
        "chunks",
        "disconnected",
        "keep_alive",
        "message_event",
        "response_complete",
        "size",
        "tenant",
    )

    def __init__(self, keep_alive: bool, tenant: str) -> None:
        self.chunks: list[bytes] = []
        self.size = 0
        self.tenant = tenant
        self.keep_alive = keep_alive
        self.response_complete = False
        self.disconnected = False
        self.message_event = _NO_EVENT


def ingest_protocol(route: IngestRoute) -> type[asyncio.Protocol] | None:
    """uvicorn's httptools protocol, answering ``route`` itself; None if it cannot be built."""
    try:
        from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
    except ImportError:  # no httptools (uvicorn without its "standard" extra)
        return None
    needed = ("on_headers_complete", "on_body", "on_message_complete", "on_response_complete")
    if not all(hasattr(HttpToolsProtocol, name) for name in needed):
        return None

    path = route.path.encode("ascii")
    start, limit = route.start, route.max_body
    json_headers = b"content-type: application/json\r\n"

    class IngestProtocol(HttpToolsProtocol):
        cycle: Any

        def on_headers_complete(self) -> None:
            previous = self.cycle
            if (
                self.url != path
                or self.parser.get_method() != b"POST"
                or self.expect_100_continue
                or self.parser.should_upgrade()
                or self.limit_concurrency is not None
                or (previous is not None and not previous.response_complete)
            ):
                super().on_headers_complete()
                return
            declared = b""
            tenant = DEFAULT_TENANT
            for name, value in self.headers:  # names are lower-cased by on_header
                if name == b"content-length":
                    declared = value
                elif name == _TENANT and value:
                    tenant = value.decode("latin-1")
            keep_alive = self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive()
            self.cycle = cycle = IngestCycle(keep_alive, tenant)
            refused = declared_too_large(declared, limit)
            if refused is not None:
                self._answer(cycle, 413, refused)

        def on_body(self, body: bytes) -> None:
            cycle = self.cycle
            if type(cycle) is not IngestCycle:
                super().on_body(body)
                return
            if cycle.response_complete:
                return  # answered already (too large): the rest of the body is dropped
            cycle.size += len(body)
            if cycle.size > limit:
                self._answer(cycle, 413, streamed_too_large(limit))
                return
            cycle.chunks.append(body)

        def on_message_complete(self) -> None:
            cycle = self.cycle
            if type(cycle) is not IngestCycle:
                super().on_message_complete()
                return
            if cycle.response_complete:
                return
            chunks = cycle.chunks
            body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
            cycle.chunks = []
            # No task per request: the body is read and its alerts merged here, and the answer
            # waits for their commit in a callback of the commit's future. A task (and the
            # coroutines awaiting each other in it) cost a turn of the event loop before the
            # request was even read, and CPU on every request.
            try:
                started = start(body, cycle.tenant)
            except Exception:
                self._failed(cycle)
                return
            if isinstance(started, tuple):
                self._answer(cycle, *started)
            elif started.committed is None:
                self._finish(cycle, started, None)
            else:
                started.committed.add_done_callback(functools.partial(self._finish, cycle, started))

        def _finish(
            self, cycle: IngestCycle, started: Started, committed: asyncio.Future[None] | None
        ) -> None:
            try:
                if committed is not None:
                    committed.result()  # the commit's error, if any, is the request's
                status, payload = started.finish()
            except (Exception, asyncio.CancelledError):
                self._failed(cycle)
                return
            self._answer(cycle, status, payload)

        def _failed(self, cycle: IngestCycle) -> None:
            # What Starlette's error middleware did for the ASGI path: log, answer 500.
            log.exception("POST %s failed", route.path)
            cycle.keep_alive = False
            self._answer(cycle, 500, b"Internal Server Error")

        def _answer(self, cycle: IngestCycle, status: int, payload: bytes) -> None:
            cycle.response_complete = True
            if cycle.disconnected:
                return
            head = [STATUS_LINE[status]]
            for name, value in self.server_state.default_headers:
                head += [name, b": ", value, b"\r\n"]
            head.append(b"content-length: %d\r\n" % len(payload))
            if payload:
                head.append(json_headers if status != 500 else b"content-type: text/plain; charset=utf-8\r\n")
            if not cycle.keep_alive:
                head.append(b"connection: close\r\n")
            head += [b"\r\n", payload]
            if self.access_log:
                client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
                self.access_logger.info('%s - "POST %s HTTP/1.1" %d', client, route.path, status)
            self.transport.write(b"".join(head))
            if not cycle.keep_alive:
                self.transport.close()
            self.on_response_complete()

    return IngestProtocol
