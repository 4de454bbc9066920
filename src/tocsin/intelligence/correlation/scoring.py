"""Clustering and root-cause scores for alert correlation against fault labels.

``truth`` holds one label per alert: a fault id, or ``background`` for alerts that belong to no
injected fault. Two views of the pairwise scores:

* **fault pairs** (the headline): every pair of alerts except background–background pairs.
  Background alerts carry no claim about which of them belong together (an unlabelled burst may
  well be one real incident), but joining a background alert to a fault's alerts is an error and
  counted, as is splitting or merging faults.
* **strict**: every pair, with each background alert its own incident.

The adjusted Rand index (Hubert and Arabie) is computed over the fault-labelled alerts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BACKGROUND = "background"


def _c2(n: int) -> int:
    return n * (n - 1) // 2


@dataclass(frozen=True)
class PairScores:
    precision: float
    recall: float
    f1: float


def _prf(tp: int, pred_pos: int, true_pos: int) -> PairScores:
    p = tp / pred_pos if pred_pos else 1.0
    r = tp / true_pos if true_pos else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return PairScores(p, r, f)


def _check(truth: Sequence[str], pred: Sequence[str]) -> None:
    if len(truth) != len(pred):
        raise ValueError(f"truth and prediction differ in length: {len(truth)} vs {len(pred)}")


def pairwise_scores(truth: Sequence[str], pred: Sequence[str], strict: bool = False) -> PairScores:
    _check(truth, pred)
    cells = Counter(zip(pred, truth, strict=True))
    clusters = Counter(pred)
    bg_in_cluster = Counter(p for p, t in zip(pred, truth, strict=True) if t == BACKGROUND)
    tp = sum(_c2(n) for (_, t), n in cells.items() if t != BACKGROUND)
    true_pos = sum(_c2(n) for t, n in Counter(truth).items() if t != BACKGROUND)
    pred_pos = sum(_c2(n) for n in clusters.values())
    if not strict:
        pred_pos -= sum(_c2(n) for n in bg_in_cluster.values())
    return _prf(tp, pred_pos, true_pos)


def adjusted_rand_index(truth: Sequence[str], pred: Sequence[str]) -> float:
    """ARI over the alerts whose truth is a fault; 1.0 when they are too few to disagree."""
    _check(truth, pred)
    pairs = [(t, p) for t, p in zip(truth, pred, strict=True) if t != BACKGROUND]
    n = len(pairs)
    if n < 2:
        return 1.0
    index = sum(_c2(c) for c in Counter(pairs).values())
    a = sum(_c2(c) for c in Counter(t for t, _ in pairs).values())
    b = sum(_c2(c) for c in Counter(p for _, p in pairs).values())
    expected = a * b / _c2(n)
    maximum = (a + b) / 2
    if maximum == expected:
        return 1.0
    return (index - expected) / (maximum - expected)


def incident_for_fault(truth: Sequence[str], pred: Sequence[str]) -> dict[str, str]:
    """Each fault → the predicted incident holding most of its alerts (earliest on a tie)."""
    _check(truth, pred)
    counts: dict[str, Counter[str]] = {}
    first: dict[tuple[str, str], int] = {}
    for i, (t, p) in enumerate(zip(truth, pred, strict=True)):
        if t == BACKGROUND:
            continue
        counts.setdefault(t, Counter())[p] += 1
        first.setdefault((t, p), i)
    return {t: min(c, key=lambda p: (-c[p], first[(t, p)])) for t, c in counts.items()}


def root_cause_hits(
    truth: Sequence[str],
    pred: Sequence[str],
    targets: Mapping[str, str],
    ranking_of: Mapping[str, Sequence[str]],
) -> tuple[int, int, int]:
    """(top-1 hits, top-3 hits, faults scored) — faults that raised at least one alert."""
    chosen = incident_for_fault(truth, pred)
    top1 = top3 = 0
    for fault, incident in chosen.items():
        if fault not in targets:
            raise ValueError(f"fault {fault!r} has no target service")
        ranking = list(ranking_of.get(incident, ()))
        top1 += ranking[:1] == [targets[fault]]
        top3 += targets[fault] in ranking[:3]
    return top1, top3, len(chosen)


def root_cause_expected_hits(
    truth: Sequence[str],
    pred: Sequence[str],
    targets: Mapping[str, str],
    scored_of: Mapping[str, Sequence[tuple[str, float]]],
    k: int = 3,
) -> tuple[float, int]:
    """(expected top-k hits, faults scored) when candidates with equal scores are ordered at random.

    A ranking's order among equal scores is arbitrary (a name order, say); this counts a target tied
    with others as in the top k with the chance a random order of the tie gives it.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    chosen = incident_for_fault(truth, pred)
    hits = 0.0
    for fault, incident in chosen.items():
        if fault not in targets:
            raise ValueError(f"fault {fault!r} has no target service")
        hits += expected_hit(scored_of.get(incident, ()), targets[fault], k)
    return hits, len(chosen)


def expected_hit(scored: Sequence[tuple[str, float]], target: str, k: int = 3) -> float:
    """The chance that ``target`` is among the first ``k`` of ``scored`` when candidates with equal
    scores are ordered at random (0 when it is not a candidate)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores = dict(scored)
    if target not in scores:
        return 0.0
    above = sum(1 for s in scores.values() if s > scores[target])
    tied = sum(1 for s in scores.values() if s == scores[target]) - 1
    return max(0.0, min(1.0, (k - above) / (tied + 1)))
