"""The production detector for a whole fleet at once: :func:`tocsin_detector`'s arithmetic, vectorised.

tocsin's rule engine evaluates every series at each tick, so the new point of every series arrives
together. :class:`TocsinBatch` keeps the state of ``n`` series as arrays (one row per series, the
members of the ensemble stacked along the rows) and advances all of them with one pass of numpy
operations per tick, instead of ``n`` passes through five nested Python detectors. Per series it
computes exactly what ``tocsin_detector()`` (half-precision counts, the default) computes,
operation for operation, in the same float64 order (sums that Python does left to right are
done bin by bin, not with numpy's pairwise sum; counts are rounded to binary16 where the scalar
detector rounds them), so the scores agree with the scalar detector to the last bit on the
platforms tested (IEEE float64, numpy's ``log``/``log2``/``power`` agreeing with libm's; see
tests/unit/intelligence/test_anomaly_batched.py).

What mirrors what (per series):

- three context-novelty members (raw values, EW average alpha 0.05, EW average alpha 0.2): rows
  ``0..n-1``, ``n..2n-1`` and ``2n..3n-1`` of the novelty arrays; each capped dict (unigram and
  bigram) becomes a row of slots kept in insertion order, so "evict the rarest, the oldest first
  among equals" (dict order) is the first minimum;
- two fuzzy-ART members (raw values, EW average alpha 0.2): rows ``0..n-1`` and ``n..2n-1``;
- five empirical tails, one per member, in the ensemble's member order;
- the ensemble's maximum and the refractory hold.

State is held small (under 2 KB per series in memory, :meth:`TocsinBatch.bytes_per_series`):
counts as float16 (they are binary16 values already), small integers in the narrowest type that
holds them, widened to float64 only inside the computations; what the members share is held once
and what the point count determines (growing units, the fuzzy-ART block phase) is not held.
:meth:`TocsinBatch.row_state` / :meth:`TocsinBatch.dump_row` save one series (used slots only,
counts as binary16 bytes, box corners in 7 bits) so it can be restored alone or moved between
batches: under 2 KB as plain MessagePack (benchmarks/nab/README.md).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.intelligence.anomaly.base import HALF_RESCALE, StateError

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Half = npt.NDArray[np.float16]
Small = npt.NDArray[Any]  # a narrow integer array (int8, uint8, int16, uint16)

STATE_VERSION = 2
_FLOATS = 18  # float64 numbers in a row state (see TocsinBatch.row_state)
_INTS = 9

# Context novelty (ContextNovelty defaults).
_BANDS = 12
_LIMIT = 8 * _BANDS  # bands are clipped to +-_LIMIT
_NOV_DECAY = 0.999
_CAP = 48
_NOV_WARMUP = 150
_KEYS = 2 * _LIMIT + 1  # bigram key = (prev + LIMIT) * _KEYS + (band + LIMIT)
_FAR = np.iinfo(np.int64).max
# Fuzzy ART (tocsin_detector's members: window 10, stride 2, decay 0.999).
_WINDOW = 10
_STRIDE = 2
_RHO = 0.9
_CATEGORIES = 16
_LEVELS = 100
_LEVEL_BITS = 7  # levels 0.._LEVELS fit in 7 bits (the serialised form packs them)
_CHOICE_Q = 0.01 * _LEVELS  # choice parameter times levels, as FuzzyArt computes it
_ART_DECAY = 0.999
_ART_WARMUP = 150
_SIZE = _WINDOW * _LEVELS
# Empirical tail (EmpiricalTail defaults: 32 bins, 4 per octave of 1 + score).
_TAIL_SHORT = 0.2
_TAIL_DECAY = 0.9995
_TAIL_WARMUP = 200
_PER_OCTAVE = 4.0
_LOG_TAIL_HALF = 20.0
# Bins a member's tail can reach: the rest stay empty, so they are not held. Fuzzy ART's raw
# score is 1 - overlap / size, in [0, 1], and so is its short average: bin <= 4 * log2(2) = 4.
# Novelty's raw score is at most -log(0.1 w / (total + w)) - log(0.1 w / (count + w)) +
# log(2 * _LIMIT) with total < 1000 w (the decayed sum of w), w >= 1 and a binary16 count under
# 65,504: 9.22 + 13.40 + 5.26 < 28, so bin <= 4 * log2(29) < 20. (The scalar tail's clip to
# its last bin, 31, is never reached.)
_NOV_BINS = 20
_ART_BINS = 5
# Smoothing and refractory hold (Refractory defaults).
_ALPHA_SLOW = 0.05
_ALPHA_QUICK = 0.2
_PEAK_DECAY = math.exp(-math.log(2.0) / 300.0)
_HOLD_LEVEL = 0.22
_HOLD = 100
_RESCALE = HALF_RESCALE  # growing units are rescaled past this (half-precision headroom)

_NOVELTY_MEMBERS = 3
_ART_MEMBERS = 2
_MEMBERS = _NOVELTY_MEMBERS + _ART_MEMBERS


def _units(decay: float) -> Floats:
    """The growing unit after 0, 1, 2, ... steps: divided by ``decay`` each step and reset to 1
    once past the rescale limit. It depends on the step count only, so it is looked up, not held."""
    seq = [1.0]
    while seq[-1] / decay <= _RESCALE:
        seq.append(seq[-1] / decay)
    return np.array(seq)


_NOV_UNITS = _units(_NOV_DECAY)  # step k = point _NOV_WARMUP + k
_ART_UNITS = _units(_ART_DECAY)  # step k = the k-th window scored
_TAIL_UNITS = _units(_TAIL_DECAY)  # step k = point k


def _half(x: Floats) -> Half:
    """Round to the nearest half-precision value (ties to even): how every count is stored."""
    return x.astype(np.float16)


def _f(shape: int | tuple[int, ...], value: float = 0.0) -> Floats:
    return np.full(shape, value, dtype=np.float64)


def _small(shape: int | tuple[int, ...], dtype: type[np.integer[Any]], value: int = 0) -> Small:
    return np.full(shape, value, dtype=dtype)


class TocsinBatch:
    """``tocsin_detector()`` for ``n`` series, advanced together one tick at a time."""

    # Arrays with one row per series (first dimension n) or per member row (k * n); used by
    # take(), concat() and bytes_per_series(). The tail histograms are bin-major (_BIN_MAJOR).
    _SERIES = ("n", "slow", "quick", "peak", "quiet", "nov_total", "tail_total")
    _NOVELTY = (
        "nov_lo",
        "nov_hi",
        "nov_prev",
        "uni_key",
        "uni_cnt",
        "uni_size",
        "bi_key",
        "bi_cnt",
        "bi_size",
    )
    _ART = ("art_sum", "art_ncat", "art_match", "art_recent", "art_w", "art_uses")
    _TAIL = ("tail_avg",)
    _BIN_MAJOR = (("tail_nov", _NOVELTY_MEMBERS), ("tail_art", _ART_MEMBERS))

    def __init__(self, n: int = 0) -> None:
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n!r}")
        self.n = np.zeros(n, dtype=np.int64)
        self.slow = _f(n)
        self.quick = _f(n)
        self.peak = _f(n)
        self.quiet = _small(n, np.int8)  # 0.._HOLD
        # The three novelty members add the same unit each point from the same start, as do
        # the five tails: one decayed total per series for each kind.
        self.nov_total, self.tail_total = _f(n), _f(n)
        r = _NOVELTY_MEMBERS * n
        self.nov_lo, self.nov_hi = _f(r, math.inf), _f(r, -math.inf)
        self.nov_prev = _small(r, np.int8)  # bands are within +-_LIMIT
        # Capped tables as slots in insertion order (slot 0 the oldest): "the oldest among
        # equals" is then the first, and no insertion stamp is needed. Empty slots hold 0.
        self.uni_key, self.uni_cnt = _small((r, _CAP), np.int8), np.zeros((r, _CAP), np.float16)
        self.bi_key, self.bi_cnt = _small((r, _CAP), np.uint16), np.zeros((r, _CAP), np.float16)
        self.uni_size, self.bi_size = _small(r, np.int8), _small(r, np.int8)
        a = _ART_MEMBERS * n
        self.art_sum = _f(a)
        self.art_ncat = _small(a, np.int8)
        # The best overlap (0.._SIZE) of the last window; the raw score is 1 - it / _SIZE, and
        # _SIZE gives the warm-up's 0.0.
        self.art_match = _small(a, np.int16, _SIZE)
        self.art_recent = _small((a, _WINDOW), np.uint8)  # levels 0.._LEVELS
        # Box corners are on the 0..levels grid: uint8 keeps the category search cheap.
        self.art_w = np.zeros((a, _CATEGORIES, 2 * _WINDOW), dtype=np.uint8)
        self.art_uses = np.zeros((a, _CATEGORIES), np.float16)
        self.tail_avg = _f(_MEMBERS * n)
        # Bin-major (bins, rows): the left-to-right sum over bins is then a loop of contiguous adds.
        self.tail_nov = np.zeros((_NOV_BINS, r), np.float16)
        self.tail_art = np.zeros((_ART_BINS, a), np.float16)

    def __len__(self) -> int:
        return len(self.n)

    def bytes_per_series(self) -> float:
        """Bytes of numpy arrays per series: every array of the batch has one row (or one column,
        or one per member) per series, so this is the sum of their ``nbytes`` divided by the series."""
        names = (*self._SERIES, *self._NOVELTY, *self._ART, *self._TAIL, *(k for k, _ in self._BIN_MAJOR))
        return sum(getattr(self, k).nbytes for k in names) / len(self) if len(self) else 0.0

    # --- the tick -------------------------------------------------------------------------

    def update(self, t: Sequence[float] | Floats, x: Sequence[float] | Floats) -> Floats:
        """Score every series' new point against its past, then learn it; one score per series."""
        ts = np.asarray(t, dtype=np.float64)
        xs = np.asarray(x, dtype=np.float64)
        if xs.shape != (len(self),) or ts.shape != (len(self),):
            raise ValueError(f"expected {len(self)} timestamps and values, got {ts.shape} and {xs.shape}")
        bad = ~np.isfinite(xs)
        if bad.any():
            raise ValueError(
                f"value must be a finite number, got {xs[bad][0]!r} (series {int(np.argmax(bad))})"
            )
        bad = ~np.isfinite(ts)
        if bad.any():
            raise ValueError(f"timestamp must be finite epoch seconds, got {ts[bad][0]!r}")
        first = self.n == 0
        slow = np.where(first, xs, self.slow + _ALPHA_SLOW * (xs - self.slow))
        quick = np.where(first, xs, self.quick + _ALPHA_QUICK * (xs - self.quick))
        self.slow, self.quick = slow, quick
        nov_raw = self._novelty(np.concatenate((xs, slow, quick)), np.tile(self.n, _NOVELTY_MEMBERS))
        art_raw = self._art(np.concatenate((xs, quick)), np.tile(self.n, _ART_MEMBERS))
        scores = self._tail(np.concatenate((nov_raw, art_raw)))
        self.n = self.n + 1
        best = np.maximum(scores.reshape(_MEMBERS, len(self)).max(axis=0), 0.0)
        return self._refractory(best)

    def _refractory(self, score: Floats) -> Floats:
        quiet = self.quiet
        out = np.where(quiet > 0, 0.0, np.where(score > self.peak * _PEAK_DECAY, score, score * 0.0))
        self.peak = np.maximum(self.peak * _PEAK_DECAY, score)
        self.quiet = np.where(quiet > 0, quiet - 1, np.where(out >= _HOLD_LEVEL, _HOLD, 0)).astype(np.int8)
        return out

    # --- context novelty --------------------------------------------------------------------

    def _band(self, v: Floats, rows: Ints) -> Ints:
        # The band width is fixed by the warm-up range, so it is derived, not held.
        lo, hi = self.nov_lo[rows], self.nov_hi[rows]
        width = np.maximum(hi - lo, 1e-9 * (1.0 + np.abs(hi))) / _BANDS
        return np.clip(np.floor((v - lo) / width), -_LIMIT, _LIMIT).astype(np.int64)

    def _novelty(self, v: Floats, n: Ints) -> Floats:
        raw = _f(len(v))
        live = np.flatnonzero(n >= _NOV_WARMUP)
        if len(live):
            raw[live] = self._novelty_live(live, v[live], n[live])
        new_n = n + 1
        warm = np.flatnonzero(new_n <= _NOV_WARMUP)
        if len(warm):
            self.nov_lo[warm] = np.minimum(self.nov_lo[warm], v[warm])
            self.nov_hi[warm] = np.maximum(self.nov_hi[warm], v[warm])
            done = warm[new_n[warm] == _NOV_WARMUP]
            if len(done):
                # Warm-up done: the band width is now fixed; count from here on.
                self.nov_prev[done] = self._band(v[done], done)
        return raw

    def _novelty_live(self, rows: Ints, v: Floats, n: Ints) -> Floats:
        """Raw surprise of the point for rows past the warm-up, then learn it."""
        series = rows % len(self)
        band = self._band(v, rows)
        prev = self.nov_prev[rows].astype(np.int64)
        w = _NOV_UNITS[(n - _NOV_WARMUP) % len(_NOV_UNITS)]
        total = self.nov_total[series]
        every = len(rows) == len(self.nov_prev)  # steady state: all rows live, no gather needed
        names = self._NOVELTY[3:]
        tables = [getattr(self, k) if every else getattr(self, k)[rows] for k in names]
        uk, uc, us, bk, bc, bs = tables
        local = np.arange(len(rows))
        u_has, u_slot = _find(uk, us, band)
        seen = np.where(u_has, uc[local, u_slot], 0.0).astype(np.float64)
        p_has, p_slot = _find(uk, us, prev)
        from_prev = np.where(p_has, uc[local, p_slot], 0.0).astype(np.float64)
        # The bigram's match found here is reused to learn the same move.
        move = (prev + _LIMIT) * _KEYS + (band + _LIMIT)
        has, slot = _find(bk, bs, move)
        moved = np.where(has, bc[local, slot], 0.0).astype(np.float64)
        p_band = (seen + 0.1 * w) / (total + w)
        p_move = (moved + 0.1 * w) / (from_prev + w)
        surprise = -_libm(math.log, p_band) - _libm(math.log, p_move)
        unseen = np.flatnonzero(~u_has & (us > 0))
        if len(unseen):
            # An unseen band says nothing about how far out it lies: add the log distance to the
            # nearest known band.
            used = np.arange(_CAP)[None, :] < us[unseen, None]
            dist = np.where(used, np.abs(uk[unseen].astype(np.int64) - band[unseen, None]), _FAR)
            surprise[unseen] += _libm(math.log, dist.min(axis=1).astype(np.float64))
        # Learn: bigram first, then unigram (a new entry's count is 0 + w, as the dict's get()).
        _learn(bk, bc, bs, has, slot, move, _half(moved + w))
        _learn(uk, uc, us, u_has, u_slot, band, _half(seen + w))
        if not every:
            for name, table in zip(names, tables, strict=True):
                getattr(self, name)[rows] = table
        # The members' rows of a series write the same total (same unit, same start).
        self.nov_total[series] = total + w
        self.nov_prev[rows] = band
        grown = w / _NOV_DECAY > _RESCALE
        if grown.any():
            big, scale = rows[grown], 1.0 / (w[grown] / _NOV_DECAY)
            for key, cnt, size in (
                (self.uni_key, self.uni_cnt, self.uni_size),
                (self.bi_key, self.bi_cnt, self.bi_size),
            ):
                c = _half(cnt[big].astype(np.float64) * scale[:, None])
                # A count that underflows half precision is forgotten, as if evicted: the
                # survivors close ranks, in the same order. Empty slots hold 0 and stay last.
                keep = c > 0.0
                order = np.argsort(~keep, axis=1, kind="stable")
                kept = np.take_along_axis(keep, order, axis=1)
                key[big] = np.where(kept, np.take_along_axis(key[big], order, axis=1), 0)
                cnt[big] = np.take_along_axis(c, order, axis=1)
                size[big] = keep.sum(axis=1)
            self.nov_total[series[grown]] = (total + w)[grown] * scale
        return surprise

    # --- fuzzy ART --------------------------------------------------------------------------

    def _art(self, v: Floats, n: Ints) -> Floats:
        # Blocks of _STRIDE points start after the warm-up, so the point count gives the phase.
        after = n + 1 - _ART_WARMUP
        live = np.flatnonzero(after > 0)
        if len(live):
            self.art_sum[live] += v[live]
            full = live[after[live] % _STRIDE == 0]
            if len(full):
                self._art_block(full, after[full] // _STRIDE)
        # Warm-up rows return 0.0 (their match is still _SIZE).
        return 1.0 - self.art_match / _SIZE

    def _art_block(self, rows: Ints, blocks: Ints) -> None:
        # Each ART member's warm-up range is that of the novelty member on the same input (raw
        # values: novelty row i; the quick average: novelty row 2n + i), so it is read from there.
        n = len(self)
        nov = np.where(rows < n, rows, rows + n)
        lo, hi = self.nov_lo[nov], self.nov_hi[nov]
        span = np.maximum(hi - lo, 1e-9 * (1.0 + np.abs(hi)))
        u = 0.25 + 0.5 * (self.art_sum[rows] / _STRIDE - lo) / span
        q = np.rint(np.minimum(np.maximum(u, 0.0), 1.0) * _LEVELS).astype(np.uint8)
        self.art_sum[rows] = 0.0
        recent = self.art_recent[rows]
        recent[:, :-1] = recent[:, 1:]
        recent[:, -1] = q
        self.art_recent[rows] = recent
        ready = blocks >= _WINDOW  # the window is full from the _WINDOW-th block on
        if ready.any():
            self._resonate(rows[ready], blocks[ready] - _WINDOW)

    def _resonate(self, rows: Ints, scored: Ints) -> None:
        recent = self.art_recent[rows]
        a = np.concatenate((recent, _LEVELS - recent), axis=1).astype(np.uint8)  # complement coding
        w = self.art_w[rows]
        ncat = self.art_ncat[rows].astype(np.int64)
        valid = np.arange(_CATEGORIES)[None, :] < ncat[:, None]
        overlaps = np.minimum(w, a[:, None, :]).sum(axis=2, dtype=np.int64)
        best = np.where(ncat > 0, np.where(valid, overlaps, -1).max(axis=1), 0)
        choice = overlaps / (_CHOICE_Q + w.sum(axis=2, dtype=np.int64))
        passing = valid & (overlaps / _SIZE >= _RHO)
        # The first box in order of choice that passes the vigilance resonates; ties go to the
        # lower category index, as FuzzyArt's stable sort does.
        resonant = passing.any(axis=1)
        winner = np.argmax(np.where(passing, choice, -np.inf), axis=1)
        local = np.arange(len(rows))
        hit = local[resonant]
        w[hit, winner[hit]] = np.minimum(w[hit, winner[hit]], a[hit])
        uses = self.art_uses[rows]
        new = local[~resonant]
        if len(new):
            full = new[ncat[new] >= _CATEGORIES]
            if len(full):
                # Drop the least used box (the oldest among equals), shifting later boxes down.
                gone = np.argmin(uses[full], axis=1)
                idx = np.arange(_CATEGORIES)[None, :]
                shifted = np.minimum(idx + (idx >= gone[:, None]), _CATEGORIES - 1)
                w[full] = np.take_along_axis(w[full], shifted[:, :, None], axis=1)
                uses[full] = np.take_along_axis(uses[full], shifted, axis=1)
                ncat[full] -= 1
            slot = ncat[new]
            w[new, slot] = a[new]
            uses[new, slot] = 0.0
            ncat[new] += 1
            winner[new] = slot
        unit = _ART_UNITS[scored % len(_ART_UNITS)]
        uses[local, winner] = _half(uses[local, winner].astype(np.float64) + unit)
        grown = unit / _ART_DECAY
        big = grown > _RESCALE
        if big.any():
            uses[big] = _half(uses[big].astype(np.float64) / grown[big, None])
        self.art_w[rows], self.art_uses[rows], self.art_ncat[rows] = w, uses, ncat
        self.art_match[rows] = best

    # --- empirical tails --------------------------------------------------------------------

    def _tail(self, raw: Floats) -> Floats:
        ns = len(self)
        avg = self.tail_avg
        short = avg + _TAIL_SHORT * (raw - avg)
        self.tail_avg = short
        weight = _TAIL_UNITS[self.n % len(_TAIL_UNITS)]  # per series; the members step together
        total = self.tail_total
        live = self.n >= _TAIL_WARMUP
        k = _NOVELTY_MEMBERS * ns
        surprise = np.concatenate(
            (
                _tail_step(self.tail_nov, short[:k], live, weight, total),
                _tail_step(self.tail_art, short[k:], live, weight, total),
            )
        )
        self.tail_total = total + weight
        grown = weight / _TAIL_DECAY
        big = np.flatnonzero(grown > _RESCALE)
        if len(big):
            scale = 1.0 / grown[big]
            for counts, members in ((self.tail_nov, _NOVELTY_MEMBERS), (self.tail_art, _ART_MEMBERS)):
                cols = (np.arange(members)[:, None] * ns + big[None, :]).ravel()
                counts[:, cols] = _half(counts[:, cols].astype(np.float64) * np.tile(scale, members)[None, :])
            self.tail_total[big] *= scale
        return surprise / (surprise + _LOG_TAIL_HALF)

    # --- rows and state ---------------------------------------------------------------------

    def take(self, series: Sequence[int] | Ints) -> TocsinBatch:
        """A new batch holding the given series (in that order), e.g. to drop finished ones."""
        idx = np.asarray(series, dtype=np.int64)
        out = TocsinBatch(0)
        n = len(self)
        for name in self._SERIES:
            setattr(out, name, getattr(self, name)[idx].copy())
        for names, k in (
            (self._NOVELTY, _NOVELTY_MEMBERS),
            (self._ART, _ART_MEMBERS),
            (self._TAIL, _MEMBERS),
        ):
            rows = (np.arange(k)[:, None] * n + idx[None, :]).ravel()
            for name in names:
                setattr(out, name, getattr(self, name)[rows].copy())
        for name, k in self._BIN_MAJOR:
            rows = (np.arange(k)[:, None] * n + idx[None, :]).ravel()
            setattr(out, name, getattr(self, name)[:, rows].copy())
        return out

    @classmethod
    def concat(cls, batches: Sequence[TocsinBatch]) -> TocsinBatch:
        """One batch of the series of ``batches``, in order: e.g. ``concat([fleet, TocsinBatch(3)])``
        adds three new series to a fleet."""
        out = cls(0)
        for name in cls._SERIES:
            setattr(out, name, np.concatenate([getattr(b, name) for b in batches]))
        for names, k in (
            (cls._NOVELTY, _NOVELTY_MEMBERS),
            (cls._ART, _ART_MEMBERS),
            (cls._TAIL, _MEMBERS),
        ):
            # Member-stacked rows: member m of every batch, then member m + 1.
            for name in names:
                parts = [getattr(b, name).reshape(k, len(b), *getattr(b, name).shape[1:]) for b in batches]
                joined = np.concatenate(parts, axis=1)
                setattr(out, name, joined.reshape(-1, *joined.shape[2:]))
        for name, k in cls._BIN_MAJOR:
            bins = getattr(out, name).shape[0]
            counts = [getattr(b, name).reshape(bins, k, len(b)) for b in batches]
            setattr(out, name, np.concatenate(counts, axis=2).reshape(bins, -1))
        return out

    def row_state(self, i: int) -> dict[str, Any]:
        """Series ``i``'s state: a few numbers and little-endian arrays as bytes, used slots only.

        Held once, as in memory: the novelty members' decayed total and the tails'. Not stored,
        as the point count determines them: the growing units and the fuzzy-ART block phase.
        Box corners and the ART windows (levels 0..100) are packed in 7 bits each.
        """
        n = len(self)
        if not 0 <= i < n:
            raise IndexError(f"series {i} out of range for a batch of {n}")
        nov = [i + k * n for k in range(_NOVELTY_MEMBERS)]
        art = [i + k * n for k in range(_ART_MEMBERS)]
        tails = [i + k * n for k in range(_MEMBERS)]
        floats = [
            [self.slow[i], self.quick[i], self.peak[i]],
            self.nov_lo[nov],
            self.nov_hi[nov],
            [self.nov_total[i]],
            self.art_sum[art],
            self.tail_avg[tails],
            [self.tail_total[i]],
        ]
        ncat = self.art_ncat[art]
        ints = [self.n[i], self.quiet[i], *self.nov_prev[nov], *self.art_match[art], *ncat]
        levels = [
            self.art_recent[art].ravel(),
            *(self.art_w[r, : ncat[j]].ravel() for j, r in enumerate(art)),
        ]
        bins = [_trim(self.tail_nov[:, r]) for r in nov] + [_trim(self.tail_art[:, r]) for r in art]
        return {
            "v": STATE_VERSION,
            "f": np.concatenate([np.asarray(f, dtype="<f8") for f in floats]).tobytes(),
            "i": [int(v) for v in ints],
            "uni": [_pack_table(self.uni_key[r], self.uni_cnt[r], self.uni_size[r]) for r in nov],
            "bi": [_pack_table(self.bi_key[r], self.bi_cnt[r], self.bi_size[r]) for r in nov],
            "art": _pack_levels(np.concatenate(levels)),
            "uses": [self.art_uses[r, : ncat[j]].astype("<f2").tobytes() for j, r in enumerate(art)],
            # Bins above the highest used one are zero: each histogram is stored up to its last count.
            "bins": [b.astype("<f2").tobytes() for b in bins],
        }

    def dump_row(self, i: int) -> bytes:
        """Series ``i``'s state as one compact blob: :meth:`row_state` in MessagePack, deflated."""
        return zlib.compress(msgspec.msgpack.encode(self.row_state(i)), 9)

    @classmethod
    def load_rows(cls, blobs: Sequence[bytes]) -> TocsinBatch:
        """A batch of the series whose :meth:`dump_row` blobs are given, in that order."""
        states = []
        for k, blob in enumerate(blobs):
            try:
                states.append(msgspec.msgpack.decode(zlib.decompress(blob)))
            except (zlib.error, msgspec.DecodeError, TypeError) as exc:
                raise StateError(f"series {k}: not a TocsinBatch state blob ({exc})") from exc
        return cls.from_states(states)

    @classmethod
    def from_states(cls, states: Sequence[dict[str, Any]]) -> TocsinBatch:
        """A batch of the series whose :meth:`row_state` snapshots are given, in that order."""
        batch = cls(len(states))
        n = len(states)
        for i, state in enumerate(states):
            try:
                batch._load_row(i, n, state)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                raise StateError(f"bad state for series {i} of the batch: {exc!r}") from exc
        return batch

    def _load_row(self, i: int, n: int, state: dict[str, Any]) -> None:
        if state.get("v") != STATE_VERSION:
            raise ValueError(f"unknown state version {state.get('v')!r}")
        nov = [i + k * n for k in range(_NOVELTY_MEMBERS)]
        art = [i + k * n for k in range(_ART_MEMBERS)]
        tails = [i + k * n for k in range(_MEMBERS)]
        f = np.frombuffer(state["f"], dtype="<f8")
        if len(f) != _FLOATS:
            raise ValueError(f"expected {_FLOATS} numbers, got {len(f)}")
        ints = [int(v) for v in state["i"]]
        if len(ints) != _INTS:
            raise ValueError(f"expected {_INTS} integers, got {len(ints)}")
        self.slow[i], self.quick[i], self.peak[i] = f[0:3]
        self.nov_lo[nov], self.nov_hi[nov], self.nov_total[i] = f[3:6], f[6:9], f[9]
        self.art_sum[art], self.tail_avg[tails], self.tail_total[i] = f[10:12], f[12:17], f[17]
        if ints[0] < 0 or not 0 <= ints[1] <= _HOLD:
            raise ValueError(f"bad point count or hold {ints[:2]}")
        if max(abs(v) for v in ints[2:5]) > _LIMIT or not all(0 <= v <= _SIZE for v in ints[5:7]):
            raise ValueError(f"bad band or match {ints[2:7]}")
        ncat = ints[7:9]
        if not all(0 <= k <= _CATEGORIES for k in ncat):
            raise ValueError(f"{ncat} fuzzy-ART boxes (at most {_CATEGORIES})")
        self.n[i], self.quiet[i] = ints[0], ints[1]
        self.nov_prev[nov], self.art_match[art], self.art_ncat[art] = ints[2:5], ints[5:7], ncat
        for r, uni, bi in zip(nov, state["uni"], state["bi"], strict=True):
            keys, counts = _unpack_table(uni, np.int8)
            if len(keys) and np.abs(keys).max() > _LIMIT:
                raise ValueError(f"band beyond +-{_LIMIT}")
            k = len(keys)
            self.uni_key[r, :k], self.uni_cnt[r, :k], self.uni_size[r] = keys, counts, k
            keys, counts = _unpack_table(bi, np.uint16)
            if len(keys) and keys.max() >= _KEYS * _KEYS:
                raise ValueError("move beyond the band grid")
            k = len(keys)
            self.bi_key[r, :k], self.bi_cnt[r, :k], self.bi_size[r] = keys, counts, k
        width = 2 * _WINDOW
        levels = _unpack_levels(state["art"], _ART_MEMBERS * _WINDOW + width * sum(ncat))
        self.art_recent[art] = levels[: _ART_MEMBERS * _WINDOW].reshape(_ART_MEMBERS, _WINDOW)
        at = _ART_MEMBERS * _WINDOW
        for r, k, uses in zip(art, ncat, state["uses"], strict=True):
            self.art_w[r, :k] = levels[at : at + k * width].reshape(k, width)
            at += k * width
            if len(uses) != 2 * k:
                raise ValueError(f"{len(uses)} use bytes for {k} boxes")
            self.art_uses[r, :k] = np.frombuffer(uses, dtype="<f2")
        for j, (r, bins) in enumerate(zip(tails, state["bins"], strict=True)):
            counts = np.frombuffer(bins, dtype="<f2")
            table, col = (
                (self.tail_nov, r) if j < _NOVELTY_MEMBERS else (self.tail_art, r - _NOVELTY_MEMBERS * n)
            )
            if len(counts) > len(table):
                raise ValueError(f"{len(counts)} tail bins (at most {len(table)} for member {j})")
            table[: len(counts), col] = counts


def _find(keys: Small, size: Small, want: Ints) -> tuple[npt.NDArray[np.bool_], Ints]:
    """Per row, whether ``want`` is among the used slots, and its slot (0 if absent)."""
    match = (np.arange(keys.shape[1])[None, :] < size[:, None]) & (keys == want[:, None])
    return match.any(axis=1), np.argmax(match, axis=1)


def _learn(
    key: Small, cnt: Half, size: Small, has: npt.NDArray[np.bool_], slot: Ints, want: Ints, c: Half
) -> None:
    """Set ``want``'s count to ``c`` per row: in its slot if present, else appended; a full table
    then drops its rarest entry, the oldest among equals (min() over a dict, which iterates in
    insertion order), and later slots move down to keep the order."""
    hit = np.flatnonzero(has)
    cnt[hit, slot[hit]] = c[hit]
    new = np.flatnonzero(~has)
    room, full = new[size[new] < _CAP], new[size[new] >= _CAP]
    if len(room):
        at = size[room].astype(np.int64)
        key[room, at], cnt[room, at] = want[room], c[room]
        size[room] += 1
    if len(full):
        # Inserting, then evicting the rarest: the new entry is the newest, so it is the one
        # dropped only if it is rarer than every old one; else the old rarest goes.
        gone = np.argmin(cnt[full], axis=1)
        stay = c[full] >= cnt[full, gone]
        full, gone = full[stay], gone[stay]
        idx = np.arange(_CAP)[None, :]
        shifted = np.minimum(idx + (idx >= gone[:, None]), _CAP - 1)
        key[full] = np.take_along_axis(key[full], shifted, axis=1)
        cnt[full] = np.take_along_axis(cnt[full], shifted, axis=1)
        key[full, -1], cnt[full, -1] = want[full], c[full]


def _tail_step(
    counts: Half, short: Floats, live: npt.NDArray[np.bool_], weight: Floats, total: Floats
) -> Floats:
    """Tail surprise of the short averages of one kind of member (rows member-major), then learn
    them into ``counts`` (bins, rows); ``live``, ``weight`` and ``total`` are per series."""
    members = len(short) // len(weight)
    w = np.tile(weight, members)
    surprise = _f(len(short))
    rows = np.flatnonzero(np.tile(live, members))
    if len(rows):
        surprise[rows] = _neg_log_tail(counts, rows, short[rows], w[rows], np.tile(total, members)[rows])
    # Learn: the averaged raw score goes into its bin.
    b = np.minimum(np.trunc(_libm(math.log2, 1.0 + short) * _PER_OCTAVE).astype(np.int64), len(counts) - 1)
    cell = (np.maximum(b, 0), np.arange(len(short)))
    counts[cell] = _half(counts[cell].astype(np.float64) + w)
    return surprise


def _neg_log_tail(table: Half, rows: Ints, r: Floats, weight: Floats, total: Floats) -> Floats:
    bins = len(table)
    counts = (table if len(rows) == table.shape[1] else table[:, rows]).astype(np.float64)
    u = _libm(math.log2, 1.0 + r) * _PER_OCTAVE
    b = np.maximum(np.minimum(np.trunc(u).astype(np.int64), bins - 1), 0)
    # Python's sum() over counts[b + 1:] adds left to right, so this does too, bin by bin
    # (np.sum would add pairwise and round differently); bins up to b add exact zeros.
    above_b = _f(len(rows))
    for j in range(1, bins):
        above_b += np.where(b < j, counts[j], 0.0)
    at_b = counts[b, np.arange(len(rows))]
    above = above_b + at_b * (1.0 - np.minimum(u - b, 1.0))
    p = (above + 0.5 * weight) / (total + 0.5 * weight)
    empty = above <= 0.0
    if empty.any():
        nonzero = counts[:, empty].T > 0.0
        top = np.where(nonzero.any(axis=1), bins - np.argmax(nonzero[:, ::-1], axis=1), 0)
        p[empty] *= _libm(_exp2, -np.maximum(u[empty] - top, 0.0))
    return np.maximum(-_libm(math.log, p), 0.0)


def _trim(counts: Half) -> Half:
    nonzero = np.flatnonzero(counts)
    return counts[: nonzero[-1] + 1] if len(nonzero) else counts[:0]


def _pack_table(key: Small, cnt: Half, size: np.integer[Any]) -> bytes:
    # Used slots only, in insertion order (oldest first): the order is what eviction needs.
    k = int(size)
    return key[:k].astype(key.dtype.newbyteorder("<")).tobytes() + cnt[:k].astype("<f2").tobytes()


def _unpack_table(data: bytes, key_type: type[np.integer[Any]]) -> tuple[Ints, Half]:
    size = np.dtype(key_type).itemsize
    per = size + 2
    if len(data) % per or len(data) // per > _CAP:
        raise ValueError(f"table of {len(data)} bytes is not a whole number of entries (at most {_CAP})")
    k = len(data) // per
    keys = np.frombuffer(data[: k * size], dtype=np.dtype(key_type).newbyteorder("<")).astype(np.int64)
    if len(np.unique(keys)) != k:
        raise ValueError("a table holds the same key twice")
    return keys, np.frombuffer(data[k * size :], dtype="<f2")


def _pack_levels(levels: Small) -> bytes:
    """Levels 0.._LEVELS, 7 bits each (the top bit of each byte is always 0)."""
    bits = np.unpackbits(levels.astype(np.uint8)[:, None], axis=1)[:, 8 - _LEVEL_BITS :]
    return np.packbits(bits.ravel()).tobytes()


def _unpack_levels(data: bytes, count: int) -> Small:
    if len(data) != (count * _LEVEL_BITS + 7) // 8:
        raise ValueError(f"{len(data)} bytes do not hold {count} levels of {_LEVEL_BITS} bits")
    bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * _LEVEL_BITS].reshape(
        count, _LEVEL_BITS
    )
    levels = np.packbits(np.pad(bits, ((0, 0), (8 - _LEVEL_BITS, 0))), axis=1).ravel()
    if len(levels) and levels.max() > _LEVELS:
        raise ValueError(f"level beyond {_LEVELS}")
    return levels


def _libm(fn: Callable[[float], float], x: Floats) -> Floats:
    """``fn`` (a ``math`` function) of every element. numpy's own log, log2 and power are SIMD
    code on some CPUs (AVX-512 builds use approximations good to a few ulp), and the scalar
    detector calls the C library through ``math``: going through ``math`` here too keeps the
    two bit-identical on every machine. It costs about 0.1 us per element."""
    return np.fromiter(map(fn, x.tolist()), np.float64, count=len(x))


def _exp2(x: float) -> float:
    return 2.0**x  # the scalar detector's ``2.0 ** -max(u - top, 0.0)``: C's pow()
