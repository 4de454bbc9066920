"""The CAD-style contextual predictor and the fuzzy-ART detector: behaviour, bounds, state."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable

import msgspec
import pytest

from tocsin.intelligence.anomaly import (
    ContextPrediction,
    Detector,
    EmpiricalTail,
    FuzzyArt,
    StateError,
    detector_from_state,
    pair_detector,
    tocsin_detector,
)

FACTORIES: dict[str, Callable[[], Detector]] = {
    "context": ContextPrediction,
    "context_short": lambda: ContextPrediction(levels=4, order=2, cap=16),
    "art": FuzzyArt,
    "art_shape": lambda: FuzzyArt(window=5, stride=3, shape_only=True, categories=4),
    "tail_art": lambda: EmpiricalTail(FuzzyArt(window=10, stride=2)),
    "pair": pair_detector,
    "tocsin": tocsin_detector,
}

T0 = 1_400_000_000.0


def _saw(n: int, period: int = 20, seed: int = 3, noise: float = 0.2) -> list[float]:
    rng = random.Random(seed)
    return [float(i % period) + rng.gauss(0.0, noise) for i in range(n)]


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_state_round_trip_through_json_and_msgpack_gives_identical_scores(name: str) -> None:
    values = _saw(1400)
    values[1300] += 40.0
    original = FACTORIES[name]()
    for i, x in enumerate(values[:1001]):  # stops mid-block for the strided detectors
        original.update(T0 + 60.0 * i, x)
    via_json = detector_from_state(json.loads(json.dumps(original.to_state())))
    via_msgpack = detector_from_state(msgspec.msgpack.decode(msgspec.msgpack.encode(original.to_state())))
    rest = [(T0 + 60.0 * (1001 + i), x) for i, x in enumerate(values[1001:])]
    expected = [original.update(t, x) for t, x in rest]
    assert [via_json.update(t, x) for t, x in rest] == expected
    assert [via_msgpack.update(t, x) for t, x in rest] == expected


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_score_one_is_pure_in_unit_interval_and_agrees_with_update(name: str) -> None:
    detector = FACTORIES[name]()
    for i, x in enumerate(_saw(700, seed=5)):
        t = T0 + 60.0 * i
        before = json.dumps(detector.to_state())
        score = detector.score_one(t, x)
        assert json.dumps(detector.to_state()) == before
        assert 0.0 <= score <= 1.0
        assert detector.update(t, x) == score


def test_context_prediction_learns_a_rhythm_and_flags_a_break_in_it() -> None:
    detector = ContextPrediction(levels=8, order=3)
    values = _saw(3000, noise=0.0)
    raws = [detector.raw_update(T0 + i, x) for i, x in enumerate(values)]
    learned = max(raws[2000:2990])
    # Same values, wrong order: every level is familiar, the sequence is not.
    broken = [detector.raw_update(T0 + 3000 + i, float((7 * i) % 20)) for i in range(10)]
    assert max(broken) > 2.0 * learned
    assert learned < 0.1


def test_fuzzy_art_recognises_a_repeated_shape_and_not_a_new_one() -> None:
    detector = FuzzyArt(window=6, stride=2, rho=0.9)
    values = [math.sin(2 * math.pi * i / 40) for i in range(4000)]
    raws = [detector.raw_update(T0 + i, x) for i, x in enumerate(values)]
    boxes = len(detector.weights)
    # Every learned window resonates with a box: its deficit is within the vigilance margin.
    assert max(raws[3000:]) <= 1.0 - 0.9 + 1e-9
    # A held peak: every value is in range, the shape never happened, so no box takes it.
    held = [detector.raw_update(T0 + 4000 + i, 1.0) for i in range(40)]
    assert max(held) > 1.0 - 0.9
    assert len(detector.weights) > boxes


def test_memory_stays_bounded_on_endless_novelty() -> None:
    rng = random.Random(9)
    context = ContextPrediction(levels=16, order=3, cap=40)
    art = FuzzyArt(window=4, stride=1, categories=5, rho=0.97)
    for i in range(5000):
        x = rng.uniform(-100.0, 100.0) * (1 + i // 1000)
        context.update(T0 + i, x)
        art.update(T0 + i, x)
        assert len(context.table) <= 40
        assert len(art.weights) <= 5
    assert len(msgspec.msgpack.encode(art.to_state())) < 1000


def test_identical_runs_give_identical_scores() -> None:
    values = _saw(1500, seed=11)
    runs = []
    for _ in range(2):
        detector = tocsin_detector()
        runs.append([detector.update(T0 + 60.0 * i, x) for i, x in enumerate(values)])
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ContextPrediction(levels=1), "levels"),
        (lambda: ContextPrediction(order=0), "order"),
        (lambda: ContextPrediction(cap=2), "cap"),
        (lambda: ContextPrediction(decay=0.0), "decay"),
        (lambda: ContextPrediction(min_share=1.0), "min_share"),
        (lambda: ContextPrediction(warmup=1), "warmup"),
        (lambda: FuzzyArt(window=0), "window"),
        (lambda: FuzzyArt(stride=0), "stride"),
        (lambda: FuzzyArt(rho=1.0), "rho"),
        (lambda: FuzzyArt(categories=1), "categories"),
        (lambda: FuzzyArt(levels=2), "levels"),
        (lambda: FuzzyArt(choice=0.0), "choice"),
        (lambda: FuzzyArt(decay=1.5), "decay"),
        (lambda: FuzzyArt(warmup=0), "warmup"),
    ],
)
def test_bad_parameters_are_named(factory: Callable[[], Detector], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        factory()


@pytest.mark.parametrize("name", ["context", "art"])
def test_bad_input_is_named(name: str) -> None:
    detector = FACTORIES[name]()
    with pytest.raises(ValueError, match="value must be a finite number"):
        detector.update(T0, math.nan)
    with pytest.raises(ValueError, match="timestamp"):
        detector.update(math.inf, 1.0)


def test_corrupt_states_raise_state_errors() -> None:
    art = FuzzyArt(window=3, stride=1)
    for i, x in enumerate(_saw(300)):
        art.update(T0 + i, x)
    state = art.to_state()
    state["state"]["weights"][0] = [1, 2]
    with pytest.raises(StateError, match="weights"):
        detector_from_state(state)
    state = art.to_state()
    state["state"]["uses"] = []
    with pytest.raises(StateError, match="use counts"):
        detector_from_state(state)
    context = ContextPrediction(order=2)
    for i, x in enumerate(_saw(300)):
        context.update(T0 + i, x)
    state = context.to_state()
    state["state"]["history"] = [1, 2, 3]
    with pytest.raises(StateError, match="history"):
        detector_from_state(state)
    state = context.to_state()
    state["state"]["table"].append([1, 2, 3, 4, 5, 6.0])
    with pytest.raises(StateError, match="wrong length"):
        detector_from_state(state)
