"""Alertmanager's textual forms and ordering of label sets (group keys, alert order in payloads)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from tocsin.matchers import quote
from tocsin.model import Alert, speedups


def labelset_string(labels: Mapping[str, str]) -> str:
    """``{a="1", b="2"}``: sorted by name, Go-quoted values, as in group keys."""
    return "{" + ", ".join(f"{k}={quote(labels[k])}" for k in sorted(labels)) + "}"


def labels_before(a: Mapping[str, str], b: Mapping[str, str]) -> bool:
    # Prometheus's LabelSet.Before: fewer labels first, then by the union of names in order.
    if len(a) != len(b):
        return len(a) < len(b)
    for name in sorted(set(a) | set(b)):
        if name not in a:
            return True
        if name not in b:
            return False
        if a[name] != b[name]:
            return a[name] < b[name]
    return False


def _compare(x: Alert, y: Alert) -> int:
    # job, then instance, take precedence; an alert lacking one sorts after one that has it.
    for key in ("job", "instance"):
        xv = x.labels.get(key)
        yv = y.labels.get(key)
        if xv is None and yv is None:
            continue
        if xv is None:
            return 1
        if yv is None:
            return -1
        if xv != yv:
            return -1 if xv < yv else 1
    if labels_before(x.labels, y.labels):
        return -1
    if labels_before(y.labels, x.labels):
        return 1
    return 0


def _job_instance(a: Alert) -> tuple[bool, str, bool, str]:
    job = a.labels.get("job")
    instance = a.labels.get("instance")
    return (job is None, job or "", instance is None, instance or "")


def py_sort_by_job_instance(alerts: list[Alert]) -> list[Alert] | None:
    """``alerts`` ordered by job, then instance (an alert lacking one after those that have it), or
    None when two alerts share both; the compiled ``sort_by_job_instance`` does the same."""
    keys = [_job_instance(a) for a in alerts]
    if len(set(keys)) != len(keys):
        return None
    return [alerts[i] for i in sorted(range(len(alerts)), key=keys.__getitem__)]


_sort_by_job_instance = speedups.sort_by_job_instance if speedups is not None else py_sort_by_job_instance


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    # Job and instance decide almost every comparison; sorting on them as a key is several times
    # cheaper than a Python comparator. Only when two alerts tie on both does the full order run.
    by_key = _sort_by_job_instance(alerts)
    if by_key is not None:
        return by_key
    return sorted(alerts, key=functools.cmp_to_key(_compare))
