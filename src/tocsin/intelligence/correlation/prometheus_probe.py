"""A :class:`MetricProbe` that reads a service's series from a Prometheus-compatible query API.

This is how a deployed tocsin gives root-cause ranking the weak evidence the Nezha benchmark
reads from CSV files: for each configured PromQL query, with ``$service`` replaced by the
candidate service (quoted for a PromQL string), it runs ``/api/v1/query_range`` over the incident
window plus the trailing baseline and measures the robust deviation of every returned series.

Example queries (adapt the metric and label names to the deployment)::

    histogram_quantile(0.9, sum by (le) (rate(http_duration_seconds_bucket{service="$service"}[1m])))
    sum(rate(container_cpu_usage_seconds_total{container="$service"}[1m]))

With ``client_queries`` it is also a :class:`ClientLatencyProbe`: the latency of the calls each
service *makes*, as its own client measures it, whose rises root-cause ranking attributes to the
services called (``RootCauseWeights.callers``, ``correlation/callee_attribution.py``). That signal
compares every service of the graph in the incident's window, so a client query does not name one
service: it returns the series of all of them at once, each carrying the service in the label
``client_label``, and its answer is kept for the window (one request per query and incident, not
one per service). Example (one series per calling service)::

    histogram_quantile(0.9, sum by (le, service) (rate(http_client_duration_seconds_bucket[1m])))

A query that fails (network error, HTTP error, PromQL error) contributes nothing and the failure
is kept in :attr:`PrometheusProbe.errors`: ranking must not fail because the metrics store is down.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Sequence
from string import Template

import httpx
import numpy as np

from tocsin.intelligence.correlation.metric_probe import Series, held_rise, robust_deviation

#: incident windows whose client-latency answers are kept (a ranking asks about one window)
CLIENT_WINDOWS_KEPT = 8


def promql_string(value: str) -> str:
    """``value`` as the inside of a double-quoted PromQL string literal."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class PrometheusProbe:
    def __init__(
        self,
        client: httpx.Client,
        queries: Sequence[str],
        step_s: float = 60.0,
        baseline_s: float = 1800.0,
        max_errors_kept: int = 100,
        client_queries: Sequence[str] = (),
        client_label: str = "service",
    ) -> None:
        if not queries:
            raise ValueError("PrometheusProbe needs at least one PromQL query")
        for q in queries:
            if "$service" not in q:
                raise ValueError(f"PromQL query must contain $service: {q!r}")
        for q in client_queries:
            if not q.strip():
                raise ValueError("PromQL client-latency query is empty")
            if "$service" in q:
                raise ValueError(
                    "PromQL client-latency query must return every service's series at once, each "
                    f"labelled with {client_label!r}, not name one with $service: {q!r}"
                )
        if not client_label:
            raise ValueError("client_label must name the label that carries the service")
        for name, value in (("step_s", step_s), ("baseline_s", baseline_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.client = client
        self.queries = tuple(Template(q) for q in queries)
        self.step_s = step_s
        self.baseline_s = baseline_s
        self.errors: deque[str] = deque(maxlen=max_errors_kept)
        self.client_queries = tuple(client_queries)
        self.client_label = client_label
        # (window start, end) → service → its client-latency series over the window and baseline
        self._client: OrderedDict[tuple[float, float], dict[str, list[Series]]] = OrderedDict()

    @property
    def client_services(self) -> list[str] | None:
        """Not known in advance (it depends on the window): every service is asked about, and
        :meth:`client_rise` answers None for one with no series. None as well without client
        queries, whose probe answers None for every service."""
        return None

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        if end < start:
            raise ValueError(f"probe window ends before it starts: {start} > {end}")
        if samples < 1:
            raise ValueError(f"samples must be >= 1, got {samples}")
        found = self._client_window(start, end).get(service)
        if not found:
            return None
        return max(held_rise(s, start, end, samples, self.baseline_s) for s in found)

    def _client_window(self, start: float, end: float) -> dict[str, list[Series]]:
        """Every service's client-latency series for the window, read once per window."""
        key = (start, end)
        cached = self._client.get(key)
        if cached is not None:
            self._client.move_to_end(key)
            return cached
        by_service: dict[str, list[Series]] = {}
        for query in self.client_queries:
            for labels, series in self._query_range_labelled(query, start - self.baseline_s, end):
                service = labels.get(self.client_label)
                if not service:
                    self.errors.append(
                        f"{query}: a series without the label {self.client_label!r} ({labels}) was left out"
                    )
                    continue
                by_service.setdefault(service, []).append(series)
        self._client[key] = by_service
        while len(self._client) > CLIENT_WINDOWS_KEPT:
            self._client.popitem(last=False)
        return by_service

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        if end < start:
            raise ValueError(f"probe window ends before it starts: {start} > {end}")
        best, best_name = 0.0, ""
        for template in self.queries:
            query = template.safe_substitute(service=promql_string(service))
            for _, series in self._query_range_labelled(query, start - self.baseline_s, end):
                d = robust_deviation(series, start, end, self.baseline_s)
                if d > best:
                    best, best_name = d, series.name
        return best, best_name

    def _query_range_labelled(
        self, query: str, start: float, end: float
    ) -> list[tuple[dict[str, str], Series]]:
        """(labels, series) of every series the range query returns; [] (the error kept) on failure."""
        params = {"query": query, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{self.step_s:g}"}
        try:
            response = self.client.get("/api/v1/query_range", params=params)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as e:
            self.errors.append(f"{query}: {e}")
            return []
        if not isinstance(body, dict) or body.get("status") != "success":
            error = body.get("error", "no status") if isinstance(body, dict) else "not a JSON object"
            self.errors.append(f"{query}: {error}")
            return []
        data = body.get("data") or {}
        if data.get("resultType") != "matrix":
            self.errors.append(f"{query}: expected a range vector (matrix), got {data.get('resultType')!r}")
            return []
        out = []
        for item in data.get("result", []):
            labels = (item.get("metric") or {}) if isinstance(item, dict) else {}
            name = query if not labels else f"{query} {labels}"
            try:
                values = item["values"]
                times = np.array([float(t) for t, _ in values], dtype=float)
                # Prometheus writes NaN as "NaN", which float() reads.
                vals = np.array([float(v) for _, v in values], dtype=float)
                out.append(({str(k): str(v) for k, v in labels.items()}, Series(name, times, vals)))
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                self.errors.append(f"{query}: malformed series ({e})")
        return out
