"""Is tocsin's NAB score a knife-edge? A grid around its chosen parameters, and a split test.

    PYTHONPATH=src nice -n 10 python3 benchmarks/nab/robustness.py [--nab-root PATH] [--json OUT]

1. Grid: the production ensemble (three novelty members and two fuzzy-ART members, on the raw
   values and on their quick average, refractory; counts at half precision, as
   tocsin_detector() and TocsinBatch run) with the ART members' window, stride and
   vigilance moved around the chosen values; each member left out in turn; the refractory hold
   level and length moved.
2. Split: the 58 series sorted by name, alternately into halves A and B. Every configuration of
   the grid (and tocsin v1) is scored on each half; the best on one half is then reported on the
   other, beside the chosen configuration and v1 there. Choosing on A and reporting on B is the
   honest estimate of what the selection is worth on series it did not see.

Member scores are computed once per configuration; the ensemble and refractory steps are the
library's own classes replayed over them, so the numbers match the detectors run end to end.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tocsin.intelligence import nab
from tocsin.intelligence.anomaly import (
    Detector,
    EmpiricalTail,
    FuzzyArt,
    Refractory,
    Smoothed,
    State,
)
from tocsin.intelligence.anomaly.novelty import ContextNovelty

REPO = Path(__file__).resolve().parents[2]
DEFAULT_NAB = REPO / ".." / "shared" / "data" / "nab"

CHOSEN_ART = {"window": 10, "stride": 2, "rho": 0.9}
ART_GRID = [{"window": w, "stride": 2, "rho": r} for w in (8, 10, 12) for r in (0.85, 0.9, 0.95)] + [
    {"window": 10, "stride": 3, "rho": 0.9},
    {"window": 6, "stride": 4, "rho": 0.9},
]
# The production members count at half precision (tocsin_detector()'s default).
NOVELTY: dict[str, Callable[[], Detector]] = {
    "novelty": lambda: EmpiricalTail(ContextNovelty(half=True), half=True),
    "novelty(avg 0.05)": lambda: EmpiricalTail(Smoothed(ContextNovelty(half=True), alpha=0.05), half=True),
    "novelty(avg 0.2)": lambda: EmpiricalTail(Smoothed(ContextNovelty(half=True), alpha=0.2), half=True),
}
# tocsin v1 (pair_detector()) as it ships: float64 counts.
V1: dict[str, Callable[[], Detector]] = {
    "v1 novelty": lambda: EmpiricalTail(ContextNovelty()),
    "v1 novelty(avg 0.05)": lambda: EmpiricalTail(Smoothed(ContextNovelty(), alpha=0.05)),
}
HOLDS = [(level, hold) for level in (0.20, 0.22, 0.24) for hold in (50, 100, 150)]


class _Replay(Detector):
    """Feeds precomputed scores to a wrapper, so the real Refractory code runs over them."""

    def __init__(self, scores: Sequence[float]) -> None:
        self._next: Iterator[float] = iter(scores)

    def raw_one(self, t: float, x: float) -> float:
        raise NotImplementedError("replay only supports update")

    def learn_one(self, t: float, x: float) -> None:
        raise NotImplementedError("replay only supports update")

    def update(self, t: float, x: float) -> float:
        return next(self._next)

    def params(self) -> State:
        return {}

    def _dump(self) -> State:
        return {}

    def _load(self, state: State) -> None:
        return None


def art_name(cfg: dict[str, float], smooth: bool) -> str:
    name = f"art(w{cfg['window']} s{cfg['stride']} rho {cfg['rho']})"
    return f"smoothed {name}" if smooth else name


def art_member(cfg: dict[str, float], smooth: bool) -> Detector:
    art = FuzzyArt(
        window=int(cfg["window"]), stride=int(cfg["stride"]), rho=cfg["rho"], decay=0.999, half=True
    )
    return EmpiricalTail(Smoothed(art, alpha=0.2) if smooth else art, half=True)


def member_scores(factory: Callable[[], Detector], corpus: Sequence[nab.NabSeries]) -> list[list[float]]:
    out = []
    for s in corpus:
        detector = factory()
        out.append([detector.update(t, x) for t, x in zip(s.timestamps, s.values, strict=True)])
    return out


def ensemble(
    corpus: Sequence[nab.NabSeries],
    members: Sequence[list[list[float]]],
    hold_level: float = 0.22,
    hold: int = 100,
) -> list[list[float]]:
    """Refractory(max of members), replayed per series through the library's Refractory."""
    out = []
    for i, s in enumerate(corpus):
        best = [max(v) for v in zip(*(m[i] for m in members), strict=True)]
        wrapper = Refractory(_Replay(best), hold_level=hold_level, hold=hold)
        out.append([wrapper.update(t, 0.0) for t in s.timestamps])
    return out


def scores_of(
    corpus: Sequence[nab.NabSeries],
    scores: Sequence[list[float]],
    pick: Sequence[int] | None = None,
    profiles: Sequence[nab.Profile] = nab.PROFILES,
) -> list[float]:
    idx = range(len(corpus)) if pick is None else pick
    series = [corpus[i] for i in idx]
    chosen = [scores[i] for i in idx]
    weights = nab.corpus_weights(series)
    return [nab.oracle_threshold(series, chosen, p, weights).normalised for p in profiles]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nab-root", type=Path, default=DEFAULT_NAB, help="NAB v1.1 folder (data/, labels/)")
    parser.add_argument("--json", type=Path, help="also write all numbers to this JSON file")
    args = parser.parse_args(argv)
    console = Console(width=130)
    try:
        corpus = nab.load_corpus(args.nab_root)
    except nab.NabDataError as exc:
        console.print(f"[red]cannot load NAB: {exc}")
        return 2

    members: dict[str, list[list[float]]] = {}
    jobs: list[tuple[str, Callable[[], Detector]]] = [*NOVELTY.items(), *V1.items()]
    for cfg in ART_GRID:
        for smooth in (False, True):
            jobs.append((art_name(cfg, smooth), lambda c=cfg, sm=smooth: art_member(c, sm)))  # type: ignore[misc]
    columns = (TextColumn("{task.description:>34}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("member detectors", total=len(jobs))
        for name, factory in jobs:
            progress.update(task, description=name)
            members[name] = member_scores(factory, corpus)
            progress.advance(task)

    def arts(cfg: dict[str, float]) -> list[list[list[float]]]:
        return [members[art_name(cfg, False)], members[art_name(cfg, True)]]

    novelty = [members[n] for n in NOVELTY]
    configs: dict[str, list[list[float]]] = {}
    chosen = "chosen: art(w10 s2 rho 0.9)"
    configs[chosen] = ensemble(corpus, [*novelty, *arts(CHOSEN_ART)])
    for cfg in ART_GRID:
        if cfg != CHOSEN_ART:
            configs["ART " + art_name(cfg, False)[4:-1]] = ensemble(corpus, [*novelty, *arts(cfg)])
    configs["without ART"] = ensemble(corpus, novelty)
    configs["without ART of the 0.2 average"] = ensemble(corpus, [*novelty, arts(CHOSEN_ART)[0]])
    configs["without ART of the raw values"] = ensemble(corpus, [*novelty, arts(CHOSEN_ART)[1]])
    for name in NOVELTY:
        rest = [members[n] for n in NOVELTY if n != name]
        configs[f"without {name}"] = ensemble(corpus, [*rest, *arts(CHOSEN_ART)])
    for level, hold in HOLDS:
        if (level, hold) != (0.22, 100):
            configs[f"hold level {level:.2f}, {hold} points"] = ensemble(
                corpus, [*novelty, *arts(CHOSEN_ART)], level, hold
            )
    v1 = "tocsin v1 (pair)"
    configs[v1] = ensemble(corpus, [members[n] for n in V1])

    table = Table(title="Around the chosen configuration: NAB oracle scores (standard / low FP / low FN)")
    table.add_column("configuration")
    table.add_column("whole corpus")
    grid: dict[str, list[float]] = {}
    for name, scores in configs.items():
        grid[name] = scores_of(corpus, scores)
        table.add_row(name, " / ".join(f"{v:.1f}" for v in grid[name]))
    console.print(table)

    order = sorted(range(len(corpus)), key=lambda i: corpus[i].name)
    halves = {"A": order[0::2], "B": order[1::2]}
    on_half = {
        h: {n: scores_of(corpus, sc, pick, (nab.STANDARD,))[0] for n, sc in configs.items()}
        for h, pick in halves.items()
    }
    split: dict[str, dict[str, object]] = {}
    for tune, report in (("A", "B"), ("B", "A")):
        candidates = {n: v for n, v in on_half[tune].items() if n != v1}
        best = max(candidates, key=lambda n: (candidates[n], n))
        split[f"tune on {tune}, report on {report}"] = {
            "picked": best,
            "picked_score_on_tuning_half": candidates[best],
            "picked_score_on_other_half": on_half[report][best],
            "chosen_score_on_other_half": on_half[report][chosen],
            "v1_score_on_other_half": on_half[report][v1],
        }
        console.print(
            f"Split, tuned on {tune} ({len(halves[tune])} series), reported on {report}: "
            f"picked [bold]{best}[/] ({candidates[best]:.1f} on {tune}); "
            f"on {report}: picked {on_half[report][best]:.1f}, "
            f"chosen {on_half[report][chosen]:.1f}, v1 {on_half[report][v1]:.1f} (standard, oracle per half)"
        )
    if args.json:
        args.json.write_text(json.dumps({"grid": grid, "split": split}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
