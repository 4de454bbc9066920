"""Bounding learned counts: which names to forget first when a table grows past its limit."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def rarest(counts: Mapping[K, int], n: int) -> list[K]:
    """The ``n`` least frequent names. Sorting the bare counts finds the cut-off cheaply; names at
    the cut-off count go in counting order (oldest first), which the stream fixes: deterministic."""
    if n <= 0:
        return []
    values = sorted(counts.values())
    threshold = values[min(n, len(values)) - 1]
    below = [k for k, c in counts.items() if c < threshold]
    at = (k for k, c in counts.items() if c == threshold)
    return below + list(itertools.islice(at, n - len(below)))


def keep_after_cut(limit: int) -> int:
    """How many entries a table over ``limit`` keeps: three quarters, so that cutting (a sort)
    happens once per many additions rather than on every one."""
    return max(1, limit * 3 // 4)
