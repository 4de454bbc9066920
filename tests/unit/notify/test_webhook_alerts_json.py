"""The compiled "alerts" array of a webhook payload (_speedups.webhook_alerts) against the Python
code it replaces: msgspec's bytes for [alert_dict(a, now) for a in alerts], byte for byte, and
clear errors for what is not an Alert."""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin import model
from tocsin.model import Alert
from tocsin.notify import payload
from tocsin.notify.base import Notification
from tocsin.notify.payload import alert_dict, webhook_body

speedups = model.speedups
pytestmark = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")

NOW = 1_800_000_000.0


def compiled(
    alerts: list[Any], now: float = NOW, fmt: Callable[[Any], Any] = payload.format_time_nano
) -> bytes:
    assert speedups is not None
    out: bytes = speedups.webhook_alerts(alerts, now, fmt)
    return out


def python(alerts: list[Alert], now: float = NOW) -> bytes:
    return msgspec.json.encode([alert_dict(a, now) for a in alerts])


# Text that needs every kind of JSON escape msgspec writes, and some that needs none.
_chars = st.one_of(
    st.sampled_from(list('"\\\x00\x1f\x7f\n\t\b\f\ré€😀\u2028')),
    st.characters(blacklist_categories=["Cs"]),
)
_text = st.text(alphabet=_chars, max_size=12)
_names = st.one_of(st.sampled_from(["alertname", "job", "instance", "severity"]), _text)
_labels = st.dictionaries(_names, _text, min_size=1, max_size=6)
_annotations: st.SearchStrategy[dict[str, str]] = st.one_of(
    st.just({}), st.dictionaries(_names, _text, max_size=4)
)


def _time(now: float) -> st.SearchStrategy[float]:
    """Around ``now``: whole seconds, microsecond fractions, ``now`` itself and Go's zero time."""
    whole = st.integers(-(10**7), 10**7).map(lambda s: now + s)
    micro = st.tuples(st.integers(-(10**7), 10**7), st.integers(1, 999_999)).map(
        lambda t: float(int(now) + t[0]) + t[1] / 1_000_000
    )
    return st.one_of(st.sampled_from([now, now - 1.0, now + 1.0, 0.0]), whole, micro)


_fingerprints = st.one_of(
    st.integers(0, 2**64 - 1),
    st.integers(0, 0xFFFF),  # leading zeros
    st.integers(2**63, 2**64 - 1),  # the high bit set
)


@st.composite
def _alerts(draw: st.DrawFn, now: float = NOW) -> list[Alert]:
    # Alerts of one flush share their start times: drawn from a small pool, so the compiled
    # memo of the last time written both hits and changes.
    starts = draw(st.lists(_time(now), min_size=1, max_size=3))
    out = []
    for _ in range(draw(st.integers(0, 8))):
        a = Alert(
            labels=draw(_labels),
            annotations=draw(_annotations),
            starts_at=draw(st.sampled_from(starts)),
            ends_at=draw(_time(now)),
            generator_url=draw(st.one_of(st.just(""), st.just("http://prom:9090/graph?g0.expr=up"), _text)),
            updated_at=now,
        )
        a.fingerprint = draw(_fingerprints)
        out.append(a)
    return out


def _notification(alerts: list[Alert], now: float = NOW) -> Notification:
    return Notification(
        receiver="r",
        status="firing",
        alerts=alerts,
        group_key='{}:{alertname="A"}',
        group_labels={"alertname": "A"},
        common_labels={"alertname": "A"},
        common_annotations={"summary": "s"},
        external_url="http://tocsin",
        now=now,
    )


@settings(max_examples=400)
@given(_alerts())
def test_the_compiled_array_is_msgspecs_byte_for_byte(alerts: list[Alert]) -> None:
    assert compiled(alerts) == python(alerts)


@given(_alerts())
def test_the_compiled_array_is_the_same_with_the_uncached_formatter(alerts: list[Alert]) -> None:
    assert compiled(alerts, NOW, model.format_time_nano) == python(alerts)


@settings(max_examples=200)
@given(_alerts())
def test_webhook_body_is_the_same_with_and_without_the_compiled_module(alerts: list[Alert]) -> None:
    assert speedups is not None and payload._webhook_alerts is speedups.webhook_alerts
    n = _notification(alerts)
    with_c = webhook_body(n)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(payload, "_webhook_alerts", None)
        without_c = webhook_body(n)
    assert with_c == without_c
    assert with_c == msgspec.json.encode(payload.webhook_payload(n))


_EDGE_TIMES = [
    -1.0,
    0.0,
    5e-324,
    1e-7,
    5e-7,  # half a microsecond: rounds to even, as round() does
    1.5e-6,
    2.5e-6,
    0.9999995,
    59.9999995,
    86399.9999996,
    951782400.0,  # 2000-02-29
    4107542400.0,  # 2100-03-01 (2100 is no leap year)
    253402300799.0,
    253402300799.999,
    253402300799.9999995,  # rounds into year 10000: Python's error, not a text
    253402300800.0,
    float("inf"),
    float("nan"),
]


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.floats(min_value=1e-9, max_value=2.6e11),
            st.floats(min_value=1.7e9, max_value=1.9e9),
            st.integers(0, 2_000_000_000_000_000).map(lambda us: us / 1e6),
            st.sampled_from(_EDGE_TIMES[:13]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_times_written_natively_are_the_python_formatters(times: list[float]) -> None:
    # native=True lets the compiled writer format ordinary float times itself instead of calling
    # format_time_nano (each alert its own start time missed the memo): the same bytes.
    alerts = [Alert({"alertname": "A"}, None, t, t) for t in times]
    assert speedups is not None
    try:
        expected = python(alerts, 0.0)
    except (ValueError, OverflowError) as e:  # a year Python's datetime refuses: so must native
        with pytest.raises(type(e)):
            speedups.webhook_alerts(alerts, 0.0, model.format_time_nano, True)
        return
    slow = speedups.webhook_alerts(alerts, 0.0, model.format_time_nano)
    assert speedups.webhook_alerts(alerts, 0.0, model.format_time_nano, True) == slow == expected


@pytest.mark.parametrize("ts", _EDGE_TIMES)
def test_edge_times_natively_or_not(ts: float) -> None:
    assert speedups is not None
    a = [Alert({"alertname": "A"}, None, ts, ts)]
    try:
        expected = speedups.webhook_alerts(a, 0.0, model.format_time_nano)
    except (ValueError, OverflowError) as e:
        with pytest.raises(type(e)):
            speedups.webhook_alerts(a, 0.0, model.format_time_nano, True)
        return
    assert speedups.webhook_alerts(a, 0.0, model.format_time_nano, True) == expected


def test_firing_resolved_and_an_end_exactly_now() -> None:
    a = Alert({"alertname": "A"}, {"summary": "s"}, NOW - 30.5, NOW + 60, "http://g", fingerprint=1)
    b = Alert({"alertname": "B"}, None, NOW - 30.5, NOW, "", fingerprint=2**64 - 1)
    c = Alert({"alertname": "C"}, None, NOW - 1, NOW - 0.000001, "", fingerprint=0xABC)
    out = compiled([a, b, c])
    assert out == python([a, b, c])
    doc = msgspec.json.decode(out)
    assert [x["status"] for x in doc] == ["firing", "resolved", "resolved"]
    assert doc[0]["endsAt"] == "0001-01-01T00:00:00Z"
    assert doc[1]["endsAt"] == "2027-01-15T08:00:00Z"
    assert doc[2]["endsAt"] == "2027-01-15T07:59:59.999999Z"
    assert [x["fingerprint"] for x in doc] == ["0000000000000001", "ffffffffffffffff", "0000000000000abc"]
    assert list(doc[0]) == [
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    ]


def test_an_empty_list_one_alert_and_many() -> None:
    assert compiled([]) == b"[]" == python([])
    one = [Alert({"alertname": "A", "job": "j"}, {"d": "x"}, NOW - 5, NOW + 5, "http://g")]
    assert compiled(one) == python(one)
    # Enough text, some of it escaped seven bytes for one, to grow the buffer many times over.
    many = [
        Alert(
            {"alertname": "A", "instance": f"host-{i}", "ctl": "\x01" * (i % 50)},
            {"description": "é" * i},
            NOW - (i // 10),
            NOW + 60 if i % 3 else NOW - 1,
            f"http://g/{i}",
        )
        for i in range(2000)
    ]
    assert compiled(many) == python(many)
    assert compiled(tuple(many)) == python(many)  # type: ignore[arg-type]


def test_times_that_are_ints_are_formatted_as_the_python_code_does() -> None:
    a = Alert({"alertname": "A"}, None, int(NOW) - 10, int(NOW) - 5)
    b = Alert({"alertname": "A"}, None, int(NOW) - 10, int(NOW) + 5)
    assert compiled([a, b], int(NOW)) == python([a, b], int(NOW))
    assert compiled([a, b], NOW) == python([a, b], NOW)


def test_format_time_nano_is_called_only_when_a_columns_time_changes() -> None:
    calls: list[float] = []

    def fmt(ts: float) -> str:
        calls.append(ts)
        return model.format_time_nano(ts)

    alerts = [Alert({"alertname": "A", "i": str(i)}, None, NOW - 60, NOW - 1) for i in range(50)]
    alerts += [Alert({"alertname": "B", "i": str(i)}, None, NOW - 30, NOW + 1) for i in range(50)]
    assert compiled(alerts, NOW, fmt) == python(alerts)
    # One start time, then the other; one end (firing alerts' ends are Go's zero time, unformatted).
    assert calls == [NOW - 60, NOW - 1, NOW - 30]


def _message(exc: type[BaseException], fn: Callable[[], object]) -> str:
    with pytest.raises(exc) as info:
        fn()
    return str(info.value)


def _good(fp: int = 7) -> Alert:
    return Alert({"alertname": "A"}, {"s": "x"}, NOW - 10, NOW + 10, "http://g", fingerprint=fp)


def test_something_that_is_not_an_alert_is_named() -> None:
    msg = _message(AttributeError, lambda: compiled([_good(), 42]))
    assert "alert 1" in msg and "'int' object has no attribute 'ends_at'" in msg

    class Half:  # an Alert's first field, not the others
        ends_at = NOW

    msg = _message(AttributeError, lambda: compiled([Half()]))
    assert "alert 0" in msg and "'Half' object has no attribute 'labels'" in msg
    msg = _message(TypeError, lambda: compiled(42))  # type: ignore[arg-type]
    assert "not iterable" in msg


def test_a_label_value_that_is_not_a_str_is_named() -> None:
    a = _good()
    a.labels = {"alertname": "A", "severity": 3}  # type: ignore[dict-item]
    msg = _message(TypeError, lambda: compiled([_good(), a]))
    assert msg == "webhook_alerts(): alert 1, value of label 'severity': expected str, got int"
    a.labels = {"alertname": "A", 5: "x"}  # type: ignore[dict-item]
    msg = _message(TypeError, lambda: compiled([a]))
    assert msg == "webhook_alerts(): alert 0, label name 5: expected str, got int"
    a.labels = ["alertname"]  # type: ignore[assignment]
    msg = _message(TypeError, lambda: compiled([a]))
    assert msg == "webhook_alerts(): alert 0, labels: expected dict, got list"


@pytest.mark.parametrize(
    ("field", "value", "exc", "words"),
    [
        ("annotations_json", '{"s":"x"}', TypeError, "annotations_json: expected bytes, got str"),
        ("generator_url", None, TypeError, "generator_url: expected str, got NoneType"),
        ("fingerprint", "7", TypeError, "fingerprint: expected int, got str"),
        ("fingerprint", -1, OverflowError, "fingerprint: "),
        ("fingerprint", 2**64, OverflowError, "fingerprint: "),
        ("starts_at", None, TypeError, "starts_at: "),
        ("ends_at", "soon", TypeError, "ends_at: "),
    ],
)
def test_a_field_of_the_wrong_type_is_named(
    field: str, value: object, exc: type[Exception], words: str
) -> None:
    a = _good()
    setattr(a, field, value)
    msg = _message(exc, lambda: compiled([_good(), a]))
    assert msg.startswith("webhook_alerts(): alert 1, ") and words in msg


def test_a_formatter_that_returns_no_str_is_named() -> None:
    msg = _message(TypeError, lambda: compiled([_good()], NOW, lambda ts: 5))
    assert "alert 0, starts_at: format_time_nano returned int, not str" in msg


def test_a_lone_surrogate_fails_as_msgspec_fails() -> None:
    a = _good()
    a.labels = {"alertname": "\udcff"}
    with pytest.raises(UnicodeEncodeError):
        python([a])
    with pytest.raises(UnicodeEncodeError):
        compiled([a])


def test_errors_leave_no_reference_behind() -> None:
    a = _good()
    labels = {"alertname": "A", "severity": 3}
    a.labels = labels  # type: ignore[assignment]
    ends = a.ends_at
    fmt = payload.format_time_nano
    gc.collect()  # what earlier tests left for the collector holds references too
    before = [sys.getrefcount(x) for x in (a, labels, ends, fmt)]
    for bad in ([a], [_good(), object()]):
        for _ in range(100):
            with contextlib.suppress(TypeError, AttributeError):
                compiled(bad, NOW, fmt)
    gc.collect()
    assert [sys.getrefcount(x) for x in (a, labels, ends, fmt)] == before
