"""A call graph given as config: loading it, labelling with it, and ranking the callee that explains
every alerting service above bystanders with louder metrics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tocsin.intelligence.correlation.metric_probe import Series, SeriesProbe
from tocsin.intelligence.correlation.nezha_eval import BACKGROUND, build_day, load_call_edges, pod_service
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.scoring import root_cause_expected_hits
from tocsin.intelligence.correlation.topology import ServiceGraph

T0 = 1_700_000_000.0
REPO = Path(__file__).resolve().parents[3]
NEZHA = REPO / ".." / "shared" / "data" / "nezha"
TT_CALLS = REPO / "benchmarks" / "correlation" / "trainticket_calls.csv"

# gateway → {auth, order}; auth → code; order → {station, code}. A fault on `code` (quiet) slows
# auth and order, which alert; `station` is a bystander whose latency is noisy.
GRAPH = ServiceGraph(
    [
        ("gateway", "auth"),
        ("gateway", "order"),
        ("auth", "code"),
        ("order", "station"),
        ("order", "code"),
    ]
)


def probe(levels: dict[str, float]) -> SeriesProbe:
    """One latency series per service: flat for an hour, then ``levels[service]`` (1.0 = unchanged)."""
    times = T0 - 3600.0 + 60.0 * np.arange(70, dtype=float)
    rng = np.random.default_rng(3)
    series = []
    for svc in ("gateway", "auth", "order", "station", "code"):
        values = 1.0 + rng.normal(0.0, 0.02, len(times))
        values[60:] = levels.get(svc, 1.0)
        series.append((svc, Series(f"{svc} latency", times, values)))
    return SeriesProbe(series)


def incident() -> dict[str, ServiceEvidence]:
    return {
        "auth": ServiceEvidence(first_seen=T0, last_seen=T0 + 60, alerts=1),
        "order": ServiceEvidence(first_seen=T0 + 10, last_seen=T0 + 60, alerts=1),
    }


def test_heavier_explanation_weight_ranks_the_silent_callee_above_a_louder_bystander() -> None:
    # `station` (called by order only) deviates far more than `code` (called by both alerting services):
    # about 100 robust deviations against 6, i.e. half the metric weight against a twentieth.
    noisy = probe({"station": 6.0, "code": 1.3})
    heavy = RootCauseWeights(dependents=3.0)
    ranked = rank_root_causes(incident(), GRAPH, heavy, noisy)
    names = [c.service for c in ranked]
    assert names[0] == "code"
    assert "2 of 2 other alerting services depend on it" in ranked[0].reasons
    assert names.index("code") < names.index("station")
    # With the default weight (1.0) the bystander's metric noise wins: the weight is what decides.
    default = [c.service for c in rank_root_causes(incident(), GRAPH, RootCauseWeights(), noisy)]
    assert default.index("station") < default.index("code")
    # Without the noise the default weight keeps it in the top 3, above the bystander.
    quiet = [c.service for c in rank_root_causes(incident(), GRAPH, RootCauseWeights(), probe({"code": 1.3}))]
    assert quiet.index("code") < 3
    assert quiet.index("code") < quiet.index("station")


def test_equally_explaining_candidates_are_ordered_by_metric_evidence() -> None:
    # Both alerting services depend on `code`; with one alerting service (order) both its callees
    # explain it equally and the metric evidence decides.
    one = {"order": ServiceEvidence(first_seen=T0, last_seen=T0 + 60, alerts=2)}
    ranked = [c.service for c in rank_root_causes(one, GRAPH, RootCauseWeights(), probe({"code": 30.0}))]
    assert ranked.index("code") < ranked.index("station")
    ranked = [c.service for c in rank_root_causes(one, GRAPH, RootCauseWeights(), probe({"station": 30.0}))]
    assert ranked.index("station") < ranked.index("code")


def test_expected_hits_split_ties_evenly() -> None:
    truth = ["f", "f", BACKGROUND]
    pred = ["i", "i", "j"]
    targets = {"f": "c"}
    # c is tied with two others after one clear leader: 2 places left for 3 tied → 2/3.
    scored = {"i": [("a", 5.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)]}
    hits, n = root_cause_expected_hits(truth, pred, targets, scored, 3)
    assert n == 1
    assert hits == pytest.approx(2 / 3)
    assert root_cause_expected_hits(truth, pred, targets, scored, 1)[0] == 0.0
    assert root_cause_expected_hits(truth, pred, targets, {"i": [("c", 2.0), ("a", 1.0)]}, 1)[0] == 1.0
    # A target that is not a candidate scores nothing.
    assert root_cause_expected_hits(truth, pred, targets, {"i": [("a", 1.0)]}, 3)[0] == 0.0
    with pytest.raises(ValueError, match="k must be"):
        root_cause_expected_hits(truth, pred, targets, scored, 0)


def test_load_call_edges_reads_pairs_and_skips_comments(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text("# a comment\ncaller,callee,source\na,b,file.java@1\n\n  # indented comment\nb,c,\n")
    assert load_call_edges(path) == [("a", "b"), ("b", "c")]
    path.write_text("caller,callee\na,\n")
    with pytest.raises(ValueError, match="row 1 needs a caller and a callee"):
        load_call_edges(path)
    with pytest.raises(FileNotFoundError, match="call graph file missing"):
        load_call_edges(tmp_path / "none.csv")


def test_trainticket_call_graph_names_only_deployed_services_and_labels_callers() -> None:
    if not (NEZHA / "rca_data" / "2023-01-30").is_dir():
        pytest.skip(f"Nezha data not found at {NEZHA} (shared/data beside the repo)")
    edges = load_call_edges(TT_CALLS)
    metric_dir = NEZHA / "rca_data" / "2023-01-30" / "metric"
    deployed = {pod_service(p.name.split("_")[0]) for p in metric_dir.glob("*_metric.csv")}
    assert {s for e in edges for s in e} <= deployed
    assert all(a != b for a, b in edges)
    entry = build_day(NEZHA, "TrainTicket", "2023-01-30")
    graph = build_day(NEZHA, "TrainTicket", "2023-01-30", call_graph=edges)
    assert set(entry.label_edges) < set(graph.label_edges)
    assert ("ts-auth-service", "ts-verification-code-service") in graph.label_edges
    # Same alerts; the graph only adds callers of a target to its fault, it never takes one away.
    assert [la.alert.labels for la in entry.alerts] == [la.alert.labels for la in graph.alerts]
    for before, after in zip(entry.alerts, graph.alerts, strict=True):
        assert before.truth == BACKGROUND or before.truth == after.truth
    assert sum(la.truth != BACKGROUND for la in graph.alerts) > sum(
        la.truth != BACKGROUND for la in entry.alerts
    )
