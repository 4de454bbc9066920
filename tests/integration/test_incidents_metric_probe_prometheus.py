"""Probable causes ranked with metrics from a real Prometheus, off the event loop.

Controlled series come from Debian's ``promtool tsdb create-blocks-from openmetrics``: the test
writes an hour of samples (a latency gauge per service; cart's jumps during the incident) as
OpenMetrics, backfills them into a TSDB and starts ``prometheus`` on it, so ``query_range``
answers from real storage and PromQL in a few seconds, with no wait for scrapes. The incident
runs on simulated time placed inside that hour.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from peers import backfill_incident_time, backfilled_prometheus, gauge_hour

from testkit import INCIDENTS_HEAD, probe_incidents
from tocsin.engine.clock import ManualClock
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.service import IncidentService
from tocsin.model import Alert

HOUR = 3600.0
T_INCIDENT = backfill_incident_time()


#: callers of the quiet ``ledger`` whose client latency (the calls they make) rises in the incident
LEDGER_CALLERS = ("frontend", "web", "mobile")
CLIENT_SERVICES = (*LEDGER_CALLERS, "checkout", "payment", "search", "ads", "ledger")


def openmetrics() -> list[str]:
    """An hour of 15 s samples: each service's latency, flat but for cart's jump at the incident;
    and each service's client-side latency, flat but for the jump at ledger's callers."""
    start = T_INCIDENT - 45 * 60
    in_incident = [T_INCIDENT - 120 <= start + 15 * i <= T_INCIDENT + 600 for i in range(240)]

    def latency(service: str, t: float, i: int) -> float:
        return 1.5 if service == "cart" and in_incident[i] else 0.1

    def client(service: str, t: float, i: int) -> float:
        # a little noise, so that a robust spread exists
        return (2.0 if service in LEDGER_CALLERS and in_incident[i] else 0.2) + 0.01 * (i % 3)

    lines = gauge_hour("svc_latency_seconds", "service", ("frontend", "cart", "checkout"), start, latency)
    lines += gauge_hour("svc_client_latency_seconds", "app", CLIENT_SERVICES, start, client)
    return lines


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with backfilled_prometheus(tmp_path_factory.mktemp("prom"), openmetrics()) as url:
        yield url


def alert(name: str, service: str, at: float) -> Alert:
    return Alert(
        labels={"alertname": name, "service": service}, starts_at=at, ends_at=at + HOUR, updated_at=at
    )


def service_for(url: str, timeout: str = "5s") -> tuple[IncidentService, list[dict[str, Any]]]:
    setup = load_incidents_text(probe_incidents(url, timeout))
    saved: list[dict[str, Any]] = []

    async def persist(state: dict[str, Any]) -> None:
        saved.append(state)

    async def deliver(d: Any, inc: Any) -> tuple[bool, str]:
        return True, "ok"

    svc = IncidentService(setup, clock=ManualClock(T_INCIDENT + 30), deliver=deliver, persist=persist)
    return svc, saved


async def open_incident(svc: IncidentService) -> str:
    await svc.on_group(
        "g1", {}, "default", [alert("HighLatency", "frontend", T_INCIDENT)], None, T_INCIDENT + 30
    )
    (inc,) = svc.manager.incidents.values()
    return inc.id


async def test_metrics_from_prometheus_move_the_quiet_callee_to_the_top(prometheus: str) -> None:
    svc, saved = service_for(prometheus)
    incident_id = await open_incident(svc)
    inc = svc.manager.get(incident_id)
    # At once, from the alert and the graph: the alerting frontend first, its callees tied below.
    assert inc.probable_causes[0]["service"] == "frontend"
    await svc.idle()
    # With cart's latency jump read from Prometheus, cart explains the frontend's alert best.
    ranked = inc.probable_causes
    assert ranked[0]["service"] == "cart", ranked
    assert any("svc_latency_seconds" in r for r in ranked[0]["reasons"])
    assert not any("svc_latency_seconds" in r for c in ranked[1:] for r in c["reasons"])
    assert saved[-1]["manager"]["incidents"][0]["probable_causes"] == ranked  # stored
    await svc.stop()


def test_the_probe_never_runs_on_the_event_loop(prometheus: str) -> None:
    # A blocked loop could not run this ticker while the probe queries Prometheus.
    async def main() -> int:
        svc, _ = service_for(prometheus)
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.ensure_future(ticker())
        await open_incident(svc)
        await svc.idle()
        task.cancel()
        await svc.stop()
        return ticks

    assert asyncio.run(main()) > 3


async def test_an_unreachable_prometheus_leaves_the_incident_ranked_without_metrics(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    svc, _ = service_for(url)
    with caplog.at_level(logging.WARNING, logger="tocsin.incidents.cause_probe"):
        incident_id = await open_incident(svc)
        before = svc.manager.get(incident_id).probable_causes
        await svc.idle()
    assert svc.manager.get(incident_id).probable_causes == before and before
    assert any("Prometheus quer" in r.message and "failed" in r.message for r in caplog.records)
    await svc.stop()


async def test_a_prometheus_that_never_answers_costs_the_budget_not_the_incident(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Accepts connections (the kernel's backlog) but never answers: every request times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        svc, _ = service_for(url, timeout="500ms")
        with caplog.at_level(logging.WARNING, logger="tocsin.incidents.cause_probe"):
            started = time.monotonic()
            incident_id = await open_incident(svc)
            assert time.monotonic() - started < 0.5  # the incident opened without waiting
            await svc.idle()
            elapsed = time.monotonic() - started
        assert svc.manager.get(incident_id).probable_causes  # ranked from the alerts alone
        # Three candidates: the first request times out, the budget is spent, the rest skipped.
        assert elapsed < 3.0
        assert any("budget spent" in r.message for r in caplog.records), caplog.text
        await svc.stop()


CALLERS_CORRELATION = """correlation:
  topology:
    frontend: [ledger, checkout]
    web: [ledger]
    mobile: [ledger]
    checkout: [payment]
    search: [ads]
  root_cause: {{metrics: 0, callers: 4}}
  prometheus:
    url: {url}
    queries: ['svc_latency_seconds{{service="$service"}}']
    step: 15s
    baseline: 20m
    timeout: 5s
{client}
"""


async def ranked_with_callers(url: str, client_queries: bool) -> list[dict[str, Any]]:
    client = (
        "    client_queries: ['svc_client_latency_seconds']\n    client_label: app" if client_queries else ""
    )
    setup = load_incidents_text(INCIDENTS_HEAD + CALLERS_CORRELATION.format(url=url, client=client))

    async def deliver(d: Any, inc: Any) -> tuple[bool, str]:
        return True, "ok"

    async def persist(state: dict[str, Any]) -> None:
        pass

    svc = IncidentService(setup, clock=ManualClock(T_INCIDENT + 30), deliver=deliver, persist=persist)
    incident_id = await open_incident(svc)
    await svc.idle()
    ranked = svc.manager.get(incident_id).probable_causes
    await svc.stop()
    return ranked


async def test_client_latency_of_the_callers_names_the_quiet_service_they_all_call(prometheus: str) -> None:
    # ledger raised nothing and its own latency is not measured; only the frontend alerted. Its
    # three callers' client latency rose together, against one of the five other services.
    ranked = await ranked_with_callers(prometheus, client_queries=True)
    assert ranked[0]["service"] == "ledger", ranked
    assert any("client latency rose at 3 of its 3 callers" in r for r in ranked[0]["reasons"]), ranked[0]
    # The same incidents.yml without client_queries: the alerting frontend stays first.
    assert (await ranked_with_callers(prometheus, client_queries=False))[0]["service"] == "frontend"
