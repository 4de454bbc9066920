"""Two reference groupings the correlator is measured against.

* :class:`GroupByBaseline`: Alertmanager's ``group_by`` — alerts with equal values of the given
  labels form one group, which ends once it has received nothing for ``idle_s``.
* :class:`TimeWindowBaseline`: a session window — an alert joins the current incident when it
  starts within ``gap_s`` of the incident's latest alert, whatever it is about.

Both offer the same ``add`` / ``root_causes`` surface as the correlator so the benchmark drives all
three the same way. Their root-cause guess is what a responder would read off such a group: the
grouping service itself, or the services in order of their first alert.
"""

from __future__ import annotations

import math

from tocsin.model import Alert


def _check_positive(name: str, value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


class _ServiceOrder:
    """Per group: services in order of first alert, with alert counts (for ties)."""

    def __init__(self) -> None:
        self.first: dict[str, float] = {}
        self.count: dict[str, int] = {}

    def add(self, service: str, t: float) -> None:
        if service not in self.first or t < self.first[service]:
            self.first[service] = t
        self.count[service] = self.count.get(service, 0) + 1

    def ranked(self) -> list[str]:
        return sorted(self.first, key=lambda s: (self.first[s], -self.count[s], s))


class GroupByBaseline:
    def __init__(self, group_by: tuple[str, ...] = ("service",), idle_s: float = 300.0) -> None:
        if not group_by:
            raise ValueError("group_by needs at least one label name")
        _check_positive("idle_s", idle_s)
        self.group_by = group_by
        self.idle_s = idle_s
        self._current: dict[tuple[str, ...], tuple[str, float]] = {}
        self._order: dict[str, _ServiceOrder] = {}
        self._n = 0

    def add(self, alert: Alert) -> str:
        key = tuple(alert.labels.get(name, "") for name in self.group_by)
        t = alert.starts_at
        cur = self._current.get(key)
        if cur is None or t - cur[1] > self.idle_s:
            self._n += 1
            gid = f"group-{self._n}"
        else:
            gid = cur[0]
        self._current[key] = (gid, max(t, cur[1]) if cur and cur[0] == gid else t)
        self._order.setdefault(gid, _ServiceOrder()).add(alert.labels.get("service", ""), t)
        return gid

    def root_causes(self, incident_id: str, top: int = 3) -> list[str]:
        return self._order[incident_id].ranked()[:top]


class TimeWindowBaseline:
    def __init__(self, gap_s: float = 300.0) -> None:
        _check_positive("gap_s", gap_s)
        self.gap_s = gap_s
        self._last = -math.inf
        self._gid = ""
        self._order: dict[str, _ServiceOrder] = {}
        self._n = 0

    def add(self, alert: Alert) -> str:
        t = alert.starts_at
        if not self._gid or t - self._last > self.gap_s:
            self._n += 1
            self._gid = f"window-{self._n}"
        self._last = max(self._last, t)
        self._order.setdefault(self._gid, _ServiceOrder()).add(alert.labels.get("service", ""), t)
        return self._gid

    def root_causes(self, incident_id: str, top: int = 3) -> list[str]:
        return self._order[incident_id].ranked()[:top]
