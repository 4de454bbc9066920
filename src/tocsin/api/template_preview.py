"""``POST /api/tocsin/v1/templates/render``: preview a channel's message parts.

Body: ``{"channel": "slack", "overrides": {"title": "..."}, "payload": {...webhook v4...},
"status": "firing"}``; only ``channel`` is required. Answers ``{"parts": {...}}`` or 400 with the
reason (unknown channel or part, template syntax error with its line, bad payload).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tocsin.api.http import BodyTooLarge, read_body

#: a preview request carries at most a webhook payload and a few template overrides
MAX_BODY = 1024 * 1024


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def render_endpoint(request: Request) -> JSONResponse:
    # Imported by the first preview, not with the app: the templates load Jinja2 (3 MiB resident),
    # which a server whose channels use no template never needs.
    from tocsin.notify.templates.preview import preview
    from tocsin.notify.templates.render import TemplateError

    try:
        body: Any = json.loads(await read_body(request, MAX_BODY))
    except BodyTooLarge as e:
        return JSONResponse({"error": str(e)}, status_code=413)
    except ValueError:
        return _bad("body must be JSON")
    if not isinstance(body, dict) or not isinstance(body.get("channel"), str):
        return _bad("body needs a 'channel' string")
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict) or not all(isinstance(v, str) for v in overrides.values()):
        return _bad("'overrides' must map part names to template strings")
    payload = body.get("payload")
    if payload is not None and not isinstance(payload, dict):
        return _bad("'payload' must be an Alertmanager webhook object")
    try:
        parts = preview(body["channel"], overrides, payload, str(body.get("status", "firing")))
    except TemplateError as e:
        return _bad(str(e))
    return JSONResponse({"parts": parts})


def template_routes(path: str = "/api/tocsin/v1/templates/render") -> list[Route]:
    return [Route(path, render_endpoint, methods=["POST"])]
