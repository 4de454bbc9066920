"""A :class:`MetricProbe` that reads a service's series from a Prometheus-compatible query API.

This is how a deployed tocsin gives root-cause ranking the weak evidence the Nezha benchmark
reads from CSV files: for each configured PromQL query, with ``$service`` replaced by the
candidate service (quoted for a PromQL string), it runs ``/api/v1/query_range`` over the incident
window plus the trailing baseline and measures the robust deviation of every returned series.

Example queries (adapt the metric and label names to the deployment)::

    histogram_quantile(0.9, sum by (le) (rate(http_duration_seconds_bucket{service="$service"}[1m])))
    sum(rate(container_cpu_usage_seconds_total{container="$service"}[1m]))

A query that fails (network error, HTTP error, PromQL error) contributes nothing and the failure
is kept in :attr:`PrometheusProbe.errors`: ranking must not fail because the metrics store is down.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from string import Template

import httpx
import numpy as np

from tocsin.intelligence.correlation.metric_probe import Series, robust_deviation


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
    ) -> None:
        if not queries:
            raise ValueError("PrometheusProbe needs at least one PromQL query")
        for q in queries:
            if "$service" not in q:
                raise ValueError(f"PromQL query must contain $service: {q!r}")
        for name, value in (("step_s", step_s), ("baseline_s", baseline_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        self.client = client
        self.queries = tuple(Template(q) for q in queries)
        self.step_s = step_s
        self.baseline_s = baseline_s
        self.errors: deque[str] = deque(maxlen=max_errors_kept)

    def deviation(self, service: str, start: float, end: float) -> tuple[float, str]:
        if end < start:
            raise ValueError(f"probe window ends before it starts: {start} > {end}")
        best, best_name = 0.0, ""
        for template in self.queries:
            query = template.safe_substitute(service=promql_string(service))
            for name, series in self._query_range(query, start - self.baseline_s, end):
                d = robust_deviation(series, start, end, self.baseline_s)
                if d > best:
                    best, best_name = d, name
        return best, best_name

    def _query_range(self, query: str, start: float, end: float) -> list[tuple[str, Series]]:
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
                out.append((name, Series(name, times, vals)))
            except (KeyError, TypeError, ValueError) as e:
                self.errors.append(f"{query}: malformed series ({e})")
        return out
