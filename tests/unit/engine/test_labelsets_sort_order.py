"""sort_alerts' fast path must give exactly the order of the full comparator."""

from __future__ import annotations

import functools
import random
import sys
import types
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tocsin.engine.labelsets import _compare, py_sort_by_job_instance, sort_alerts
from tocsin.model import Alert, speedups

needs_speedups = pytest.mark.skipif(speedups is None, reason="the compiled module is not built")


def _random_alert(rng: random.Random) -> Alert:
    labels = {"alertname": rng.choice(["A", "B"])}
    if rng.random() < 0.8:
        labels["job"] = rng.choice(["api", "db", "node"])
    if rng.random() < 0.8:
        labels["instance"] = f"h{rng.randrange(6)}"
    for name in rng.sample(["zone", "team", "a", "severity"], rng.randrange(3)):
        labels[name] = rng.choice(["x", "y", "z"])
    return Alert(labels=labels)


def test_same_order_as_the_comparator() -> None:
    rng = random.Random(7)
    for size in (0, 1, 2, 5, 30, 200):
        for _ in range(20):
            alerts = [_random_alert(rng) for _ in range(size)]
            expected = sorted(alerts, key=functools.cmp_to_key(_compare))
            assert [a.labels for a in sort_alerts(alerts)] == [a.labels for a in expected]


def test_distinct_instances_take_the_fast_path_in_order() -> None:
    alerts = [Alert(labels={"job": "node", "instance": f"h{i}"}) for i in (3, 1, 2)]
    alerts.append(Alert(labels={"instance": "h0"}))  # no job: sorts after every alert with one
    assert [a.labels.get("instance") for a in sort_alerts(alerts)] == ["h1", "h2", "h3", "h0"]


# --- the job/instance key sort, compiled and in Python ----------------------------------------

_values = st.one_of(
    st.sampled_from(["", "a", "b", "api", "h1", "h10", "h2", "é", "z", "\U0001f600", "A"]),
    st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=4),
)
_labels = st.fixed_dictionaries(
    {"alertname": st.just("A")}, optional={"job": _values, "instance": _values, "zone": _values}
)
_sorts = [py_sort_by_job_instance] + ([speedups.sort_by_job_instance] if speedups is not None else [])


@pytest.mark.parametrize("sort", _sorts)
@given(st.lists(_labels, max_size=40))
@settings(max_examples=400)
def test_key_sort_is_the_full_order_or_declines_on_a_tie(sort: Any, label_sets: list[dict[str, str]]) -> None:
    alerts = [Alert(labels=labels) for labels in label_sets]
    keys = [(a.labels.get("job"), a.labels.get("instance")) for a in alerts]
    got = sort(alerts)
    if len(set(keys)) < len(keys):
        assert got is None
        return
    assert got is not None and got is not alerts
    expected = sorted(alerts, key=functools.cmp_to_key(_compare))
    assert [id(a) for a in got] == [id(a) for a in expected]
    assert sorted(map(id, alerts)) == sorted(map(id, got))  # the same objects, each once


@needs_speedups
def test_compiled_key_sort_declines_what_is_not_a_dict_of_strs() -> None:
    assert speedups is not None
    sort = speedups.sort_by_job_instance
    plain = Alert(labels={"job": "a"})
    assert sort([plain, types.SimpleNamespace(labels={"job": 1})]) is None  # type: ignore[list-item]
    assert sort([plain, types.SimpleNamespace(labels=types.MappingProxyType({"job": "b"}))]) is None
    # A subclass and a duck-typed alert are read through getattr and sorted like the others.
    duck = types.SimpleNamespace(labels={"job": "0"})
    assert sort([plain, duck]) == [duck, plain]
    assert sort([]) == [] and sort(()) == []


@needs_speedups
def test_compiled_key_sort_names_the_alert_without_labels() -> None:
    assert speedups is not None
    with pytest.raises(AttributeError, match=r"sort_by_job_instance\(\): alert 1, labels: "):
        speedups.sort_by_job_instance([Alert(labels={"job": "a"}), object()])
    with pytest.raises(TypeError):
        speedups.sort_by_job_instance(5)


@needs_speedups
def test_compiled_key_sort_keeps_no_reference() -> None:
    assert speedups is not None
    alerts = [Alert(labels={"job": "j", "instance": f"h{i}"}) for i in range(50)]
    before = [sys.getrefcount(a) for a in alerts] + [sys.getrefcount(a.labels) for a in alerts]
    for _ in range(3):
        out = speedups.sort_by_job_instance(alerts)
        assert out is not None
        del out
        speedups.sort_by_job_instance([*alerts, Alert(labels={"job": "j", "instance": "h0"})])  # a tie
    after = [sys.getrefcount(a) for a in alerts] + [sys.getrefcount(a.labels) for a in alerts]
    assert before == after
