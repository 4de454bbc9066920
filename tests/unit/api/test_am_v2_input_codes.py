"""Which bad inputs are 400 (cannot be decoded) and which 422 (fail the schema), as in Alertmanager."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.requests import Request

from tocsin.api.alerts_codec import SchemaError, decode_postable_alerts
from tocsin.api.am_v2 import _bool_param, _silence_from_json


@pytest.mark.parametrize(
    "body",
    [b'[{"labels": "x"}]', b'["x"]', b'[{"labels": {"a": 1}}]', b'[{"labels": {}, "startsAt": 5}]'],
)
def test_wrong_json_types_in_alerts_are_400(body: bytes) -> None:
    with pytest.raises(ValueError, match="invalid alert") as e:
        decode_postable_alerts(body)
    assert not isinstance(e.value, SchemaError)


def test_missing_labels_is_422() -> None:
    with pytest.raises(SchemaError, match="labels"):
        decode_postable_alerts(b'[{"annotations": {}}]')


def _silence(**over: Any) -> Any:
    doc = {
        "matchers": [{"name": "a", "value": "b", "isRegex": False}],
        "startsAt": "2026-01-01T00:00:00Z",
        "endsAt": "2026-01-02T00:00:00Z",
        "createdBy": "me",
        "comment": "c",
    }
    doc.update(over)
    return json.loads(json.dumps(doc))


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ([], "must be a JSON object"),
        (_silence(matchers="a=b"), "matchers in body must be of type array"),
        (_silence(createdBy=5), "createdBy in body must be of type string"),
        (_silence(id=5), "id in body must be of type string"),
        (_silence(matchers=["a=b"]), "matchers.0 in body must be of type object"),
    ],
)
def test_wrong_json_types_in_silences_are_400(doc: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as e:
        _silence_from_json(doc, "default")
    assert not isinstance(e.value, SchemaError)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_silence(matchers=[]), "at least 1 items"),
        ({"matchers": []}, "startsAt in body is required"),
        (_silence(matchers=[{"name": "a", "value": "b"}]), r"matchers\.0\.isRegex in body is required"),
    ],
)
def test_missing_or_empty_required_silence_fields_are_422(doc: Any, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        _silence_from_json(doc, "default")


def _request(query: str) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/", "query_string": query.encode(), "headers": []}
    )


@pytest.mark.parametrize(
    ("query", "want"),
    [("", True), ("active=true", True), ("active=yes", True), ("active=on", True), ("active=0", False)],
)
def test_bool_params_take_alertmanagers_words(query: str, want: bool) -> None:
    assert _bool_param(_request(query), "active") is want


def test_bool_param_refuses_other_words_by_name() -> None:
    with pytest.raises(ValueError, match=r"'active' must be true or false, got 'maybe'"):
        _bool_param(_request("active=maybe"), "active")
