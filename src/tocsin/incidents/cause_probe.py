"""Root-cause ranking with metrics in the service: the Prometheus probe of incidents.yml
``correlation.prometheus``, kept off the event loop.

The probe does blocking HTTP (one ``query_range`` per candidate service and query), so a ranking
that uses it runs on a worker thread (``asyncio.to_thread``) on a copy of what it reads, one
ranking at a time. :class:`BudgetProbe` bounds the time one ranking spends querying: once the
budget is spent, the remaining services get no metric evidence instead of waiting for more
requests. A Prometheus that fails or is slow costs the incident its metric evidence, nothing else;
the errors go to the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from tocsin.incidents.setup import PrometheusSetup
from tocsin.intelligence.correlation.metric_probe import MetricProbe
from tocsin.intelligence.correlation.prometheus_probe import PrometheusProbe

log = logging.getLogger(__name__)


class BudgetProbe:
    """A :class:`MetricProbe` that answers "nothing known" once ``budget_s`` has passed."""

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


class CauseProbe:
    """The configured Prometheus probe and the limits of one ranking."""

    def __init__(self, setup: PrometheusSetup) -> None:
        import httpx  # loaded only when a probe is configured

        self.setup = setup
        client = httpx.Client(base_url=setup.url, timeout=setup.timeout)
        self.prometheus = PrometheusProbe(client, setup.queries, step_s=setup.step, baseline_s=setup.baseline)

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
                ", ".join(used.skipped),
            )

    def close(self) -> None:
        self.prometheus.client.close()
