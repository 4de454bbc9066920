"""tocsin's own API (beyond Alertmanager's): delivery history and test notifications.

Served under /api/tocsin/v1 because /api/v1 belongs to Alertmanager's retired API (410 Gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.api.http import json_response, tenant_of
from tocsin.engine.engine import Engine
from tocsin.model import format_time, parse_time
from tocsin.storage.base import DeliveryRecord

MAX_LIMIT = 1000


def delivery_json(d: DeliveryRecord) -> dict[str, object]:
    return {
        "id": d.id,
        "receiver": d.receiver,
        "integration": d.integration,
        "groupKey": d.group_key,
        "reason": d.reason,
        "alerts": d.alerts,
        "status": "ok" if d.ok else "failed",
        "attempts": d.attempts,
        "error": d.error,
        "startedAt": format_time(d.started_at),
        "finishedAt": format_time(d.finished_at),
        "latencySeconds": round(d.finished_at - d.started_at, 3),
    }


class NativeV1:
    def __init__(self, engine: Callable[[], Engine]) -> None:
        self._engine = engine

    def routes(self) -> list[Route]:
        return [
            Route("/deliveries", self.deliveries, methods=["GET"]),
            Route("/receivers/{name}/test", self.test_receiver, methods=["POST"]),
            Route("/stats", self.stats, methods=["GET"]),
        ]

    async def deliveries(self, request: Request) -> Response:
        q = request.query_params
        try:
            limit = int(q.get("limit", "100"))
            if not 1 <= limit <= MAX_LIMIT:
                raise ValueError
        except ValueError:
            return json_response(f"limit must be an integer from 1 to {MAX_LIMIT}", 400)
        status = q.get("status")
        if status not in (None, "ok", "failed"):
            return json_response("status must be ok or failed", 400)
        try:
            since = parse_time(q["since"]) if "since" in q else 0.0
        except ValueError as e:
            return json_response(f"since: {e}", 400)
        storage = self._engine().storage
        rows = await asyncio.get_running_loop().run_in_executor(
            None,
            lambda: storage.query_deliveries(
                tenant_of(request),
                receiver=q.get("receiver"),
                group_key=q.get("groupKey"),
                ok=None if status is None else status == "ok",
                since=since,
                limit=limit,
            ),
        )
        return json_response([delivery_json(d) for d in rows])

    async def test_receiver(self, request: Request) -> Response:
        name = request.path_params["name"]
        try:
            results = await self._engine().test_receiver(name, tenant_of(request))
        except KeyError:
            return json_response(f"receiver {name!r} not found", 404)
        ok = all(r["ok"] for r in results)
        return json_response({"receiver": name, "ok": ok, "integrations": results}, 200)

    async def stats(self, request: Request) -> Response:
        return json_response(self._engine().stats())
