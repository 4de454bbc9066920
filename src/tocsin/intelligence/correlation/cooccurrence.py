"""Learned co-occurrence: which kinds of alert fired close together in an alert history.

An alert's *key* is ``service/alertname`` (what is wrong where). Learning counts, over a past
stream, how often two different keys started within ``window_s`` of each other. The strength of a
pair is the overlap coefficient ``n_ab / min(n_a, n_b)``: 1 when the rarer of the two never fires
without the other. No fault labels are involved, only the alerts themselves, so the model can be
learned on any history an operator has.

The same counts at service level give a learned topology (an edge where two services' alerts
co-occur often), for systems that ship no call graph.

A model can be learned at once from a stored history (:meth:`CooccurrenceModel.learn`) or alert by
alert from a live stream (:meth:`CooccurrenceModel.observe`, what the service does); both count the
same way. A live model is bounded by :meth:`CooccurrenceModel.bound` (the rarest keys and pairs are
dropped) and saved and restored with :meth:`to_dict` / :meth:`from_dict`.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tocsin.intelligence.correlation.counts import keep_after_cut, rarest
from tocsin.model import Alert

#: Version of the ``to_dict`` layout. 2 names each key once and the pairs by index into those
#: names: 1 repeated two ``service/alertname`` strings in every pair, and with 200 kinds of alert a
#: tenant's document took 1.4 MB (0.43 MB now, encoded in 16 ms instead of 41). ``from_dict``
#: reads 1 and 2.
FORMAT_VERSION = 2
READ_VERSIONS = (1, 2)


def alert_key(alert: Alert, service: str) -> str:
    return f"{service}/{alert.name}"


@dataclass(frozen=True)
class PairStrength:
    count: int
    strength: float


class _Recent:
    """One alert still inside the window: partners may arrive within ``window_s`` of it."""

    __slots__ = ("accompanied", "key", "service", "t")

    def __init__(self, t: float, key: str, service: str) -> None:
        self.t = t
        self.key = key
        self.service = service
        # Whether another service's alert started within the window of it (counted once).
        self.accompanied = False


class CooccurrenceModel:
    def __init__(
        self,
        window_s: float = 120.0,
        min_count: int = 2,
        lateness_s: float | None = None,
        max_recent: int = 1000,
    ) -> None:
        if not (math.isfinite(window_s) and window_s > 0):
            raise ValueError(f"co-occurrence window_s must be a finite number > 0, got {window_s}")
        if min_count < 1:
            raise ValueError(f"co-occurrence min_count must be >= 1, got {min_count}")
        lateness = window_s if lateness_s is None else lateness_s
        if not (math.isfinite(lateness) and lateness >= 0):
            raise ValueError(f"co-occurrence lateness_s must be a finite number >= 0, got {lateness_s}")
        if max_recent < 1:
            raise ValueError(f"co-occurrence max_recent must be >= 1, got {max_recent}")
        self.window_s = window_s
        self.min_count = min_count
        #: How far behind the latest start an alert may arrive and still find its partners: a live
        #: stream reaches the model in flush order (group_wait after each group starts), not in
        #: start order.
        self.lateness_s = lateness
        #: At most this many alerts are held in the window: an alert storm (thousands starting
        #: together) would otherwise make each alert cost as much as the storm; beyond it the
        #: earliest stop pairing.
        self.max_recent = max_recent
        self.key_counts: Counter[str] = Counter()
        self.pair_counts: Counter[tuple[str, str]] = Counter()
        self.service_counts: Counter[str] = Counter()
        self.service_pairs: Counter[tuple[str, str]] = Counter()
        # How many of a service's alerts had another service's alert within the window (either side).
        self.service_accompanied: Counter[str] = Counter()
        #: Alerts counted in all (kept apart from key_counts, which bound() may trim).
        self.alerts_seen = 0
        self.first_start = float("inf")
        self.last_start = float("-inf")
        # Alerts inside the window of the latest start, ordered by start, and indexes of them: the
        # sorted starts of each key and service in it, and per service those of its alerts that
        # no other service's alert accompanied yet.
        self._recent: list[_Recent] = []
        self._key_times: dict[str, list[float]] = {}
        self._service_times: dict[str, list[float]] = {}
        self._unaccompanied: dict[str, list[_Recent]] = {}

    @staticmethod
    def _pair(a: str, b: str) -> tuple[str, str]:
        return (a, b) if a <= b else (b, a)

    # --- counting --------------------------------------------------------------------------------

    def learn(self, alerts: Iterable[Alert], service_of: Callable[[Alert], str]) -> CooccurrenceModel:
        """Count co-occurrences in a stream ordered by ``starts_at``; returns self for chaining."""
        last_start = float("-inf")
        for alert in alerts:
            t = alert.starts_at
            if t < last_start:
                raise ValueError(
                    f"co-occurrence history must be ordered by starts_at: {t} came after {last_start}"
                )
            last_start = t
            self._count(alert, service_of(alert))
        return self

    def observe(self, alert: Alert, service: str) -> None:
        """Count one alert of a live stream, in O(kinds of alert within the window).

        Alerts may come slightly out of start order: one that starts up to ``lateness_s`` before
        the latest start still pairs with everything within ``window_s`` of it. Strengths read
        afterwards reflect it: they are computed from the counts when read.
        """
        if not math.isfinite(alert.starts_at):
            raise ValueError(f"co-occurrence: alert {alert.name!r} has no finite starts_at")
        self._count(alert, service)

    def _count(self, alert: Alert, service: str) -> None:
        t = alert.starts_at
        w = self.window_s
        recent = self._recent
        self.last_start = max(self.last_start, t)
        self.first_start = min(self.first_start, t)
        horizon = self.last_start - w - self.lateness_s
        drop = bisect.bisect_left(recent, horizon, key=_start)
        if drop:
            for r in recent[:drop]:
                self._leave_window(r)
            del recent[:drop]
        key = alert_key(alert, service)
        self.alerts_seen += 1
        self.key_counts[key] += 1
        self.service_counts[service] += 1
        lo, hi = t - w, t + w
        # Each distinct partner counts once per alert, so a burst of one partner's re-fires does
        # not inflate the pair. Partners are found per distinct key and service in the window
        # (a look-up each), not per alert in it: in a storm of thousands of alerts of a few kinds
        # the per-alert walk cost 1.4 ms per alert. This look-up runs once per kind of alert in
        # the window for every alert, so the common case is written inline: the latest start of
        # a name is within reach (or all of its starts are before it), and only a name with
        # starts after ``hi`` (an alert arriving late) needs the bisection.
        keys = [
            k
            for k, times in self._key_times.items()
            if (lo <= times[-1] <= hi or (times[-1] > hi and _any_within(times, lo, hi))) and k != key
        ]
        others = [
            s
            for s, times in self._service_times.items()
            if (lo <= times[-1] <= hi or (times[-1] > hi and _any_within(times, lo, hi))) and s != service
        ]
        me = _Recent(t, key, service)
        if others:
            me.accompanied = True
            self.service_accompanied[service] += 1
            for other in others:
                # Alerts of the other service in reach that had no other service's alert yet.
                waiting = self._unaccompanied.get(other)
                if not waiting:
                    continue
                i = bisect.bisect_left(waiting, lo, key=_start)
                j = bisect.bisect_right(waiting, hi, key=_start)
                if i < j:
                    for r in waiting[i:j]:
                        r.accompanied = True
                    self.service_accompanied[other] += j - i
                    del waiting[i:j]
        # Counter.update counts in C, in the order given (the order rarest() breaks ties by).
        self.pair_counts.update([(key, o) if key <= o else (o, key) for o in keys])
        self.service_pairs.update([(service, o) if service <= o else (o, service) for o in others])
        recent.insert(bisect.bisect_right(recent, t, key=_start), me)
        bisect.insort(self._key_times.setdefault(key, []), t)
        bisect.insort(self._service_times.setdefault(service, []), t)
        if not me.accompanied:
            bisect.insort(self._unaccompanied.setdefault(service, []), me, key=_start)
        if len(recent) > self.max_recent:
            self._leave_window(recent.pop(0))

    def _leave_window(self, r: _Recent) -> None:
        """Forget an alert that left the window (the earliest of it, so the earliest of its key's,
        its service's and, if it waits for company, the waiting list's)."""
        for index, name in ((self._key_times, r.key), (self._service_times, r.service)):
            times = index[name]
            del times[bisect.bisect_left(times, r.t)]  # any equal start will do
            if not times:
                del index[name]
        if not r.accompanied:
            waiting = self._unaccompanied[r.service]
            i = bisect.bisect_left(waiting, r.t, key=_start)
            while waiting[i] is not r:  # equal starts: this very alert
                i += 1
            del waiting[i]
            if not waiting:
                del self._unaccompanied[r.service]

    # --- strengths ---------------------------------------------------------------------------------

    # Strengths are computed from the counts when read, not kept in tables: a live stream changes
    # the denominator of every pair of each alert's key, and re-tabulating those pairs cost more
    # per alert (0.05-0.7 ms in a storm of 20-200 kinds) than the few reads the correlator makes.
    # The arithmetic is that of strength(), service_strength() and companion_rate(), written out
    # without builtin calls (min): these run for every strength the correlator reads.

    def strength_value(self, key_a: str, key_b: str) -> float:
        pair = (key_a, key_b) if key_a <= key_b else (key_b, key_a)
        return _share(self.pair_counts.get(pair, 0), self.min_count, self.key_counts, key_a, key_b)

    def service_strength_value(self, service_a: str, service_b: str) -> float:
        pair = (service_a, service_b) if service_a <= service_b else (service_b, service_a)
        return _share(
            self.service_pairs.get(pair, 0), self.min_count, self.service_counts, service_a, service_b
        )

    def companion_value(self, service: str) -> float:
        n = self.service_counts.get(service, 0)
        if n < self.min_count:
            return 0.0
        share = self.service_accompanied.get(service, 0) / n
        return share if share < 1.0 else 1.0

    def alert_rate(self) -> float:
        """Alerts per second over the history (0 when there is none): how often alerts start by
        chance, which tells how surprising it is that two start close together."""
        n = self.alerts_seen
        if n < 2:
            return 0.0
        return n / max(self.last_start - self.first_start, self.window_s)

    def companion_rate(self, service: str) -> PairStrength:
        """Share of the service's past alerts that came with another service's alert (a hub such
        as a gateway scores high: its alerts are nearly always symptoms of something elsewhere)."""
        n = self.service_counts.get(service, 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        accompanied = self.service_accompanied.get(service, 0)
        return PairStrength(accompanied, min(1.0, accompanied / n))

    def strength(self, key_a: str, key_b: str) -> PairStrength:
        if key_a == key_b:
            return PairStrength(0, 0.0)
        n = self.pair_counts.get(self._pair(key_a, key_b), 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        rarer = min(self.key_counts.get(key_a, 0), self.key_counts.get(key_b, 0))
        return PairStrength(n, min(1.0, n / rarer) if rarer else 0.0)

    def service_strength(self, service_a: str, service_b: str) -> PairStrength:
        """The same measure over services, for alert kinds too rare to have key-level history."""
        if service_a == service_b:
            return PairStrength(0, 0.0)
        n = self.service_pairs.get(self._pair(service_a, service_b), 0)
        if n < self.min_count:
            return PairStrength(n, 0.0)
        rarer = min(self.service_counts.get(service_a, 0), self.service_counts.get(service_b, 0))
        return PairStrength(n, min(1.0, n / rarer) if rarer else 0.0)

    def service_edges(self, min_count: int | None = None, min_strength: float = 0.3) -> list[tuple[str, str]]:
        """Service pairs that co-occurred often enough to be treated as neighbours."""
        floor = self.min_count if min_count is None else min_count
        edges = []
        for (a, b), n in sorted(self.service_pairs.items()):
            rarer = min(self.service_counts.get(a, 0), self.service_counts.get(b, 0))
            if n >= floor and rarer and n / rarer >= min_strength:
                edges.append((a, b))
        return edges

    def __len__(self) -> int:
        return self.alerts_seen

    # --- bounds and persistence -------------------------------------------------------------------

    def bound(self, max_keys: int, max_pairs: int) -> bool:
        """Keep at most ``max_keys`` keys (and services) and ``max_pairs`` pairs of each kind,
        dropping the rarest. A bound that is exceeded is cut to three quarters of itself, so the
        cut happens once per many alerts, not on every one. True when it cut.

        Dropping a pair or a key leaves every other strength as it was (their counts do not
        change)."""
        if max_keys < 1 or max_pairs < 1:
            raise ValueError(f"co-occurrence bounds must be >= 1, got {max_keys} keys, {max_pairs} pairs")
        cut = False
        for counts, pairs, extra in (
            (self.key_counts, self.pair_counts, None),
            (self.service_counts, self.service_pairs, self.service_accompanied),
        ):
            if len(counts) > max_keys:
                gone = set(rarest(counts, len(counts) - keep_after_cut(max_keys)))
                for name in gone:
                    del counts[name]
                    if extra is not None:
                        extra.pop(name, None)
                for pair in [p for p in pairs if p[0] in gone or p[1] in gone]:
                    del pairs[pair]
                cut = True
            if len(pairs) > max_pairs:
                for pair in rarest(pairs, len(pairs) - keep_after_cut(max_pairs)):
                    del pairs[pair]
                cut = True
        return cut

    def counts_copy(self) -> CooccurrenceModel:
        """A model with copies of the counts only (no tables, no window of recent alerts): cheap
        to take, and then safe to read on another thread (``to_dict``) while this one learns on."""
        out = CooccurrenceModel(self.window_s, self.min_count, self.lateness_s, self.max_recent)
        out.key_counts = self.key_counts.copy()
        out.pair_counts = self.pair_counts.copy()
        out.service_counts = self.service_counts.copy()
        out.service_pairs = self.service_pairs.copy()
        out.service_accompanied = self.service_accompanied.copy()
        out.alerts_seen = self.alerts_seen
        out.first_start, out.last_start = self.first_start, self.last_start
        return out

    def to_dict(self) -> dict[str, Any]:
        """The learned counts as plain JSON data (the window of recent alerts is not kept: after a
        restart, pairs spanning the restart are not counted). Counts keep their counting order,
        which decides what a bound drops first among equals."""
        return {
            "version": FORMAT_VERSION,
            "window_s": self.window_s,
            "min_count": self.min_count,
            "alerts_seen": self.alerts_seen,
            "first_start": self.first_start if self.alerts_seen else None,
            "last_start": self.last_start if self.alerts_seen else None,
            "keys": _indexed(self.key_counts, self.pair_counts),
            "services": _indexed(self.service_counts, self.service_pairs),
            "accompanied": dict(self.service_accompanied),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], lateness_s: float | None = None) -> CooccurrenceModel:
        """A model from :meth:`to_dict` output (this layout or the previous one); ``ValueError``
        naming what is wrong otherwise."""
        version = data.get("version")
        if version not in READ_VERSIONS:
            raise ValueError(f"co-occurrence data: unsupported version {version!r}")
        try:
            m = cls(float(data["window_s"]), int(data["min_count"]), lateness_s)
            m.alerts_seen = int(data["alerts_seen"])
            if data["first_start"] is not None:
                m.first_start = float(data["first_start"])
                m.last_start = float(data["last_start"])
            m.service_accompanied.update({str(k): int(n) for k, n in data["accompanied"].items()})
            if version == 1:
                _read_first_layout(data["keys"], data["pairs"], m.key_counts, m.pair_counts)
                _read_first_layout(data["services"], data["service_pairs"], m.service_counts, m.service_pairs)
            else:
                _unindex(data["keys"], m.key_counts, m.pair_counts)
                _unindex(data["services"], m.service_counts, m.service_pairs)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise ValueError(f"co-occurrence data: malformed ({type(e).__name__}: {e})") from None
        return m


def _indexed(counts: Counter[str], pairs: Counter[tuple[str, str]]) -> dict[str, list[Any]]:
    """Counts and pair counts with every name written once: ``names`` (the counted ones first, in
    counting order, then any only a pair still names: a bound may drop a name whose alerts are
    still in the window and pair again), ``counts`` of the first names, and ``pairs`` as a flat
    list of (index, index, count) triples in counting order."""
    names = list(counts)
    index = {name: i for i, name in enumerate(names)}
    flat: list[int] = []
    for (a, b), n in pairs.items():
        for name in (a, b):
            if name not in index:
                index[name] = len(names)
                names.append(name)
        flat += (index[a], index[b], n)
    return {"names": names, "counts": list(counts.values()), "pairs": flat}


def _read_first_layout(
    names: Mapping[str, Any], rows: Iterable[Any], counts: Counter[str], pairs: Counter[tuple[str, str]]
) -> None:
    """Read version 1: counts by name, pairs as (name, name, count) rows."""
    counts.update({str(k): int(n) for k, n in names.items()})
    for a, b, n in rows:
        a, b = str(a), str(b)
        pairs[(a, b) if a <= b else (b, a)] = int(n)


def _unindex(data: Mapping[str, Any], counts: Counter[str], pairs: Counter[tuple[str, str]]) -> None:
    """Read what :func:`_indexed` wrote into empty ``counts`` and ``pairs``."""
    names = [str(name) for name in data["names"]]
    values = [int(n) for n in data["counts"]]
    flat = [int(x) for x in data["pairs"]]
    if len(values) > len(names) or len(flat) % 3:
        raise ValueError(f"{len(values)} counts for {len(names)} names, {len(flat)} pair numbers")
    counts.update(dict(zip(names, values, strict=False)))
    for k in range(0, len(flat), 3):
        i, j, n = flat[k : k + 3]
        if not (0 <= i < len(names) and 0 <= j < len(names)):
            raise IndexError(f"pair names index {i} or {j} out of {len(names)} names")
        a, b = names[i], names[j]
        pairs[(a, b) if a <= b else (b, a)] = n


def _any_within(times: list[float], lo: float, hi: float) -> bool:
    """Whether the sorted ``times`` hold a value in [lo, hi]."""
    i = bisect.bisect_left(times, lo)
    return i < len(times) and times[i] <= hi


def _start(r: _Recent) -> float:
    return r.t


def _share(n: int, min_count: int, counts: Mapping[str, int], a: str, b: str) -> float:
    """``n`` joint firings as a share of the rarer of ``a`` and ``b``'s firings, capped at 1;
    0 below ``min_count``. Written without builtin calls (min): it runs for every strength the
    correlator reads."""
    if n < min_count:
        return 0.0
    n_a, n_b = counts.get(a, 0), counts.get(b, 0)
    rarer = n_a if n_a < n_b else n_b
    if not rarer:
        return 0.0
    share = n / rarer
    return share if share < 1.0 else 1.0
