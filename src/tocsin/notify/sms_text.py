"""Fit an SMS body into a number of segments.

GSM-7 carries 160 characters in one segment and 153 per part once split; a single character
outside GSM-7 turns the whole message into UCS-2 (70, then 67 per part). The extension
characters ``^{}[]~\\|€`` count twice.
"""

from __future__ import annotations

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXT = set("^{}[]~\\|€\f")


def is_gsm7(text: str) -> bool:
    return all(c in _GSM_BASIC or c in _GSM_EXT for c in text)


def _units(text: str, gsm: bool) -> int:
    if gsm:
        return sum(2 if c in _GSM_EXT else 1 for c in text)
    # UCS-2 counts UTF-16 code units: characters outside the BMP (most emoji) take two.
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many SMS segments ``text`` takes."""
    gsm = is_gsm7(text)
    n = _units(text, gsm)
    single, multi = (160, 153) if gsm else (70, 67)
    return 1 if n <= single else -(-n // multi)


def fit_sms(text: str, max_segments: int = 2) -> str:
    """``text`` with whitespace collapsed, cut (with "…"→"...") to fit ``max_segments``."""
    text = " ".join(text.split())
    if segments(text) <= max_segments:
        return text
    gsm = is_gsm7(text)
    single, multi = (160, 153) if gsm else (70, 67)
    budget = single if max_segments == 1 else multi * max_segments
    marker = "..."
    out: list[str] = []
    used = 0
    for c in text:
        cost = _units(c, gsm)
        if used + cost > budget - len(marker):
            break
        out.append(c)
        used += cost
    cut = "".join(out)
    # Prefer a word boundary when one is near, so the message does not end mid-word.
    space = cut.rfind(" ")
    if space > len(cut) - 20 and space > 0:
        cut = cut[:space]
    return cut.rstrip() + marker
