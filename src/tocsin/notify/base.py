"""What the engine hands a channel, and how a channel reports failure."""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from tocsin.model import Alert, encode_annotations, speedups


@dataclass(slots=True)
class Notification:
    """One notification for one aggregation group to one receiver (Alertmanager's template data)."""

    receiver: str
    status: str  # "firing" when any alert fires, else "resolved"
    alerts: list[Alert]
    group_key: str
    group_labels: dict[str, str]
    common_labels: dict[str, str]
    common_annotations: dict[str, str]
    external_url: str
    now: float
    reason: str = ""
    truncated_alerts: int = 0
    tenant_id: str = "default"
    #: stable across retries of the same notification, so a receiver can deduplicate
    idempotency_key: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.ends_at > self.now]

    def resolved(self) -> list[Alert]:
        return [a for a in self.alerts if a.ends_at <= self.now]


def common(maps: list[dict[str, str]]) -> dict[str, str]:
    """The pairs present with the same value in every map (in the first map's order)."""
    if _common_map is not None:
        # Every flush asks this for the labels of all its alerts: in C, a dict look-up per map
        # and name (the loops below were 1.8% of the event loop while ingesting 250k alerts).
        found: dict[str, str] | None = _common_map(maps)
        if found is not None:
            return found
    return py_common(maps)


def common_labels(alerts: Sequence[Alert]) -> dict[str, str]:
    """``common`` over the alerts' labels (compiled, without a list of them)."""
    if _common_labels is not None:
        found: dict[str, str] | None = _common_labels(alerts)
        if found is not None:
            return found
    return py_common([a.labels for a in alerts])


def py_common(maps: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """``common`` for any mappings (the compiled ``common_map`` takes only dicts)."""
    if not maps:
        return {}
    rest = maps[1:]
    out = {}
    # Plain loops: with a generator per name inside all(), this was a tenth of a flush's cost
    # for groups of ten alerts.
    for k, v in maps[0].items():
        for m in rest:
            if m.get(k) != v:
                break
        else:
            out[k] = v
    return out


def common_annotations(alerts: Sequence[Alert]) -> dict[str, str]:
    """The annotations every alert has with the same value (``common`` over their annotations).

    Alerts hold annotations as JSON text, written by one encoder: compact, names sorted. So a
    pair is in an alert's annotations exactly when its text holds the pair's own text right after
    a ``{`` or a ``,`` (inside a string a quote is always escaped, so a quote after either is a
    name's opening quote), and no alert is decoded here (decoding each one was 3% of the event
    loop while ingesting 250k alerts).
    """
    if not alerts:
        return {}
    out = alerts[0].annotations
    if len(alerts) == 1 or not out:
        return out
    items = list(out.items())
    pairs = [_pair_text(name, value) for name, value in items]
    rest = alerts[1:]
    # The search in C: Python's loop over the alerts was 3.5% of the event loop while ingesting
    # 250k alerts in groups of 100.
    found = None if _pairs_in_all is None else _pairs_in_all(rest, pairs)
    if found is None:
        found = py_pairs_in_all(rest, pairs)
    return {name: value for (name, value), shared in zip(items, found, strict=True) if shared}


def py_pairs_in_all(alerts: Sequence[Alert], pairs: Sequence[bytes]) -> list[bool]:
    """For each pair's text (``_pair_text``), whether every alert's annotations hold it (see
    ``common_annotations``); the compiled ``pairs_in_all`` does the same."""
    texts = [a.annotations_json for a in alerts]
    found = []
    for pair in pairs:
        after_brace, after_comma = b"{" + pair, b"," + pair
        for text in texts:
            if after_brace not in text and after_comma not in text:
                found.append(False)
                break
        else:
            found.append(True)
    return found


def _pair_text(name: str, value: str) -> bytes:
    return encode_annotations({name: value})[1:-1]  # '"name":"value"'


_common_map = speedups.common_map if speedups is not None else None
_common_labels = speedups.common_labels if speedups is not None else None
_pairs_in_all = speedups.pairs_in_all if speedups is not None else None


class NotifyError(Exception):
    """A failed delivery. ``retryable`` says whether trying again may succeed (5xx, 429, network)."""

    def __init__(self, message: str, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ChannelState(Protocol):
    """Small durable memory a channel may keep across restarts (e.g. which Slack message to
    update when a group resolves). Values are JSON-able; None deletes."""

    def get(self, key: str) -> Any: ...

    def put(self, key: str, value: Any) -> None: ...


class Integration(abc.ABC):
    """One configured ``*_configs`` entry of a receiver."""

    kind: str = ""
    #: (events, per seconds) this integration may send; None: no limit. Channels set their
    #: provider's documented quota (e.g. PagerDuty: 120 events per minute per routing key).
    rate_limit: tuple[float, float] | None = None
    #: set by the engine when the process keeps durable state (None in tools and tests)
    state: ChannelState | None = None

    def __init__(self, receiver: str, index: int, send_resolved: bool) -> None:
        self.receiver = receiver
        self.index = index
        self.send_resolved = send_resolved

    @abc.abstractmethod
    async def notify(self, n: Notification) -> None:
        """Deliver ``n`` or raise NotifyError."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most channels hold nothing
        """Release connections."""

    def __repr__(self) -> str:
        return f"{self.kind}[{self.index}]@{self.receiver}"
