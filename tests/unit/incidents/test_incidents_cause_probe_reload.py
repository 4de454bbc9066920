"""A reload (or a stop) while a metric ranking is querying Prometheus: the replaced probe's HTTP
client stays open under the running request and is closed once the ranking returns.

The Prometheus here is a real HTTP server on a local port (``http.server``), answering
``/api/v1/query_range`` with a flat latency series per service and a jump for ``cart``. Its first
request is held open until the test lets it go, so the reload happens while a query is in flight.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from testkit import probe_incidents
from tocsin.engine.clock import ManualClock
from tocsin.incidents.cause_probe import CauseProbe
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.service import IncidentService
from tocsin.model import Alert

T_INCIDENT = 1_700_000_000.0


class FakePrometheus:
    """A local query_range API whose first request waits for :attr:`release`."""

    def __init__(self) -> None:
        self.arrived = threading.Event()  # the first request is being served
        self.release = threading.Event()  # let the first request answer
        self.requests = 0
        self._lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                with outer._lock:
                    outer.requests += 1
                    first = outer.requests == 1
                if first:
                    outer.arrived.set()
                    outer.release.wait(30)  # bounded, so a failing test cannot hang the server
                body = json.dumps(outer.answer(params)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def answer(params: dict[str, str]) -> dict[str, Any]:
        start, end, step = float(params["start"]), float(params["end"]), float(params["step"])
        jumps = 'service="cart"' in params["query"]
        values = []
        t = start
        while t <= end:
            high = jumps and T_INCIDENT - 120 <= t <= T_INCIDENT + 600
            values.append([t, "1.5" if high else "0.1"])
            t += step
        result = [{"metric": {}, "values": values}]
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}


@pytest.fixture
def prometheus() -> Iterator[FakePrometheus]:
    fake = FakePrometheus()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.release.set()
        fake.server.shutdown()
        fake.server.server_close()


def service_for(url: str, timeout: str = "5s") -> IncidentService:
    async def persist(state: dict[str, Any]) -> None:
        pass

    async def deliver(d: Any, inc: Any) -> tuple[bool, str]:
        return True, "ok"

    setup = load_incidents_text(probe_incidents(url, timeout))
    return IncidentService(setup, clock=ManualClock(T_INCIDENT + 30), deliver=deliver, persist=persist)


async def open_incident(svc: IncidentService) -> str:
    first = Alert(
        labels={"alertname": "HighLatency", "service": "frontend"},
        starts_at=T_INCIDENT,
        ends_at=T_INCIDENT + 3600,
        updated_at=T_INCIDENT,
    )
    await svc.on_group("g1", {}, "default", [first], None, T_INCIDENT + 30)
    (inc,) = svc.manager.incidents.values()
    return inc.id


async def ranking_in_flight(svc: IncidentService, prometheus: FakePrometheus) -> CauseProbe:
    """Open an incident and wait until its metric ranking's first query is being served."""
    await open_incident(svc)
    assert await asyncio.to_thread(prometheus.arrived.wait, 10), "the ranking never queried"
    probe = svc._probe
    assert probe is not None
    return probe


async def test_a_reload_during_a_query_closes_the_old_client_once_the_ranking_returns(
    prometheus: FakePrometheus,
) -> None:
    svc = service_for(prometheus.url)
    old = await ranking_in_flight(svc, prometheus)
    # The reload points the probe elsewhere: a new probe and client, the old one still in use.
    await svc.reload(load_incidents_text(probe_incidents(prometheus.url + "/", "5s")))
    new = svc._probe
    assert new is not None and new is not old
    assert not old.closed and not old.prometheus.client.is_closed  # not under the running request
    prometheus.release.set()
    await svc.idle()
    assert old.closed and old.prometheus.client.is_closed
    # The held query was answered, not cut off: cart's jump reached the ranking.
    (inc,) = svc.manager.incidents.values()
    assert inc.probable_causes[0]["service"] == "cart", inc.probable_causes
    assert any("svc_latency_seconds" in r for r in inc.probable_causes[0]["reasons"])
    assert not old.prometheus.errors
    assert not new.closed
    await svc.stop()
    assert new.closed and new.prometheus.client.is_closed


async def test_a_reload_that_drops_the_probe_closes_its_client_after_the_ranking(
    prometheus: FakePrometheus,
) -> None:
    svc = service_for(prometheus.url)
    old = await ranking_in_flight(svc, prometheus)
    without = probe_incidents(prometheus.url, "5s").split("  prometheus:")[0]
    await svc.reload(load_incidents_text(without))
    assert svc._probe is None and not old.closed
    prometheus.release.set()
    await svc.idle()
    assert old.closed and old.prometheus.client.is_closed
    await svc.stop()


async def test_stop_during_a_query_closes_the_client_when_the_abandoned_ranking_returns(
    prometheus: FakePrometheus,
) -> None:
    svc = service_for(prometheus.url)
    probe = await ranking_in_flight(svc, prometheus)
    await svc.stop()  # gives up waiting for the ranking; its thread still has a request open
    assert not probe.closed and not probe.prometheus.client.is_closed
    prometheus.release.set()
    # The ranking's thread closes the client when it returns; wait for that (bounded).
    deadline = time.monotonic() + 10
    while not probe.closed and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert probe.closed and probe.prometheus.client.is_closed


async def test_a_closed_probe_closes_its_client_at_once_and_starts_no_ranking(
    prometheus: FakePrometheus,
) -> None:
    svc = service_for(prometheus.url)
    probe = svc._probe
    assert probe is not None
    probe.close()
    assert probe.closed and probe.prometheus.client.is_closed
    with pytest.raises(RuntimeError, match="closed"):
        await probe.start(lambda: None)
    probe.close()  # twice is harmless
    assert prometheus.requests == 0


class _ClientProbe:
    """A probe with client-latency series for ``api`` only."""

    client_services = None

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        return 0.0, ""

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        return 5.0 if service == "api" else None


class _OwnOnlyProbe:
    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        return 0.0, ""


def test_the_budget_covers_client_latency_and_a_plain_probe_measures_no_callers() -> None:
    from tocsin.incidents.cause_probe import BudgetProbe

    now = [0.0]
    probe = BudgetProbe(_ClientProbe(), 1.0, clock=lambda: now[0])
    assert probe.client_services is None  # a metrics store: every service is asked
    assert probe.client_rise("api", 0, 60, 2) == 5.0 and probe.client_rise("db", 0, 60, 2) is None
    now[0] = 2.0  # the budget is spent: unmeasured, and named in the log's list
    assert probe.client_rise("api", 0, 60, 2) is None and probe.skipped == ["api"]
    plain = BudgetProbe(_OwnOnlyProbe(), 1.0, clock=lambda: 0.0)
    assert plain.client_services == [] and plain.client_rise("api", 0, 60, 2) is None
