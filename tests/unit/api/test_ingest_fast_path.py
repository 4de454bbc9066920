"""POST /api/v2/alerts through the ASGI fast path: the same answers as the Starlette route,
and every other request passed on untouched."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tocsin.api.app import create_app
from tocsin.api.ingest_fast_path import IngestFastPath
from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.storage import open_storage

CONFIG = "route: {receiver: default}\nreceivers: [{name: default}]\n"
T0 = 1_800_000_000.0
ALERT = [{"labels": {"alertname": "A"}}]


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[Engine]:
    e = Engine(
        load_config_text(CONFIG), open_storage(url=f"sqlite:///{tmp_path}/t.db"), clock=ManualClock(T0)
    )
    yield e
    e.writer.flush()
    e.writer.close()
    e.storage.close()


def _client(engine: Engine, prefix: str = "/", max_body: int = 4096) -> httpx.AsyncClient:
    async def reload() -> str | None:
        return None

    app = create_app(lambda: engine, reload, lambda: "", route_prefix=prefix, max_body=max_body)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


# (body, status, what the JSON answer must contain); each is also given to the Starlette route's
# handler, which must answer the same.
CASES: list[tuple[bytes, int, str]] = [
    (json.dumps(ALERT).encode(), 200, ""),
    (b"{not json", 400, "malformed JSON"),
    (b'{"labels": {}}', 400, "JSON array"),
    (b'[{"annotations": {}}]', 422, "labels"),
    (b'[{"labels": {"bad-name": "x"}}]', 400, "invalid name"),
    (b'[{"labels": {"a": "' + b"x" * 5000 + b'"}}]', 413, "exceeds the limit of 4096 bytes"),
]


@pytest.mark.parametrize(("body", "status", "needle"), CASES, ids=[str(c[1]) + c[2] for c in CASES])
async def test_fast_path_answers_like_the_starlette_route(
    engine: Engine, body: bytes, status: int, needle: str
) -> None:
    async with _client(engine) as c:
        fast = await c.post("/api/v2/alerts", content=body)
    assert fast.status_code == status
    if status == 200:
        assert fast.content == b"" and fast.headers["content-length"] == "0"
    else:
        assert fast.headers["content-type"] == "application/json"
        assert needle in fast.json()
    # The Starlette route behind it (reached here by calling the handler the route uses) agrees.
    from starlette.requests import Request

    from tocsin.api.am_v2 import V2

    v2 = V2(lambda: engine, lambda: "", 4096)
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    headers = [(b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/api/v2/alerts",
        "headers": headers,
        "query_string": b"",
    }
    slow = await v2.post_alerts(Request(scope, receive))
    assert slow.status_code == fast.status_code
    assert slow.body == fast.content


async def test_tenant_header_and_route_prefix(engine: Engine) -> None:
    async with _client(engine, prefix="/am") as c:
        r = await c.post("/am/api/v2/alerts", json=ALERT, headers={"X-Tocsin-Tenant": "team-b"})
        assert r.status_code == 200
        assert [a.tenant_id for a in engine.store] == ["team-b"]
        # Without the prefix there is no such route.
        assert (await c.post("/api/v2/alerts", json=ALERT)).status_code == 404
        # Reads of the same path still go through Starlette.
        got = (await c.get("/am/api/v2/alerts", headers={"X-Tocsin-Tenant": "team-b"})).json()
        assert [a["labels"] for a in got] == [{"alertname": "A"}]


async def test_body_in_several_chunks_and_declared_size(engine: Engine) -> None:
    body = json.dumps([{"labels": {"alertname": f"A{i}"}} for i in range(20)]).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 50):
            yield body[i : i + 50]

    async with _client(engine) as c:
        assert (await c.post("/api/v2/alerts", content=chunks())).status_code == 200
        assert len(engine.store) == 20
        # A declared length over the limit is refused before anything is read.
        r = await c.post("/api/v2/alerts", content=b"[]", headers={"content-length": "999999"})
        assert r.status_code == 413 and "999999 bytes exceeds" in r.json()
    assert len(engine.store) == 20


async def test_other_requests_pass_through_and_a_disconnect_stores_nothing(engine: Engine) -> None:
    passed: list[tuple[str, str]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        passed.append((scope.get("method", scope["type"]), scope.get("path", "")))

    async def ingest(body: bytes, tenant: str) -> tuple[int, bytes]:
        raise AssertionError("must not be called")

    mw = IngestFastPath(inner, path="/api/v2/alerts", ingest=ingest, max_body=100)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def disconnect() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    others = [("GET", "/api/v2/alerts"), ("POST", "/api/v2/alerts/"), ("POST", "/api/v2/silences")]
    for method, path in others:
        await mw({"type": "http", "method": method, "path": path, "headers": []}, disconnect, send)
    await mw({"type": "lifespan"}, disconnect, send)
    assert passed == [*others, ("lifespan", "")]
    # A client that goes away before its body arrives gets no answer and changes nothing.
    await mw({"type": "http", "method": "POST", "path": "/api/v2/alerts", "headers": []}, disconnect, send)
    assert sent == []
