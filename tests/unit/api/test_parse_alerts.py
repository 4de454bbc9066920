"""The compiled one-pass reader of POST /api/v2/alerts bodies (``_speedups.parse_alerts``) against
the general path it stands in for (``decode_postable_alerts`` and ``to_alerts``): the same Alerts
for every body it takes, None for every body it leaves to the general path, and the bodies that
Prometheus and amtool send are taken."""

from __future__ import annotations

import json
import sys
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tocsin import model
from tocsin.api import alerts_codec
from tocsin.api.alerts_codec import alerts_from_body, decode_postable_alerts, parse_time, to_alerts

speedups = model.speedups
pytestmark = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")

NOW = 1_796_000_000.0
TIMEOUT = 300.0


def _fields(a: model.Alert) -> list[Any]:
    return [getattr(a, name) for name in model.Alert.__slots__]


def _fast(body: bytes, tenant: str = "t") -> list[model.Alert] | None:
    assert speedups is not None
    return speedups.parse_alerts(
        body, NOW, NOW + TIMEOUT, tenant, alerts_codec._SHARED, parse_time, model.Alert
    )


def _general(body: bytes, tenant: str = "t") -> tuple[list[model.Alert], list[str]] | str:
    try:
        return to_alerts(decode_postable_alerts(body), NOW, TIMEOUT, tenant)
    except ValueError as e:
        return f"{type(e).__name__}: {e}"


def _same(fast: list[model.Alert], general: tuple[list[model.Alert], list[str]] | str) -> None:
    assert not isinstance(general, str), general
    alerts, errors = general
    assert errors == []
    assert [_fields(a) for a in fast] == [_fields(a) for a in alerts]
    # The posted order of labels is kept, as the general path keeps it.
    assert [list(a.labels) for a in fast] == [list(a.labels) for a in alerts]


# Text of every kind: quotes, backslashes, control characters, non-ASCII, emoji, escapes.
_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=14)
_plain = st.sampled_from(["node", "critical", "host-1:9100", "", "x" * 9, "a b", 'q"t', "back\\slash"])
_value = st.one_of(_plain, _text)
_valid_name = st.one_of(
    st.sampled_from(["alertname", "job", "instance", "severity", "a", "_b1", "Z9"]),
    st.builds(
        str.__add__,
        st.sampled_from(["a", "Z", "_", "job_"]),
        st.text(alphabet="abcXYZ_019", max_size=10),
    ),
)
_name = st.one_of(_valid_name, _text)  # mostly not a valid name: the general path's turn
_times = st.one_of(
    st.none(),
    st.just(""),
    st.just("0001-01-01T00:00:00Z"),
    st.sampled_from(
        [
            "2026-11-29T07:00:00Z",
            "2026-11-29T08:00:00.5+01:00",
            "2026-11-28T07:00:00.123456789Z",
            "2027-01-01T00:00:00Z",
        ]
    ),
    st.just("not a time"),
)


@st.composite
def _alert_doc(draw: st.DrawFn) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    # Half the alerts have only valid names, so that many bodies are ones it takes.
    names = _valid_name if draw(st.booleans()) else _name
    fields = ["labels", "annotations", "startsAt", "endsAt", "generatorURL"]
    keys = draw(st.lists(st.sampled_from(fields), unique=True))
    if draw(st.integers(0, 9)):  # labels are nearly always there
        keys = ["labels", *[k for k in keys if k != "labels"]]
    for key in keys:
        if key == "labels":
            doc[key] = draw(st.dictionaries(names, _value, max_size=7))
        elif key == "annotations":
            doc[key] = draw(st.one_of(st.none(), st.dictionaries(names, _value, max_size=4)))
        elif key == "generatorURL":
            doc[key] = draw(st.one_of(st.none(), st.just(""), _value))
        else:
            doc[key] = draw(_times)
    return doc


def _encode(docs: list[dict[str, Any]], style: int) -> bytes:
    if style == 0:
        return msgspec.json.encode(docs)
    if style == 1:
        return json.dumps(docs).encode()  # \u escapes for everything not ASCII
    if style == 2:
        return json.dumps(docs, indent=2, ensure_ascii=False).encode()
    return (" \n" + json.dumps(docs, separators=(" , ", " :\t")) + "\r\n").encode()


# Building bodies of several alerts is slower than hypothesis likes on a busy machine.
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_alert_doc(), max_size=6), st.integers(0, 3))
def test_a_body_it_takes_gives_the_general_paths_alerts(docs: list[dict[str, Any]], style: int) -> None:
    body = _encode(docs, style)
    fast = _fast(body)
    general = _general(body)
    event("taken" if fast is not None else "left to the general path")
    if fast is not None:
        _same(fast, general)
    elif not isinstance(general, str):
        # What it leaves to the general path is unusual: an error, an empty value that must go,
        # or a name not valid, or given twice.
        _, errors = general
        unusual = bool(errors) or any(
            not isinstance(d.get("labels"), dict)
            or "" in d["labels"].values()
            or any(not model.LABEL_NAME_RE.fullmatch(n) for n in d["labels"])
            or any(not model.LABEL_NAME_RE.fullmatch(n) for n in (d.get("annotations") or {}))
            for d in docs
        )
        assert unusual, body


def _prometheus_body(n: int) -> bytes:
    # What Prometheus's notifier posts: both times, a generator URL, the same for all alerts.
    return msgspec.json.encode(
        [
            {
                "labels": {
                    "alertname": "HighLoad",
                    "instance": f"host-{i}:9100",
                    "job": "node",
                    "severity": "warning",
                },
                "annotations": {"summary": f"load on host-{i}", "description": '5m load "high"\nsee é 🔥'},
                "startsAt": "2026-11-29T07:00:00.123Z",
                "endsAt": "2026-11-29T07:04:00.123Z",
                "generatorURL": "http://prometheus:9090/graph?g0.expr=load5+%3E+2",
            }
            for i in range(n)
        ]
    )


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b" [ ] ",
        _prometheus_body(1),
        _prometheus_body(64),
        # amtool: labels, annotations, startsAt and an empty generatorURL
        b'[{"labels":{"alertname":"Test","severity":"info"},"annotations":{"summary":"s"},'
        b'"generatorURL":"","startsAt":"2026-11-29T07:00:00+01:00","endsAt":"0001-01-01T00:00:00Z"}]',
        # nulls where the API allows them, and empty values, which mean "not there"
        b'[{"labels":{"a":"1","gone":""},"annotations":null,"startsAt":null,"endsAt":null,"generatorURL":null}]',
        b'[{"labels":{"a":"1"},"annotations":{"z":"1","a":"","m":"2"}}]',
        # escapes of every kind, a surrogate pair among them
        b'[{"labels":{"a":"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20ac\\ud83d\\udd25"},"annotations":{"d":"\\u0001"}}]',
        # more labels than the compiled fingerprint lists (32), and a text past its cache (1,024)
        b'[{"labels":{' + b",".join(b'"n%d":"v%d"' % (i, i) for i in range(40)) + b"}},"
        b'{"labels":{"a":"' + b"y" * 2000 + b'"},"generatorURL":"' + b"u" * 1500 + b'"}]',
        # long text, past the eight-byte steps of the scanner
        b'[{"labels":{"a":"' + b"x" * 1000 + b'","b":"' + "é".encode() * 300 + b'"}}]',
    ],
)
def test_usual_bodies_are_taken(body: bytes) -> None:
    fast = _fast(body)
    assert fast is not None
    _same(fast, _general(body))


def test_the_benchmark_bodies_are_taken() -> None:
    from benchmarks.alerts.workload import Workload, alert_docs, encode_batches

    w = Workload(alerts=300)
    for _, _, body in encode_batches(w, alert_docs(w), 0):
        fast = _fast(body)
        assert fast is not None
        _same(fast, _general(body))


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b"null",
        b"[1]",
        b"[{}]",
        b'[{"annotations":{"a":"b"}}]',  # no labels
        b'[{"labels":null}]',
        b'[{"labels":{}}]',
        b'[{"labels":{"a":""}}]',  # no label left
        b'[{"labels":{"a":1}}]',
        b'[{"labels":{"a":"1"},"extra":1}]',  # a field it does not know
        b'[{"labels":{"a":"1"},"labels":{"b":"2"}}]',
        b'[{"labels":{"a":"1","a":"2"}}]',
        b'[{"labels":{"a":"1","a":""}}]',  # the empty value would remove the label
        b'[{"labels":{"a":"1"},"annotations":{"s":"1","s":"2"}}]',
        b'[{"labels":{"a":"1"},"annotations":[]}]',
        b'[{"labels":{"a b":"1"}}]',
        b'[{"labels":{"1a":"1"}}]',
        b'[{"labels":{"a":"1"},"annotations":{"a-b":"1"}}]',
        b'[{"labels":{"a":"1"},"startsAt":"yesterday"}]',
        b'[{"labels":{"a":"1"},"startsAt":"2026-11-29T08:00:00Z","endsAt":"2026-11-29T07:00:00Z"}]',
        b'[{"labels":{"a":"1"},"startsAt":5}]',
        b'[{"labels":{"a":"1"},"generatorURL":true}]',
        b'[{"labels":{"a":"\xff"}}]',  # not UTF-8
        b'[{"labels":{"a":"\xed\xa0\x80"}}]',  # a surrogate, UTF-8 encoded
        b'[{"labels":{"a":"\\ud800"}}]',  # a lone surrogate
        b'[{"labels":{"a":"\\udc00x"}}]',
        b'[{"labels":{"a":"\\x41"}}]',
        b'[{"labels":{"a":"\\u00g1"}}]',
        b'[{"labels":{"a":"line\nbreak"}}]',  # a raw control character
        b'[{"labels":{"a":"1"}}',
        b'[{"labels":{"a":"1"}},]',
        b'[{"labels":{"a":"1"}}] x',
        b'[{"labels":{"a":"1}}]',
        b'[{"labels":{"a":"1"}}]\x00',
        b'[{"labels":{"a":"1"},"annotations":{' + b",".join(b'"n%d":"v"' % i for i in range(65)) + b"}}]",
    ],
)
def test_other_bodies_are_left_to_the_general_path(body: bytes) -> None:
    assert _fast(body) is None
    # ... which alerts_from_body then runs, with its answers and errors.
    try:
        got: tuple[list[model.Alert], list[str]] | str = alerts_from_body(body, NOW, TIMEOUT, "t")
    except ValueError as e:
        got = f"{type(e).__name__}: {e}"
    general = _general(body)
    if isinstance(general, str) or isinstance(got, str):
        assert got == general
    else:
        assert [_fields(a) for a in got[0]] == [_fields(a) for a in general[0]] and got[1] == general[1]


def test_alerts_from_body_reports_errors_as_before() -> None:
    with pytest.raises(ValueError, match="malformed JSON"):
        alerts_from_body(b"[{", NOW, TIMEOUT, "t")
    with pytest.raises(alerts_codec.SchemaError, match="labels"):
        alerts_from_body(b'[{"annotations":{}}]', NOW, TIMEOUT, "t")
    valid, errors = alerts_from_body(
        b'[{"labels":{"a":"1"}},{"labels":{"a":"2"},"startsAt":"yesterday"}]', NOW, TIMEOUT, "t"
    )
    assert [a.labels for a in valid] == [{"a": "1"}]
    assert errors == ["alert 1: invalid timestamp 'yesterday': expected RFC 3339"]


def test_alerts_from_body_without_the_compiled_module(monkeypatch: pytest.MonkeyPatch) -> None:
    body = _prometheus_body(3)
    with_it = alerts_from_body(body, NOW, TIMEOUT, "t")
    monkeypatch.setattr(alerts_codec, "_parse_alerts", None)
    without = alerts_from_body(body, NOW, TIMEOUT, "t")
    assert [_fields(a) for a in with_it[0]] == [_fields(a) for a in without[0]]
    assert with_it[1] == without[1] == []


def test_repeated_texts_are_shared_and_times_parsed_once() -> None:
    fast = _fast(_prometheus_body(5))
    assert fast is not None
    first, second, *rest = fast
    # A text is cached the second time it is seen (the first may have been in an earlier test).
    for a in rest:
        assert a.labels["job"] is second.labels["job"]
        assert a.generator_url is second.generator_url
    for a in [second, *rest]:
        assert a.starts_at is first.starts_at and a.ends_at is first.ends_at
    assert not first.timeout and first.updated_at == NOW and first.tenant_id == "t"


def test_a_text_seen_once_is_not_cached_and_one_seen_twice_is() -> None:
    # A unique text (an instance, an id) passes by the cache without displacing what is shared.
    def value(text: str) -> str:
        fast = _fast(msgspec.json.encode([{"labels": {"k": text}}]))
        assert fast is not None
        return fast[0].labels["k"]

    assert speedups is not None
    speedups.clear_text_cache()  # no text counts as seen, whatever earlier tests posted
    # "other" between the sightings: the text at the same place in the alert before is shared
    # without the cache (the next test).
    once, _, twice, _, thrice = (
        value(t) for t in ["first-sighting", "other", "first-sighting", "other", "first-sighting"]
    )
    assert once == twice == thrice == "first-sighting"
    assert once is not twice and twice is thrice
    speedups.clear_text_cache()
    assert value("first-sighting") is not thrice


def test_a_text_repeated_at_the_same_place_is_shared_at_once() -> None:
    assert speedups is not None
    speedups.clear_text_cache()
    body = msgspec.json.encode(
        [{"labels": {"a": "x", "b": f"v{i}"}, "generatorURL": "http://u"} for i in range(3)]
    )
    fast = _fast(body)
    assert fast is not None
    first, second, third = fast
    assert first.labels["a"] is second.labels["a"] is third.labels["a"]
    assert first.generator_url is second.generator_url is third.generator_url
    assert [a.labels["b"] for a in fast] == ["v0", "v1", "v2"]
    # The same name at another place, and a value that moved, are still read right.
    fast = _fast(msgspec.json.encode([{"labels": {"b": "x", "a": "v1"}}]))
    assert fast is not None and fast[0].labels == {"b": "x", "a": "v1"}


def test_labels_take_no_more_memory_than_a_dict_built_by_insertion() -> None:
    body = b'[{"labels": {' + b", ".join(b'"l%d": "v%d"' % (i, i) for i in range(9)) + b"}}]"
    fast = _fast(body)
    assert fast is not None
    built = {f"l{i}": f"v{i}" for i in range(9)}
    assert fast[0].labels == built and sys.getsizeof(fast[0].labels) <= sys.getsizeof(built)


def test_bad_arguments_are_named() -> None:
    assert speedups is not None
    with pytest.raises(TypeError, match="body must be bytes"):
        speedups.parse_alerts("[]", NOW, NOW, "t", {}, parse_time, model.Alert)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes 7 arguments"):
        speedups.parse_alerts(b"[]")  # type: ignore[call-arg]


def test_recurring_values_stay_shared_among_a_flood_of_unique_ones() -> None:
    # Held alerts share one str per recurring label value: the cache keeps a recurring text
    # while unique ones (instance, here also id and url) pass through it.
    docs = [
        {
            "labels": {"job": "node", "instance": f"host-{i}", "id": str(i), "zone": f"zone-{i % 50}"},
            "generatorURL": f"http://g/{i}",
        }
        for i in range(20_000)
    ]
    fast = _fast(msgspec.json.encode(docs))
    assert fast is not None
    assert len({id(a.labels["job"]) for a in fast}) <= 2  # its first sighting has a str of its own
    assert len({id(a.labels["zone"]) for a in fast}) <= 105  # 50 values so, hardly ever evicted
    assert len({id(a.labels["instance"]) for a in fast}) == 20_000


def test_a_place_of_unique_values_finds_the_cache_again_once_its_values_recur() -> None:
    # After a flood of unique instances, the place skips the cache but for a probe now and then;
    # once its values recur, a probe finds one cached and the place shares again.
    assert speedups is not None
    speedups.clear_text_cache()
    docs = [{"labels": {"alertname": "A", "instance": f"host-{i}"}} for i in range(1_000)]
    docs += [{"labels": {"alertname": "A", "instance": f"back-{i % 5}"}} for i in range(400)]
    fast = _fast(msgspec.json.encode(docs))
    assert fast is not None
    assert [a.labels["instance"] for a in fast] == [d["labels"]["instance"] for d in docs]
    assert len({id(a.labels["instance"]) for a in fast[-100:]}) == 5


@pytest.mark.parametrize("name", ["job\n", "job\n\n", "\njob", "jo b"])
def test_a_label_name_with_a_newline_is_refused_by_both_paths(name: str) -> None:
    # Python's "$" matched before a final newline, so "job\n" passed the general path's check
    # while Prometheus (and the compiled reader) refuse it.
    body = msgspec.json.encode([{"labels": {"alertname": "A", name: "x"}}])
    assert _fast(body) is None
    valid, errors = alerts_from_body(body, NOW, TIMEOUT, "t")
    assert valid == []
    brief = alerts_codec._brief({"alertname": "A", name: "x"})
    assert errors == [f"alert 0 {brief}: invalid label set: invalid name {alerts_codec.quote(name)}"]
    assert model.validate_labels({name: "x"}) is not None
