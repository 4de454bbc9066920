"""The per-alert work of a group flush (engine/pipeline.py, notify/base.py): the compiled helpers
of tocsin._speedups against their Python twins, and both against the code they replaced (kept
here verbatim as ``old_*``), on generated input; bad input fails the same way in both."""

from __future__ import annotations

import contextlib
import gc
import math
import sys
import types
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin import model
from tocsin.engine import pipeline
from tocsin.model import Alert, speedups
from tocsin.notify import base
from tocsin.notify.base import NotifyError

NOW = 1_800_000_000.0
U64 = 2**64

needs_speedups = pytest.mark.skipif(speedups is None, reason="tocsin._speedups not built")


# --- the code the helpers replaced ------------------------------------------------------------


def old_sets(alerts: Sequence[Any], now: Any) -> tuple[frozenset[int], frozenset[int]]:
    firing = frozenset(a.fingerprint for a in alerts if a.ends_at > now)
    resolved = frozenset(a.fingerprint for a in alerts if a.ends_at <= now)
    return firing, resolved


def old_hex(fingerprints: frozenset[int]) -> list[str]:
    return sorted(f"{x:016x}" for x in fingerprints)


def old_quiet(alerts: Sequence[Any], now: Any, until: Any) -> tuple[Any, bool]:
    for a in alerts:
        if now < a.ends_at < until:
            until = a.ends_at
    return until, any(a.ends_at > now for a in alerts)


def old_common_annotations(alerts: Sequence[Alert]) -> dict[str, str]:
    if not alerts:
        return {}
    out = alerts[0].annotations
    texts = [a.annotations_json for a in alerts[1:]]
    if not texts:
        return out
    kept = {}
    for name, value in out.items():
        pair = base.encode_annotations({name: value})[1:-1]
        after_brace, after_comma = b"{" + pair, b"," + pair
        for text in texts:
            if after_brace not in text and after_comma not in text:
                break
        else:
            kept[name] = value
    return kept


# --- generated alerts -------------------------------------------------------------------------


class SubAlert(Alert):
    """Not model.Alert itself: the compiled helpers read its fields by getattr."""

    __slots__ = ()


def _namespace(a: Alert) -> Any:
    """A duck-typed alert (no slots at all)."""
    return types.SimpleNamespace(
        labels=a.labels, annotations_json=a.annotations_json, ends_at=a.ends_at, fingerprint=a.fingerprint
    )


_names = st.sampled_from(["alertname", "job", "instance", "severity", "a", "b_1", 'x"a', ',"a'])
_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=8)
# Values that hold another pair's text, quotes, braces and backslashes (see common_annotations).
_tricky = st.sampled_from(['x","a":"1', '{"a":"1"}', '"a":"1"', "1", "2", 'x\\",', ',"summary":"', "\\", '"'])
_values = st.one_of(_tricky, _text)
_maps = st.dictionaries(_names, _values, max_size=5)
_ends = st.sampled_from([NOW - 300, NOW - 1, NOW, NOW + 1, NOW + 300, math.inf, -math.inf, math.nan])
_fps = st.one_of(st.integers(0, U64 - 1), st.sampled_from([0, 1, U64 - 1, 2**63, 2**63 - 1]))


@st.composite
def _alerts(draw: st.DrawFn, kinds: bool = True) -> list[Any]:
    out = []
    for _ in range(draw(st.integers(0, 12))):
        ends = draw(_ends)
        if draw(st.integers(0, 9)) == 0:
            ends = int(ends) if math.isfinite(ends) else ends  # an int end: the generic comparisons
        a = Alert(draw(_maps), draw(_maps), NOW - 600, ends)
        a.fingerprint = draw(_fps)
        kind = draw(st.sampled_from(["alert", "alert", "alert", "sub", "namespace"])) if kinds else "alert"
        if kind == "sub":
            a = SubAlert(a.labels, a.annotations_json, a.starts_at, a.ends_at, fingerprint=a.fingerprint)
        elif kind == "namespace":
            a = _namespace(a)
        out.append(a)
    return out


def _same_objects(x: Any, y: Any) -> bool:
    return x is y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))


def _outcome(fn: Callable[..., Any], *args: Any) -> tuple[str, Any]:
    try:
        return "ok", fn(*args)
    except Exception as e:
        return type(e).__name__, None


# --- fingerprint_sets, next_end, sorted_hex ---------------------------------------------------


@given(_alerts(), st.sampled_from([NOW, int(NOW)]))
@settings(max_examples=300)
def test_fingerprint_sets_are_the_old_generator_expressions(alerts: list[Any], now: float) -> None:
    expected = old_sets(alerts, now)
    assert pipeline.py_fingerprint_sets(alerts, now) == expected
    assert pipeline.fingerprint_sets(alerts, now) == expected
    for got in pipeline.fingerprint_sets(alerts, now):
        assert type(got) is frozenset


def test_an_end_that_compares_neither_way_is_in_neither_set() -> None:
    a = Alert({"alertname": "A"}, None, NOW, math.nan)
    assert pipeline.fingerprint_sets([a], NOW) == (frozenset(), frozenset()) == old_sets([a], NOW)


@given(_alerts(), st.sampled_from([NOW, math.inf, NOW + 1, NOW + 300, math.nan, int(NOW) + 2]))
@settings(max_examples=300)
def test_next_end_is_the_old_quiet_until_loop(alerts: list[Any], until: float) -> None:
    for now in (NOW, int(NOW)):
        expected = old_quiet(alerts, now, until)
        for got in (pipeline.py_next_end(alerts, now, until), pipeline.next_end(alerts, now, until)):
            # The very object: an alert's end or ``until`` itself.
            assert _same_objects(got[0], expected[0]) and got[1] is expected[1]


@given(st.frozensets(_fps, max_size=300))
@settings(max_examples=300)
def test_sorted_hex_is_the_old_sorted_texts(fps: frozenset[int]) -> None:
    expected = old_hex(fps)
    assert model.py_sorted_hex(fps) == expected
    assert model.sorted_hex(fps) == expected
    assert all(type(s) is str for s in model.sorted_hex(fps))


@given(
    st.lists(st.one_of(_fps, st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=3), st.booleans()))
)
@settings(max_examples=300)
def test_sorted_hex_compiled_and_python_agree_on_any_input(items: list[Any]) -> None:
    py, compiled = _outcome(model.py_sorted_hex, items), _outcome(model.sorted_hex, items)
    assert py == compiled
    if py[0] != "ok":
        with pytest.raises(ValueError if py[0] == "ValueError" else TypeError) as from_py:
            model.py_sorted_hex(items)
        with pytest.raises(type(from_py.value)) as from_compiled:
            model.sorted_hex(items)
        assert str(from_py.value) == str(from_compiled.value)


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        ([5, -1], ValueError, "sorted_hex(): fingerprint -1 is not an unsigned 64-bit int"),
        ([U64], ValueError, f"sorted_hex(): fingerprint {U64} is not an unsigned 64-bit int"),
        ([1, "a", 1.5], TypeError, "sorted_hex(): fingerprint 'a' is str, not int"),
        ([1.0], TypeError, "sorted_hex(): fingerprint 1.0 is float, not int"),
    ],
)
@pytest.mark.parametrize("fn", [model.py_sorted_hex, model.sorted_hex])
def test_sorted_hex_names_the_bad_fingerprint(
    fn: Callable[[Any], list[str]], bad: list[Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as e:
        fn(bad)
    assert str(e.value) == message


@pytest.mark.parametrize(
    "fn", [pipeline.py_fingerprint_sets, pipeline.fingerprint_sets, pipeline.py_next_end, pipeline.next_end]
)
def test_alert_loops_fail_as_python_does(fn: Callable[..., Any]) -> None:
    args = (NOW,) if fn in (pipeline.py_fingerprint_sets, pipeline.fingerprint_sets) else (NOW, math.inf)
    good = Alert({"alertname": "A"}, None, NOW, NOW + 60)
    with pytest.raises(AttributeError):
        fn([good, object()], *args)
    with pytest.raises(AttributeError):
        fn([Alert.__new__(Alert)], *args)  # slots never set
    with pytest.raises(TypeError):
        fn([types.SimpleNamespace(ends_at=None, fingerprint=1)], *args)
    if fn in (pipeline.py_fingerprint_sets, pipeline.fingerprint_sets):
        with pytest.raises(TypeError):
            fn([types.SimpleNamespace(ends_at=NOW + 1, fingerprint=[1])], *args)  # unhashable


@needs_speedups
def test_compiled_errors_name_the_alert_and_field() -> None:
    assert speedups is not None
    alerts = [Alert({"alertname": "A"}, None, NOW, NOW + 60), types.SimpleNamespace(ends_at=NOW + 1)]
    with pytest.raises(AttributeError, match=r"fingerprint_sets\(\): alert 1, fingerprint: ") as e:
        speedups.fingerprint_sets(alerts, NOW)
    assert isinstance(e.value.__cause__, AttributeError)
    with pytest.raises(TypeError, match=r"next_end\(\): alert 1, ends_at: "):
        speedups.next_end([alerts[0], types.SimpleNamespace(ends_at="x")], NOW, math.inf)
    with pytest.raises(AttributeError, match=r"common_labels\(\): alert 0, labels: "):
        speedups.common_labels([object()])
    with pytest.raises(TypeError, match=r"pairs_in_all\(\): pair 1 is str, not bytes"):
        speedups.pairs_in_all(alerts[:1], [b'"a":"1"', '"a":"1"'])
    with pytest.raises(TypeError, match=r"takes 2 arguments \(alerts, now\)"):
        speedups.fingerprint_sets([])


# --- common, common_labels, common_annotations ------------------------------------------------

# Values of other types take the compiled code's general comparison (m.get(k) != v as Python
# evaluates it: a missing name is None, a NaN differs from itself, 1 == 1.0 == True).
_any_values = st.one_of(_values, st.none(), st.sampled_from([1, 1.0, True, math.nan]))
_any_maps = st.dictionaries(_names, _any_values, max_size=5)


@given(st.lists(st.one_of(_maps, _any_maps), max_size=8))
@settings(max_examples=300)
def test_common_is_the_old_loop(maps: list[dict[str, Any]]) -> None:
    expected = base.py_common(maps)
    for got in (base.common(maps), base.common(tuple(maps))):
        assert got == expected and list(got) == list(expected)
    # Other mappings than dicts: the compiled code declines them and the Python loop answers.
    proxies = [types.MappingProxyType(m) for m in maps]
    assert list(base.common(proxies)) == list(expected)


def test_common_keeps_what_m_get_finds_equal() -> None:
    assert base.common([{"a": None}, {}]) == {"a": None} == base.py_common([{"a": None}, {}])
    assert base.common([{"a": 1}, {"a": True}, {"a": 1.0}]) == {"a": 1}
    nan = math.nan
    assert base.common([{"a": nan}, {"a": nan}]) == {} == base.py_common([{"a": nan}, {"a": nan}])


@given(_alerts())
@settings(max_examples=300)
def test_common_labels_is_common_over_the_labels(alerts: list[Any]) -> None:
    expected = base.py_common([a.labels for a in alerts])
    got = base.common_labels(alerts)
    assert got == expected and list(got) == list(expected)
    if alerts:  # labels that are no dict: the Python loop answers
        alerts[-1] = types.SimpleNamespace(labels=types.MappingProxyType(alerts[-1].labels))
        assert base.common_labels(alerts) == base.py_common([a.labels for a in alerts])


@given(_alerts(kinds=False), st.lists(st.booleans(), max_size=12))
@settings(max_examples=300)
def test_common_annotations_compiled_python_and_old_agree(alerts: list[Alert], sub: list[bool]) -> None:
    alerts = [
        SubAlert(a.labels, a.annotations_json, fingerprint=a.fingerprint) if s else a
        for a, s in zip(alerts, sub + [False] * len(alerts), strict=False)
    ]
    expected = old_common_annotations(alerts)
    assert expected == base.py_common([a.annotations for a in alerts])
    got = base.common_annotations(alerts)
    assert got == expected and list(got) == list(expected)
    saved = base._pairs_in_all
    base._pairs_in_all = None  # the Python path, as without the compiled module
    try:
        assert base.common_annotations(alerts) == expected
    finally:
        base._pairs_in_all = saved


_pairs = st.lists(
    st.one_of(st.binary(max_size=6), st.sampled_from([b'"a":"1"', b"", b"{", b",", b'"a"'])), max_size=4
)
_bytes_texts = st.lists(
    st.one_of(st.binary(max_size=24), st.sampled_from([b"{}", b'{"a":"1"}', b'{"b":"2","a":"1"}']))
)


@given(_bytes_texts, _pairs)
@settings(max_examples=300)
def test_pairs_in_all_is_the_substring_test_on_any_bytes(texts: list[bytes], pairs: list[bytes]) -> None:
    alerts = [types.SimpleNamespace(annotations_json=t) for t in texts]
    expected = [all((b"{" + p) in t or (b"," + p) in t for t in texts) for p in pairs]
    assert base.py_pairs_in_all(alerts, pairs) == expected
    if speedups is not None:
        assert speedups.pairs_in_all(alerts, pairs) == expected


@needs_speedups
def test_pairs_in_all_declines_text_that_is_not_bytes() -> None:
    assert speedups is not None
    alerts = [types.SimpleNamespace(annotations_json=bytearray(b'{"a":"1"}'))]
    assert speedups.pairs_in_all(alerts, [b'"a":"1"']) is None
    assert base.py_pairs_in_all(alerts, [b'"a":"1"']) == [True]  # what common_annotations runs then


# --- what the pipeline stores -----------------------------------------------------------------

CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"""


async def test_outbox_and_log_store_the_old_sorted_hex_lists(harness: Any) -> None:
    h = harness(CONFIG)
    rec = h.rec["team"][0]
    await h.post(*({"labels": {"alertname": "A", "i": str(i)}, "endsAt": h.at(3600)} for i in range(40)))
    await h.post(*({"labels": {"alertname": "A", "i": f"r{i}"}, "endsAt": h.at(10)} for i in range(5)))
    rec.fail_with = NotifyError("down", retryable=False)
    await h.advance(31)
    h.engine.writer.flush()
    alerts = list(h.engine.dispatcher.groups_for("default")[0].alerts.values())
    firing, resolved = old_sets(alerts, h.clock.now())
    assert len(firing) == 40 and len(resolved) == 5
    (outbox,) = h.engine.storage.load_docs("outbox")
    assert outbox.data["firing"] == old_hex(firing) and outbox.data["resolved"] == old_hex(resolved)
    key = outbox.data["idempotencyKey"]
    h.restart()  # the record read back (JSON) is the same notification: same idempotency key
    rec.fail_with = None
    await h.advance(300)
    assert rec.sent[-1].idempotency_key == key
    assert rec.sent[-1].status == "firing" and len(rec.sent[-1].alerts) == 45
    h.engine.writer.flush()
    (entry,) = h.engine.storage.load_docs("nflog")
    assert entry.data["firing"] == old_hex(firing) and entry.data["resolved"] == old_hex(resolved)
    assert h.engine.storage.load_docs("outbox") == []


# --- the compiled module in place -------------------------------------------------------------


@needs_speedups
def test_the_pipeline_and_notifications_use_the_compiled_helpers() -> None:
    assert speedups is not None
    assert pipeline.fingerprint_sets is speedups.fingerprint_sets
    assert pipeline.next_end is speedups.next_end
    assert model.sorted_hex is speedups.sorted_hex
    assert base._common_map is speedups.common_map
    assert base._common_labels is speedups.common_labels
    assert base._pairs_in_all is speedups.pairs_in_all


@needs_speedups
def test_the_compiled_helpers_leave_no_reference_behind() -> None:
    assert speedups is not None
    a = Alert({"alertname": "A", "i": "1"}, {"s": "1", "t": "2"}, NOW, NOW + 60)
    b = SubAlert({"alertname": "A", "i": "2"}, {"s": "1"}, NOW, NOW - 60)
    until = NOW + 3600
    held = (a, b, a.labels, b.labels, a.ends_at, b.ends_at, a.fingerprint, b.fingerprint)
    held += (a.annotations_json, b.annotations_json, until, a.labels["alertname"])
    bad_end = types.SimpleNamespace(ends_at="x", fingerprint=a.fingerprint, labels=a.labels)
    calls: list[Callable[[list[Any]], Any]] = [
        lambda alerts: speedups.fingerprint_sets(alerts, NOW),
        lambda alerts: speedups.next_end(alerts, NOW, until),
        lambda alerts: speedups.sorted_hex([x.fingerprint for x in alerts]),
        lambda alerts: speedups.common_labels(alerts),
        lambda alerts: speedups.common_map([x.labels for x in alerts]),
        lambda alerts: speedups.pairs_in_all(alerts, [b'"s":"1"', b'"t":"2"']),
    ]
    gc.collect()  # what earlier tests left for the collector holds references too
    before = [sys.getrefcount(x) for x in held]
    for call in calls:
        for alerts in ([a, b], [b, a, a], [a, object()], [a, bad_end], [b, bad_end]):
            for _ in range(50):
                with contextlib.suppress(TypeError, AttributeError):
                    call(alerts)
    del alerts  # the loop's last list holds b
    gc.collect()
    assert [sys.getrefcount(x) for x in held] == before
