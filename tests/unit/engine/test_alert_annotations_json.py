"""Alerts hold their annotations as JSON text with sorted names; every reader sees the same."""

from __future__ import annotations

import json

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tocsin.api.alerts_codec import PostableAlert, gettable_alert, to_alerts
from tocsin.engine.engine import AlertStatus
from tocsin.model import Alert, canonical_annotations, encode_annotations, merge
from tocsin.notify.base import Notification, common, common_annotations
from tocsin.notify.payload import webhook_body

NOW = 1_796_000_000.0

# (Quotes in names only come through the Python API, which does not check names.)
_names = st.sampled_from(["summary", "description", "runbook", "a", "b_1", "Z", 'x"a', ',"a'])
_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=10)
# Values that hold another pair's text, quotes, braces and backslashes: common_annotations looks
# for each pair's text inside every alert's JSON.
_tricky = st.sampled_from(['x","a":"1', '{"a":"1"}', '"a":"1"', "1", 'x\\",', ',"summary":"', "\\", '"'])
_maps = st.dictionaries(_names, st.one_of(_text, _tricky), max_size=5)


def test_names_are_sorted_and_the_text_is_compact_whatever_the_posted_order() -> None:
    a = Alert({"alertname": "A"}, {"summary": "s", "description": 'd "q"', "a": "é\n"})
    assert a.annotations_json == '{"a":"é\\n","description":"d \\"q\\"","summary":"s"}'.encode()
    assert list(a.annotations) == ["a", "description", "summary"]
    assert (
        Alert({"alertname": "A"}).annotations_json == b"{}" == Alert({"alertname": "A"}, {}).annotations_json
    )


def test_annotations_is_a_fresh_dict_and_setting_it_encodes() -> None:
    a = Alert({"alertname": "A"}, {"summary": "s"})
    got = a.annotations
    got["summary"] = "changed"
    assert a.annotations == {"summary": "s"}, "the dict handed out is the caller's"
    a.annotations = {"x": "1"}
    assert a.annotations_json == b'{"x":"1"}'
    assert a == Alert({"alertname": "A"}, {"x": "1"}, fingerprint=a.fingerprint)
    assert a != Alert({"alertname": "A"}, {"x": "2"})
    assert "annotations={'x': '1'}" in repr(a) and "annotations_json" not in repr(a)
    with pytest.raises(TypeError):
        hash(a)


def test_a_lone_surrogate_is_refused_as_utf_8_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        Alert({"alertname": "A"}, {"s": "\udcff"})
    with pytest.raises(UnicodeEncodeError):
        to_alerts([PostableAlert({"alertname": "A"}, {"s": "\udcff"})], NOW, 300.0, "t")


def test_many_annotations_are_sorted_by_the_compiled_converter_too() -> None:
    # More names than the converter sorts on its stack; posted in reverse order.
    posted = {f"n{i:02d}": f"v{i}" for i in reversed(range(40))}
    # The first time, the names are new: the Python code checks them and then knows them valid,
    # so the second conversion is the compiled one (where it is built).
    (first,), _ = to_alerts([PostableAlert({"alertname": "A"}, posted)], NOW, 300.0, "t")
    (a,), errors = to_alerts([PostableAlert({"alertname": "A"}, posted)], NOW, 300.0, "t")
    assert errors == [] and a.annotations_json == first.annotations_json
    assert a.annotations_json == encode_annotations(dict(sorted(posted.items())))
    assert list(a.annotations) == sorted(posted)


def test_stored_annotations_written_in_any_order_load_in_the_held_form() -> None:
    assert canonical_annotations('{"z": "1", "a": "2"}') == b'{"a":"2","z":"1"}'
    assert canonical_annotations(b"{}") == b"{}"
    with pytest.raises(msgspec.ValidationError):
        canonical_annotations('{"a": 1}')


def test_merge_keeps_the_newer_annotations_text() -> None:
    old = Alert({"alertname": "A"}, {"s": "old"}, NOW - 60, NOW + 300, updated_at=NOW - 60)
    new = Alert({"alertname": "A"}, {"s": "new"}, NOW - 30, NOW + 300, updated_at=NOW)
    assert merge(old, new, NOW).annotations_json is new.annotations_json


@pytest.mark.parametrize(
    ("first", "other", "expected"),
    [
        ({"a": "1"}, {'x"a': "1"}, {}),  # the pair's text ends the other's name: not the pair
        ({"a": "1"}, {"b": 'x","a":"1'}, {}),  # inside a value, quotes are escaped
        ({"a": "1", "b": "2"}, {"a": "1", "c": "2"}, {"a": "1"}),
        ({"b": "2"}, {"a": "1", "b": "2"}, {"b": "2"}),  # after a comma
        ({"a": "1"}, {"a": "12"}, {}),
    ],
)
def test_common_annotations_finds_pairs_only_where_they_are_pairs(
    first: dict[str, str], other: dict[str, str], expected: dict[str, str]
) -> None:
    alerts = [Alert({"alertname": "A", "i": "1"}, first), Alert({"alertname": "A", "i": "2"}, other)]
    assert common_annotations(alerts) == expected == common([first, other])


@given(st.lists(_maps, min_size=0, max_size=6))
def test_common_annotations_is_common_over_the_decoded_maps(maps: list[dict[str, str]]) -> None:
    alerts = [Alert({"alertname": "A", "i": str(i)}, m) for i, m in enumerate(maps)]
    assert common_annotations(alerts) == common([a.annotations for a in alerts])


def test_webhook_and_api_write_the_held_text_as_json() -> None:
    a = Alert({"alertname": "A"}, {"summary": 'x "y" \\ é', "a": "1"}, NOW, NOW + 300, updated_at=NOW)
    n = Notification("r", "firing", [a], "{}:{}", {}, {"alertname": "A"}, a.annotations, "http://am", NOW)
    payload = json.loads(webhook_body(n))
    assert payload["alerts"][0]["annotations"] == {"a": "1", "summary": 'x "y" \\ é'}
    assert payload["commonAnnotations"] == {"a": "1", "summary": 'x "y" \\ é'}
    got = json.loads(msgspec.json.encode(gettable_alert(a, AlertStatus("active", [], [], [], ["r"]))))
    assert got["annotations"] == {"a": "1", "summary": 'x "y" \\ é'}


@given(st.lists(_maps, min_size=0, max_size=6))
def test_common_keeps_the_pairs_of_the_first_map_that_every_map_has(maps: list[dict[str, str]]) -> None:
    expected = {k: v for k, v in maps[0].items() if all(m.get(k) == v for m in maps)} if maps else {}
    got = common(maps)
    assert got == expected and list(got) == list(expected)
