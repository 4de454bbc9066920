"""The NAB scorer against the published Windowed Gaussian results and on hand-made cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.intelligence import nab

NAB_ROOT = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nab"


@pytest.fixture(scope="module")
def corpus() -> list[nab.NabSeries]:
    if not (NAB_ROOT / "labels" / "combined_windows.json").is_file():
        pytest.skip(f"NAB corpus not found at {NAB_ROOT} (shared/data is a sibling of the repo)")
    return nab.load_corpus(NAB_ROOT)


def test_corpus_shape(corpus: list[nab.NabSeries]) -> None:
    assert len(corpus) == 58
    assert sum(len(s) for s in corpus) == 365_558
    assert sum(len(s.windows) for s in corpus) == nab.NAB_WINDOW_COUNT


@pytest.mark.parametrize(
    ("profile", "expected"),
    [(nab.STANDARD, 39.65), (nab.REWARD_LOW_FP, 20.87), (nab.REWARD_LOW_FN, 47.41)],
)
def test_reproduces_published_windowed_gaussian(
    corpus: list[nab.NabSeries], profile: nab.Profile, expected: float
) -> None:
    scores = nab.load_detector_scores(NAB_ROOT / "results" / "windowedGaussian", "windowedGaussian", corpus)
    result = nab.oracle_threshold(corpus, scores, profile)
    assert round(result.normalised, 2) == expected
    assert result.threshold == 1.0
    fixed = nab.score_at_threshold(corpus, scores, profile, 1.0)
    assert round(fixed.normalised, 2) == expected


def _series(n: int, windows: list[tuple[int, int]]) -> nab.NabSeries:
    return nab.NabSeries("t/x.csv", [float(i) for i in range(n)], [0.0] * n, windows)


def test_early_detection_in_window_beats_late_one() -> None:
    s = _series(1000, [(800, 899)])
    w = nab.row_weights(len(s), s.windows)
    early = nab.score_detections(s.name, w, [i == 800 for i in range(1000)], nab.STANDARD, 1)
    late = nab.score_detections(s.name, w, [i == 899 for i in range(1000)], nab.STANDARD, 1)
    assert early.score == pytest.approx(1.0)
    assert 0 < late.score < early.score
    missed = nab.score_detections(s.name, w, [False] * 1000, nab.STANDARD, 1)
    assert missed.score == -1.0 and missed.fn == 1


def test_only_best_detection_of_a_window_counts_and_false_positives_cost() -> None:
    s = _series(1000, [(800, 899)])
    w = nab.row_weights(len(s), s.windows)
    det = [i in (800, 801, 850) for i in range(1000)]
    assert nab.score_detections(s.name, w, det, nab.STANDARD, 1).score == pytest.approx(1.0)
    # Outside any window before the first one: the full false-positive cost.
    det_fp = [i in (800, 500) for i in range(1000)]
    assert nab.score_detections(s.name, w, det_fp, nab.STANDARD, 1).score == pytest.approx(1.0 - 0.11)
    # Just after a window: barely penalised (sigmoid near zero is small but negative).
    det_after = [i in (800, 900) for i in range(1000)]
    after = nab.score_detections(s.name, w, det_after, nab.STANDARD, 1).score
    assert 1.0 - 0.11 < after < 1.0


def test_probationary_rows_are_not_scored() -> None:
    s = _series(1000, [(800, 899)])
    w = nab.row_weights(len(s), s.windows)
    assert w.first_scored == 150
    det = [i == 10 for i in range(1000)]
    assert nab.score_detections(s.name, w, det, nab.STANDARD, 1).fp == 0


def test_oracle_finds_best_threshold() -> None:
    s = _series(1000, [(800, 899)])
    scores = [0.0] * 1000
    scores[800] = 0.9  # the true detection
    scores[300] = 0.95  # a stronger false alarm: worth accepting for the window
    scores[400] = 0.5  # weaker false alarms are not
    result = nab.oracle_threshold([s], [scores], nab.STANDARD)
    assert result.threshold == 0.9
    assert result.raw == pytest.approx(1.0 - 0.11)
    assert result.normalised == pytest.approx(100 * (1.0 - 0.11 + 1) / 2)


def test_bad_input_is_named() -> None:
    s = _series(10, [])
    with pytest.raises(ValueError, match="outside"):
        nab.oracle_threshold([s], [[2.0] * 10], nab.STANDARD)
    with pytest.raises(ValueError, match="3 scores for 10 rows"):
        nab.score_at_threshold([s], [[0.0] * 3], nab.STANDARD, 0.5)
    with pytest.raises(nab.NabDataError, match="not a NAB timestamp"):
        nab.parse_timestamp("yesterday")
    with pytest.raises(nab.NabDataError, match="matches no row"):
        nab.window_indices("x", [0.0, 60.0], [["2014-01-01 00:00:00", "2014-01-01 00:01:00"]])
    with pytest.raises(nab.NabDataError, match="missing NAB labels"):
        nab.load_corpus(Path("/nonexistent"))
