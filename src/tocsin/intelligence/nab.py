"""Numenta Anomaly Benchmark (NAB v1.1): corpus loader and scorer.

The scoring rules are re-implemented from the benchmark's documented rules (see
``shared/data/README.md``) so that tocsin's detectors are measured on the same yardstick as the
published scoreboard, without the benchmark's own scorer (which needs an old pandas).

Rows are scored by their index, not their timestamp: a window of W rows rewards a detection by
how early it lies in the window, and penalises a false positive by how far, in rows, it lies
after the previous window.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

#: Number of windows in the NAB v1.1 corpus; used only as a sanity check by callers.
NAB_WINDOW_COUNT = 116


class NabDataError(ValueError):
    """The NAB corpus on disk is missing a file or holds malformed data."""


@dataclass(frozen=True)
class Profile:
    """Cost weights of one application profile."""

    name: str
    tp: float
    fn: float
    fp: float


STANDARD = Profile("standard", tp=1.0, fn=1.0, fp=0.11)
REWARD_LOW_FP = Profile("reward_low_FP_rate", tp=1.0, fn=1.0, fp=0.22)
REWARD_LOW_FN = Profile("reward_low_FN_rate", tp=1.0, fn=2.0, fp=0.11)
PROFILES: tuple[Profile, ...] = (STANDARD, REWARD_LOW_FP, REWARD_LOW_FN)


@dataclass(frozen=True)
class NabSeries:
    """One corpus file: its rows and its labelled windows as inclusive row-index ranges."""

    name: str
    timestamps: list[float]
    values: list[float]
    windows: list[tuple[int, int]]

    def __len__(self) -> int:
        return len(self.values)


def parse_timestamp(text: str) -> float:
    """NAB timestamps (``2014-04-10 07:15:00`` with optional fraction) as UTC epoch seconds."""
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC).timestamp()
    except ValueError as exc:
        raise NabDataError(f"not a NAB timestamp: {text!r}") from exc


def _read_rows(path: Path, columns: Sequence[str]) -> dict[str, list[str]]:
    if not path.is_file():
        raise NabDataError(f"missing NAB file: {path}")
    with path.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            raise NabDataError(f"{path}: empty file, expected a header row")
        missing = [c for c in columns if c not in header]
        if missing:
            raise NabDataError(f"{path}: missing column(s) {missing}, header is {header}")
        positions = [header.index(c) for c in columns]
        out: dict[str, list[str]] = {c: [] for c in columns}
        for line_no, row in enumerate(reader, start=2):
            if len(row) < len(header):
                raise NabDataError(f"{path}:{line_no}: expected {len(header)} fields, got {len(row)}")
            for column, pos in zip(columns, positions, strict=True):
                out[column].append(row[pos])
    return out


def _to_float(path: Path, column: str, texts: list[str]) -> list[float]:
    try:
        return [float(t) for t in texts]
    except ValueError as exc:
        raise NabDataError(f"{path}: non-numeric value in column {column!r}: {exc}") from exc


def window_indices(
    name: str, timestamps: Sequence[float], windows: Sequence[Sequence[str]]
) -> list[tuple[int, int]]:
    """Map labelled ``[start, end]`` timestamps to inclusive row indices.

    NAB's labels name timestamps present in the data; an edge that matches no row is an error
    rather than a silent rounding, because it would shift every score of that window.
    """
    index = {t: i for i, t in enumerate(timestamps)}
    out: list[tuple[int, int]] = []
    for pair in windows:
        if len(pair) != 2:
            raise NabDataError(f"{name}: window {pair!r} is not a [start, end] pair")
        start, end = parse_timestamp(pair[0]), parse_timestamp(pair[1])
        if start not in index or end not in index:
            raise NabDataError(f"{name}: window {pair!r} edge matches no row timestamp")
        lo, hi = index[start], index[end]
        if hi < lo:
            raise NabDataError(f"{name}: window {pair!r} ends before it starts")
        out.append((lo, hi))
    out.sort()
    return out


def load_windows(nab_root: Path) -> dict[str, list[list[str]]]:
    path = nab_root / "labels" / "combined_windows.json"
    if not path.is_file():
        raise NabDataError(f"missing NAB labels: {path}")
    data = json.loads(path.read_text())
    if not isinstance(data, dict):
        raise NabDataError(f"{path}: expected an object of file name to windows")
    return data


def load_corpus(nab_root: Path, only: Sequence[str] | None = None) -> list[NabSeries]:
    """Load every labelled series (sorted by name), or the named subset ``only``."""
    labels = load_windows(nab_root)
    names = sorted(labels) if only is None else list(only)
    series: list[NabSeries] = []
    for name in names:
        if name not in labels:
            raise NabDataError(f"{name}: not in the NAB label file")
        path = nab_root / "data" / name
        rows = _read_rows(path, ("timestamp", "value"))
        timestamps = [parse_timestamp(t) for t in rows["timestamp"]]
        values = _to_float(path, "value", rows["value"])
        series.append(NabSeries(name, timestamps, values, window_indices(name, timestamps, labels[name])))
    return series


def load_detector_scores(results_dir: Path, detector: str, series: Sequence[NabSeries]) -> list[list[float]]:
    """Per-row anomaly scores of a published detector, ``<category>/<detector>_<file>.csv``."""
    out: list[list[float]] = []
    for s in series:
        category, file_name = s.name.split("/", 1)
        path = results_dir / category / f"{detector}_{file_name}"
        rows = _read_rows(path, ("anomaly_score",))
        scores = _to_float(path, "anomaly_score", rows["anomaly_score"])
        if len(scores) != len(s):
            raise NabDataError(f"{path}: {len(scores)} scores for {len(s)} data rows")
        out.append(scores)
    return out


# --- scoring -------------------------------------------------------------------------------------


def probationary_length(n: int) -> int:
    """Rows at the start of a file that a detector may use to learn and that are never scored."""
    return min(math.floor(0.15 * n), 750)


def scaled_sigmoid(x: float) -> float:
    """NAB's reward curve: +1 far before a window's end, -1 far after it (and beyond 3)."""
    if x > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * x)) - 1.0


_MAX_TP = scaled_sigmoid(-1.0)


@dataclass(frozen=True)
class RowWeights:
    """Profile-free scoring facts of one row: the window it lies in (or -1) and its sigmoid value.

    Kept separate from the profile so one pass over the data serves all three profiles.
    """

    window: list[int]  # window index within the file, -1 when outside every window
    unweighted: list[float]
    first_scored: int  # rows before this index are probationary


def row_weights(n: int, windows: Sequence[tuple[int, int]]) -> RowWeights:
    """Per-row window membership and unweighted sigmoid reward/penalty for a file of n rows."""
    window = [-1] * n
    unweighted = [-1.0] * n
    ordered = sorted(windows)
    for k, (lo, hi) in enumerate(ordered):
        if lo < 0 or hi >= n or hi < lo:
            raise ValueError(f"window {k} ({lo}, {hi}) does not fit a file of {n} rows")
        if k and lo <= ordered[k - 1][1]:
            raise ValueError(f"windows {k - 1} and {k} overlap")
        width = hi - lo + 1
        for i in range(lo, hi + 1):
            window[i] = k
            unweighted[i] = scaled_sigmoid(-(hi - i + 1) / width)
        # A false positive after this window costs less the further it lies past the window's end,
        # up to the next window (NAB measures in widths of the previous window, minus one).
        next_lo = ordered[k + 1][0] if k + 1 < len(ordered) else n
        denominator = float(width - 1)
        for i in range(hi + 1, next_lo):
            unweighted[i] = scaled_sigmoid((i - hi) / denominator) if denominator > 0 else -1.0
    return RowWeights(window, unweighted, probationary_length(n))


@dataclass(frozen=True)
class FileScore:
    name: str
    score: float
    tp: int
    fp: int
    fn: int


def score_detections(
    name: str, weights: RowWeights, detected: Sequence[bool], profile: Profile, n_windows: int
) -> FileScore:
    """Raw (unnormalised) score of one file given which rows raised a detection."""
    if len(detected) != len(weights.window):
        raise ValueError(f"{name}: {len(detected)} detections for {len(weights.window)} rows")
    best = [-profile.fn] * n_windows
    fp_total = 0.0
    tp = fp = 0
    for i in range(weights.first_scored, len(detected)):
        if not detected[i]:
            continue
        k = weights.window[i]
        if k < 0:
            fp += 1
            fp_total += profile.fp * weights.unweighted[i]
        else:
            tp += 1
            best[k] = max(best[k], profile.tp * weights.unweighted[i] / _MAX_TP)
    fn = sum(1 for b in best if b == -profile.fn)
    return FileScore(name, fp_total + sum(best), tp, fp, fn)


def normalise(raw_total: float, profile: Profile, n_windows: int) -> float:
    """Map a corpus total onto NAB's scale: 0 for the null detector, 100 for a perfect one."""
    perfect = n_windows * profile.tp
    null = -n_windows * profile.fn
    return 100.0 * (raw_total - null) / (perfect - null)


@dataclass(frozen=True)
class CorpusScore:
    profile: str
    threshold: float
    raw: float
    normalised: float


def _check_scores(series: Sequence[NabSeries], scores: Sequence[Sequence[float]]) -> None:
    if len(series) != len(scores):
        raise ValueError(f"{len(scores)} score lists for {len(series)} series")
    for s, sc in zip(series, scores, strict=True):
        if len(sc) != len(s):
            raise ValueError(f"{s.name}: {len(sc)} scores for {len(s)} rows")
        for v in sc:
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{s.name}: anomaly score {v!r} is outside [0, 1]")


def corpus_weights(series: Sequence[NabSeries]) -> list[RowWeights]:
    """Row weights of every series, to compute once and pass to the scorers below."""
    return [row_weights(len(s), s.windows) for s in series]


def _weights_for(series: Sequence[NabSeries], weights: Sequence[RowWeights] | None) -> Sequence[RowWeights]:
    if weights is None:
        return corpus_weights(series)
    if len(weights) != len(series) or any(
        len(w.window) != len(s) for w, s in zip(weights, series, strict=True)
    ):
        raise ValueError("precomputed weights do not match the series")
    return weights


def score_at_threshold(
    series: Sequence[NabSeries],
    scores: Sequence[Sequence[float]],
    profile: Profile,
    threshold: float,
    weights: Sequence[RowWeights] | None = None,
) -> CorpusScore:
    """Corpus score when every row whose score is at or above ``threshold`` is a detection."""
    _check_scores(series, scores)
    total = 0.0
    n_windows = 0
    for s, sc, w in zip(series, scores, _weights_for(series, weights), strict=True):
        total += score_detections(s.name, w, [v >= threshold for v in sc], profile, len(s.windows)).score
        n_windows += len(s.windows)
    return CorpusScore(profile.name, threshold, total, normalise(total, profile, n_windows))


def score_binary(
    series: Sequence[NabSeries],
    detections: Sequence[Sequence[bool]],
    profile: Profile,
    weights: Sequence[RowWeights] | None = None,
) -> CorpusScore:
    """Corpus score of per-row yes/no detections (e.g. from per-series self-tuned thresholds)."""
    as_scores = [[1.0 if d else 0.0 for d in det] for det in detections]
    return score_at_threshold(series, as_scores, profile, 1.0, weights)


def oracle_threshold(
    series: Sequence[NabSeries],
    scores: Sequence[Sequence[float]],
    profile: Profile,
    weights: Sequence[RowWeights] | None = None,
) -> CorpusScore:
    """The single corpus-wide threshold that maximises the total score, as the published board uses.

    Exhaustive: rows are swept from the highest score down and the total is evaluated at every
    distinct score, so no local optimiser can stop short of the best threshold.
    """
    _check_scores(series, scores)
    rows: list[tuple[float, int, float]] = []  # (score, global window id or -1, weighted value)
    n_windows = 0
    for s, sc, w in zip(series, scores, _weights_for(series, weights), strict=True):
        for i in range(w.first_scored, len(s)):
            k = w.window[i]
            if k < 0:
                rows.append((sc[i], -1, profile.fp * w.unweighted[i]))
            else:
                rows.append((sc[i], n_windows + k, profile.tp * w.unweighted[i] / _MAX_TP))
        n_windows += len(s.windows)
    rows.sort(key=lambda r: -r[0])
    best = [-profile.fn] * n_windows
    total = -profile.fn * n_windows
    best_total, best_threshold = total, math.inf  # inf: no row is ever a detection
    for j, (score, k, value) in enumerate(rows):
        if k < 0:
            total += value
        elif value > best[k]:
            total += value - best[k]
            best[k] = value
        last_of_level = j + 1 == len(rows) or rows[j + 1][0] != score
        if last_of_level and total > best_total:
            best_total, best_threshold = total, score
    return CorpusScore(profile.name, best_threshold, best_total, normalise(best_total, profile, n_windows))
