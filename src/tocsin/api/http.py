"""Small HTTP helpers shared by the API modules: JSON responses, bounded bodies, tenants."""

from __future__ import annotations

import html
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from tocsin.model import DEFAULT_TENANT

_encode = msgspec.json.Encoder().encode

#: Header naming the tenant of a request. Unset means the default tenant, so unmodified
#: Alertmanager clients keep working.
TENANT_HEADER = "x-tocsin-tenant"


class BodyTooLarge(ValueError):
    pass


def json_response(data: Any, status: int = 200) -> Response:
    return Response(_encode(data), status_code=status, media_type="application/json")


async def read_body(request: Request, limit: int) -> bytes:
    """Read the body, refusing it as soon as it exceeds ``limit`` bytes (no unbounded buffering)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def tenant_of(request: Request) -> str:
    return request.headers.get(TENANT_HEADER) or DEFAULT_TENANT


def html_page(status: int, title: str, text: str, extra: str = "") -> HTMLResponse:
    """A minimal page for people following a link (``text`` and ``extra`` are trusted HTML)."""
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>tocsin</title>"
        "<style>body{font-family:sans-serif;max-width:36em;margin:4em auto}button{font-size:1.2em}</style>"
        f"</head><body><h1>{html.escape(title)}</h1><p>{text}</p>{extra}</body></html>"
    )
    return HTMLResponse(body, status_code=status)
