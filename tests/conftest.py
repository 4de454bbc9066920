"""Fixtures shared by the whole suite; the helpers behind them live in testkit.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import Harness


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[type[Harness]]:
    made: list[Harness] = []

    def make(config_yaml: str, receivers: dict[str, list[bool]] | None = None) -> Harness:
        h = Harness(config_yaml, tmp_path, receivers)
        made.append(h)
        return h

    yield make  # type: ignore[misc]
    for h in made:
        h.close()


@pytest.fixture
def sink() -> Iterator[object]:
    """A local webhook receiver recording every payload (tests/integration/tocsin_proc.py)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "integration"))
    from tocsin_proc import Sink

    s = Sink()
    yield s
    s.close()
