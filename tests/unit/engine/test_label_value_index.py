"""The label value index answers as a plain value -> set-of-keys mapping would, whatever the
order of additions and removals (one key is held bare, two or more in a set)."""

from __future__ import annotations

import random

from tocsin.engine.label_value_index import LabelValueIndex


def test_index_agrees_with_a_plain_mapping_of_sets() -> None:
    for seed in range(20):
        rng = random.Random(seed)
        index = LabelValueIndex()
        plain: dict[str, set[tuple[str, int]]] = {}
        values = ["a", "b", "c", ""]
        for _ in range(400):
            key = ("t", rng.randrange(12))
            # A key (an alert) has one value of the label: it is added under it, or removed.
            held = next((v for v, keys in plain.items() if key in keys), None)
            if held is None:
                value = rng.choice(values)
                index.add(value, key)
                plain.setdefault(value, set()).add(key)
            elif rng.random() < 0.2:
                index.add(held, key)  # again: changes nothing
            else:
                # sometimes asked to discard it under another value: changes nothing either
                value = held if rng.random() < 0.8 else rng.choice(values)
                index.discard(value, key)
                if value in plain:
                    plain[value].discard(key)
            asked = rng.sample(values, rng.randrange(1, 4))
            expected = set().union(*(plain.get(v, set()) for v in asked))
            assert index.keys(asked) == expected
            assert index.count(asked) == len(expected)
        index.clear()
        assert index.keys(values) == set()


def test_a_unique_value_holds_its_key_bare_and_a_shared_one_a_set() -> None:
    index = LabelValueIndex()
    index.add("host-1", ("t", 1))
    assert index._keys["host-1"] == ("t", 1)
    index.add("host-1", ("t", 1))  # the same key again changes nothing
    assert index._keys["host-1"] == ("t", 1)
    index.add("host-1", ("t", 2))
    assert index._keys["host-1"] == {("t", 1), ("t", 2)}
    index.discard("host-1", ("t", 2))
    assert index._keys["host-1"] == ("t", 1)
    index.discard("host-1", ("t", 1))
    assert "host-1" not in index._keys
