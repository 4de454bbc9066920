"""The compiled hot path (tocsin._speedups) against the Python code it replaces: same results,
same errors, on generated input."""

from __future__ import annotations

import shutil
import sys
import sysconfig

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin import model
from tocsin.api import alerts_codec
from tocsin.api.alerts_codec import PostableAlert, decode_postable_alerts, to_alerts

speedups = model.speedups


def test_the_compiled_module_is_built_where_a_compiler_is() -> None:
    # setup.py marks the extension optional, so a failed build would pass unnoticed otherwise.
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(compiler) is None:
        pytest.skip(f"no C compiler ({compiler}): tocsin runs its Python code")
    assert speedups is not None, "tocsin._speedups was not built: run pip install -e . again"


needs_speedups = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")

_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=12)
_names = st.one_of(st.sampled_from(["alertname", "job", "instance", "severity", "a", "b_1"]), _text)
_labels = st.dictionaries(_names, st.one_of(st.just(""), _text), max_size=6)
_times = st.one_of(
    st.none(),
    st.just(""),
    st.just("0001-01-01T00:00:00Z"),
    st.sampled_from(["2026-11-29T07:00:00Z", "2026-11-29T08:00:00.5+01:00", "2026-11-28T07:00:00Z"]),
    st.just("not a time"),
    st.just("2026-13-45T99:00:00Z"),
)
_posted = st.builds(
    PostableAlert,
    labels=_labels,
    annotations=st.one_of(st.none(), _labels),
    startsAt=_times,
    endsAt=_times,
    generatorURL=st.one_of(st.none(), st.just(""), _text),
)


@needs_speedups
@given(_labels)
def test_fingerprint_is_the_same_compiled_or_not(labels: dict[str, str]) -> None:
    assert speedups is not None
    assert speedups.fingerprint(labels) == model.py_fingerprint(labels)


@needs_speedups
@pytest.mark.parametrize("value", ["\udcff", "x\udcffy", "\ud800"])
def test_compiled_fingerprint_refuses_lone_surrogates(value: str) -> None:
    assert speedups is not None
    with pytest.raises(UnicodeEncodeError):
        speedups.fingerprint({"a": value})
    with pytest.raises(TypeError):
        speedups.fingerprint({"a": 1})  # type: ignore[dict-item]


@needs_speedups
@settings(max_examples=300)
@given(st.lists(_posted, max_size=8))
def test_to_alerts_gives_the_same_alerts_and_errors_compiled_or_not(
    posted: list[PostableAlert],
) -> None:
    now = 1_796_000_000.0
    # Each run starts from the same known names: the slow path learns new valid ones.
    known = set(alerts_codec._VALID_NAMES)
    compiled = to_alerts(posted, now, 300.0, "t")
    alerts_codec._VALID_NAMES.clear()
    alerts_codec._VALID_NAMES.update(known)
    saved = alerts_codec._convert
    alerts_codec._convert = None
    try:
        plain = to_alerts(posted, now, 300.0, "t")
    finally:
        alerts_codec._convert = saved
    assert compiled == plain


@needs_speedups
def test_to_alerts_compiled_path_keeps_the_python_rules() -> None:
    posted = [
        PostableAlert({"alertname": "A", "x": ""}, {"s": "", "d": "text"}, None, None, None),
        PostableAlert({"alertname": "B"}, None, "2026-11-29T07:00:00Z", "2026-11-29T06:00:00Z"),
        PostableAlert({"": "v"}, None),
        PostableAlert({"alertname": "C"}, None, "yesterday"),
        PostableAlert({"alertname": "D"}, None, None, "2026-11-29T07:00:00Z", "http://g"),
    ]
    now = 1_796_000_000.0
    valid, errors = to_alerts(posted, now, 300.0, "t")
    assert [a.labels for a in valid] == [{"alertname": "A"}, {"alertname": "D"}]
    a, d = valid
    assert a.annotations == {"d": "text"} and a.timeout and a.ends_at == now + 300.0 and a.starts_at == now
    assert a.fingerprint == model.py_fingerprint({"alertname": "A"})
    assert not d.timeout and d.starts_at == d.ends_at == model.parse_time("2026-11-29T07:00:00Z")
    assert d.generator_url == "http://g" and d.updated_at == now and d.tenant_id == "t"
    assert errors == [
        'alert 1 {alertname="B"}: start time must be before end time',
        'alert 2 {="v"}: invalid label set: invalid name ""',
        "alert 3: invalid timestamp 'yesterday': expected RFC 3339",
    ]
    with pytest.raises(UnicodeEncodeError):  # as the Python code: not an error entry, a failure
        to_alerts([PostableAlert({"alertname": "\udcff"})], now, 300.0, "t")


def _fresh(text: str) -> str:
    """An equal str that is a distinct object (as the JSON decoder sometimes hands out)."""
    return "".join(list(text))


class _Name(str):
    """A str subclass: its names take the compiled fingerprint's uncached path."""


@needs_speedups
def test_fingerprint_sort_cache_follows_every_change_of_names() -> None:
    """The compiled fingerprint reuses the sorted order of the last label names it saw: same
    names in another order, as other objects, of other kinds of text, more than it caches, or
    of a str subclass must all give Prometheus's fingerprint."""
    assert speedups is not None
    base = {"alertname": "A", "job": "j", "instance": "i", "zone": "z"}
    sequences = [
        base,
        {_fresh(k): v for k, v in base.items()},
        dict(reversed(list(base.items()))),
        {**base, "b": "x"},
        {"alertnamé": "A", "job": "j", "instance": "i", "zone": "z"},
        {"alertnamẞ": "A", "job": "j", "instance": "i", "zone": "z"},
        {"alertnam\U0001f600": "A", "job": "j", "instance": "i", "zone": "z"},
        {f"n{i:02d}": str(i) for i in range(40)},
        {f"n{i:02d}": str(i) for i in reversed(range(30))},
        {_Name(k): v for k, v in base.items()},
        # names of the same lengths that sort the other way round
        {"b": "1", "a": "2"},
        {"a": "1", "c": "2"},
        {"é": "1", "a": "2"},
        base,
        {"job": "j", "alertname": "A", "instance": "i", "zone": "z"},
        {},
        base,
    ]
    for labels in sequences + sequences[::-1]:
        assert speedups.fingerprint(labels) == model.py_fingerprint(labels), labels


class _AlertSubclass(model.Alert):
    __slots__ = ()


@needs_speedups
def test_alerts_of_another_class_are_built_by_calling_it() -> None:
    """The converter fills model.Alert's slots directly; any other class is called, and going
    back to model.Alert afterwards fills slots again."""
    assert speedups is not None
    posted = [PostableAlert({"alertname": "A", "job": "j"}, {"s": "t"}, None, None, "http://g")]
    now = 1_796_000_000.0
    seen: list[int] = []

    def slow(i: int, p: PostableAlert) -> model.Alert | str:
        seen.append(i)
        return "unexpected"

    for alert_type in (model.Alert, _AlertSubclass, model.Alert):
        valid, errors = speedups.convert(
            posted, now, now + 300.0, "t", {}, {"alertname", "job", "s"}, model.parse_time, alert_type, slow
        )
        assert errors == [] and seen == []
        (a,) = valid
        assert type(a) is alert_type
        expected = model.Alert(
            {"alertname": "A", "job": "j"}, {"s": "t"}, now, now + 300.0, "http://g", now, True, "t"
        )
        slots = model.Alert.__slots__
        assert [getattr(a, n) for n in slots] == [getattr(expected, n) for n in slots]


@needs_speedups
def test_compiled_labels_take_no_more_memory_than_a_dict_built_by_insertion() -> None:
    # A presized dict has the general entries, not the compact ones of str keys: 80 bytes more
    # for nine labels, on every alert held.
    body = b'[{"labels": {' + b", ".join(b'"l%d": "v%d"' % (i, i) for i in range(9)) + b"}}]"
    posted = decode_postable_alerts(body)
    alerts_codec._VALID_NAMES.update(posted[0].labels)
    (a,), _ = to_alerts(posted, 1_796_000_000.0, 300.0, "t")
    built: dict[str, str] = {}
    for k, v in posted[0].labels.items():
        built[k] = v
    assert a.labels == built and sys.getsizeof(a.labels) <= sys.getsizeof(built)
