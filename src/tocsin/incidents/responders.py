"""Choosing who to page when a level targets several people: skills, then workload, then a
round-robin turn. Each choice comes with a sentence that goes into the incident timeline, so a
responder can see why they (and not a colleague) were paged, and a replay gives the same answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tocsin.incidents.people import User


@dataclass(frozen=True, slots=True)
class Workload:
    """Open acknowledged incidents a user holds, and pages they received in the recent window."""

    open_incidents: int = 0
    recent_pages: int = 0


@dataclass(frozen=True, slots=True)
class Choice:
    user: str
    explanation: str
    #: The new round-robin pointer for this ring (the user just chosen).
    pointer: str


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def select_responder(
    candidates: Sequence[User],
    required_skills: frozenset[str],
    workload: Mapping[str, Workload],
    last_chosen: str | None,
    window_hours: float = 24.0,
) -> Choice:
    """Pick one of ``candidates``.

    1. Skills: those holding every required skill; if nobody does, those holding the most.
    2. Workload: fewest open acknowledged incidents, then fewest recent pages.
    3. Round robin: among the remaining ties, the first after ``last_chosen`` in id order.
    """
    if not candidates:
        raise ValueError("no candidates to choose a responder from")
    ring = sorted({u.id: u for u in candidates}.values(), key=lambda u: u.id)
    reasons: list[str] = []

    pool = ring
    if required_skills:
        score = {u.id: len(required_skills & u.skills) for u in ring}
        best = max(score.values())
        pool = [u for u in ring if score[u.id] == best]
        skills = ", ".join(sorted(required_skills))
        if best == len(required_skills):
            reasons.append(f"has skill{'s' if len(required_skills) > 1 else ''} {skills}")
        elif best == 0:
            reasons.append(f"nobody has {skills}")
        else:
            reasons.append(f"nobody has all of {skills}; has {best} of them")

    def load(u: User) -> tuple[int, int]:
        w = workload.get(u.id, Workload())
        return (w.open_incidents, w.recent_pages)

    lightest = min(load(u) for u in pool)
    tied = [u for u in pool if load(u) == lightest]
    open_n, pages_n = lightest
    hours = f"{window_hours:g}"
    reasons.append(
        f"{_plural(open_n, 'open incident')}, {_plural(pages_n, 'page')} in the last {hours}h"
        + (" (fewest)" if len(tied) < len(pool) else "")
    )

    if len(tied) > 1:
        ids = [u.id for u in tied]
        after = [u for u in tied if last_chosen is not None and u.id > last_chosen]
        chosen = after[0] if after else tied[0]
        reasons.append(f"round-robin turn among {', '.join(ids)}")
    else:
        chosen = tied[0]
    return Choice(chosen.id, f"chose {chosen.display}: " + "; ".join(reasons), chosen.id)
