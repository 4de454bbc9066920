"""Alertmanager's textual forms and ordering of label sets (group keys, alert order in payloads)."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from tocsin.matchers import quote
from tocsin.model import Alert


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


def sort_alerts(alerts: list[Alert]) -> list[Alert]:
    return sorted(alerts, key=functools.cmp_to_key(_compare))
