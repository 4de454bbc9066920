"""Responder selection: skills, then workload, then round robin, each with its explanation."""

from __future__ import annotations

import pytest

from tocsin.incidents.people import User
from tocsin.incidents.responders import Workload, select_responder

ANA = User("ana", "Ana", email="a@x", skills=frozenset({"postgres", "kubernetes"}))
BOB = User("bob", "Bob", email="b@x", skills=frozenset({"kubernetes"}))
CARL = User("carl", "Carl", email="c@x", skills=frozenset({"postgres"}))
TEAM = [CARL, BOB, ANA]


def test_skill_filters_first() -> None:
    c = select_responder(TEAM, frozenset({"postgres", "kubernetes"}), {}, None)
    assert c.user == "ana"
    assert (
        c.explanation
        == "chose Ana: has skills kubernetes, postgres; 0 open incidents, 0 pages in the last 24h"
    )


def test_workload_breaks_skill_ties() -> None:
    load = {"ana": Workload(1, 0), "carl": Workload(0, 3)}
    c = select_responder(TEAM, frozenset({"postgres"}), load, None)
    assert c.user == "carl"
    assert (
        c.explanation == "chose Carl: has skill postgres; 0 open incidents, 3 pages in the last 24h (fewest)"
    )


def test_round_robin_among_equals_follows_the_pointer() -> None:
    chosen = []
    last = None
    for _ in range(4):
        c = select_responder(TEAM, frozenset(), {}, last)
        chosen.append(c.user)
        last = c.pointer
    assert chosen == ["ana", "bob", "carl", "ana"]
    assert "round-robin turn among ana, bob, carl" in c.explanation


def test_nobody_has_the_skill_falls_back_to_everyone() -> None:
    c = select_responder(TEAM, frozenset({"oracle"}), {"ana": Workload(0, 1)}, None)
    assert c.user == "bob"
    assert c.explanation.startswith("chose Bob: nobody has oracle; 0 open incidents, 0 pages")


def test_partial_skills_rank_by_count() -> None:
    c = select_responder([BOB, CARL], frozenset({"postgres", "kubernetes"}), {}, "bob")
    assert c.user == "carl"  # both hold one of two; round robin after bob
    assert "nobody has all of kubernetes, postgres; has 1 of them" in c.explanation


def test_no_candidates() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        select_responder([], frozenset(), {}, None)
