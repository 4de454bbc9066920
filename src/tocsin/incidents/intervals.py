"""Half-open time intervals ``[start, end)`` in epoch seconds and labelled segments over them.

Schedules are computed as sets of intervals (turns, restriction windows, holidays) that are
intersected and painted over one another; these helpers keep that arithmetic in one place.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

Interval = tuple[float, float]


def normalize(ivs: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-empty, non-overlapping intervals; touching ones are joined."""
    out: list[Interval] = []
    for s, e in sorted(iv for iv in ivs if iv[1] > iv[0]):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def intersect(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    aa, bb = normalize(a), normalize(b)
    out: list[Interval] = []
    i = j = 0
    while i < len(aa) and j < len(bb):
        s = max(aa[i][0], bb[j][0])
        e = min(aa[i][1], bb[j][1])
        if e > s:
            out.append((s, e))
        if aa[i][1] < bb[j][1]:
            i += 1
        else:
            j += 1
    return out


def subtract(a: Iterable[Interval], b: Iterable[Interval]) -> list[Interval]:
    out: list[Interval] = []
    holes = normalize(b)
    for s, e in normalize(a):
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
            if cur >= e:
                break
        if cur < e:
            out.append((cur, e))
    return out


@dataclass(frozen=True, slots=True)
class Segment:
    """Who is on call over ``[start, end)`` and which layer or override put them there."""

    start: float
    end: float
    users: tuple[str, ...]
    source: str

    @property
    def duration(self) -> float:
        return self.end - self.start


def clip(segments: Iterable[Segment], ivs: Iterable[Interval]) -> list[Segment]:
    """Keep only the parts of ``segments`` inside ``ivs``."""
    keep = normalize(ivs)
    out: list[Segment] = []
    for seg in segments:
        for s, e in intersect([(seg.start, seg.end)], keep):
            out.append(Segment(s, e, seg.users, seg.source))
    return out


def paint(base: Iterable[Segment], top: Iterable[Segment]) -> list[Segment]:
    """``top`` wins wherever it has a segment; ``base`` shows through elsewhere."""
    top_l = list(top)
    covered = normalize((s.start, s.end) for s in top_l)
    out = [
        Segment(s, e, seg.users, seg.source)
        for seg in base
        for s, e in subtract([(seg.start, seg.end)], covered)
    ]
    out.extend(top_l)
    out.sort(key=lambda x: (x.start, x.end))
    return out


def flatten(segments: Iterable[Segment]) -> list[Segment]:
    """Split overlapping segments at every boundary; overlapping users are on call together."""
    segs = [s for s in segments if s.end > s.start]
    points = sorted({p for s in segs for p in (s.start, s.end)})
    out: list[Segment] = []
    for a, b in itertools.pairwise(points):
        here = [s for s in segs if s.start <= a and s.end >= b]
        if not here:
            continue
        users: list[str] = []
        for s in here:
            users.extend(u for u in s.users if u not in users)
        out.append(Segment(a, b, tuple(users), "+".join(dict.fromkeys(s.source for s in here))))
    return out


def merge_adjacent(segments: Iterable[Segment]) -> list[Segment]:
    """Join touching segments with the same users and source (restrictions split turns into pieces
    that are really one shift once painted)."""
    out: list[Segment] = []
    for seg in sorted(segments, key=lambda x: (x.start, x.end)):
        if out and out[-1].end == seg.start and out[-1].users == seg.users and out[-1].source == seg.source:
            out[-1] = Segment(out[-1].start, seg.end, seg.users, seg.source)
        else:
            out.append(seg)
    return out
