"""Core data of tocsin: alerts, labels, fingerprints, severities. Pure data, no I/O.

Times are held as float seconds since the Unix epoch (UTC) everywhere inside tocsin: they are
cheap to compare and store, and the microsecond precision of a float is far finer than any
timing Alertmanager promises. Conversion to RFC 3339 happens only at the edges (API, payloads).
"""

from __future__ import annotations

import enum
import math
import re
import types
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgspec
from fnv_c.ext._fnv import lib as _fnv

speedups: types.ModuleType | None
try:  # compiled when the package was installed with a C compiler present (see setup.py)
    from tocsin import _speedups as speedups
except ImportError:  # pragma: no cover - the pure-Python code below does the same, slower
    speedups = None

# The CFFI function itself: fnv_c's wrapper adds an assert and a Python call per fingerprint.
_fnv1a_64 = _fnv.fnv1a_64

DEFAULT_TENANT = "default"

#: Label names follow Prometheus's rules; values may be any UTF-8 text. Used with ``match``;
#: ``\Z``, not ``$``, which in Python also matches before a final newline (``"job\n"``).
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")

#: Go's zero time, which amtool and Alertmanager use to mean "not set".
GO_ZERO_TIME = "0001-01-01T00:00:00Z"

Labels = dict[str, str]


class AlertSeverity(enum.StrEnum):
    """Severity of an alert, as carried in its ``severity`` label."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Larger is more severe; used to sort and to map onto provider severities."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    AlertSeverity.INFO: 0,
    AlertSeverity.WARNING: 1,
    AlertSeverity.ERROR: 2,
    AlertSeverity.CRITICAL: 3,
}


def fingerprint(labels: Labels) -> int:
    """Prometheus's label-set fingerprint (see :func:`py_fingerprint`), from the compiled
    ``_speedups`` when it is built: 0.3 us for nine labels against 1.4."""
    return _fingerprint(labels)


def py_fingerprint(labels: Labels) -> int:
    """Prometheus's label-set fingerprint: FNV-1a 64 over ``name 0xFF value 0xFF`` pairs sorted by name.

    Identical to prometheus/common's ``LabelSet.Fingerprint`` so fingerprints match amtool, Grafana
    and Alertmanager itself.
    """
    if not labels:
        return 0xCBF29CE484222325  # the FNV offset basis: Prometheus's empty-label-set signature
    parts = []
    for name in sorted(labels):
        parts.append(name)
        parts.append(labels[name])
    parts.append("")
    # The separator is the raw byte 0xFF (never part of UTF-8), not the character U+00FF. One join
    # with the lone surrogate U+DCFF, which the surrogateescape handler turns into that byte, costs
    # half of encoding every name and value apart (this runs once per posted alert).
    text = "\udcff".join(parts)
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        data = b""  # a lone surrogate of another kind: refused below, as UTF-8 refuses it
    if data.count(0xFF) != len(parts) - 1:
        # A name or value held a lone surrogate itself (JSON decoders refuse those, Python code
        # may not): encode strictly so it fails as before instead of hashing as a separator.
        data = b"\xff".join(p.encode("utf-8") for p in parts)
    return int(_fnv1a_64(data, len(data)))


_fingerprint = speedups.fingerprint if speedups is not None else py_fingerprint


def fingerprint_hex(fp: int) -> str:
    return f"{fp:016x}"


_U64_MAX = (1 << 64) - 1


def py_sorted_hex(fingerprints: Iterable[int]) -> list[str]:
    """Fingerprints as 16 lower-case hex digits (:func:`fingerprint_hex`), sorted, as the outbox
    record and the notification log store them. Every text has 16 digits, so sorting the ints
    sorts the texts, and ints compare faster than strs. A fingerprint that is not an int is a
    TypeError, one outside 0..2**64-1 a ValueError (the compiled ``sorted_hex``'s messages)."""
    items = list(fingerprints)  # read again to name a bad one
    try:
        ints = sorted(items)
        if ints and not (ints[0] >= 0 and ints[-1] <= _U64_MAX):
            raise ValueError("fingerprint out of range")
        return [fingerprint_hex(x) for x in ints]
    except (TypeError, ValueError):
        _name_bad_fingerprint(items)
        raise  # not for want of an int in range: a subclass's own comparison or format failed


def _name_bad_fingerprint(items: list[Any]) -> None:
    """Raise the error for the first fingerprint, in iteration order as the compiled loop meets
    them, that is not an int or not in 0..2**64-1."""
    for x in items:
        if not isinstance(x, int):
            raise TypeError(f"sorted_hex(): fingerprint {x!r} is {type(x).__name__}, not int") from None
        if not 0 <= x <= _U64_MAX:
            raise ValueError(f"sorted_hex(): fingerprint {x!r} is not an unsigned 64-bit int") from None


# The compiled one sorts the ints in C and formats them from a table (the outbox record and the
# notification log format a whole group's fingerprints at every flush).
sorted_hex = speedups.sorted_hex if speedups is not None else py_sorted_hex


def validate_labels(labels: Labels) -> str | None:
    """Return why the label set is invalid, or None. Empty values must already be dropped."""
    if not labels:
        return "at least one label pair required"
    for name, value in labels.items():
        if not isinstance(name, str) or not LABEL_NAME_RE.match(name):
            return f"invalid label set: invalid name {name!r}"
        if not isinstance(value, str):
            return f"invalid label set: invalid value for {name!r}"
    return None


class Alert:
    """One alert instance as stored and routed by the engine.

    ``ends_at`` is always set: an alert posted without one gets ``now + resolve_timeout`` and
    ``timeout=True`` (so a later re-post may extend it), exactly as Alertmanager does.

    Annotations are held as their JSON text (``annotations_json``, keys sorted as Alertmanager's Go
    maps print them), not as a dict: they are only ever written out (storage, payloads, API
    answers) or read by templates, and at 250k alerts the dicts and their unique strings were a
    sixth of the server's memory. ``annotations`` decodes a fresh dict on each access.
    """

    # Nine plain slots, in the constructor's order: the compiled converter (_speedups.c,
    # new_alert) fills them directly without calling __init__, passing a non-zero fingerprint and
    # annotations already encoded; anything more done in __init__ must be done there.
    __slots__ = (  # noqa: RUF023 - the constructor's order, which the compiled converter relies on
        "labels",
        "annotations_json",
        "starts_at",
        "ends_at",
        "generator_url",
        "updated_at",
        "timeout",
        "tenant_id",
        "fingerprint",
    )

    labels: Labels
    annotations_json: bytes
    starts_at: float
    ends_at: float
    generator_url: str
    updated_at: float
    timeout: bool
    tenant_id: str
    fingerprint: int

    def __init__(
        self,
        labels: Labels,
        annotations: Mapping[str, str] | bytes | None = None,
        starts_at: float = 0.0,
        ends_at: float = 0.0,
        generator_url: str = "",
        updated_at: float = 0.0,
        timeout: bool = False,
        tenant_id: str = DEFAULT_TENANT,
        fingerprint: int = 0,
    ) -> None:
        """``annotations`` is a mapping, or bytes already made by :func:`encode_annotations`."""
        self.labels = labels
        if not isinstance(annotations, bytes):
            annotations = encode_annotations(annotations)
        self.annotations_json = annotations
        self.starts_at = starts_at
        self.ends_at = ends_at
        self.generator_url = generator_url
        self.updated_at = updated_at
        self.timeout = timeout
        self.tenant_id = tenant_id
        self.fingerprint = fingerprint or _fingerprint(labels)

    @property
    def annotations(self) -> dict[str, str]:
        """The annotations as a new dict (changing it does not change the alert)."""
        return _decode_annotations(self.annotations_json)

    @annotations.setter
    def annotations(self, value: Mapping[str, str]) -> None:
        self.annotations_json = encode_annotations(value)

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(self.__slots__, self._fields(), strict=True)
            if name != "annotations_json"
        )
        return f"Alert({shown}, annotations={self.annotations!r})"

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    def resolved_at(self, now: float) -> bool:
        """True when the alert has ended by ``now``."""
        return self.ends_at <= now

    def status(self, now: float) -> str:
        return "resolved" if self.resolved_at(now) else "firing"


#: Sorted keys, compact, as msgspec and the compiled converter both write it (tests hold them equal).
_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_decode_annotations = msgspec.json.Decoder(dict[str, str]).decode
EMPTY_ANNOTATIONS = b"{}"


def encode_annotations(annotations: Mapping[str, str] | None) -> bytes:
    """Annotations as an Alert holds them: compact JSON with sorted keys."""
    if not annotations:
        return EMPTY_ANNOTATIONS
    return _encode_sorted(annotations)


def canonical_annotations(text: str | bytes) -> bytes:
    """Stored annotation JSON (written by any version) in the form an Alert holds."""
    return encode_annotations(_decode_annotations(text))


def merge(old: Alert, new: Alert, now: float) -> Alert:
    """Merge two instances of the same alert (same fingerprint) as Alertmanager does.

    The more recently updated one is the base; the earliest start wins; when the newer one is
    resolved, the latest explicit end wins if both are resolved; when the newer one fires, an
    older end that is later and not a timeout-extension wins.
    """
    if new.updated_at < old.updated_at:
        old, new = new, old
    res = Alert(
        labels=new.labels,
        annotations=new.annotations_json,
        starts_at=min(old.starts_at, new.starts_at),
        ends_at=new.ends_at,
        generator_url=new.generator_url,
        updated_at=new.updated_at,
        timeout=new.timeout,
        tenant_id=new.tenant_id,
        fingerprint=new.fingerprint,
    )
    if new.resolved_at(now):
        if old.resolved_at(now) and old.ends_at > new.ends_at:
            res.ends_at = old.ends_at
    elif old.ends_at > new.ends_at and not old.timeout:
        res.ends_at = old.ends_at
    return res


def should_merge(old: Alert, new: Alert) -> bool:
    """Whether a re-post continues the stored instance: its start or end falls strictly inside
    the stored activity range (Alertmanager's rule; otherwise the post replaces the instance)."""
    return (old.starts_at < new.ends_at < old.ends_at) or (old.starts_at < new.starts_at < old.ends_at)


# --- time formatting at the edges -------------------------------------------------------------

_RFC3339_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_time(value: str) -> float:
    """Parse an RFC 3339 timestamp (any fraction length, any offset) to epoch seconds.

    Returns 0.0 for Go's zero time, which clients send to mean "not set".
    Raises ValueError naming the bad value.
    """
    m = _RFC3339_RE.match(value)
    if not m:
        raise ValueError(f"invalid timestamp {value!r}: expected RFC 3339")
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if year <= 1:
        return 0.0
    frac = m.group(7)
    tz = m.group(8)
    try:
        dt = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except ValueError as e:
        raise ValueError(f"invalid timestamp {value!r}: {e}") from None
    ts = dt.timestamp()
    if frac:
        ts += float("0" + frac[:10])
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        ts -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return ts


def format_time(ts: float) -> str:
    """RFC 3339 with millisecond precision in UTC, as Alertmanager's API v2 (strfmt.DateTime) prints."""
    if ts <= 0:
        return GO_ZERO_TIME
    ms = round(ts * 1000)
    sec, milli = divmod(ms, 1000)
    dt = datetime.fromtimestamp(sec, UTC)
    return f"{dt:%Y-%m-%dT%H:%M:%S}.{milli:03d}Z"


def format_time_nano(ts: float) -> str:
    """RFC 3339 with up to microsecond precision and trailing zeros trimmed (Go's RFC3339Nano)."""
    if ts <= 0:
        return GO_ZERO_TIME
    us = round(ts * 1_000_000)
    sec, micro = divmod(us, 1_000_000)
    dt = datetime.fromtimestamp(sec, UTC)
    if micro:
        return f"{dt:%Y-%m-%dT%H:%M:%S}.{micro:06d}".rstrip("0") + "Z"
    return f"{dt:%Y-%m-%dT%H:%M:%S}Z"


def is_finite_time(ts: float) -> bool:
    return math.isfinite(ts)
