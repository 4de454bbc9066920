"""Label and text similarity between an alert and an incident: IDF-weighted token overlap.

Tokens come from label values (as ``name=value``, so ``pod=cart-1`` and ``service=cart-1`` differ)
and from the words of the alert name and annotations (``HighLatency`` → ``high``, ``latency``).
Weights are inverse document frequencies learned from an alert history, so tokens every alert
carries (``severity=warning``, ``namespace=default``) count for little and rare ones for much.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Container, Iterable, Mapping
from functools import lru_cache
from typing import Any

from tocsin.intelligence.correlation.counts import keep_after_cut, rarest
from tocsin.model import Alert

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Labels that name one alert instance rather than what it is about; they never help a join.
_SKIP_LABELS = frozenset({"alertname"})
_STOP = frozenset({"the", "a", "an", "of", "to", "on", "in", "is", "for", "from", "and", "pod", "high"})


# Alert names and annotation texts repeat across a stream far more than label sets do, so their
# word splitting is cached; the caches are bounded.
@lru_cache(maxsize=4096)
def _name_words(name: str) -> frozenset[str]:
    return frozenset(w.lower() for w in _CAMEL.findall(name) if w.lower() not in _STOP)


@lru_cache(maxsize=16384)
def _text_words(text: str) -> frozenset[str]:
    return frozenset(w for w in (x.lower() for x in _WORD.findall(text)) if len(w) > 1 and w not in _STOP)


def alert_tokens(alert: Alert) -> frozenset[str]:
    tokens = {f"{name}={value}" for name, value in alert.labels.items() if name not in _SKIP_LABELS}
    tokens |= _name_words(alert.name)
    for text in alert.annotations.values():
        tokens |= _text_words(text)
    return frozenset(tokens)


class IdfWeights:
    """Inverse document frequency per token, smoothed; unseen tokens get the rarest weight."""

    def __init__(self, documents: Iterable[frozenset[str]] = ()) -> None:
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            df.update(doc)
            n += 1
        self._set(df, n)

    def _set(self, df: Mapping[str, int], n: int) -> None:
        self.n_docs = n
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._unseen = math.log(1 + n) + 1.0

    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert]) -> IdfWeights:
        return cls(alert_tokens(a) for a in alerts)

    @classmethod
    def from_counts(cls, df: Mapping[str, int], n_docs: int) -> IdfWeights:
        """Weights from document frequencies counted elsewhere (:class:`TokenCounts`)."""
        if n_docs < 0:
            raise ValueError(f"n_docs must be >= 0, got {n_docs}")
        out = cls()
        out._set(df, n_docs)
        return out

    def weight(self, token: str) -> float:
        return self._idf.get(token, self._unseen)


class TokenCounts:
    """Document frequencies counted alert by alert from a live stream, bounded to ``max_tokens``
    (the rarest are forgotten first: an unknown token gets the rarest weight anyway, so forgetting
    one changes its weight little). :meth:`weights` turns them into :class:`IdfWeights`."""

    def __init__(self) -> None:
        self.df: Counter[str] = Counter()
        self.n_docs = 0

    def observe(self, tokens: Iterable[str]) -> None:
        self.df.update(tokens)
        self.n_docs += 1

    def bound(self, max_tokens: int) -> bool:
        """Cut to three quarters of ``max_tokens`` when over it; True when it cut."""
        if max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if len(self.df) <= max_tokens:
            return False
        for token in rarest(self.df, len(self.df) - keep_after_cut(max_tokens)):
            del self.df[token]
        return True

    def weights(self) -> IdfWeights:
        return IdfWeights.from_counts(self.df, self.n_docs)

    def to_dict(self) -> dict[str, Any]:
        return {"n_docs": self.n_docs, "df": dict(self.df)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TokenCounts:
        """Counts from :meth:`to_dict` output; ``ValueError`` naming what is wrong otherwise."""
        out = cls()
        try:
            out.n_docs = int(data["n_docs"])
            out.df.update({str(t): int(c) for t, c in data["df"].items()})
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ValueError(f"token counts: malformed ({type(e).__name__}: {e})") from None
        return out


def weighted_overlap(
    tokens: frozenset[str], pool: Container[str], idf: IdfWeights
) -> tuple[float, list[str]]:
    """Share of the alert's IDF mass found in the incident's token pool, and the shared tokens.

    Measured against the alert rather than the union so that a large incident does not dilute the
    similarity of a small alert that matches part of it.
    """
    total = 0.0
    shared = 0.0
    common: list[tuple[float, str]] = []
    for t in tokens:
        w = idf.weight(t)
        total += w
        if t in pool:
            shared += w
            common.append((w, t))
    if total == 0.0:
        return 0.0, []
    common.sort(reverse=True)
    return shared / total, [t for _, t in common]


def weighted_overlap_score(tokens: frozenset[str], pool: Container[str], idf: IdfWeights) -> float:
    """:func:`weighted_overlap` without the shared-token list, for the per-candidate hot path."""
    total = 0.0
    shared = 0.0
    get = idf._idf.get
    unseen = idf._unseen
    for t in tokens:
        w = get(t, unseen)
        total += w
        if t in pool:
            shared += w
    return shared / total if total else 0.0
