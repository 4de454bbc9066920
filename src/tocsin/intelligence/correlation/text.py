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
from collections.abc import Iterable

from tocsin.model import Alert

_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_WORD = re.compile(r"[A-Za-z0-9]+")
# Labels that name one alert instance rather than what it is about; they never help a join.
_SKIP_LABELS = frozenset({"alertname"})
_STOP = frozenset({"the", "a", "an", "of", "to", "on", "in", "is", "for", "from", "and", "pod", "high"})


def alert_tokens(alert: Alert) -> frozenset[str]:
    tokens: set[str] = set()
    for name, value in alert.labels.items():
        if name not in _SKIP_LABELS:
            tokens.add(f"{name}={value}")
    for word in _CAMEL.findall(alert.name):
        if word.lower() not in _STOP:
            tokens.add(word.lower())
    for text in alert.annotations.values():
        for word in _WORD.findall(text):
            w = word.lower()
            if len(w) > 1 and w not in _STOP:
                tokens.add(w)
    return frozenset(tokens)


class IdfWeights:
    """Inverse document frequency per token, smoothed; unseen tokens get the rarest weight."""

    def __init__(self, documents: Iterable[frozenset[str]] = ()) -> None:
        df: Counter[str] = Counter()
        n = 0
        for doc in documents:
            df.update(doc)
            n += 1
        self.n_docs = n
        self._idf = {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items()}
        self._unseen = math.log(1 + n) + 1.0

    @classmethod
    def from_alerts(cls, alerts: Iterable[Alert]) -> IdfWeights:
        return cls(alert_tokens(a) for a in alerts)

    def weight(self, token: str) -> float:
        return self._idf.get(token, self._unseen)


def weighted_overlap(tokens: frozenset[str], pool: Counter[str], idf: IdfWeights) -> tuple[float, list[str]]:
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
