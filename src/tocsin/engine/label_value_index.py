"""Keys by the value one label has on them, small when most values are unique.

The status cache indexes its entries by a label a change narrowed on (``instance`` for a silence
of one host, ``cluster`` for an inhibition source). Such labels often have a value per alert:
a set per value would cost about 200 bytes each, so a value held by one key maps to that key
itself and becomes a set only when a second key shares it.
"""

from __future__ import annotations

from collections.abc import Iterable

Key = tuple[str, int]


class LabelValueIndex:
    def __init__(self) -> None:
        self._keys: dict[str, Key | set[Key]] = {}

    def add(self, value: str, key: Key) -> None:
        held = self._keys.get(value)
        if held is None:
            self._keys[value] = key
        elif isinstance(held, set):
            held.add(key)
        elif held != key:
            self._keys[value] = {held, key}

    def discard(self, value: str, key: Key) -> None:
        held = self._keys.get(value)
        if held is None:
            return
        if not isinstance(held, set):
            if held == key:
                del self._keys[value]
            return
        held.discard(key)
        if len(held) == 1:
            self._keys[value] = next(iter(held))
        elif not held:
            del self._keys[value]

    def count(self, values: Iterable[str]) -> int:
        """How many keys have one of ``values``."""
        n = 0
        for v in values:
            held = self._keys.get(v)
            if held is not None:
                n += len(held) if isinstance(held, set) else 1
        return n

    def keys(self, values: Iterable[str]) -> set[Key]:
        """The keys that have one of ``values``."""
        out: set[Key] = set()
        for v in values:
            held = self._keys.get(v)
            if isinstance(held, set):
                out |= held
            elif held is not None:
                out.add(held)
        return out

    def clear(self) -> None:
        self._keys.clear()
