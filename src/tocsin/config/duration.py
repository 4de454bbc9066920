"""Prometheus duration strings (``1y2w3d4h5m6s7ms``, ``0``) as float seconds, both ways."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$")

_MS_PER = {
    "y": 365 * 24 * 3600 * 1000,
    "w": 7 * 24 * 3600 * 1000,
    "d": 24 * 3600 * 1000,
    "h": 3600 * 1000,
    "m": 60 * 1000,
    "s": 1000,
    "ms": 1,
}
_UNITS = ("y", "w", "d", "h", "m", "s", "ms")


def parse_duration(text: str) -> float:
    """Parse a Prometheus duration into seconds; raise ValueError naming the bad text.

    Units must appear largest first, each at most once, as Prometheus requires, so ``1h30m`` is
    valid but ``30m1h`` and ``1.5h`` are not. A bare ``0`` is the only unitless value accepted.
    """
    if not isinstance(text, str):
        raise ValueError(f"invalid duration {text!r}: expected a string such as '30s' or '5m'")
    if text == "0":
        return 0.0
    m = _DURATION_RE.match(text)
    if not text or not m or not any(m.groups()):
        raise ValueError(
            f"invalid duration {text!r}: expected Prometheus syntax such as '30s', '5m', '1h30m' or '0'"
        )
    ms = 0
    for unit, group in zip(_UNITS, m.groups(), strict=True):
        if group:
            ms += int(group) * _MS_PER[unit]
    return ms / 1000.0


def format_duration(seconds: float) -> str:
    """Format seconds the way Prometheus prints a duration (``90s`` → ``1m30s``, ``0`` → ``0s``).

    Years and weeks are used only when they divide the value exactly, since ``90d`` reads better
    than ``12w6d``.
    """
    ms = round(seconds * 1000)
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    out = []
    for unit in _UNITS:
        mult = _MS_PER[unit]
        if unit in ("y", "w") and ms % mult:
            continue
        v, ms = divmod(ms, mult)
        if v:
            out.append(f"{v}{unit}")
    return sign + "".join(out)
