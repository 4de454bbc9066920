"""Root-cause ranking with metrics in the service: the Prometheus probe of incidents.yml
``correlation.prometheus``, kept off the event loop.

The probe does blocking HTTP (one ``query_range`` per candidate service and query), so a ranking
that uses it runs on a worker thread (:meth:`CauseProbe.start`) on a copy of what it reads, one
ranking at a time. :class:`BudgetProbe` bounds the time one ranking spends querying: once the
budget is spent, the remaining services get no metric evidence instead of waiting for more
requests. A Prometheus that fails or is slow costs the incident its metric evidence, nothing else;
the errors go to the log.

A reload may replace or drop the probe while a ranking still queries with it (its thread outlives
even the service's wait for it). :meth:`CauseProbe.close` therefore closes the HTTP client at once
only when no ranking holds it (rankings are run with :meth:`CauseProbe.start`); otherwise the
last ranking to finish closes it, in its own thread, after its last request.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from tocsin.incidents.setup import PrometheusSetup
from tocsin.intelligence.correlation.metric_probe import ClientLatencyProbe, MetricProbe
from tocsin.intelligence.correlation.prometheus_probe import PrometheusProbe

log = logging.getLogger(__name__)

T = TypeVar("T")


class BudgetProbe:
    """A :class:`MetricProbe` that answers "nothing known" once ``budget_s`` has passed; also a
    :class:`ClientLatencyProbe` (the callers' signal) when the probe it wraps is one."""

    def __init__(
        self, probe: MetricProbe, budget_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.probe = probe
        self.clock = clock
        self.deadline = clock() + budget_s
        #: services left without metric evidence because the budget was spent
        self.skipped: list[str] = []

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        if self.clock() >= self.deadline:
            self.skipped.append(service)
            return 0.0, ""
        return self.probe.deviation(service, start, end)

    @property
    def client_services(self) -> list[str] | None:
        # A probe without client-latency series knows none; a Prometheus cannot say in advance.
        return self.probe.client_services if isinstance(self.probe, ClientLatencyProbe) else []

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        if not isinstance(self.probe, ClientLatencyProbe):
            return None
        if self.clock() >= self.deadline:
            self.skipped.append(service)
            return None  # unmeasured, as a service without series
        return self.probe.client_rise(service, start, end, samples)


class CauseProbe:
    """The configured Prometheus probe and the limits of one ranking."""

    def __init__(self, setup: PrometheusSetup) -> None:
        import httpx  # loaded only when a probe is configured

        self.setup = setup
        client = httpx.Client(base_url=setup.url, timeout=setup.timeout)
        self.prometheus = PrometheusProbe(
            client,
            setup.queries,
            step_s=setup.step,
            baseline_s=setup.baseline,
            client_queries=setup.client_queries,
            client_label=setup.client_label,
        )
        # Rankings run on worker threads and close() on the event loop: the count of rankings
        # holding the client and the pending close are shared between them.
        self._lock = threading.Lock()
        self._holders = 0
        self._close_wanted = False
        self.closed = False

    @property
    def guard_s(self) -> float:
        """How long the service waits for one ranking at most: the budget, plus one request
        started just before it ran out, plus slack."""
        return 2 * self.setup.timeout + 5.0

    def budgeted(self) -> BudgetProbe:
        return BudgetProbe(self.prometheus, self.setup.timeout)

    def report(self, incident_id: str, used: BudgetProbe) -> None:
        """Log what went wrong during one ranking (called once its thread is done)."""
        errors = self.prometheus.errors
        if errors:
            first, n = errors[0], len(errors)
            errors.clear()
            log.warning(
                "metric probe for incident %s: %d Prometheus quer%s failed, first: %s",
                incident_id,
                n,
                "y" if n == 1 else "ies",
                first,
            )
        if used.skipped:
            log.warning(
                "metric probe for incident %s: %gs budget spent, no metrics read for %s",
                incident_id,
                self.setup.timeout,
                ", ".join(dict.fromkeys(used.skipped)),
            )

    def start(self, job: Callable[[], T]) -> asyncio.Future[T]:
        """Run ``job`` (a ranking using this probe) on a worker thread, holding the HTTP client
        open until it returns; call on the event loop. The hold is taken before the job is handed
        to the thread, so a close() before it starts waits for it too, and the job then always
        runs: the returned future may be cancelled or given up on (a timeout) without cancelling
        it (it is shielded), or the hold would never be let go."""
        with self._lock:
            if self._close_wanted:
                raise RuntimeError("the metric probe is closed")
            self._holders += 1

        def held() -> T:
            try:
                return job()
            finally:
                self._release()

        try:
            running = asyncio.get_running_loop().run_in_executor(None, held)
        except BaseException:  # not handed over (no loop, executor shut down): nothing will release
            self._release()
            raise
        return asyncio.shield(running)

    def _release(self) -> None:
        with self._lock:
            self._holders -= 1
            last = self._holders == 0 and self._close_wanted
        if last:
            self._close_client()

    def close(self) -> None:
        """Close the HTTP client now, or, while rankings hold it, once the last of them returns."""
        with self._lock:
            self._close_wanted = True
            idle = self._holders == 0
        if idle:
            self._close_client()

    def _close_client(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self.prometheus.client.close()
