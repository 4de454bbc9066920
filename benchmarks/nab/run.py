"""Score every tocsin detector on the Numenta Anomaly Benchmark (NAB v1.1).

    PYTHONPATH=src nice -n 10 python3 benchmarks/nab/run.py [--nab-root PATH] [--json OUT]

Prints, per detector: the three profiles' normalised scores with the oracle (corpus-tuned)
threshold, the same with tocsin's self-tuned per-series thresholds (alone, and with simulated
operator feedback), throughput in points per CPU-second and serialised state size per series;
then the failure-prediction lead times on realKnownCause. Deterministic: no randomness is used.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tocsin.intelligence import nab
from tocsin.intelligence.anomaly import (
    ArResidual,
    ContextPrediction,
    Detector,
    EmpiricalTail,
    Ensemble,
    FuzzyArt,
    Likelihood,
    Refractory,
    RobustBaseline,
    TocsinBatch,
    compact_detector,
    pair_detector,
    tocsin_detector,
)
from tocsin.intelligence.anomaly.novelty import ContextNovelty
from tocsin.intelligence.forecast import HoltForecaster
from tocsin.intelligence.thresholds import AdaptiveThreshold

REPO = Path(__file__).resolve().parents[2]
DEFAULT_NAB = REPO / ".." / "shared" / "data" / "nab"

#: name -> (factory, description). "tocsin" is the production detector.
DETECTORS: dict[str, tuple[Callable[[], Detector], str]] = {
    "robust_baseline": (
        RobustBaseline,
        "EW level + hourly seasonality, robust scale (raw z mapped to [0,1])",
    ),
    "baseline+likelihood": (
        lambda: Likelihood(RobustBaseline()),
        "baseline through the likelihood post-processor",
    ),
    "ar_nlms+likelihood": (
        lambda: Likelihood(ArResidual()),
        "learned: online AR(6) by NLMS, residual likelihood",
    ),
    "novelty+likelihood": (
        lambda: Likelihood(ContextNovelty()),
        "value-band and transition rarity, likelihood",
    ),
    "ensemble": (
        lambda: Refractory(
            Ensemble(
                [
                    EmpiricalTail(RobustBaseline()),
                    EmpiricalTail(ArResidual()),
                    EmpiricalTail(ContextNovelty()),
                ]
            )
        ),
        "max of the three through the empirical tail, refractory",
    ),
    "tail(novelty)": (lambda: EmpiricalTail(ContextNovelty()), "context novelty through the empirical tail"),
    "tail(context_pred)": (
        lambda: EmpiricalTail(ContextPrediction()),
        "CAD-style share of unpredicted context continuations, empirical tail",
    ),
    "tail(fuzzy_art)": (
        lambda: EmpiricalTail(FuzzyArt(window=10, stride=2, decay=0.999)),
        "fuzzy ART resonance deficit of the recent shape, empirical tail",
    ),
    "compact": (compact_detector, "refractory(tail(novelty)): the under-2-KB variant"),
    "pair (tocsin v1)": (
        pair_detector,
        "refractory(max(tail(novelty), tail(novelty of EW average))): the first production detector",
    ),
    "tocsin (float64 counts)": (
        lambda: tocsin_detector(half=False),
        "the same ensemble with float64 counts (issue 7's second version)",
    ),
    "tocsin": (
        tocsin_detector,
        "refractory(max(tail(novelty), tail(novelty of EW avg 0.05), tail(novelty of EW avg 0.2), "
        "tail(fuzzy ART), tail(fuzzy ART of EW avg 0.2))), counts at half precision; scalar path",
    ),
}

#: The production form of "tocsin": the same detector for every series at once (TocsinBatch),
#: as the rule engine's evaluation tick delivers each series' new point together.
BATCHED = "tocsin (batched)"
BATCHED_DESCRIPTION = (
    "tocsin_detector()'s arithmetic vectorised across series (TocsinBatch), NAB series in lockstep; "
    "throughput measured on a fleet of FLEET_SERIES series per tick"
)
#: Fleet shape for the batched throughput: series per tick, untimed warm-up ticks, timed ticks.
FLEET_SERIES = 1_000
FLEET_SIZES = (58, 1_000, 5_000)
FLEET_WARMUP_TICKS = 300
FLEET_TICKS = 1_000

PUBLISHED = [
    ("ARTime", 74.9, 65.1, 80.4),
    ("Numenta HTM", 70.5, 62.6, 75.2),
    ("CAD OSE", 69.9, 67.0, 73.2),
    ("earthgecko Skyline", 58.2, 46.2, 63.9),
    ("KNN CAD", 58.0, 43.4, 64.8),
    ("Relative Entropy", 54.6, 47.6, 58.8),
    ("Random Cut Forest", 51.7, 38.4, 59.7),
    ("Twitter ADVec", 47.1, 33.6, 53.5),
    ("Windowed Gaussian", 39.6, 20.9, 47.4),
    ("Etsy Skyline", 35.7, 27.1, 44.5),
]


def make_threshold() -> AdaptiveThreshold:
    # Defaults chosen for 1-5 minute metrics: at most 3 alerts a day per series, one an hour.
    return AdaptiveThreshold(max_alerts=3, rate_window=86_400.0, cooldown=3_600.0)


@dataclass
class DetectorRun:
    name: str
    scores: list[list[float]] = field(default_factory=list)
    cpu_seconds: float = 0.0
    state_bytes: list[int] = field(default_factory=list)  # MessagePack
    state_json_bytes: list[int] = field(default_factory=list)
    state_deflated_bytes: list[int] = field(default_factory=list)  # TocsinBatch.dump_row only


def run_detector(
    name: str, factory: Callable[[], Detector], corpus: Sequence[nab.NabSeries], progress: Progress
) -> DetectorRun:
    run = DetectorRun(name)
    task = progress.add_task(name, total=sum(len(s) for s in corpus))
    for s in corpus:
        detector = factory()
        start = time.process_time()
        run.scores.append([detector.update(t, x) for t, x in zip(s.timestamps, s.values, strict=True)])
        run.cpu_seconds += time.process_time() - start
        state = detector.to_state()
        run.state_bytes.append(len(msgspec.msgpack.encode(state)))
        run.state_json_bytes.append(len(json.dumps(state, separators=(",", ":"))))
        progress.advance(task, len(s))
    return run


def run_batched(corpus: Sequence[nab.NabSeries], progress: Progress) -> DetectorRun:
    """Every NAB series through one TocsinBatch in lockstep: at tick i, point i of each series
    still running; a series that ends is dropped from the batch (its state measured first)."""
    run = DetectorRun(BATCHED)
    task = progress.add_task(BATCHED, total=sum(len(s) for s in corpus))
    scores = [[0.0] * len(s) for s in corpus]
    state_bytes = [0] * len(corpus)
    deflated = [0] * len(corpus)
    alive = [k for k, s in enumerate(corpus) if len(s)]
    batch = TocsinBatch(len(alive))
    i = 0
    while alive:
        t = [corpus[k].timestamps[i] for k in alive]
        x = [corpus[k].values[i] for k in alive]
        start = time.process_time()
        out = batch.update(t, x)
        run.cpu_seconds += time.process_time() - start
        for j, k in enumerate(alive):
            scores[k][i] = float(out[j])
        i += 1
        keep = []
        for j, k in enumerate(alive):
            if len(corpus[k]) > i:
                keep.append(j)
            else:
                state_bytes[k] = len(msgspec.msgpack.encode(batch.row_state(j)))
                deflated[k] = len(batch.dump_row(j))
        if len(keep) < len(alive):
            batch = batch.take(keep)
            alive = [alive[j] for j in keep]
        progress.advance(task, len(t))
    run.scores = scores
    run.state_bytes = state_bytes
    run.state_deflated_bytes = deflated
    return run


def fleet_throughput(corpus: Sequence[nab.NabSeries], n_series: int) -> float:
    """Points per CPU-second of TocsinBatch over ``n_series`` series per tick, in steady state.

    Series k replays NAB series k mod 58 from an offset of 37 * (k div 58) points, so the fleet
    holds real data at different phases. The first FLEET_WARMUP_TICKS ticks (every detector's
    warm-up) are run untimed; the next FLEET_TICKS are timed.
    """
    cols = [corpus[k % len(corpus)] for k in range(n_series)]
    offsets = [37 * (k // len(corpus)) for k in range(n_series)]
    batch = TocsinBatch(n_series)
    cpu = 0.0
    for i in range(FLEET_WARMUP_TICKS + FLEET_TICKS):
        x = [s.values[(o + i) % len(s)] for s, o in zip(cols, offsets, strict=True)]
        t = [300.0 * i] * n_series
        start = time.process_time()
        batch.update(t, x)
        if i >= FLEET_WARMUP_TICKS:
            cpu += time.process_time() - start
    return n_series * FLEET_TICKS / cpu


def self_tuned(
    corpus: Sequence[nab.NabSeries], scores: Sequence[Sequence[float]], feedback: bool
) -> list[list[bool]]:
    """Per-series adaptive thresholds; with ``feedback``, an operator reacts to each outcome.

    The simulated operator marks an alert outside every labelled window as noise when it fires,
    and reports a window nobody alerted on as a missed incident when the window closes: the
    labels reach the threshold only as they would in production, after the fact.
    """
    out: list[list[bool]] = []
    for s, sc in zip(corpus, scores, strict=True):
        th = make_threshold()
        window_of = [-1] * len(s)
        for k, (lo, hi) in enumerate(s.windows):
            for i in range(lo, hi + 1):
                window_of[i] = k
        caught = [False] * len(s.windows)
        ends = {hi: k for k, (_, hi) in enumerate(s.windows)}
        fired: list[bool] = []
        for i, (t, v) in enumerate(zip(s.timestamps, sc, strict=True)):
            f = th.observe(t, v)
            fired.append(f)
            if not feedback:
                continue
            k = window_of[i]
            if f and k < 0:
                th.feedback_noise()
            elif f:
                caught[k] = True
            if i in ends and not caught[ends[i]]:
                th.feedback_missed()
        out.append(fired)
    return out


@dataclass
class LeadTimes:
    windows: int
    warned: int
    false_warnings: int
    warnings: int
    leads: list[float]
    per_series: dict[str, tuple[int, int, int]]  # name -> (warnings, windows warned, windows)


def forecast_lead_times(
    corpus: Sequence[nab.NabSeries],
    horizon: float = 86_400.0,
    margin: float = 0.25,
    alpha: float = 0.08,
    beta: float = 0.008,
    expanding: bool = True,
    persist: int = 24,
) -> LeadTimes:
    """Warn when the Holt forecast says the series leaves its learned range within ``horizon``.

    The "given threshold" of each series is a level ``margin`` times its range beyond anything
    seen so far (the probationary period first, then everything up to the point), above and
    below. A warning needs ``persist`` consecutive points whose forecast crosses within the
    horizon, and one horizon passes before the next. A warning at time w is true when a labelled
    window overlaps [w, w + horizon]; a window's lead time is its start minus its earliest true
    warning (positive: warned before the window opened).
    """
    windows = warned = false = total = 0
    leads: list[float] = []
    per_series: dict[str, tuple[int, int, int]] = {}
    for s in corpus:
        if not s.name.startswith("realKnownCause/"):
            continue
        p = nab.probationary_length(len(s))
        lo, hi = min(s.values[:p]), max(s.values[:p])
        span = hi - lo
        upper, lower = hi + margin * span, lo - margin * span
        model = HoltForecaster(alpha=alpha, beta=beta)
        warnings: list[float] = []
        streak = 0  # consecutive points whose forecast crosses within the horizon
        for i, (t, x) in enumerate(zip(s.timestamps, s.values, strict=True)):
            if model.n and t < model.last_t:
                continue  # a few NAB files step back in time (clock changes); the forecaster refuses those
            model.learn_one(t, x)
            if expanding and i >= p and not lower < x < upper:
                # The limits follow everything seen so far: a warning means "about to leave all
                # the series has done before", not "about to pass a level it passes every week".
                lo, hi = min(lo, x), max(hi, x)
                span = hi - lo
                upper, lower = hi + margin * span, lo - margin * span
            if i < p or (warnings and t - warnings[-1] < horizon):
                continue
            # Cheap check first: only a mean path heading for a threshold within the horizon pays
            # for the interval search.
            steps = horizon / model.step
            if not (model.level + steps * model.trend >= upper or model.level + steps * model.trend <= lower):
                streak = 0
                continue
            crossing_soon = False
            for target, rising in ((upper, True), (lower, False)):
                if (x >= target) if rising else (x <= target):
                    continue  # already past it: that is a threshold alert's job, not a prediction
                c = model.crossing(target, rising=rising, limit=horizon)
                crossing_soon = crossing_soon or (c is not None and 0.0 < c.eta <= horizon)
            streak = streak + 1 if crossing_soon else 0
            if streak >= persist:
                warnings.append(t)
                streak = 0
        starts = [s.timestamps[a] for a, _ in s.windows]
        ends = [s.timestamps[b] for _, b in s.windows]
        windows += len(s.windows)
        total += len(warnings)
        first: dict[int, float] = {}
        for w in warnings:
            hit = [k for k in range(len(starts)) if starts[k] <= w + horizon and ends[k] >= w]
            if not hit:
                false += 1
            for k in hit:
                first.setdefault(k, w)
        warned += len(first)
        per_series[s.name] = (len(warnings), len(first), len(s.windows))
        leads.extend(starts[k] - w for k, w in first.items())
    return LeadTimes(windows, warned, false, total, leads, per_series)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-root", type=Path, default=DEFAULT_NAB, help="NAB v1.1 folder (data/, labels/)")
    parser.add_argument("--json", type=Path, help="also write all numbers to this JSON file")
    parser.add_argument(
        "--fleet-sizes",
        nargs="*",
        type=int,
        default=list(FLEET_SIZES),
        help=f"series per tick for batched throughput (table: {FLEET_SERIES:,}, else the largest)",
    )
    parser.add_argument(
        "--detectors", nargs="*", choices=sorted([*DETECTORS, BATCHED]), default=[*DETECTORS, BATCHED]
    )
    args = parser.parse_args(argv)
    console = Console(width=150)
    try:
        corpus = nab.load_corpus(args.nab_root)
    except nab.NabDataError as exc:
        console.print(f"[red]cannot load NAB: {exc}")
        return 2
    n_points = sum(len(s) for s in corpus)
    console.print(
        f"NAB: {len(corpus)} series, {n_points} points, {sum(len(s.windows) for s in corpus)} windows"
    )

    runs: list[DetectorRun] = []
    columns = (TextColumn("{task.description:>22}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        for name in args.detectors:
            if name == BATCHED:
                runs.append(run_batched(corpus, progress))
            else:
                runs.append(run_detector(name, DETECTORS[name][0], corpus, progress))
    fleet: dict[int, float] = {}
    if BATCHED in args.detectors:
        for size in args.fleet_sizes:
            fleet[size] = fleet_throughput(corpus, size)

    results: dict[str, object] = {"points": n_points, "detectors": {}}
    table = Table(title="NAB v1.1 normalised scores (standard / low FP / low FN)")
    for col in (
        "detector",
        "oracle threshold",
        "self-tuned",
        "self-tuned + feedback",
        "points/s/core",
        "state B msgpack/JSON (max)",
    ):
        table.add_column(col)
    weights = nab.corpus_weights(corpus)
    for run in runs:
        oracle = [nab.oracle_threshold(corpus, run.scores, p, weights) for p in nab.PROFILES]
        alone, fed_back = self_tuned(corpus, run.scores, False), self_tuned(corpus, run.scores, True)
        tuned = [nab.score_binary(corpus, alone, p, weights) for p in nab.PROFILES]
        fed = [nab.score_binary(corpus, fed_back, p, weights) for p in nab.PROFILES]
        rate = n_points / run.cpu_seconds
        if run.name == BATCHED and fleet:
            rate = fleet.get(FLEET_SERIES, fleet[max(fleet)])

        def fmt(scores: list[nab.CorpusScore]) -> str:
            return " / ".join(f"{c.normalised:.1f}" for c in scores)

        table.add_row(
            run.name,
            fmt(oracle),
            fmt(tuned),
            fmt(fed),
            f"{rate:,.0f}",
            f"{max(run.state_bytes):,} / {max(run.state_json_bytes):,}"
            if run.state_json_bytes
            else f"{max(run.state_bytes):,} / - ({max(run.state_deflated_bytes):,} deflated)",
        )
        description = BATCHED_DESCRIPTION if run.name == BATCHED else DETECTORS[run.name][1]
        results["detectors"][run.name] = {  # type: ignore[index]
            "description": description.replace("FLEET_SERIES", f"{FLEET_SERIES:,}"),
            "oracle": {c.profile: {"score": c.normalised, "threshold": c.threshold} for c in oracle},
            "self_tuned": {c.profile: c.normalised for c in tuned},
            "self_tuned_feedback": {c.profile: c.normalised for c in fed},
            "points_per_cpu_second": rate,
            "state_bytes_max": max(run.state_bytes),
            "state_bytes_mean": statistics.fmean(run.state_bytes),
            "state_json_bytes_max": max(run.state_json_bytes) if run.state_json_bytes else None,
            "state_deflated_bytes_max": max(run.state_deflated_bytes) if run.state_deflated_bytes else None,
            "state_deflated_bytes_mean": (
                statistics.fmean(run.state_deflated_bytes) if run.state_deflated_bytes else None
            ),
        }
    console.print(table)
    by_name = {run.name: run for run in runs}
    if BATCHED in by_name:
        batched = by_name[BATCHED]
        lockstep = n_points / batched.cpu_seconds
        same = by_name["tocsin"].scores == batched.scores if "tocsin" in by_name else None
        # Every array of a batch has one row (or one per member) per series, whatever the data:
        # the in-memory size per series is the layout's, the sum of nbytes over n.
        memory = TocsinBatch(FLEET_SERIES).bytes_per_series()
        console.print(
            f"{BATCHED}: points/s/core by series per tick: NAB lockstep (58 falling to 1) {lockstep:,.0f}; "
            + "; ".join(f"{size:,} series {rate:,.0f}" for size, rate in fleet.items())
            + ("" if same is None else f"; scores identical to the scalar tocsin: {'yes' if same else 'NO'}")
            + f"; in memory {memory:,.0f} B per series"
        )
        results["detectors"][BATCHED].update(  # type: ignore[index]
            {
                "memory_bytes_per_series": memory,
                "points_per_cpu_second_nab_lockstep": lockstep,
                "points_per_cpu_second_by_fleet_size": {str(k): v for k, v in fleet.items()},
                "scores_identical_to_scalar": same,
            }
        )

    lead = forecast_lead_times(corpus)
    median = statistics.median(lead.leads) if lead.leads else float("nan")
    console.print(
        f"Failure prediction on realKnownCause: {lead.warned}/{lead.windows} windows warned, "
        f"median lead {median / 3600:.1f} h before window start, "
        f"{lead.false_warnings} false of {lead.warnings} warnings"
    )
    results["forecast"] = {
        "windows": lead.windows,
        "warned": lead.warned,
        "median_lead_hours": median / 3600,
        "leads_hours": sorted(round(x / 3600, 2) for x in lead.leads),
        "false_warnings": lead.false_warnings,
        "warnings": lead.warnings,
    }
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
