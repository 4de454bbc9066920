"""Every variant of the silenced-culprit copies tried for the root-cause weight selection, on the
single-system scenarios (README.md, "Silenced culprits").

    PYTHONPATH=src python3 benchmarks/correlation/silent_variants.py [--data PATH] [--tt-calls CSV]

Prints, per variant (``run.SILENT_VARIANTS``, the amended protocol's choice first, after the unchanged
protocol), the pooled root-cause hits of each scenario with the weights selected on the training day,
and the weights each training day chose. Slow-ish (a few minutes): every variant searches the grid
again. Kept beside ``run.py`` so the numbers of the variants tried and dropped can be reproduced.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from run import (
    OUTSIDE_PROBES,
    PROBES,
    Pooled,
    SilentCopies,
    _configured_edges,
    _pool,
    _run_tocsin,
    _select_rca,
    _top3,
    data_arguments,
    data_folder_error,
)
from run import SILENT_VARIANTS as VARIANTS

from tocsin.intelligence.correlate import CorrelationConfig
from tocsin.intelligence.correlation.nezha_eval import SYSTEM_DAYS, EvalDay, build_day, load_call_edges
from tocsin.intelligence.correlation.nezha_metrics import nezha_probe
from tocsin.intelligence.correlation.scoring import root_cause_hits

Pairs = list[tuple[EvalDay, EvalDay]]


def _row(
    pairs: Pairs, config: CorrelationConfig, silent: SilentCopies | None, graph: Sequence[tuple[str, str]]
) -> tuple[str, str]:
    """(top-1, top-3 and ties split) of one scenario pooled over its scored days, and each choice."""
    pooled, chosen = Pooled(), []
    for train, test in pairs:
        train_graph = _configured_edges(train) + list(graph) if graph else None
        test_graph = _configured_edges(test) + list(graph) if graph else None
        choice = _select_rca(train, config, topology=train_graph, silent=silent)
        _pool(pooled, train, test, _run_tocsin(train, test, choice.applied(config), topology=test_graph))
        w = choice.overall
        chosen.append(f"{test.day}: {w.dependents} / {w.metrics} / {w.probe_scale} / {w.callers}")
    names = {iid: [s for s, _ in ranked] for iid, ranked in pooled.rankings.items()}
    top1, _, n = root_cause_hits(pooled.truth, pooled.pred, pooled.targets, names)
    return f"{top1}/{n} | {_top3(pooled)}", "; ".join(chosen)


def main(argv: Sequence[str] | None = None) -> int:
    args = data_arguments(__doc__).parse_args(argv)
    if error := data_folder_error(args.data):
        print(error, file=sys.stderr)
        return 2
    config = CorrelationConfig()
    tt_calls = load_call_edges(args.tt_calls)
    days = {d: build_day(args.data, s, d) for s, ds in SYSTEM_DAYS.items() for d in ds}
    (ob1, ob2), (tt1, tt2) = SYSTEM_DAYS["OnlineBoutique"], SYSTEM_DAYS["TrainTicket"]
    tt_src = {d: build_day(args.data, "TrainTicket", d, call_graph=tt_calls) for d in (tt1, tt2)}
    PROBES.update({d: nezha_probe(args.data, d) for d in days})
    # The series measured outside each service (OnlineBoutique's per-edge latency; no pod column).
    OUTSIDE_PROBES.update({d: nezha_probe(args.data, d, ()) for d in days})
    scenarios: list[tuple[str, Pairs, Sequence[tuple[str, str]]]] = [
        ("OnlineBoutique", [(days[ob1], days[ob2]), (days[ob2], days[ob1])], ()),
        ("TrainTicket", [(days[tt1], days[tt2]), (days[tt2], days[tt1])], ()),
        (
            "TrainTicket, call graph from source as topology (labels: entry chain)",
            [(days[tt1], days[tt2]), (days[tt2], days[tt1])],
            tt_calls,
        ),
        ("TrainTicket, call graph from source", [(tt_src[tt1], tt_src[tt2]), (tt_src[tt2], tt_src[tt1])], ()),
    ]
    print(
        "| selection | scenario | RCA top-1 | RCA top-3 | RCA top-3, ties split "
        "| chosen per scored day: dependents / metrics / probe_scale / callers |"
    )
    print("|---|---|---|---|---|---|")
    for silent in (None, *VARIANTS):
        label = "protocol (first grid point wins a tie)" if silent is None else silent.label
        for name, pairs, graph in scenarios:
            hits, chosen = _row(pairs, config, silent, graph)
            print(f"| {label} | {name} | {hits} | {chosen} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
