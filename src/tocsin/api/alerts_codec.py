"""Decoding posted alerts and encoding alerts, groups and silences in API v2's JSON shapes.

Kept apart from the HTTP handlers so the hot path (decode → validate → Alert) is plain code that
the SDK and the benchmarks can call too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import msgspec

from tocsin.engine.engine import AlertStatus
from tocsin.engine.silences import Silence
from tocsin.matchers import quote
from tocsin.model import LABEL_NAME_RE, Alert, fingerprint_hex
from tocsin.model import format_time as _format_time
from tocsin.model import parse_time as _parse_time
from tocsin.model import speedups as _speedups

# Prometheus stamps every alert of one evaluation with the same startsAt and endsAt, so a
# re-send parses the same few strings thousands of times (bad input raises and is not cached).
parse_time = functools.lru_cache(maxsize=4096)(_parse_time)

# Alerts posted together share their times, so a listing formats the same few timestamps over
# and over: datetime formatting was a quarter of GET /api/v2/alerts with 10k alerts.
format_time = functools.lru_cache(maxsize=4096)(_format_time)


class SchemaError(ValueError):
    """The request does not have the documented shape (HTTP 422, nothing stored)."""


class PostableAlert(msgspec.Struct, forbid_unknown_fields=False):
    labels: dict[str, str]
    annotations: dict[str, str] | None = None
    startsAt: str | None = None
    endsAt: str | None = None
    generatorURL: str | None = None


_convert = _speedups.convert if _speedups is not None else None

_decode_alerts = msgspec.json.Decoder(list[PostableAlert])
_decode_any = msgspec.json.Decoder()


def decode_postable_alerts(body: bytes) -> list[PostableAlert]:
    """Parse the body of POST /alerts. Raises ValueError (400) for bad JSON or a non-array body and
    SchemaError (422) for elements of the wrong shape."""
    try:
        return _decode_alerts.decode(body)
    except msgspec.ValidationError as e:
        # Distinguish "not JSON"/"not an array" (400) from "array of the wrong things" (422).
        try:
            doc = _decode_any.decode(body)
        except msgspec.DecodeError:
            raise ValueError(f"malformed JSON: {e}") from None
        if not isinstance(doc, list):
            raise ValueError("request body must be a JSON array of alerts") from None
        # Alertmanager answers 422 only for a missing required field; a value of the wrong JSON
        # type fails its decoding and is a 400.
        if "missing required field" in str(e):
            raise SchemaError(f"invalid alert: {e}") from None
        raise ValueError(f"invalid alert: {e}") from None
    except msgspec.DecodeError as e:
        raise ValueError(f"malformed JSON: {e}") from None


def _validate_label_map(kind: str, labels: dict[str, str]) -> str | None:
    # to_alerts calls this only when some name is new (one issuperset call covers the usual case).
    for name in labels:
        # The same few names arrive on every alert: a set look-up replaces the regex for them.
        if name in _VALID_NAMES:
            continue
        if not LABEL_NAME_RE.match(name):
            return f"invalid {kind}: invalid name {quote(name)}"
        if len(_VALID_NAMES) < 10_000:
            _VALID_NAMES.add(name)
    return None


_VALID_NAMES: set[str] = set()

# Label values repeat across alerts (job, severity, cluster, ...) but the decoder makes a new
# string for each; held alerts share one copy instead. Bounded: a flood of unique values
# (instance, pod) only empties the table. The size is checked once per request, so one request
# may overshoot it by its own values (which its alerts hold anyway).
_SHARED: dict[str, str] = {}
_SHARED_MAX = 1 << 16


def to_alerts(
    posted: Sequence[PostableAlert], now: float, resolve_timeout: float, tenant_id: str
) -> tuple[list[Alert], list[str]]:
    """Turn posted alerts into Alerts with Alertmanager's defaults; return (valid, errors).

    A bad alert is reported by its index and reason; the others are kept (best effort, as
    Alertmanager does).
    """
    if len(_SHARED) >= _SHARED_MAX:
        _SHARED.clear()
    default_ends = now + resolve_timeout

    def one(i: int, p: PostableAlert) -> Alert | str:
        return _to_alert(i, p, now, default_ends, tenant_id)

    if _convert is not None:
        # The compiled loop takes the alerts that need nothing unusual and hands the others to
        # the same Python code as below, so every rule and message lives here once.
        return _convert(posted, now, default_ends, tenant_id, _SHARED, _VALID_NAMES, parse_time, Alert, one)
    valid: list[Alert] = []
    errors: list[str] = []
    for i, p in enumerate(posted):
        a = one(i, p)
        if isinstance(a, str):
            errors.append(a)
        else:
            valid.append(a)
    return valid, errors


_parse_alerts = _speedups.parse_alerts if _speedups is not None else None


def alerts_from_body(
    body: bytes, now: float, resolve_timeout: float, tenant_id: str
) -> tuple[list[Alert], list[str]]:
    """The body of POST /alerts as Alerts: (valid, errors), as :func:`to_alerts` returns them.
    Raises as :func:`decode_postable_alerts` does.

    The compiled ``parse_alerts`` reads the usual body (what Prometheus and amtool send, every
    alert valid) straight into Alerts; it gives up on anything else, which then takes
    ``decode_postable_alerts`` and ``to_alerts``, where every rule and error message lives.
    """
    if _parse_alerts is not None:
        if len(_SHARED) >= _SHARED_MAX:
            _SHARED.clear()
        now = float(now)
        alerts = _parse_alerts(body, now, now + resolve_timeout, tenant_id, _SHARED, parse_time, Alert)
        if alerts is not None:
            return alerts, []
    return to_alerts(decode_postable_alerts(body), now, resolve_timeout, tenant_id)


def _to_alert(i: int, p: PostableAlert, now: float, default_ends: float, tenant_id: str) -> Alert | str:
    """One posted alert as an Alert, or the error naming it (by index) and what is wrong."""
    share = _SHARED.setdefault
    try:
        starts = parse_time(p.startsAt) if p.startsAt else 0.0
        ends = parse_time(p.endsAt) if p.endsAt else 0.0
    except ValueError as e:
        return f"alert {i}: {e}"
    # Empty values mean "no label"; every value is replaced by its shared copy.
    raw = p.labels
    if "" in raw.values():
        raw = {k: v for k, v in raw.items() if v}
    labels = dict(zip(raw, map(share, raw.values(), raw.values()), strict=True))
    raw = p.annotations or {}
    if "" in raw.values():
        raw = {k: v for k, v in raw.items() if v}
    annotations = dict(zip(raw, map(share, raw.values(), raw.values()), strict=True))
    if not starts:
        starts = ends if ends else now
    timeout = False
    if not ends:
        ends = default_ends
        timeout = True
    reason = None
    if ends < starts:
        reason = "start time must be before end time"
    elif not labels:
        reason = "at least one label pair required"
    elif not _VALID_NAMES.issuperset(labels) or not _VALID_NAMES.issuperset(annotations):
        reason = _validate_label_map("label set", labels)
        reason = reason or _validate_label_map("annotations", annotations)
    if reason is not None:
        return f"alert {i} {_brief(labels)}: {reason}"
    return Alert(labels, annotations, starts, ends, p.generatorURL or "", now, timeout, tenant_id)


def _brief(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}={quote(v)}" for k, v in sorted(labels.items())[:4]) + "}"


def gettable_alert(a: Alert, st: AlertStatus) -> dict[str, Any]:
    return {
        "annotations": msgspec.Raw(a.annotations_json),  # held as JSON already
        "endsAt": format_time(a.ends_at),
        "fingerprint": fingerprint_hex(a.fingerprint),
        "receivers": [{"name": r} for r in st.receivers],
        "startsAt": format_time(a.starts_at),
        "status": {
            "inhibitedBy": st.inhibited_by,
            "silencedBy": st.silenced_by,
            "mutedBy": st.muted_by,
            "state": st.state,
        },
        "updatedAt": format_time(a.updated_at),
        "generatorURL": a.generator_url,
        "labels": a.labels,
    }


def gettable_silence(s: Silence, now: float) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now)},
        "updatedAt": format_time(s.updated_at),
        "comment": s.comment,
        "createdBy": s.created_by,
        "endsAt": format_time(s.ends_at),
        "matchers": [m.to_api() for m in s.matchers],
        "startsAt": format_time(s.starts_at),
    }


_STATE_ORDER = {"active": 0, "pending": 1, "expired": 2}


def sort_silences(silences: list[Silence], now: float) -> list[Silence]:
    """Active first (ending soonest first), then pending (starting soonest), then expired
    (most recently ended first), as Alertmanager lists them."""

    def key(s: Silence) -> tuple[int, float]:
        st = s.state(now)
        if st == "active":
            return (0, s.ends_at)
        if st == "pending":
            return (1, s.starts_at)
        return (2, -s.ends_at)

    return sorted(silences, key=key)
