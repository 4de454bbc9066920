"""tocsin's own API (beyond Alertmanager's): delivery history and test notifications.

Served under /api/tocsin/v1 because /api/v1 belongs to Alertmanager's retired API (410 Gone).
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tocsin.api.http import html_page, json_response, read_body, tenant_of
from tocsin.config import parse_duration
from tocsin.engine.engine import Engine
from tocsin.engine.silences import Silence, SilenceError
from tocsin.matchers import Matcher, MatcherError, parse_matchers
from tocsin.model import format_time, parse_time
from tocsin.storage.base import DeliveryRecord

MAX_LIMIT = 1000
SILENCE_CHOICES = ("30m", "1h", "4h", "1d")


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
            Route("/silence-link", self.silence_page, methods=["GET"]),
            Route("/silence-link", self.silence_create, methods=["POST"]),
        ]

    # --- silence links (the "Silence" link in notifications) -----------------------------------
    def _link_matchers(self, request: Request) -> list[Matcher]:
        ms = [m for f in request.query_params.getlist("filter") for m in parse_matchers(f)]
        if not ms:
            raise MatcherError("the link names no matchers (filter=...)")
        return ms

    async def silence_page(self, request: Request) -> Response:
        """Show the silence the link proposes; only the form's POST creates it, so link
        scanners in mail systems cannot silence anything by themselves."""
        try:
            ms = self._link_matchers(request)
        except MatcherError as e:
            return html_page(400, "Bad silence link", html.escape(str(e)))
        listed = "".join(f"<li><code>{html.escape(str(m))}</code></li>" for m in ms)
        options = "".join(f'<option value="{d}">{d}</option>' for d in SILENCE_CHOICES)
        form = (
            '<form method="post"><label>Duration <select name="duration">'
            f'{options}</select></label> <label>Comment <input name="comment"></label> '
            '<button type="submit">Silence</button></form>'
        )
        return html_page(200, "Silence alerts matching", f"<ul>{listed}</ul>", form)

    async def silence_create(self, request: Request) -> Response:
        try:
            ms = self._link_matchers(request)
            # A plain urlencoded form: parsed here rather than with an extra multipart dependency.
            form = {k: v[-1] for k, v in parse_qs((await read_body(request, 16 * 1024)).decode()).items()}
            duration = form.get("duration") or "1h"
            if duration not in SILENCE_CHOICES:
                raise ValueError(f"duration must be one of {', '.join(SILENCE_CHOICES)}")
            seconds = parse_duration(duration)
        except (MatcherError, ValueError, UnicodeDecodeError) as e:
            return html_page(400, "Bad silence link", html.escape(str(e)))
        engine = self._engine()
        now = engine.clock.now()
        sil = Silence(
            matchers=ms,
            starts_at=now,
            ends_at=now + seconds,
            created_by="link",
            comment=form.get("comment") or "silenced from a notification link",
            tenant_id=tenant_of(request),
        )
        try:
            sid = await engine.set_silence(sil)
        except SilenceError as e:
            return html_page(400, "Silence refused", html.escape(str(e)))
        return html_page(200, "Silenced", f"Silence <code>{sid}</code> for {html.escape(duration)}.")

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
