"""Score tocsin's alert correlation and two baselines on alerts raised from the Nezha data set.

    PYTHONPATH=src python3 benchmarks/correlation/run.py [--data PATH] [--repeats N] [--dump DIR]
                                                        [--tt-calls CSV]

For each system the two recorded days are used crosswise: co-occurrence and token weights are
learned from the alerts of one day (no fault labels) and the other day is scored; then the other
way round. The printed table pools both scored days per system. TrainTicket is scored twice: with
its entry chain as labels and topology, and with the call graph read from its source
(``trainticket_calls.csv``) joined to it. Root-cause weights selected on the training day are
selected per component of the configured service graph (one per system in the merged streams).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.baselines import GroupByBaseline, TimeWindowBaseline
from tocsin.intelligence.correlation.component_weights import ComponentWeights
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.metric_probe import CombinedProbe, MetricProbe, SeriesProbe
from tocsin.intelligence.correlation.nezha_eval import (
    SYSTEM_DAYS,
    EvalDay,
    LabelledAlert,
    build_day,
    load_call_edges,
    to_jsonl,
)
from tocsin.intelligence.correlation.nezha_metrics import nezha_probe
from tocsin.intelligence.correlation.rootcause import (
    RootCauseCandidate,
    RootCauseWeights,
    ServiceEvidence,
    rank_root_causes,
)
from tocsin.intelligence.correlation.scoring import (
    BACKGROUND,
    adjusted_rand_index,
    expected_hit,
    incident_for_fault,
    pairwise_scores,
    root_cause_expected_hits,
    root_cause_hits,
)
from tocsin.intelligence.correlation.silent_culprit import HiddenOwnMetrics, silenced_incident
from tocsin.intelligence.correlation.text import IdfWeights
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DATA = REPO / ".." / "shared" / "data" / "nezha"
# TrainTicket's call graph read from its source (see the file's header and README.md): what a deployed
# tocsin would be given as topology config, e.g. from a service mesh.
TT_CALLS = Path(__file__).resolve().parent / "trainticket_calls.csv"
# Root cause with the explanation weight tripled (dependents 3.0): a value set by looking at the scored
# days, reported for what it trades (README.md), not selected by the protocol.
HEAVY_DEPENDENTS_ROW = "tocsin, dependents 3.0 (set looking at the scored days)"
# Root cause with a random walk over the call graph added (correlation/random_walk.py); walk 2.0 is
# one of 1, 2 and 4 tried on the scored days, none of which helped.
WALK_ROW = "tocsin, random walk over the call graph added (walk 2.0)"
# Root cause with the callers' client-latency rises attributed to their callees
# (correlation/callee_attribution.py) at a fixed weight, with and without the own-pod metric probe; the
# weight 2.0 and the signal's threshold and persistence were set looking at the scored days (README.md).
CALLERS_ROW = "tocsin, callers' client latency added (callers 2.0; set looking at the scored days)"
CALLERS_ONLY_ROW = (
    "tocsin, callers' client latency instead of the own-pod probe (callers 2.0, metrics 0; "
    "set looking at the scored days)"
)
# The amended protocol (SILENT_PROTOCOL): root-cause weights selected on the training day with copies of
# its faults in which the culprit stayed silent breaking the real faults' ties; every scenario gets it,
# beside the unchanged protocol row.
SILENT_ROW = "tocsin, root-cause weights selected on the training day, silenced culprits break ties"
METHODS = (
    "tocsin",
    "tocsin, root cause from alerts only (no metric probe)",
    "tocsin, metric probe over every pod column",
    "tocsin, root-cause weights selected on the training day",
    SILENT_ROW,
    HEAVY_DEPENDENTS_ROW,
    WALK_ROW,
    CALLERS_ROW,
    CALLERS_ONLY_ROW,
    "tocsin, weights selected on the training day",
    "tocsin, learned topology only",
    "group_by service",
    "time window",
)
# Scored only where the labels keep TrainTicket's entry chain: the same labels, with the call graph read
# from TrainTicket's source as the correlator's topology instead of the entry chain.
SOURCE_GRAPH_ROW = "tocsin, call graph from source as topology (labels: entry chain)"
# The same graph as topology with the root-cause weights selected on the training day (with these labels
# and this topology): the protocol's number for TrainTicket configured with its call graph.
SOURCE_GRAPH_SELECTED_ROW = (
    "tocsin, call graph from source as topology, root-cause weights selected on the training day "
    "(labels: entry chain)"
)
# ... and with the amended protocol (SILENT_ROW).
SOURCE_GRAPH_SILENT_ROW = (
    "tocsin, call graph from source as topology, root-cause weights selected on the training day, "
    "silenced culprits break ties (labels: entry chain)"
)
# The call graph from source as topology with the root-cause weights selected on the training day
# labelled with that graph (its faults then include those seen only at a target's callers in the graph):
# the training day's labels follow the configured topology, as they do in every other scenario.
SOURCE_GRAPH_TRAIN_LABELS_ROW = (
    "tocsin, call graph from source as topology, root-cause weights selected on the training day "
    "labelled with that graph (labels: entry chain)"
)
# The same, with the callers' client-latency weights of CALLERS_ONLY_ROW (set looking at the scored days).
SOURCE_GRAPH_CALLERS_ROW = (
    "tocsin, call graph from source as topology, callers' client latency instead of the own-pod probe "
    "(labels: entry chain; set looking at the scored days)"
)
# The callers' signal's threshold (robust standard deviations) and persistence (samples) swept for the
# sensitivity table; 3.0 and 2 are the defaults.
CALLERS_SWEEP = [(th, n) for th in (2.0, 3.0, 6.0, 10.0) for n in (1, 2, 3)]
CALLERS_FULLY_SELECTED: list[tuple[Pooled, list[str]]] = []
# Each system's entry service names its component of the service graph for root-cause weights per
# component (CorrelationConfig.root_cause_by_component), as a deployment running both would configure it.
ENTRY_SERVICES = ("frontend", "ts-ui-dashboard")
# Merged streams only: the root-cause weights selected on the training day as one set for both systems,
# as before weights per component existed.
ONE_SET_ROW = "tocsin, root-cause weights selected on the training day, one set for both systems"
# Scenarios whose TrainTicket labels and topology both use the call graph read from source.
TT_SRC = "TrainTicket, call graph from source"
BOTH_SRC = "both systems, one stream, TrainTicket call graph from source"
# The time-window baseline swept over its gap; the best gap in hindsight is reported as its own row.
SWEEP = (30.0, 60.0, 90.0, 120.0, 180.0, 240.0, 300.0, 450.0, 600.0)
# Ablations: tocsin with one signal switched off (its weight 0, the rest renormalised; "without
# topology" also drops the graph, configured or learned, and with it the far-apart veto).
ABLATIONS = (
    "tocsin without topology",
    "tocsin without similarity",
    "tocsin without co-occurrence",
    "tocsin without coincidence",
)


# Small grid for "weights selected on the training day": the training day's own fault labels pick
# the weights (its co-occurrence learned in-sample); the scored day is never looked at.
GRID = [
    dataclasses.replace(CorrelationConfig(), join_threshold=th, w_topology=wt, w_coincidence=wc)
    for th in (0.25, 0.3, 0.35, 0.4, 0.5)
    for wt in (0.3, 0.4, 0.6)
    for wc in (0.0, 0.1, 0.2)
]


ALL_CANDIDATES = 10_000  # ask root_causes for every candidate, so that ties can be counted
SELECTED: list[str] = []  # one markdown row per scored day, printed after the results
# Scored day (or merged pair of days) → the metric probe root-cause ranking may consult: the
# selected series, and (for the comparison row) every pod column.
PROBES: dict[str, MetricProbe] = {}
PROBES_ALL: dict[str, MetricProbe] = {}
# ... and the series measured outside each service (none of its own pod's): what a silenced culprit's
# callers still see of it.
OUTSIDE_PROBES: dict[str, MetricProbe] = {}
#: scenario → its rows of the root-cause selection table (printed grouped by scenario)
RCA_SELECTED: dict[str, list[str]] = {}
# Root-cause weights selected on the training day: the weight of the metric evidence and the
# deviation that scores half of it, the explanation weight and the weight of the callers' client
# latency; the training day's own labels pick, the scored day is not seen.
RCA_GRID = [
    dataclasses.replace(RootCauseWeights(), metrics=m, probe_scale=ps, dependents=dep, callers=cw)
    for dep in (1.0, 3.0)
    for m in (0.0, 0.5, 1.0, 2.0, 4.0)
    for ps in (30.0, 100.0, 300.0)
    for cw in (0.0, 1.0, 2.0, 4.0)
]


@dataclass(frozen=True)
class RcaChoice:
    """Root-cause weights selected on a training day: one set over all its faults, and one per
    component of the service graph (named by its entry service) over the faults ranked there."""

    overall: RootCauseWeights
    #: the overall set's (top-3 ties split, top-1 ties split) hits on the training day; with silenced
    #: copies, theirs follow (breaking ties) or are added in (pooled)
    hits: tuple[float, ...]
    by_component: ComponentWeights

    def applied(self, config: CorrelationConfig, per_component: bool = True) -> CorrelationConfig:
        by_component = self.by_component if per_component else ()
        return dataclasses.replace(config, root_cause=self.overall, root_cause_by_component=by_component)


def _select_rca(
    train: EvalDay,
    config: CorrelationConfig,
    base: RootCauseWeights | None = None,
    topology: Sequence[tuple[str, str]] | None = None,
    silent: SilentCopies | None = None,
) -> RcaChoice:
    """Grid search on the training day's own labels, by (top-3, top-1) with ties split; the first grid
    point wins a tie. ``base``: the weights the grid's points are varied from (the callers' threshold
    and persistence). Per component, only the faults whose incident is ranked with that component's
    weights count; a component with no such fault on the training day keeps the overall set.
    ``silent``: also score copies of the training faults in which the culprit stayed silent
    (:class:`SilentCopies`)."""
    grid = RCA_GRID
    if base is not None:
        grid = [
            dataclasses.replace(
                w, callers_threshold=base.callers_threshold, callers_samples=base.callers_samples
            )
            for w in RCA_GRID
        ]
    probe_config = _keyed(config, train, topology)
    correlator = _make_correlator(train, train, probe_config, topology=topology)
    correlator.probe = PROBES.get(train.day)
    truth = [la.truth for la in train.alerts]
    pred = [correlator.add(la.alert).incident_id for la in train.alerts]
    targets = {f.fault_id: f.service for f in train.faults}
    # Grouping does not depend on root-cause weights: each fault's incident, and the component whose
    # weights would rank it, are fixed before the grid is searched.
    component = {
        fault: correlator.root_cause_weights(iid)[0] for fault, iid in incident_for_fault(truth, pred).items()
    }
    parts: dict[str | None, list[str]] = {None: truth}
    for named, _ in probe_config.root_cause_by_component:
        if named in component.values():
            parts[named] = [t if component.get(t, "") == named else BACKGROUND for t in truth]
    copies = _silent_copies(correlator, truth, pred, targets, component, silent, train.day) if silent else []
    best = dict.fromkeys(parts, config.root_cause)
    best_hits: dict[str | None, tuple[float, ...]] = dict.fromkeys(parts, (-1.0, -1.0))
    for weights in grid:
        scored = {
            iid: [
                (c.service, c.score)
                for c in rank_root_causes(
                    correlator.incident(iid).services, correlator.graph, weights, correlator.probe
                )
            ]
            for iid in set(pred)
        }
        copy_hits = _copy_hits(correlator, copies, weights)
        for key, part in parts.items():
            # Ties count at their expected value: a name order must not decide the selection.
            top3, _ = root_cause_expected_hits(part, pred, targets, scored, 3)
            top1, _ = root_cause_expected_hits(part, pred, targets, scored, 1)
            copy3 = sum(c3 for where, c3, _ in copy_hits if key is None or where == key)
            copy1 = sum(c1 for where, _, c1 in copy_hits if key is None or where == key)
            hits: tuple[float, ...] = (top3, top1)
            if silent is not None:
                hits = (top3, top1, copy3, copy1) if silent.break_ties_only else (top3 + copy3, top1 + copy1)
            if hits > best_hits[key]:
                best[key], best_hits[key] = weights, hits
    by_component = tuple((key, w) for key, w in best.items() if key is not None)
    return RcaChoice(best[None], best_hits[None], by_component)


@dataclass(frozen=True)
class SilentCopies:
    """How the root-cause selection adds copies of the training faults in which the culprit stayed
    silent (``correlation/silent_culprit.py``): a training day whose culprits all alerted shows nothing
    of what the evidence for a silent culprit is worth, and its ties fall to the grid's first point.

    A copy is made of each training fault whose culprit alerted in its incident: the culprit's alerts
    are taken away (``move_to_callers``: and seen at its direct callers in the configured graph
    instead), and its own metrics hidden from the probe (``outside_metrics``: but the series measured
    outside it, OnlineBoutique's per-edge latency, still answer for it). ``break_ties_only``: the
    copies only order grid points that the real training faults score alike (by top-3, then top-1,
    both with ties split), so no real training hit is ever traded for a hypothetical one; otherwise
    they are pooled with the real faults."""

    move_to_callers: bool = True
    break_ties_only: bool = True
    outside_metrics: bool = False

    @property
    def label(self) -> str:
        where = "seen at its callers" if self.move_to_callers else "alerts removed"
        metrics = ", callers' view of it kept" if self.outside_metrics else ""
        how = "breaking ties" if self.break_ties_only else "pooled with the real faults"
        return f"silenced culprits ({where}{metrics}) {how}"


#: The amended protocol's choice: the culprit's alerts seen at its callers (faults travel from callee to
#: callers, the rule the labels themselves follow), its own metrics hidden, and the copies consulted only
#: where the real training faults cannot decide. It is not the first variant that was scored: README.md
#: ("Silenced culprits") gives the order in which they were tried and what each gave.
SILENT_PROTOCOL = SilentCopies()
#: Every variant tried, the protocol's first (README.md, "Silenced culprits"; silent_variants.py).
SILENT_VARIANTS = (
    SILENT_PROTOCOL,
    SilentCopies(move_to_callers=False),
    SilentCopies(break_ties_only=False),
    SilentCopies(move_to_callers=False, break_ties_only=False),
    SilentCopies(outside_metrics=True),
    SilentCopies(break_ties_only=False, outside_metrics=True),
)


#: A silenced copy of a training fault: (the name of the component whose weights rank it, the culprit,
#: the incident's evidence as if the culprit had not alerted, the probe with its own metrics hidden).
SilentCopy = tuple[str | None, str, dict[str, ServiceEvidence], MetricProbe | None]


def _silent_copies(
    correlator: Correlator,
    truth: list[str],
    pred: list[str],
    targets: dict[str, str],
    component: dict[str, str | None],
    silent: SilentCopies,
    day: str,
) -> list[SilentCopy]:
    """One copy per training fault whose culprit alerted in its incident (see :class:`SilentCopies`)."""
    out: list[SilentCopy] = []
    for fault, iid in incident_for_fault(truth, pred).items():
        culprit = targets[fault]
        services = silenced_incident(
            correlator.incident(iid).services, culprit, correlator.graph, silent.move_to_callers
        )
        if services is None:
            continue
        probe = correlator.probe
        outside = None
        if silent.outside_metrics:
            # Filled by silent_variants.py, the only user of this variant.
            if day not in OUTSIDE_PROBES:
                raise KeyError(f"no probe of the series measured outside the services for {day}")
            outside = OUTSIDE_PROBES[day]
        hidden = HiddenOwnMetrics(probe, frozenset({culprit}), outside) if probe is not None else None
        out.append((component.get(fault), culprit, services, hidden))
    return out


def _copy_hits(
    correlator: Correlator, copies: list[SilentCopy], weights: RootCauseWeights
) -> list[tuple[str | None, float, float]]:
    """Per silenced copy: the name of its component, and the culprit's top-3 and top-1 hits (ties
    split)."""
    out = []
    for where, culprit, services, probe in copies:
        ranked = [(c.service, c.score) for c in rank_root_causes(services, correlator.graph, weights, probe)]
        out.append((where, expected_hit(ranked, culprit, 3), expected_hit(ranked, culprit, 1)))
    return out


def _keyed(
    config: CorrelationConfig, day: EvalDay, topology: Sequence[tuple[str, str]] | None = None
) -> CorrelationConfig:
    """``config`` with each entry service of the day's configured graph naming its component (with the
    default weights: the selection replaces them)."""
    edges = set(_configured_edges(day) if topology is None else topology)
    present = {s for edge in edges for s in edge}
    keys = tuple((s, config.root_cause) for s in ENTRY_SERVICES if s in present)
    return dataclasses.replace(config, root_cause_by_component=keys)


def _select_on_other_system(pairs: Sequence[tuple[EvalDay, EvalDay]]) -> tuple[CorrelationConfig, float]:
    """The grid point with the best pooled F1 on another system's crosswise days (first on a tie)."""
    best, best_f1 = CorrelationConfig(), -1.0
    for cfg in GRID:
        f1 = _pooled_f1(pairs, cfg)
        if f1 > best_f1 + 1e-9:
            best, best_f1 = cfg, f1
    return best, best_f1


def _pooled_f1(pairs: Sequence[tuple[EvalDay, EvalDay]], cfg: CorrelationConfig) -> float:
    truth: list[str] = []
    pred: list[str] = []
    for train, test in pairs:
        p, _ = _run_tocsin(train, test, cfg, use_probe=False)
        truth += [la.truth for la in test.alerts]
        pred += [f"{test.day}/{x}" for x in p]
    return pairwise_scores(truth, pred).f1


def _select_on_training_day(train: EvalDay) -> CorrelationConfig:
    truth = [la.truth for la in train.alerts]
    best, best_f1 = CorrelationConfig(), -1.0
    for cfg in GRID:
        pred, _ = _run_tocsin(train, train, cfg)
        f1 = pairwise_scores(truth, pred).f1
        if f1 > best_f1 + 1e-9:
            best, best_f1 = cfg, f1
    return best


def _ablation(config: CorrelationConfig, name: str) -> tuple[CorrelationConfig, bool]:
    """(config, use the configured graph) for one ablation."""
    if name == "tocsin without topology":
        return dataclasses.replace(config, w_topology=0.0, learn_topology=False), False
    if name == "tocsin without similarity":
        return dataclasses.replace(config, w_similarity=0.0), True
    if name == "tocsin without co-occurrence":
        return dataclasses.replace(config, w_cooccurrence=0.0), True
    if name == "tocsin without coincidence":
        return dataclasses.replace(config, w_coincidence=0.0), True
    raise ValueError(f"unknown ablation {name!r}")


#: incident → every root-cause candidate with its score, best first
Rankings = dict[str, list[tuple[str, float]]]


@dataclass
class Pooled:
    truth: list[str] = field(default_factory=list)
    pred: list[str] = field(default_factory=list)
    #: incident → every root-cause candidate with its score, best first
    rankings: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    targets: dict[str, str] = field(default_factory=dict)
    faults: int = 0
    target_alerted: set[str] = field(default_factory=set)


def _service(alert: Alert) -> str:
    return alert.labels.get("service", "")


def _run_tocsin(
    train: EvalDay,
    test: EvalDay,
    config: CorrelationConfig,
    configured_graph: bool = True,
    use_probe: bool = True,
    every_column: bool = False,
    topology: Sequence[tuple[str, str]] | None = None,
) -> tuple[list[str], Rankings]:
    correlator = _make_correlator(train, test, config, configured_graph, topology)
    if use_probe:
        correlator.probe = (PROBES_ALL if every_column else PROBES).get(test.day)
    pred = [correlator.add(la.alert).incident_id for la in test.alerts]
    rankings = {iid: _scored(correlator.root_causes(iid, ALL_CANDIDATES)) for iid in set(pred)}
    return pred, rankings


def _scored(candidates: Sequence[RootCauseCandidate]) -> list[tuple[str, float]]:
    return [(c.service, c.score) for c in candidates]


def _make_correlator(
    train: EvalDay,
    test: EvalDay,
    config: CorrelationConfig,
    configured_graph: bool = True,
    topology: Sequence[tuple[str, str]] | None = None,
) -> Correlator:
    history = CooccurrenceModel().learn((la.alert for la in train.alerts), _service)
    idf = IdfWeights.from_alerts(la.alert for la in train.alerts)
    # Configured topology: OnlineBoutique's shipped call graph and pod placement; for TrainTicket,
    # which ships none, the graph its labels were built with (the entry chain, dashboard → gateway →
    # services, or that joined to the call graph read from its source). Without it the correlator
    # learns a service graph from the training day's co-occurrence.
    edges = _configured_edges(test) if topology is None else list(topology)
    graph = ServiceGraph(edges) if configured_graph and edges else None
    if graph is None:
        # Weights per component name services of the configured graph; without it, one set.
        config = dataclasses.replace(config, root_cause_by_component=())
    return Correlator(config, graph=graph, history=history, idf=idf)


def _configured_edges(day: EvalDay) -> list[tuple[str, str]]:
    """The topology a day is configured with: OnlineBoutique's calls and pod placement, TrainTicket's
    label graph (merged days: both)."""
    return day.call_edges + day.host_edges if day.call_edges else day.label_edges


class _Grouper(Protocol):
    def add(self, alert: Alert) -> str: ...


class _TocsinGrouper:
    """Adapts the correlator to the baselines' ``add -> incident id`` surface."""

    def __init__(self, correlator: Correlator) -> None:
        self.correlator = correlator

    def add(self, alert: Alert) -> str:
        return self.correlator.add(alert).incident_id


def _run_baseline(
    test: EvalDay, make: Callable[[], GroupByBaseline | TimeWindowBaseline]
) -> tuple[list[str], dict[str, list[tuple[str, float]]]]:
    b = make()
    pred = [b.add(la.alert) for la in test.alerts]
    # A baseline's ranking is an order without scores: distinct pseudo-scores keep it, with no ties.
    return pred, {iid: [(s, -float(i)) for i, s in enumerate(b.root_causes(iid, 3))] for iid in set(pred)}


def _replay(test: EvalDay, repeats: int, stride: float) -> list[Alert]:
    """The scored day ``repeats`` times, copy k shifted by ``k * stride`` seconds (fresh label sets)."""
    base = [la.alert for la in test.alerts]
    stream = [
        dataclasses.replace(
            a,
            starts_at=a.starts_at + k * stride,
            ends_at=a.ends_at + k * stride,
            fingerprint=0,
            labels={**a.labels, "replay": str(k)},
        )
        for k in range(repeats)
        for a in base
    ]
    stream.sort(key=lambda a: a.starts_at)
    return stream


def _alerts_per_cpu_second(make: Callable[[], _Grouper], stream: Sequence[Alert], rounds: int = 3) -> float:
    """CPU time of this process, not wall time, so the figure is per core; best of ``rounds`` fresh
    runs, because other work on a shared machine can only make a run slower, never faster."""
    best = 0.0
    for _ in range(rounds):
        grouper = make()
        start = time.process_time()
        for a in stream:
            grouper.add(a)
        best = max(best, len(stream) / max(time.process_time() - start, 1e-9))
    return best


def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _evaluation_set_table(days: dict[tuple[str, str], EvalDay]) -> None:
    print("## Evaluation set\n")
    head = [
        "system",
        "day",
        "alerts",
        "background",
        "faults",
        "faults with ≥1 alert",
        "… with an alert on the target",
    ]
    print("| " + " | ".join(head) + " |")
    print("|---|---|---|---|---|---|---|")
    for (s, d), day in days.items():
        labels = [la.truth for la in day.alerts]
        target = {f.fault_id: f.service for f in day.faults}
        hit = {t for t in labels if t != BACKGROUND}
        on_target = {la.truth for la in day.alerts if target.get(la.truth) == _service(la.alert)}
        row = [s, d, len(labels), labels.count(BACKGROUND), len(day.faults), len(hit), len(on_target)]
        print("| " + " | ".join(str(x) for x in row) + " |")


def _merge(a: EvalDay, b: EvalDay) -> EvalDay:
    """Both systems behind one alert manager: b's day is shifted so its first injection coincides
    with a's, which makes faults of the two systems overlap in time. Each system keeps its own
    configured topology; nothing links the two graphs."""
    shift = a.faults[0].inject_time - b.faults[0].inject_time
    for probes in (PROBES, PROBES_ALL):
        pa, pb = probes.get(a.day), probes.get(b.day)
        if isinstance(pb, SeriesProbe) and pa is not None:
            probes[f"{a.day}+{b.day}"] = CombinedProbe([pa, pb.shifted(shift)])
    moved = [
        LabelledAlert(
            dataclasses.replace(
                la.alert, starts_at=la.alert.starts_at + shift, ends_at=la.alert.ends_at + shift
            ),
            la.truth,
        )
        for la in b.alerts
    ]
    faults = [*a.faults, *(dataclasses.replace(f, inject_time=f.inject_time + shift) for f in b.faults)]
    alerts = sorted([*a.alerts, *moved], key=lambda la: la.alert.starts_at)

    def configured(d: EvalDay) -> list[tuple[str, str]]:
        return d.call_edges or d.label_edges

    return EvalDay(
        f"{a.system}+{b.system}",
        f"{a.day}+{b.day}",
        sorted(faults, key=lambda f: f.inject_time),
        alerts,
        configured(a) + configured(b),
        a.host_edges + b.host_edges,
        configured(a) + configured(b),
    )


def _score_pairs(
    scenario: str,
    pairs: Sequence[tuple[EvalDay, EvalDay]],
    config: CorrelationConfig,
    source_graph: Sequence[tuple[str, str]] | None = None,
    graph_labelled_train: Sequence[EvalDay] = (),
) -> dict[str, Pooled]:
    """Score every method on each (train, test) pair and pool the test days. With ``source_graph``
    also the rows that take it as topology while the labels stay as built; ``graph_labelled_train``
    (one per pair) is each training day labelled with that graph, for SOURCE_GRAPH_TRAIN_LABELS_ROW."""
    merged = len(pairs[0][1].system.split("+")) > 1
    extra: tuple[str, ...] = ()
    if source_graph is not None:
        # Merged streams get only the protocol's row with the call graph; the fixed-weight rows are
        # TrainTicket's alone.
        protocol_rows = (SOURCE_GRAPH_SELECTED_ROW, SOURCE_GRAPH_SILENT_ROW, SOURCE_GRAPH_TRAIN_LABELS_ROW)
        extra = protocol_rows if merged else (SOURCE_GRAPH_ROW, *protocol_rows, SOURCE_GRAPH_CALLERS_ROW)
    methods = list(METHODS)
    if merged:
        methods.insert(
            methods.index("tocsin, root-cause weights selected on the training day") + 1, ONE_SET_ROW
        )
    pooled = {m: Pooled() for m in (*methods, *extra, *ABLATIONS, *(f"time window {g:.0f} s" for g in SWEEP))}
    for index, (train, test) in enumerate(pairs):
        truth = [la.truth for la in test.alerts]
        results = {
            "tocsin": _run_tocsin(train, test, config),
            "tocsin, root cause from alerts only (no metric probe)": _run_tocsin(
                train, test, config, use_probe=False
            ),
            "tocsin, metric probe over every pod column": _run_tocsin(train, test, config, every_column=True),
            "tocsin, learned topology only": _run_tocsin(train, test, config, configured_graph=False),
            **(
                {
                    SOURCE_GRAPH_ROW: _run_tocsin(
                        train, test, config, topology=test.label_edges + list(source_graph)
                    ),
                    SOURCE_GRAPH_CALLERS_ROW: _run_tocsin(
                        train,
                        test,
                        dataclasses.replace(
                            config,
                            root_cause=dataclasses.replace(config.root_cause, callers=2.0, metrics=0.0),
                        ),
                        topology=test.label_edges + list(source_graph),
                    ),
                }
                if SOURCE_GRAPH_ROW in extra and source_graph is not None
                else {}
            ),
            "group_by service": _run_baseline(test, lambda: GroupByBaseline(("service",), 300.0)),
            "time window": _run_baseline(test, lambda: TimeWindowBaseline(300.0)),
        }
        chosen = _select_on_training_day(train)
        results["tocsin, weights selected on the training day"] = _run_tocsin(train, test, chosen)
        SELECTED.append(
            f"| {scenario} | {test.day} | {train.day} | {chosen.join_threshold} | {chosen.w_topology} "
            f"| {chosen.w_coincidence} |"
        )
        choice = _select_rca(train, config)
        _record_rca(scenario, train, test, choice)
        results["tocsin, root-cause weights selected on the training day"] = _run_tocsin(
            train, test, choice.applied(config)
        )
        if len(choice.by_component) > 1:
            results[ONE_SET_ROW] = _run_tocsin(train, test, choice.applied(config, per_component=False))
        choice = _select_rca(train, config, silent=SILENT_PROTOCOL)
        _record_rca(f"{scenario}, silenced culprits break ties", train, test, choice)
        results[SILENT_ROW] = _run_tocsin(train, test, choice.applied(config))
        if source_graph is not None:
            train_graph = _configured_edges(train) + list(source_graph)
            test_graph = _configured_edges(test) + list(source_graph)
            as_topology = f"{scenario}, call graph from source as topology (labels: entry chain)"
            for row, label, silent, labelled in (
                (SOURCE_GRAPH_SELECTED_ROW, "", None, None),
                (SOURCE_GRAPH_SILENT_ROW, ", silenced culprits break ties", SILENT_PROTOCOL, None),
                (
                    SOURCE_GRAPH_TRAIN_LABELS_ROW,
                    ", training day labelled with that graph",
                    None,
                    graph_labelled_train[index],
                ),
            ):
                # The same alerts either way: only the training day's labels differ.
                on = train if labelled is None else labelled
                choice = _select_rca(on, config, topology=train_graph, silent=silent)
                _record_rca(f"{as_topology}{label}", train, test, choice)
                results[row] = _run_tocsin(train, test, choice.applied(config), topology=test_graph)
        heavy = dataclasses.replace(config.root_cause, dependents=3.0)
        results[HEAVY_DEPENDENTS_ROW] = _run_tocsin(
            train, test, dataclasses.replace(config, root_cause=heavy)
        )
        walk = dataclasses.replace(config.root_cause, walk=2.0)
        results[WALK_ROW] = _run_tocsin(train, test, dataclasses.replace(config, root_cause=walk))
        callers = dataclasses.replace(config.root_cause, callers=2.0)
        results[CALLERS_ROW] = _run_tocsin(train, test, dataclasses.replace(config, root_cause=callers))
        callers_only = dataclasses.replace(config.root_cause, callers=2.0, metrics=0.0)
        results[CALLERS_ONLY_ROW] = _run_tocsin(
            train, test, dataclasses.replace(config, root_cause=callers_only)
        )
        for name in ABLATIONS:
            variant, use_graph = _ablation(config, name)
            results[name] = _run_tocsin(train, test, variant, configured_graph=use_graph)
        for gap in SWEEP:
            results[f"time window {gap:.0f} s"] = _run_baseline(test, lambda: TimeWindowBaseline(gap))  # noqa: B023
        for method, (pred, rankings) in results.items():
            p = pooled[method]
            p.truth += truth
            p.pred += [f"{test.day}/{x}" for x in pred]
            p.rankings.update({f"{test.day}/{k}": v for k, v in rankings.items()})
            p.targets.update({f.fault_id: f.service for f in test.faults})
            p.faults += len({t for t in truth if t != BACKGROUND})
            p.target_alerted |= {
                la.truth for la in test.alerts if p.targets.get(la.truth) == _service(la.alert)
            }
    return pooled


def _record_rca(scenario: str, train: EvalDay, test: EvalDay, choice: RcaChoice) -> None:
    """One line per component of the root-cause weights selected on the training day (and, with more
    than one component, the one set selected over all faults)."""
    rows = [(f"component of {key}", w) for key, w in choice.by_component]
    if len(rows) != 1:
        rows.append(("one set for all", choice.overall))
    for component, w in rows:
        RCA_SELECTED.setdefault(scenario, []).append(
            f"| {scenario} | {test.day} | {train.day} | {component} | {w.dependents} | {w.metrics} "
            f"| {w.probe_scale} | {w.callers} |"
        )


def _callers_sensitivity(
    pairs: Sequence[tuple[EvalDay, EvalDay]], config: CorrelationConfig
) -> list[tuple[float, int, Pooled, Pooled]]:
    """Per (threshold, samples) of the callers' signal: the scored days with root-cause weights selected
    on the training day, and with the fixed weights of CALLERS_ONLY_ROW."""
    out: list[tuple[float, int, Pooled, Pooled]] = []
    # Threshold and persistence selected on the training day as well (with the weights, as one grid;
    # the first in CALLERS_SWEEP order wins a tie): the pooled scored days, and each day's choice.
    everything, chosen = Pooled(), []
    best: dict[str, tuple[tuple[float, float], RootCauseWeights]] = {}
    for th, n in CALLERS_SWEEP:
        selected, fixed = Pooled(), Pooled()
        for train, test in pairs:
            base = dataclasses.replace(config.root_cause, callers_threshold=th, callers_samples=n)
            # One system, one component: the overall set is the one its component would get.
            chosen_here = _select_rca(train, config, base)
            rca, hits = chosen_here.overall, chosen_here.hits
            if test.day not in best or hits > best[test.day][0]:
                best[test.day] = (hits, rca)
            only = dataclasses.replace(base, callers=2.0, metrics=0.0)
            for p, weights in ((selected, rca), (fixed, only)):
                _pool(
                    p, train, test, _run_tocsin(train, test, dataclasses.replace(config, root_cause=weights))
                )
        out.append((th, n, selected, fixed))
    for train, test in pairs:
        rca = best[test.day][1]
        _pool(everything, train, test, _run_tocsin(train, test, dataclasses.replace(config, root_cause=rca)))
        chosen.append(
            f"{test.day}: threshold {rca.callers_threshold}, samples {rca.callers_samples}, "
            f"dependents {rca.dependents}, metrics {rca.metrics}, probe_scale {rca.probe_scale}, "
            f"callers {rca.callers}"
        )
    CALLERS_FULLY_SELECTED.append((everything, chosen))
    return out


def _pool(
    p: Pooled, train: EvalDay, test: EvalDay, result: tuple[list[str], dict[str, list[tuple[str, float]]]]
) -> None:
    pred, rankings = result
    p.truth += [la.truth for la in test.alerts]
    p.pred += [f"{test.day}/{x}" for x in pred]
    p.rankings.update({f"{test.day}/{k}": v for k, v in rankings.items()})
    p.targets.update({f.fault_id: f.service for f in test.faults})


def _merged_by_system(scenario: str, pooled: dict[str, Pooled]) -> list[str]:
    """Rows of the by-system table: the root-cause rows of a merged stream, scored on one system's
    faults at a time (the other system's faults count as background: they are not scored)."""
    rows = []
    for method in (
        "tocsin",
        "tocsin, root-cause weights selected on the training day",
        ONE_SET_ROW,
        SILENT_ROW,
        SOURCE_GRAPH_SELECTED_ROW,
        SOURCE_GRAPH_SILENT_ROW,
        SOURCE_GRAPH_TRAIN_LABELS_ROW,
    ):
        p = pooled.get(method)
        if p is None:
            continue
        cells = []
        for system in SYSTEM_DAYS:
            truth = [t if t.startswith(f"{system}/") else BACKGROUND for t in p.truth]
            names = {iid: [s for s, _ in ranked] for iid, ranked in p.rankings.items()}
            top1, top3, n = root_cause_hits(truth, p.pred, p.targets, names)
            ties, _ = root_cause_expected_hits(truth, p.pred, p.targets, p.rankings, 3)
            cells += [f"{top1}/{n}", f"{top3}/{n}", f"{ties:.1f}/{n}"]
        rows.append(f"| {scenario} | {method} | {' | '.join(cells)} |")
    return rows


def _top3(p: Pooled) -> str:
    names = {iid: [s for s, _ in ranked] for iid, ranked in p.rankings.items()}
    _, top3, n = root_cause_hits(p.truth, p.pred, p.targets, names)
    ties, _ = root_cause_expected_hits(p.truth, p.pred, p.targets, p.rankings, 3)
    return f"{_fmt(top3 / n)} ({top3}/{n}) | {_fmt(ties / n)} ({ties:.1f}/{n})"


def _speeds(
    system: str,
    days: dict[tuple[str, str], EvalDay],
    config: CorrelationConfig,
    repeats: int,
    graph_days: dict[str, EvalDay] | None = None,
) -> dict[str, tuple[float, float]]:
    """Per method: alerts per CPU-second on (the day replayed back to back, all copies overlapping).
    ``graph_days``: the same days labelled with another graph, whose topology gets a row of its own."""
    d1, d2 = SYSTEM_DAYS[system]
    train, test = days[(system, d1)], days[(system, d2)]
    span = test.alerts[-1].alert.starts_at - test.alerts[0].alert.starts_at + 86400.0
    sequential = _replay(test, repeats, span)
    storm = _replay(test, repeats, 1.0)
    makers: dict[str, Callable[[], _Grouper]] = {
        "tocsin": lambda: _TocsinGrouper(_make_correlator(train, test, config)),
        "tocsin, learned topology only": lambda: _TocsinGrouper(_make_correlator(train, test, config, False)),
        "group_by service": lambda: GroupByBaseline(("service",), 300.0),
        "time window": lambda: TimeWindowBaseline(300.0),
    }
    if graph_days is not None:
        g_train, g_test = graph_days[d1], graph_days[d2]
        makers["tocsin, call graph from source"] = lambda: _TocsinGrouper(
            _make_correlator(g_train, g_test, config)
        )
    return {
        m: (_alerts_per_cpu_second(make, sequential), _alerts_per_cpu_second(make, storm))
        for m, make in makers.items()
    }


def _result_row(system: str, method: str, p: Pooled) -> list[str]:
    fp = pairwise_scores(p.truth, p.pred)
    strict = pairwise_scores(p.truth, p.pred, strict=True)
    # Incidents holding at least one fault-labelled alert: what a responder sees for the faults.
    fault_incidents = len({x for x, t in zip(p.pred, p.truth, strict=True) if t != BACKGROUND})
    names = {iid: [s for s, _ in ranked] for iid, ranked in p.rankings.items()}
    top1, top3, n = root_cause_hits(p.truth, p.pred, p.targets, names)
    top3_ties, _ = root_cause_expected_hits(p.truth, p.pred, p.targets, p.rankings, 3)
    alerted = [i for i, t in enumerate(p.truth) if t in p.target_alerted or t == BACKGROUND]
    _, top3_alerted, n_alerted = root_cause_hits(
        [p.truth[i] for i in alerted], [p.pred[i] for i in alerted], p.targets, names
    )
    return [
        system,
        method,
        _fmt(fp.precision),
        _fmt(fp.recall),
        _fmt(fp.f1),
        _fmt(strict.f1),
        _fmt(adjusted_rand_index(p.truth, p.pred)),
        str(fault_incidents),
        str(p.faults),
        f"{_fmt(top1 / n)} ({top1}/{n})",
        f"{_fmt(top3 / n)} ({top3}/{n})",
        f"{_fmt(top3_ties / n)} ({top3_ties:.1f}/{n})",
        f"{_fmt(top3_alerted / n_alerted)} ({top3_alerted}/{n_alerted})",
    ]


def data_arguments(description: str | None) -> argparse.ArgumentParser:
    """The options every script of this folder takes: where the data set and TrainTicket's call
    graph are."""
    ap = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the nezha/ folder")
    ap.add_argument(
        "--tt-calls", type=Path, default=TT_CALLS, help="TrainTicket's call graph read from source (CSV)"
    )
    return ap


def data_folder_error(data: Path) -> str | None:
    if not (data / "rca_data").is_dir():
        return f"error: {data} is not the nezha data folder (no rca_data/ inside)"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    ap = data_arguments(__doc__)
    ap.add_argument("--repeats", type=int, default=200, help="copies of a scored day replayed for throughput")
    ap.add_argument("--dump", type=Path, help="write each day's labelled alert stream as JSONL here")
    args = ap.parse_args(argv)
    if error := data_folder_error(args.data):
        print(error, file=sys.stderr)
        return 2
    if args.repeats < 1:
        print(f"error: --repeats must be >= 1, got {args.repeats}", file=sys.stderr)
        return 2
    config = CorrelationConfig()
    tt_calls = load_call_edges(args.tt_calls)
    days = {(s, d): build_day(args.data, s, d) for s, ds in SYSTEM_DAYS.items() for d in ds}
    # The same TrainTicket days labelled with the call graph read from source (joined to the entry chain).
    tt_src = {
        d: build_day(args.data, "TrainTicket", d, call_graph=tt_calls) for d in SYSTEM_DAYS["TrainTicket"]
    }
    PROBES.update({d: nezha_probe(args.data, d) for ds in SYSTEM_DAYS.values() for d in ds})
    PROBES_ALL.update({d: nezha_probe(args.data, d, None) for ds in SYSTEM_DAYS.values() for d in ds})
    if args.dump:
        args.dump.mkdir(parents=True, exist_ok=True)
        for (s, d), day in days.items():
            (args.dump / f"{s}-{d}.jsonl").write_text(to_jsonl(day))
        for d, day in tt_src.items():
            (args.dump / f"TrainTicket-callgraph-{d}.jsonl").write_text(to_jsonl(day))
    _evaluation_set_table({**days, **{(TT_SRC, d): day for d, day in tt_src.items()}})

    print("\n## Grouping and root cause (each day scored with history learned on the other; days pooled)\n")
    head = [
        "system",
        "method",
        "pair P",
        "pair R",
        "pair F1",
        "strict F1",
        "ARI",
        "incidents with fault alerts",
        "faults with alerts",
        "RCA top-1",
        "RCA top-3",
        "RCA top-3, ties split",
        "RCA top-3, target alerted",
    ]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    (ob1, ob2), (tt1, tt2) = SYSTEM_DAYS["OnlineBoutique"], SYSTEM_DAYS["TrainTicket"]
    ob = {d: days[("OnlineBoutique", d)] for d in (ob1, ob2)}
    tt = {d: days[("TrainTicket", d)] for d in (tt1, tt2)}
    scenarios = {
        "OnlineBoutique": [(ob[ob1], ob[ob2]), (ob[ob2], ob[ob1])],
        "TrainTicket": [(tt[tt1], tt[tt2]), (tt[tt2], tt[tt1])],
        TT_SRC: [(tt_src[tt1], tt_src[tt2]), (tt_src[tt2], tt_src[tt1])],
        "both systems, one stream": [
            (_merge(ob[ob1], tt[tt1]), _merge(ob[ob2], tt[tt2])),
            (_merge(ob[ob2], tt[tt2]), _merge(ob[ob1], tt[tt1])),
        ],
        BOTH_SRC: [
            (_merge(ob[ob1], tt_src[tt1]), _merge(ob[ob2], tt_src[tt2])),
            (_merge(ob[ob2], tt_src[tt2]), _merge(ob[ob1], tt_src[tt1])),
        ],
    }
    # The training day of each pair of the entry-chain scenarios labelled with the call graph from source
    # (the same alerts): for the row whose training labels follow the configured call graph.
    graph_labelled = {
        "TrainTicket": [train for train, _ in scenarios[TT_SRC]],
        "both systems, one stream": [train for train, _ in scenarios[BOTH_SRC]],
    }
    by_system: list[str] = []
    for system, pairs in scenarios.items():
        # TrainTicket's call graph from source as topology where the labels keep the entry chain.
        source_graph = tt_calls if system in ("TrainTicket", "both systems, one stream") else None
        pooled = _score_pairs(system, pairs, config, source_graph, graph_labelled.get(system, ()))
        if system.startswith("both systems"):
            by_system += _merged_by_system(system, pooled)
        # Of the swept gaps, keep only the one with the best pooled F1: a baseline tuned in hindsight.
        sweep = {m: pooled.pop(m) for m in list(pooled) if m.startswith("time window ")}
        best = max(sweep, key=lambda m: pairwise_scores(sweep[m].truth, sweep[m].pred).f1)
        pooled[f"{best} (best gap in hindsight)"] = sweep[best]
        for method, p in pooled.items():
            print("| " + " | ".join(_result_row(system, method, p)) + " |")

    print(
        "\nRoot cause in the merged streams, each system's faults apart "
        "(the same runs as the rows above, scored on one system's faults at a time):\n"
    )
    cols = [f"{s} {m}" for s in SYSTEM_DAYS for m in ("top-1", "top-3", "top-3, ties split")]
    print("| " + " | ".join(["scenario", "method", *cols]) + " |")
    print("|" + "---|" * (2 + len(cols)))
    print("\n".join(by_system))

    print("\nWeights selected on the training day (grid: join_threshold × w_topology × w_coincidence):\n")
    print("| scenario | scored day | training day | join_threshold | w_topology | w_coincidence |")
    print("|---|---|---|---|---|---|")
    print("\n".join(SELECTED))

    print(
        "\nRoot-cause weights selected on the training day "
        "(grid: dependents × metrics × probe_scale × callers, by top-3 with ties split):\n"
    )
    rca_head = (
        "scenario",
        "scored day",
        "training day",
        "weights for",
        "dependents",
        "metrics",
        "probe_scale",
    )
    print("| " + " | ".join((*rca_head, "callers")) + " |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(row for rows in RCA_SELECTED.values() for row in rows))

    print(
        f"\nRoot cause on {TT_SRC} by the callers' signal's threshold and persistence "
        "(defaults 3.0 and 2, set looking at the scored days):\n"
    )
    print(
        "| threshold (robust SDs) | samples held | weights selected on the training day: top-3 "
        "| … ties split | callers 2.0, metrics 0: top-3 | … ties split |"
    )
    print("|---|---|---|---|---|---|")
    for th, n, selected, fixed in _callers_sensitivity(scenarios[TT_SRC], config):
        print(f"| {th} | {n} | {_top3(selected)} | {_top3(fixed)} |")
    everything, chosen = CALLERS_FULLY_SELECTED[-1]
    print(
        f"\nThreshold and samples selected on the training day too (with the weights, as one grid): "
        f"top-3, ties split: {_top3(everything).replace(' | ', ', ')}; chosen: {'; '.join(chosen)}."
    )

    print(
        "\n## Weights selected on the other system "
        "(pooled pair F1, each day scored with the other's history)\n"
    )
    print(
        "| scored system | selected on | join_threshold | w_topology | w_coincidence "
        "| F1 where selected | F1 on the scored system "
        "| scored system over the whole grid: min / median / max |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for scored, other in (
        ("OnlineBoutique", "TrainTicket"),
        ("TrainTicket", "OnlineBoutique"),
        ("OnlineBoutique", TT_SRC),
        (TT_SRC, "OnlineBoutique"),
    ):
        picked, f1_other = _select_on_other_system(scenarios[other])
        grid = sorted(_pooled_f1(scenarios[scored], cfg) for cfg in GRID)
        print(
            f"| {scored} | {other} | {picked.join_threshold} | {picked.w_topology} | {picked.w_coincidence} "
            f"| {_fmt(f1_other)} | {_fmt(_pooled_f1(scenarios[scored], picked))} "
            f"| {_fmt(grid[0])} / {_fmt(grid[len(grid) // 2])} / {_fmt(grid[-1])} |"
        )

    print(f"\n## Throughput (alerts per CPU-second, one core; a scored day replayed {args.repeats} times)\n")
    print("| system | method | copies back to back | copies overlapping (1 s apart) |")
    print("|---|---|---|---|")
    for system in SYSTEM_DAYS:
        graph_days = tt_src if system == "TrainTicket" else None
        for method, (seq, storm) in _speeds(system, days, config, args.repeats, graph_days).items():
            print(f"| {system} | {method} | {seq:,.0f} | {storm:,.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
