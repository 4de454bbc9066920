"""TocsinBatch: the production detector for many series at once must score exactly as the scalar
tocsin_detector() does for each series alone, and its per-series state must round-trip."""

from __future__ import annotations

import math
import random

import msgspec
import numpy as np
import pytest

from tocsin.intelligence.anomaly import StateError, TocsinBatch, tocsin_detector

T0 = 1_400_000_000.0


def _fleet() -> list[list[float]]:
    """Series of different lengths and characters, chosen to reach every rarely taken branch:
    novelty tables past their cap (a wide random walk), fuzzy-ART categories past their cap
    (noise with changing shapes), unseen far bands (spikes), a flat line and a level shift."""
    rng = random.Random(17)
    walk, level = [], 0.0
    for _ in range(2600):
        level += rng.gauss(0.0, 3.0)
        walk.append(level)
    shapes = [
        math.sin(i / (3.0 + (i // 300) % 7)) * (1 + (i // 450) % 4) + rng.gauss(0.0, 0.4) for i in range(2300)
    ]
    spikes = [10.0 + rng.gauss(0.0, 1.0) + (80.0 if i % 497 == 0 and i > 300 else 0.0) for i in range(1900)]
    flat = [5.0] * 700 + [5.0 + rng.gauss(0.0, 0.01) for _ in range(600)]
    shift = [rng.gauss(0.0, 1.0) + (25.0 if i >= 1000 else 0.0) for i in range(1600)]
    return [walk, shapes, spikes, flat, shift]


def _scalar(values: list[float]) -> list[float]:
    detector = tocsin_detector()
    return [detector.update(T0 + 60.0 * i, x) for i, x in enumerate(values)]


def _lockstep(fleet: list[list[float]]) -> list[list[float]]:
    """Every series through one batch; a series that ends leaves the batch (take())."""
    out: list[list[float]] = [[] for _ in fleet]
    alive = list(range(len(fleet)))
    batch = TocsinBatch(len(fleet))
    i = 0
    while alive:
        scores = batch.update([T0 + 60.0 * i] * len(alive), [fleet[k][i] for k in alive])
        for j, k in enumerate(alive):
            out[k].append(float(scores[j]))
        i += 1
        keep = [j for j, k in enumerate(alive) if len(fleet[k]) > i]
        if len(keep) < len(alive):
            batch, alive = batch.take(keep), [alive[j] for j in keep]
    return out


def test_batched_scores_are_identical_to_the_scalar_detector_per_series() -> None:
    fleet = _fleet()
    batched = _lockstep(fleet)
    for values, scores in zip(fleet, batched, strict=True):
        assert scores == _scalar(values)
    # The fleet must actually exercise the detector: alerts are raised, and rarely.
    for scores in batched:
        assert 0 < sum(s >= 0.22 for s in scores) < len(scores) // 50


def test_row_state_round_trips_mid_block_and_between_batches() -> None:
    fleet = [values[:1300] for values in _fleet()]
    cut = 901  # odd: the stride-2 fuzzy-ART members are mid-block
    whole = TocsinBatch(len(fleet))
    for i in range(cut):
        whole.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet])
    states = [msgspec.msgpack.decode(msgspec.msgpack.encode(whole.row_state(k))) for k in range(len(fleet))]
    # Restore in reverse order into a new batch: each series must carry its own state.
    restored = TocsinBatch.from_states(states[::-1])
    for i in range(cut, 1300):
        expected = whole.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet])
        got = restored.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet[::-1]])
        assert got.tolist() == expected[::-1].tolist()


def test_take_keeps_the_chosen_series_state() -> None:
    fleet = [values[:900] for values in _fleet()]
    batch = TocsinBatch(len(fleet))
    for i in range(600):
        batch.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet])
    picked = batch.take([3, 1])
    assert len(picked) == 2
    assert picked.row_state(0) == batch.row_state(3)
    assert picked.row_state(1) == batch.row_state(1)


def test_series_join_a_running_fleet_and_score_as_if_alone() -> None:
    fleet = [values[:1300] for values in _fleet()]
    batch = TocsinBatch(3)
    for i in range(500):
        batch.update([T0 + 60.0 * i] * 3, [v[i] for v in fleet[:3]])
    # Two new series join at tick 500; the first of the old ones leaves.
    batch = TocsinBatch.concat([batch.take([1, 2]), TocsinBatch(2)])
    late: list[list[float]] = [[], []]
    for i in range(500, 1300):
        scores = batch.update(
            [T0 + 60.0 * i] * 4, [fleet[1][i], fleet[2][i], fleet[3][i - 500], fleet[4][i - 500]]
        )
        late[0].append(float(scores[2]))
        late[1].append(float(scores[3]))
    assert late[0] == _scalar(fleet[3][:800])
    assert late[1] == _scalar(fleet[4][:800])
    alone = _lockstep([fleet[2]])[0]
    assert float(scores[1]) == alone[-1]


def test_state_stays_bounded_on_endless_novelty() -> None:
    rng = random.Random(5)
    batch = TocsinBatch(1)
    sizes, deflated = [], []
    level = 0.0
    for i in range(6000):
        level += rng.gauss(0.0, 5.0) * (1 + i // 1000)
        batch.update([T0 + 60.0 * i], [level + rng.gauss(0.0, 2.0)])
        if i % 1000 == 999:
            sizes.append(len(msgspec.msgpack.encode(batch.row_state(0))))
            deflated.append(len(batch.dump_row(0)))
    # Tables are capped (48 novelty entries, 16 ART boxes, at most 20 tail bins per member):
    # the state stops growing once they are full, whatever the series does.
    assert max(sizes) < 3_000
    assert sizes[-1] <= max(sizes[2:])
    assert max(deflated) < 2048


def test_bad_input_is_rejected_with_a_reason() -> None:
    batch = TocsinBatch(2)
    with pytest.raises(ValueError, match="value must be a finite number"):
        batch.update([T0, T0], [1.0, math.nan])
    with pytest.raises(ValueError, match="timestamp must be finite"):
        batch.update([T0, math.inf], [1.0, 2.0])
    with pytest.raises(ValueError, match="expected 2 timestamps and values"):
        batch.update([T0], [1.0])
    with pytest.raises(ValueError, match="non-negative"):
        TocsinBatch(-1)
    with pytest.raises(IndexError):
        batch.row_state(2)


def test_dump_row_blobs_round_trip_and_stay_under_two_kilobytes() -> None:
    fleet = [values[:1300] for values in _fleet()]
    batch = TocsinBatch(len(fleet))
    for i in range(1000):
        batch.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet])
    blobs = [batch.dump_row(k) for k in range(len(fleet))]
    assert max(len(b) for b in blobs) < 2048
    restored = TocsinBatch.load_rows(blobs)
    for i in range(1000, 1300):
        expected = batch.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet])
        assert (
            restored.update([T0 + 60.0 * i] * len(fleet), [v[i] for v in fleet]).tolist() == expected.tolist()
        )


def test_corrupt_states_raise_state_errors() -> None:
    batch = TocsinBatch(1)
    for i in range(400):
        batch.update([T0 + 60.0 * i], [float(i % 17)])
    good = batch.row_state(0)
    for bad in (
        {**good, "v": 99},
        {k: v for k, v in good.items() if k != "uni"},
        {**good, "f": good["f"][:-8]},
        {**good, "i": good["i"][:-1]},
        {**good, "bi": [good["bi"][0][:-3], *good["bi"][1:]]},
        {**good, "bins": [np.zeros(40, dtype="<f2").tobytes(), *good["bins"][1:]]},
        {**good, "art": good["art"][:-1]},
        {**good, "art": b"\xff" * len(good["art"])},  # levels beyond 100
        {**good, "i": [*good["i"][:-2], 17, 0]},  # more boxes than the cap
        {**good, "uses": [good["uses"][0][:-2], *good["uses"][1:]]},
    ):
        with pytest.raises(StateError):
            TocsinBatch.from_states([bad])
    with pytest.raises(StateError):
        TocsinBatch.load_rows([b"not a state"])


def _full_batch() -> TocsinBatch:
    """One series whose every table is at its cap (found by test): novelty tables of 48
    entries, 16 fuzzy-ART boxes per member, the novelty tails spread over many bins."""
    rng = random.Random(5)
    batch = TocsinBatch(1)
    level = 0.0
    for i in range(3000):
        level += rng.gauss(0.0, 5.0) * (1 + i // 1000)
        batch.update([T0 + 60.0 * i], [level + rng.gauss(0.0, 2.0)])
    return batch


def test_state_is_under_two_kilobytes_in_memory_and_as_plain_messagepack_with_full_tables() -> None:
    batch = _full_batch()
    assert batch.uni_size.tolist() == [48, 48, 48] and batch.bi_size.tolist() == [48, 48, 48]
    assert batch.art_ncat.tolist() == [16, 16]
    # bytes_per_series() must count every array the batch holds; each has one row per series.
    arrays = [v for v in vars(batch).values() if isinstance(v, np.ndarray)]
    assert batch.bytes_per_series() == sum(a.nbytes for a in arrays)
    assert TocsinBatch.concat([batch, batch, batch]).bytes_per_series() == batch.bytes_per_series()
    assert batch.bytes_per_series() < 2048
    assert len(msgspec.msgpack.encode(batch.row_state(0))) < 2048
    # The largest state the layout can hold: every table at its cap, every count and every
    # reachable tail bin non-zero, the largest point count. It must load, and stay under 2 KB.
    worst = TocsinBatch(1)
    worst.n[:] = np.iinfo(np.int64).max
    worst.quiet[:], worst.nov_prev[:] = 100, -96
    worst.uni_size[:], worst.bi_size[:], worst.art_ncat[:] = 48, 48, 16
    worst.uni_key[:], worst.bi_key[:] = np.arange(48) - 24, np.arange(48) * 700
    for counts in (worst.uni_cnt, worst.bi_cnt, worst.art_uses, worst.tail_nov, worst.tail_art):
        counts[:] = 1234.5
    worst.art_w[:], worst.art_recent[:] = 100, 100
    state = worst.row_state(0)
    assert len(msgspec.msgpack.encode(state)) < 2048
    restored = TocsinBatch.from_states([msgspec.msgpack.decode(msgspec.msgpack.encode(state))])
    assert restored.row_state(0) == state


def test_long_series_through_every_rescale_and_far_jumps_score_as_the_scalar_detector() -> None:
    # The growing units are rescaled after about 2,770 novelty points, 5,540 tail points and
    # 2,770 scored ART windows (about 5,700 points); the batch derives them from the point count,
    # so a series must run past all three, and a state restored after them must go on alike.
    rng = random.Random(11)
    values = []
    for i in range(6400):
        x = rng.gauss(0.0, 1.0) + (4.0 if (i // 700) % 2 else 0.0)
        if i > 3000 and i % 331 == 0:
            x += rng.choice((-1.0, 1.0)) * 1e4  # far beyond the warm-up range: the outermost band
        values.append(x)
    assert _lockstep([values])[0] == _scalar(values)
    cut = 6001
    batch = TocsinBatch(1)
    for i in range(cut):
        batch.update([T0 + 60.0 * i], [values[i]])
    restored = TocsinBatch.load_rows([batch.dump_row(0)])
    for i in range(cut, len(values)):
        assert (
            restored.update([T0 + 60.0 * i], [values[i]]).tolist()
            == batch.update([T0 + 60.0 * i], [values[i]]).tolist()
        )
