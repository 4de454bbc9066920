"""The HTTP application: Alertmanager's API v2 and management endpoints under the route prefix."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from tocsin.api.am_v2 import V2
from tocsin.api.http import json_response
from tocsin.api.incidents_api import IncidentsAPI
from tocsin.api.ingest_fast_path import IngestFastPath
from tocsin.api.ingest_protocol import IngestRoute
from tocsin.api.native_v1 import NativeV1
from tocsin.api.openapi import openapi_document
from tocsin.api.slack import EngineInteractionHandler, slack_routes
from tocsin.api.template_preview import template_routes
from tocsin.engine.engine import Engine

DEFAULT_MAX_BODY = 32 * 1024 * 1024


def create_app(
    engine: Callable[[], Engine],
    reload: Callable[[], Awaitable[str | None]],
    config_yaml: Callable[[], str],
    *,
    route_prefix: str = "/",
    max_body: int = DEFAULT_MAX_BODY,
    ready: Callable[[], bool] = lambda: True,
    slack_signing_secret: str | None = None,
) -> Starlette:
    """``reload`` re-reads the configuration and returns an error message, or None on success."""
    v2 = V2(engine, config_yaml, max_body)

    async def healthy(request: Request) -> Response:
        return PlainTextResponse("OK")

    async def is_ready(request: Request) -> Response:
        if ready():
            return PlainTextResponse("OK")
        return PlainTextResponse("Service Unavailable", status_code=503)

    async def do_reload(request: Request) -> Response:
        error = await reload()
        if error is not None:
            return PlainTextResponse(f"failed to reload config: {error}\n", status_code=500)
        return PlainTextResponse("")

    async def v1_gone(request: Request) -> Response:
        return json_response(
            {
                "status": "deprecated",
                "error": "The Alertmanager v1 API was deprecated and removed; use /api/v2",
            },
            410,
        )

    async def openapi(request: Request) -> Response:
        return json_response(openapi_document(prefix))

    async def index(request: Request) -> Response:
        return RedirectResponse(
            url=f"{prefix}/api/v2/openapi.json" if prefix != "/" else "/api/v2/openapi.json"
        )

    prefix = "/" + route_prefix.strip("/") if route_prefix.strip("/") else ""
    native: list[BaseRoute] = [
        *NativeV1(engine).routes(),
        *IncidentsAPI(engine).routes(),
        *template_routes("/templates/render"),
    ]
    if slack_signing_secret:
        # Slack's "Request URL" for interactivity: <external URL>/api/tocsin/v1/slack/interactions
        native += slack_routes(
            slack_signing_secret, EngineInteractionHandler(engine()), path="/slack/interactions"
        )
    routes: list[BaseRoute] = [
        Route("/-/healthy", healthy, methods=["GET", "HEAD"]),
        Route("/-/ready", is_ready, methods=["GET", "HEAD"]),
        Route("/-/reload", do_reload, methods=["POST", "PUT"]),
        Route("/api/v2/openapi.json", openapi, methods=["GET"]),
        Mount("/api/v2", routes=v2.routes()),
        Mount("/api/tocsin/v1", routes=native),
        Route("/api/v1/{path:path}", v1_gone, methods=["GET", "POST", "DELETE", "PUT"]),
        Route("/", index, methods=["GET"]),
    ]
    if prefix:
        routes = [Mount(prefix, routes=routes)]
    ingest = IngestRoute(f"{prefix}/api/v2/alerts", max_body, v2.ingest_start)
    fast = Middleware(IngestFastPath, path=ingest.path, ingest=v2.ingest_body, max_body=max_body)
    app = Starlette(routes=routes, middleware=[fast])
    # For the server's HTTP protocol, which answers this request below ASGI (ingest_protocol.py).
    app.state.ingest_route = ingest
    return app
