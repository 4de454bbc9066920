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
  ``0..n-1``, ``n..2n-1`` and ``2n..3n-1`` of the novelty arrays; the unigram dict becomes a
  dense row of cells (one per possible band) and the capped bigram dict fixed slots, both with
  an insertion stamp, so "evict the rarest, the oldest first among equals" (dict order) is kept;
- two fuzzy-ART members (raw values, EW average alpha 0.2): rows ``0..n-1`` and ``n..2n-1``;
- five empirical tails, one per member, in the ensemble's member order;
- the ensemble's maximum and the refractory hold.

Per-series state (:meth:`TocsinBatch.row_state`, :meth:`TocsinBatch.dump_row`) stores only the
used slots, counts as binary16 bytes, so a series' detector can be saved and restored alone, or
moved between batches; deflated it stays under 2 KB on NAB (benchmarks/nab/README.md).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from tocsin.intelligence.anomaly.base import HALF_RESCALE, StateError

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]

STATE_VERSION = 1
_FLOATS = 29  # float64 numbers in a row state (see TocsinBatch.row_state)
_INTS = 9

# Context novelty (ContextNovelty defaults).
_BANDS = 12
_LIMIT = 8 * _BANDS  # bands are clipped to +-_LIMIT
_NOV_DECAY = 0.999
_CAP = 48
_SLOTS = _CAP + 1  # one spare slot: insert first, then evict the rarest, as the dict does
_NOV_WARMUP = 150
_KEYS = 2 * _LIMIT + 1  # bigram key = (prev + LIMIT) * _KEYS + (band + LIMIT)
_BAND_AXIS = np.arange(-_LIMIT, _LIMIT + 1)
_FAR = np.iinfo(np.int64).max
# Fuzzy ART (tocsin_detector's members: window 10, stride 2, decay 0.999).
_WINDOW = 10
_STRIDE = 2
_RHO = 0.9
_CATEGORIES = 16
_LEVELS = 100
_CHOICE_Q = 0.01 * _LEVELS  # choice parameter times levels, as FuzzyArt computes it
_ART_DECAY = 0.999
_ART_WARMUP = 150
_SIZE = _WINDOW * _LEVELS
# Empirical tail (EmpiricalTail defaults).
_TAIL_SHORT = 0.2
_TAIL_DECAY = 0.9995
_TAIL_WARMUP = 200
_BINS = 32
_PER_OCTAVE = 4.0
_LOG_TAIL_HALF = 20.0
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


def _half(x: Floats) -> Floats:
    """Round to the nearest half-precision value (ties to even), kept as float64."""
    return x.astype(np.float16).astype(np.float64)


def _f(shape: int | tuple[int, ...], value: float = 0.0) -> Floats:
    return np.full(shape, value, dtype=np.float64)


def _i(shape: int | tuple[int, ...], value: int = 0) -> Ints:
    return np.full(shape, value, dtype=np.int64)


class TocsinBatch:
    """``tocsin_detector()`` for ``n`` series, advanced together one tick at a time."""

    # Arrays with one row per series (first dimension n) or per member row (k * n), and their
    # sizes per row; used by take() and the per-series state.
    _SERIES = ("n", "slow", "quick", "peak", "quiet")
    _NOVELTY = ("nov_lo", "nov_hi", "nov_width", "nov_prev", "nov_weight", "nov_total")
    _NOVELTY_TABLES = ("uni_cnt", "uni_born", "uni_size", "bi_key", "bi_cnt", "bi_born", "bi_size")
    _ART = ("art_lo", "art_hi", "art_sum", "art_len", "art_rlen", "art_ncat", "art_unit", "art_last")
    _ART_TABLES = ("art_recent", "art_w", "art_uses")
    _TAIL = ("tail_avg", "tail_weight", "tail_total")

    def __init__(self, n: int = 0) -> None:
        if n < 0:
            raise ValueError(f"n must be non-negative, got {n!r}")
        self.n = _i(n)
        self.slow = _f(n)
        self.quick = _f(n)
        self.peak = _f(n)
        self.quiet = _i(n)
        r = _NOVELTY_MEMBERS * n
        self.nov_lo, self.nov_hi = _f(r, math.inf), _f(r, -math.inf)
        self.nov_width, self.nov_prev = _f(r), _i(r)
        self.nov_weight, self.nov_total = _f(r, 1.0), _f(r)
        self.uni_cnt, self.uni_born, self.uni_size = _f((r, _KEYS)), _i((r, _KEYS), -1), _i(r)
        self.bi_key, self.bi_cnt, self.bi_born = _i((r, _SLOTS)), _f((r, _SLOTS)), _i((r, _SLOTS), -1)
        self.bi_size = _i(r)
        a = _ART_MEMBERS * n
        self.art_lo, self.art_hi = _f(a, math.inf), _f(a, -math.inf)
        self.art_sum, self.art_len, self.art_rlen = _f(a), _i(a), _i(a)
        self.art_ncat, self.art_unit, self.art_last = _i(a), _f(a, 1.0), _f(a)
        self.art_recent = _i((a, _WINDOW))
        # Box corners are on the 0..levels grid: uint8 keeps the category search cheap.
        self.art_w = np.zeros((a, _CATEGORIES, 2 * _WINDOW), dtype=np.uint8)
        self.art_uses = _f((a, _CATEGORIES))
        m = _MEMBERS * n
        self.tail_avg, self.tail_weight, self.tail_total = _f(m), _f(m, 1.0), _f(m)
        # Bin-major (bins, rows): the left-to-right sum over bins is then a loop of contiguous adds.
        self.tail_counts = _f((_BINS, m))

    def __len__(self) -> int:
        return len(self.n)

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
        scores = self._tail(np.concatenate((nov_raw, art_raw)), np.tile(self.n, _MEMBERS))
        self.n = self.n + 1
        best = np.maximum(scores.reshape(_MEMBERS, len(self)).max(axis=0), 0.0)
        return self._refractory(best)

    def _refractory(self, score: Floats) -> Floats:
        quiet = self.quiet
        out = np.where(quiet > 0, 0.0, np.where(score > self.peak * _PEAK_DECAY, score, score * 0.0))
        self.peak = np.maximum(self.peak * _PEAK_DECAY, score)
        self.quiet = np.where(quiet > 0, quiet - 1, np.where(out >= _HOLD_LEVEL, _HOLD, 0))
        return out

    # --- context novelty --------------------------------------------------------------------

    def _band(self, v: Floats, rows: Ints | slice) -> Ints:
        width = self.nov_width[rows]
        safe = np.where(width > 0.0, width, 1.0)  # rows still warming up have no width yet
        return np.clip(np.floor((v - self.nov_lo[rows]) / safe), -_LIMIT, _LIMIT).astype(np.int64)

    def _novelty(self, v: Floats, n: Ints) -> Floats:
        raw = _f(len(v))
        live = np.flatnonzero(n >= _NOV_WARMUP)
        if len(live):
            raw[live] = self._novelty_live(live, v[live], n[live] + 1)
        new_n = n + 1
        warm = np.flatnonzero(new_n <= _NOV_WARMUP)
        if len(warm):
            self.nov_lo[warm] = np.minimum(self.nov_lo[warm], v[warm])
            self.nov_hi[warm] = np.maximum(self.nov_hi[warm], v[warm])
            done = warm[new_n[warm] == _NOV_WARMUP]
            if len(done):
                # Warm-up done: fix the band width from the range seen, then count from here on.
                hi = self.nov_hi[done]
                self.nov_width[done] = np.maximum(hi - self.nov_lo[done], 1e-9 * (1.0 + np.abs(hi))) / _BANDS
                self.nov_prev[done] = self._band(v[done], done)
        return raw

    def _novelty_live(self, rows: Ints, v: Floats, stamp: Ints) -> Floats:
        """Raw surprise of the point for rows past the warm-up, then learn it."""
        band = self._band(v, rows)
        prev = self.nov_prev[rows]
        w = self.nov_weight[rows]
        total = self.nov_total[rows]
        # The unigram table is dense (one cell per possible band); born < 0 marks an empty cell.
        cell = band + _LIMIT
        seen = self.uni_cnt[rows, cell]
        from_prev = self.uni_cnt[rows, prev + _LIMIT]
        # The bigram table has slots; the match found here is reused to learn the same move.
        move = (prev + _LIMIT) * _KEYS + (band + _LIMIT)
        every = len(rows) == len(self.bi_key)  # steady state: all rows live, no gather needed
        b_used = (self.bi_born if every else self.bi_born[rows]) >= 0
        match = b_used & ((self.bi_key if every else self.bi_key[rows]) == move[:, None])
        has = match.any(axis=1)
        slot = np.where(has, np.argmax(match, axis=1), np.argmax(~b_used, axis=1))
        moved = np.where(has, self.bi_cnt[rows, slot], 0.0)
        p_band = (seen + 0.1 * w) / (total + w)
        p_move = (moved + 0.1 * w) / (from_prev + w)
        surprise = -np.log(p_band) - np.log(p_move)
        u_count = self.uni_size[rows]
        u_new = self.uni_born[rows, cell] < 0
        unseen = np.flatnonzero(u_new & (u_count > 0))
        if len(unseen):
            # An unseen band says nothing about how far out it lies: add the log distance to the
            # nearest known band.
            used = self.uni_born[rows[unseen]] >= 0
            dist = np.where(used, np.abs(_BAND_AXIS[None, :] - band[unseen, None]), _FAR)
            surprise[unseen] += np.log(dist.min(axis=1).astype(np.float64))
        # Learn: bigram first, then unigram, each evicting its rarest entry past the cap.
        self.bi_cnt[rows, slot] = _half(self.bi_cnt[rows, slot] + w)
        self.bi_key[rows, slot] = move
        self.bi_born[rows, slot] = np.where(has, self.bi_born[rows, slot], stamp)
        b_over = np.flatnonzero(self.bi_size[rows] + ~has > _CAP)
        self.bi_size[rows] += ~has
        if len(b_over):
            over = rows[b_over]
            b_cnt, b_born = self.bi_cnt[over], self.bi_born[over]
            _evict_rarest(b_cnt, b_born, np.arange(len(over)))
            self.bi_cnt[over], self.bi_born[over] = b_cnt, b_born
            self.bi_size[over] -= 1
        self.uni_cnt[rows, cell] = _half(self.uni_cnt[rows, cell] + w)
        self.uni_born[rows, cell] = np.where(u_new, stamp, self.uni_born[rows, cell])
        u_count = u_count + u_new
        u_over = np.flatnonzero(u_count > _CAP)
        if len(u_over):
            over = rows[u_over]
            u_cnt, u_born = self.uni_cnt[over], self.uni_born[over]
            _evict_rarest(u_cnt, u_born, np.arange(len(over)))
            self.uni_cnt[over], self.uni_born[over] = u_cnt, u_born
            u_count[u_over] -= 1
        self.uni_size[rows] = u_count
        self.nov_total[rows] = total + w
        self.nov_prev[rows] = band
        weight = w / _NOV_DECAY
        self.nov_weight[rows] = weight
        big = rows[weight > _RESCALE]
        if len(big):
            scale = 1.0 / self.nov_weight[big]
            for cnt, born, size in (
                (self.uni_cnt, self.uni_born, self.uni_size),
                (self.bi_cnt, self.bi_born, self.bi_size),
            ):
                c = _half(cnt[big] * scale[:, None])
                # A count that underflows half precision is forgotten, as if evicted.
                b = np.where(c > 0.0, born[big], -1)
                cnt[big], born[big], size[big] = c, b, (b >= 0).sum(axis=1)
            self.nov_total[big] *= scale
            self.nov_weight[big] = 1.0
        return surprise

    # --- fuzzy ART --------------------------------------------------------------------------

    def _art(self, v: Floats, n: Ints) -> Floats:
        new_n = n + 1
        warm = np.flatnonzero(new_n <= _ART_WARMUP)
        if len(warm):
            self.art_lo[warm] = np.minimum(self.art_lo[warm], v[warm])
            self.art_hi[warm] = np.maximum(self.art_hi[warm], v[warm])
        live = np.flatnonzero(new_n > _ART_WARMUP)
        if len(live):
            self.art_sum[live] += v[live]
            self.art_len[live] += 1
            full = live[self.art_len[live] >= _STRIDE]
            if len(full):
                self._art_block(full)
        # Warm-up rows return 0.0 and their last raw score is still 0.0.
        return self.art_last.copy()

    def _art_block(self, rows: Ints) -> None:
        lo, hi = self.art_lo[rows], self.art_hi[rows]
        span = np.maximum(hi - lo, 1e-9 * (1.0 + np.abs(hi)))
        u = 0.25 + 0.5 * (self.art_sum[rows] / _STRIDE - lo) / span
        q = np.rint(np.minimum(np.maximum(u, 0.0), 1.0) * _LEVELS).astype(np.int64)
        self.art_sum[rows], self.art_len[rows] = 0.0, 0
        recent = self.art_recent[rows]
        recent[:, :-1] = recent[:, 1:]
        recent[:, -1] = q
        self.art_recent[rows] = recent
        rlen = np.minimum(self.art_rlen[rows] + 1, _WINDOW)
        self.art_rlen[rows] = rlen
        ready = rows[rlen == _WINDOW]
        if len(ready):
            self._resonate(ready)

    def _resonate(self, rows: Ints) -> None:
        recent = self.art_recent[rows]
        a = np.concatenate((recent, _LEVELS - recent), axis=1).astype(np.uint8)  # complement coding
        w = self.art_w[rows]
        ncat = self.art_ncat[rows]
        valid = np.arange(_CATEGORIES)[None, :] < ncat[:, None]
        overlaps = np.minimum(w, a[:, None, :]).sum(axis=2, dtype=np.int64)
        best = np.where(valid, overlaps, -1).max(axis=1).astype(np.float64) / _SIZE
        best = np.where(ncat > 0, best, 0.0)
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
        unit = self.art_unit[rows]
        uses[local, winner] = _half(uses[local, winner] + unit)
        unit = unit / _ART_DECAY
        big = unit > _RESCALE
        if big.any():
            uses[big] = _half(uses[big] / unit[big, None])
            unit[big] = 1.0
        self.art_w[rows], self.art_uses[rows], self.art_ncat[rows] = w, uses, ncat
        self.art_unit[rows] = unit
        self.art_last[rows] = 1.0 - best

    # --- empirical tails --------------------------------------------------------------------

    def _tail(self, raw: Floats, n: Ints) -> Floats:
        avg = self.tail_avg
        short = avg + _TAIL_SHORT * (raw - avg)
        surprise = _f(len(raw))
        live = np.flatnonzero(n >= _TAIL_WARMUP)
        if len(live):
            surprise[live] = self._neg_log_tail(live, short[live])
        # Learn: the averaged raw score goes into its bin.
        self.tail_avg = short
        weight = self.tail_weight
        b = np.minimum(np.trunc(np.log2(1.0 + short) * _PER_OCTAVE).astype(np.int64), _BINS - 1)
        cell = (np.maximum(b, 0), np.arange(len(raw)))
        self.tail_counts[cell] = _half(self.tail_counts[cell] + weight)
        self.tail_total = self.tail_total + weight
        weight = weight / _TAIL_DECAY
        big = weight > _RESCALE
        if big.any():
            scale = 1.0 / weight[big]
            self.tail_counts[:, big] = _half(self.tail_counts[:, big] * scale[None, :])
            self.tail_total[big] *= scale
            weight[big] = 1.0
        self.tail_weight = weight
        return surprise / (surprise + _LOG_TAIL_HALF)

    def _neg_log_tail(self, rows: Ints, r: Floats) -> Floats:
        every = len(rows) == self.tail_counts.shape[1]
        counts = self.tail_counts if every else self.tail_counts[:, rows]
        weight = self.tail_weight[rows]
        u = np.log2(1.0 + r) * _PER_OCTAVE
        b = np.maximum(np.minimum(np.trunc(u).astype(np.int64), _BINS - 1), 0)
        # Python's sum() over counts[b + 1:] adds left to right, so this does too, bin by bin
        # (np.sum would add pairwise and round differently); bins up to b add exact zeros.
        above_b = _f(len(rows))
        for j in range(1, _BINS):
            above_b += np.where(b < j, counts[j], 0.0)
        at_b = counts[b, np.arange(len(rows))]
        above = above_b + at_b * (1.0 - np.minimum(u - b, 1.0))
        p = (above + 0.5 * weight) / (self.tail_total[rows] + 0.5 * weight)
        empty = above <= 0.0
        if empty.any():
            nonzero = counts[:, empty].T > 0.0
            top = np.where(nonzero.any(axis=1), _BINS - np.argmax(nonzero[:, ::-1], axis=1), 0)
            p[empty] *= np.power(2.0, -np.maximum(u[empty] - top, 0.0))
        return np.maximum(-np.log(p), 0.0)

    # --- rows and state ---------------------------------------------------------------------

    def take(self, series: Sequence[int] | Ints) -> TocsinBatch:
        """A new batch holding the given series (in that order), e.g. to drop finished ones."""
        idx = np.asarray(series, dtype=np.int64)
        out = TocsinBatch(0)
        n = len(self)
        for name in self._SERIES:
            setattr(out, name, getattr(self, name)[idx].copy())
        for names, k in (
            (self._NOVELTY + self._NOVELTY_TABLES, _NOVELTY_MEMBERS),
            (self._ART + self._ART_TABLES, _ART_MEMBERS),
            (self._TAIL, _MEMBERS),
        ):
            rows = (np.arange(k)[:, None] * n + idx[None, :]).ravel()
            for name in names:
                setattr(out, name, getattr(self, name)[rows].copy())
            if names is self._TAIL:
                out.tail_counts = self.tail_counts[:, rows].copy()
        return out

    @classmethod
    def concat(cls, batches: Sequence[TocsinBatch]) -> TocsinBatch:
        """One batch of the series of ``batches``, in order: e.g. ``concat([fleet, TocsinBatch(3)])``
        adds three new series to a fleet."""
        out = cls(0)
        for name in cls._SERIES:
            setattr(out, name, np.concatenate([getattr(b, name) for b in batches]))
        for names, k in (
            (cls._NOVELTY + cls._NOVELTY_TABLES, _NOVELTY_MEMBERS),
            (cls._ART + cls._ART_TABLES, _ART_MEMBERS),
            (cls._TAIL, _MEMBERS),
        ):
            # Member-stacked rows: member m of every batch, then member m + 1.
            for name in names:
                parts = [getattr(b, name).reshape(k, len(b), *getattr(b, name).shape[1:]) for b in batches]
                joined = np.concatenate(parts, axis=1)
                setattr(out, name, joined.reshape(-1, *joined.shape[2:]))
        counts = [b.tail_counts.reshape(_BINS, _MEMBERS, len(b)) for b in batches]
        out.tail_counts = np.concatenate(counts, axis=2).reshape(_BINS, -1)
        return out

    def row_state(self, i: int) -> dict[str, Any]:
        """Series ``i``'s state: a few numbers and little-endian arrays as bytes, used slots only.

        What the members share is stored once: the three novelty members and the five tails
        each step their growing unit in lockstep (as do the two ART members), and each ART
        member's warm-up range is that of the novelty member on the same input.
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
            self.nov_total[nov],
            [self.nov_weight[i], self.art_unit[i], self.tail_weight[i]],
            self.art_sum[art],
            self.art_last[art],
            self.tail_avg[tails],
            self.tail_total[tails],
        ]
        ints = [self.n[i], self.quiet[i], *self.nov_prev[nov], *self.art_len[art], *self.art_rlen[art]]
        return {
            "v": STATE_VERSION,
            "f": np.concatenate([np.asarray(f, dtype="<f8") for f in floats]).tobytes(),
            "i": [int(v) for v in ints],
            "uni": [_pack_table(_BAND_AXIS, self.uni_cnt[r], self.uni_born[r], np.int8) for r in nov],
            "bi": [_pack_table(self.bi_key[r], self.bi_cnt[r], self.bi_born[r], np.uint16) for r in nov],
            "recent": self.art_recent[art].astype(np.uint8).tobytes(),
            "boxes": [self.art_w[r, : self.art_ncat[r]].tobytes() for r in art],
            "uses": [self.art_uses[r, : self.art_ncat[r]].astype("<f2").tobytes() for r in art],
            # Bins above the highest used one are zero: each histogram is stored up to its last count.
            "bins": [_trim(self.tail_counts[:, r]).astype("<f2").tobytes() for r in tails],
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
        self.nov_lo[nov], self.nov_hi[nov], self.nov_total[nov] = f[3:6], f[6:9], f[9:12]
        self.nov_weight[nov], self.art_unit[art], self.tail_weight[tails] = f[12], f[13], f[14]
        self.art_sum[art], self.art_last[art] = f[15:17], f[17:19]
        self.tail_avg[tails], self.tail_total[tails] = f[19:24], f[24:29]
        self.n[i], self.quiet[i] = ints[0], ints[1]
        self.nov_prev[nov], self.art_len[art], self.art_rlen[art] = ints[2:5], ints[5:7], ints[7:9]
        if ints[0] < 0 or not 0 <= ints[1] <= _HOLD:
            raise ValueError(f"bad point count or hold {ints[:2]}")
        # Derived, not stored: the band width (fixed when the novelty warm-up ends) and the ART
        # members' warm-up range (the novelty members' on the same input).
        lo, hi = self.nov_lo[nov], self.nov_hi[nov]
        if ints[0] >= _NOV_WARMUP:
            self.nov_width[nov] = np.maximum(hi - lo, 1e-9 * (1.0 + np.abs(hi))) / _BANDS
        self.art_lo[art], self.art_hi[art] = lo[[0, 2]], hi[[0, 2]]
        for r, uni, bi in zip(nov, state["uni"], state["bi"], strict=True):
            keys, counts = _unpack_table(uni, np.int8)
            if len(keys) and np.abs(keys).max() > _LIMIT:
                raise ValueError(f"band beyond +-{_LIMIT}")
            self.uni_cnt[r], self.uni_born[r] = 0.0, -1
            self.uni_cnt[r, keys + _LIMIT] = counts
            self.uni_born[r, keys + _LIMIT] = np.arange(len(keys))
            self.uni_size[r] = len(keys)
            keys, counts = _unpack_table(bi, np.uint16)
            k = len(keys)
            self.bi_key[r], self.bi_cnt[r], self.bi_born[r] = 0, 0.0, -1
            self.bi_key[r, :k], self.bi_cnt[r, :k], self.bi_born[r, :k] = keys, counts, np.arange(k)
            self.bi_size[r] = k
        self.art_recent[art] = np.frombuffer(state["recent"], dtype=np.uint8).reshape(_ART_MEMBERS, _WINDOW)
        for r, boxes, uses in zip(art, state["boxes"], state["uses"], strict=True):
            w = np.frombuffer(boxes, dtype=np.uint8)
            k = len(w) // (2 * _WINDOW)
            if len(w) != k * 2 * _WINDOW or k > _CATEGORIES or len(uses) != 2 * k:
                raise ValueError(
                    f"{len(w)} box bytes and {len(uses)} use bytes do not make up to {_CATEGORIES} boxes"
                )
            self.art_ncat[r] = k
            self.art_w[r] = 0
            self.art_w[r, :k] = w.reshape(k, 2 * _WINDOW)
            self.art_uses[r] = 0.0
            self.art_uses[r, :k] = np.frombuffer(uses, dtype="<f2")
        for r, bins in zip(tails, state["bins"], strict=True):
            counts = np.frombuffer(bins, dtype="<f2").astype(np.float64)
            if len(counts) > _BINS:
                raise ValueError(f"{len(counts)} tail bins (at most {_BINS})")
            self.tail_counts[:, r] = 0.0
            self.tail_counts[: len(counts), r] = counts


def _evict_rarest(cnt: Floats, born: Ints, over: Ints) -> None:
    """Empty the rarest entry of the given rows; among equals the oldest, as min() over a dict
    (which iterates in insertion order) picks it."""
    c = np.where(born[over] >= 0, cnt[over], np.inf)
    rarest = c == c.min(axis=1)[:, None]
    gone = np.argmin(np.where(rarest, born[over], _FAR), axis=1)
    cnt[over, gone] = 0.0
    born[over, gone] = -1


def _trim(counts: Floats) -> Floats:
    nonzero = np.flatnonzero(counts)
    return counts[: nonzero[-1] + 1] if len(nonzero) else counts[:0]


def _pack_table(key: Ints, cnt: Floats, born: Ints, key_type: type[np.integer[Any]]) -> bytes:
    # Only used slots, in insertion order (oldest first): the order is all that the stamps mean.
    order = np.argsort(np.where(born >= 0, born, np.iinfo(np.int64).max), kind="stable")
    order = order[born[order] >= 0]
    return key[order].astype(key_type).tobytes() + cnt[order].astype("<f2").tobytes()


def _unpack_table(data: bytes, key_type: type[np.integer[Any]]) -> tuple[Ints, Floats]:
    size = np.dtype(key_type).itemsize
    per = size + 2
    if len(data) % per or len(data) // per > _CAP:
        raise ValueError(f"table of {len(data)} bytes is not a whole number of entries (at most {_CAP})")
    k = len(data) // per
    keys = np.frombuffer(data[: k * size], dtype=key_type).astype(np.int64)
    if len(np.unique(keys)) != k:
        raise ValueError("a table holds the same key twice")
    return keys, np.frombuffer(data[k * size :], dtype="<f2").astype(np.float64)
