"""The running service: configuration, storage, engine and HTTP wired together.

Kept thin on purpose: everything with logic lives in engine/, storage/ and api/.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from tocsin.api.app import DEFAULT_MAX_BODY, create_app
from tocsin.api.ingest_protocol import ingest_protocol
from tocsin.config import Config, ConfigError, default_config, load_config_file
from tocsin.engine.engine import Engine
from tocsin.storage import open_storage
from tocsin.storage.lock import instance_lock

if TYPE_CHECKING:
    from tocsin.incidents.setup import IncidentsSetup

log = logging.getLogger("tocsin")


@dataclass
class ServeOptions:
    config_file: str | None = None
    incidents_file: str | None = None
    storage_path: str = "data"
    storage_url: str | None = None
    listen_address: str = "127.0.0.1:9093"
    external_url: str | None = None
    route_prefix: str | None = None
    retention: float = 120 * 3600
    history_retention: float = 30 * 86400
    max_body: int = DEFAULT_MAX_BODY
    slack_signing_secret: str | None = None
    standby: bool = False
    commit_process: bool = True


def parse_listen_address(addr: str) -> tuple[str, int]:
    """``host:port``, ``:port`` (all interfaces) or ``[v6]:port``."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"invalid --web.listen-address {addr!r}: expected host:port")
    host = host.strip("[]") or "0.0.0.0"
    return host, int(port)


def external_url_for(opts: ServeOptions, host: str, port: int) -> str:
    if opts.external_url:
        return opts.external_url.rstrip("/")
    shown = "localhost" if host in ("0.0.0.0", "::", "127.0.0.1") else host
    return f"http://{shown}:{port}"


def route_prefix_for(opts: ServeOptions, external_url: str) -> str:
    """Alertmanager's rule: the prefix defaults to the path of the external URL."""
    if opts.route_prefix is not None:
        return opts.route_prefix
    from urllib.parse import urlsplit

    return urlsplit(external_url).path or "/"


class Service:
    def __init__(self, opts: ServeOptions) -> None:
        self.opts = opts
        self.host, self.port = parse_listen_address(opts.listen_address)
        self.config = self._load_config()
        self.incidents = self._load_incidents(self.config)
        self.external_url = external_url_for(opts, self.host, self.port)
        self.storage = open_storage(opts.storage_path, opts.storage_url)
        # Only one tocsin may act on a store; a standby waits here until it may.
        self.lock = instance_lock(self.storage)
        self.lock.acquire(wait=opts.standby)
        self.engine = Engine(
            self.config,
            self.storage,
            external_url=self.external_url,
            retention=opts.retention,
            history_retention=opts.history_retention,
            incidents=self.incidents,
            commit_process=opts.commit_process,
        )
        self.engine.restore()
        self._config_yaml = self.config.to_yaml(mask_secrets=True)
        self._ready = False
        self.app = self._build_app()

    def _load_config(self) -> Config:
        if self.opts.config_file:
            return load_config_file(self.opts.config_file)
        return default_config()

    def _load_incidents(self, config: Config) -> IncidentsSetup | None:
        if not self.opts.incidents_file:
            return None
        # Only with --incidents.file: without it the server never loads the incidents modules.
        from tocsin.incidents.config import load_incidents_file
        from tocsin.incidents.crosscheck import cross_check

        setup = load_incidents_file(self.opts.incidents_file)
        problems = cross_check(config, setup)
        if problems:
            raise ConfigError(self.opts.incidents_file, None, "; ".join(problems))
        return setup

    async def reload(self) -> str | None:
        """Re-read the configuration files. A bad file is refused and the running config stays."""
        try:
            config = self._load_config()
            incidents = self._load_incidents(config)
            await self.engine.reload(config, incidents)
        except (ConfigError, OSError, ValueError) as e:
            log.error("configuration reload refused, keeping the running configuration: %s", e)
            return str(e)
        self.config = config
        self._config_yaml = config.to_yaml(mask_secrets=True)
        log.info("configuration reloaded from %s", self.opts.config_file or "built-in default")
        return None

    def _build_app(self) -> Starlette:
        app = create_app(
            lambda: self.engine,
            self.reload,
            lambda: self._config_yaml,
            route_prefix=route_prefix_for(self.opts, self.external_url),
            max_body=self.opts.max_body,
            ready=lambda: self._ready,
            slack_signing_secret=self.opts.slack_signing_secret,
        )

        @contextlib.asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            await self.engine.start()
            loop = asyncio.get_running_loop()
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(signal.SIGHUP, lambda: asyncio.ensure_future(self.reload()))
            self._ready = True
            log.info("tocsin listening on %s:%d, external URL %s", self.host, self.port, self.external_url)
            try:
                yield
            finally:
                self._ready = False
                await self.engine.stop()
                self.storage.close()
                self.lock.release()

        app.router.lifespan_context = lifespan
        return app

    def run(self) -> None:
        uvicorn.run(
            self.app,
            host=self.host,
            port=self.port,
            log_config=None,
            access_log=False,
            loop="auto",
            # uvicorn's httptools protocol, answering POST /api/v2/alerts itself where it can.
            http=ingest_protocol(self.app.state.ingest_route) or "auto",
            # Nothing in tocsin reads the client address, so uvicorn's X-Forwarded-For rewriting
            # would only cost a middleware call per request (1% of the loop while ingesting).
            proxy_headers=False,
            timeout_graceful_shutdown=10,
        )


def tune_gc() -> None:
    """Fewer cyclic-GC passes: the engine allocates a few containers per alert and hardly ever
    makes cycles, yet with the default threshold (700) the collector ran 2,500 times while
    ingesting 250k alerts and took 14% of the CPU; at 50,000 it took 3%."""
    gc.freeze()  # what start-up allocated lives as long as the process: never scan it again
    gc.set_threshold(50_000, 20, 100)


def serve(opts: ServeOptions) -> None:
    Path(opts.storage_path).mkdir(parents=True, exist_ok=True) if not opts.storage_url else None
    service = Service(opts)
    tune_gc()
    service.run()
