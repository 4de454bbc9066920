"""Regression guard: the correlator on one real Nezha pair of days keeps its measured quality."""

from __future__ import annotations

from pathlib import Path

import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.baselines import GroupByBaseline, TimeWindowBaseline
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.nezha_eval import build_day
from tocsin.intelligence.correlation.scoring import pairwise_scores
from tocsin.intelligence.correlation.text import IdfWeights
from tocsin.intelligence.correlation.topology import ServiceGraph

NEZHA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nezha"


def test_online_boutique_day_pair() -> None:
    if not (NEZHA / "rca_data" / "2022-08-23").is_dir():
        pytest.skip(f"Nezha data not found at {NEZHA} (shared/data beside the repo)")
    train = build_day(NEZHA, "OnlineBoutique", "2022-08-22")
    test = build_day(NEZHA, "OnlineBoutique", "2022-08-23")
    history = CooccurrenceModel().learn((la.alert for la in train.alerts), lambda a: a.labels["service"])
    idf = IdfWeights.from_alerts(la.alert for la in train.alerts)
    graph = ServiceGraph(test.call_edges + test.host_edges)
    correlator = Correlator(CorrelationConfig(), graph=graph, history=history, idf=idf)
    truth = [la.truth for la in test.alerts]
    decisions = [correlator.add(la.alert) for la in test.alerts]
    ours = pairwise_scores(truth, [d.incident_id for d in decisions]).f1

    group_by = GroupByBaseline(("service",), 300.0)
    window = TimeWindowBaseline(300.0)
    assert ours >= 0.9
    assert ours > pairwise_scores(truth, [group_by.add(la.alert) for la in test.alerts]).f1 + 0.1
    assert ours > pairwise_scores(truth, [window.add(la.alert) for la in test.alerts]).f1 + 0.05
    # Every join names at least one signal besides time.
    joins = [d for d in decisions if not d.new_incident]
    assert joins and all(set(d.explanation.signal_names) - {"time"} for d in joins)
