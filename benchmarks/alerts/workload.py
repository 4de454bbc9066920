"""The workload: distinct alerts, the Alertmanager configuration both servers get, silences.

Alert ``i`` belongs to group ``i // group_size``; a group is one (alertname, cluster) pair, which
is what the route groups by. Alerts are posted in index order, so each group fills within a few
batches, well inside its group_wait, and the first flush of each group carries all of its alerts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec

ID_LABEL = "bench_id"


class WorkloadError(ValueError):
    """A workload parameter is out of range; the message names it."""


@dataclass(frozen=True)
class Workload:
    alerts: int
    batch_size: int = 64
    connections: int = 8
    group_size: int = 100
    alertnames: int = 20
    extra_labels: int = 3  # labels beyond the grouping ones, to make label sets realistic
    label_cardinality: int = 50  # distinct values each extra label takes
    group_wait: float = 1.0
    group_interval: float = 10.0
    seed: int = 1

    def validate(self) -> None:
        for name in ("alerts", "batch_size", "connections", "group_size", "alertnames", "label_cardinality"):
            if getattr(self, name) < 1:
                raise WorkloadError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.extra_labels < 0:
            raise WorkloadError(f"extra_labels must not be negative, got {self.extra_labels}")
        if self.group_wait <= 0 or self.group_interval <= 0:
            raise WorkloadError("group_wait and group_interval must be positive")

    @property
    def groups(self) -> int:
        return -(-self.alerts // self.group_size)


def group_of(w: Workload, i: int) -> tuple[str, str]:
    g = i // w.group_size
    return f"Bench{g % w.alertnames}", f"cluster-{g // w.alertnames}"


def labels_for(w: Workload, i: int, rng: random.Random) -> dict[str, str]:
    alertname, cluster = group_of(w, i)
    labels = {
        "alertname": alertname,
        "cluster": cluster,
        "instance": f"host-{i}.example.net:9100",
        "job": "node",
        "severity": "warning" if i % 10 else "critical",
        ID_LABEL: str(i),
    }
    for k in range(w.extra_labels):
        labels[f"extra{k}"] = f"value-{rng.randrange(w.label_cardinality)}"
    return labels


def rfc3339(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def alert_docs(w: Workload, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
    rng = random.Random(w.seed)
    stop = w.alerts if stop is None else stop
    out = []
    for i in range(w.alerts):
        labels = labels_for(w, i, rng)  # always draw, so alert i has the same labels in any slice
        if start <= i < stop:
            out.append(
                {
                    "labels": labels,
                    "annotations": {"summary": f"benchmark alert {i}", "runbook": "https://example.net/rb"},
                    "generatorURL": f"http://prometheus.example.net/graph?g0.expr=up%7Bi%3D{i}%7D",
                }
            )
    return out


_encode = msgspec.json.Encoder().encode


def encode_batches(
    w: Workload, docs: list[dict[str, Any]], first_id: int, times: tuple[float, float] | None = None
) -> list[tuple[int, int, bytes]]:
    """Pre-encoded request bodies as (first alert id, count, body). ``times`` = (startsAt, endsAt)
    for Prometheus-like re-sends; without it the server sets the start and the resolve timeout."""
    out = []
    for off in range(0, len(docs), w.batch_size):
        chunk = docs[off : off + w.batch_size]
        if times is not None:
            s, e = rfc3339(times[0]), rfc3339(times[1])
            chunk = [{**d, "startsAt": s, "endsAt": e} for d in chunk]
        out.append((first_id + off, len(chunk), _encode(chunk)))
    return out


def config_yaml(w: Workload, sink_url: str, inhibit_rules: int = 0) -> str:
    """The alertmanager.yml both servers run with: one webhook receiver, group_by alertname and
    cluster, and optionally ``inhibit_rules`` rules (each with its own source alertname)."""
    lines = [
        "global:",
        "  resolve_timeout: 5m",
        "route:",
        "  receiver: sink",
        "  group_by: [alertname, cluster]",
        f"  group_wait: {w.group_wait:g}s",
        f"  group_interval: {w.group_interval:g}s",
        "  repeat_interval: 4h",
        "receivers:",
        "  - name: sink",
        "    webhook_configs:",
        f"      - url: {sink_url}",
        "        send_resolved: true",
    ]
    if inhibit_rules:
        lines.append("inhibit_rules:")
        for r in range(inhibit_rules):
            lines += [
                f"  - source_matchers: ['alertname=\"Source{r}\"', 'severity=\"critical\"']",
                f"    target_matchers: ['severity=\"warning\"', 'alertname=\"Bench{r % w.alertnames}\"']",
                "    equal: [cluster]",
            ]
    return "\n".join(lines) + "\n"


def source_alert_docs(rules: int, clusters: int) -> list[dict[str, Any]]:
    """Firing source alerts for the inhibit rules: rule r's source fires in cluster r % clusters,
    so a share of the benchmark alerts is inhibited and the rest is not."""
    return [
        {"labels": {"alertname": f"Source{r}", "severity": "critical", "cluster": f"cluster-{r % clusters}"}}
        for r in range(rules)
    ]


def silence_docs(w: Workload, count: int, now: float) -> list[dict[str, Any]]:
    """``count`` active silences; silence k mutes alert ``k * step`` by its instance label, so
    they spread over the alerts and each is indexed by an equality matcher, as real ones are."""
    step = max(1, w.alerts // max(count, 1))
    out = []
    for k in range(count):
        i = (k * step) % w.alerts
        alertname, _ = group_of(w, i)
        out.append(
            {
                "matchers": [
                    {"name": "alertname", "value": alertname, "isRegex": False, "isEqual": True},
                    {"name": "instance", "value": f"host-{i}.example.net:9100", "isRegex": False},
                ],
                "startsAt": rfc3339(now - 60),
                "endsAt": rfc3339(now + 3600),
                "createdBy": "benchmark",
                "comment": f"benchmark silence {k}",
            }
        )
    return out
