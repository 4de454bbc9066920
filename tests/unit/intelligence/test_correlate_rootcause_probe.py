"""Root-cause ranking beyond the alerting services: quiet callees and weak metric evidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.metric_probe import CombinedProbe, Series, SeriesProbe
from tocsin.intelligence.correlation.nezha_eval import build_day
from tocsin.intelligence.correlation.nezha_metrics import nezha_probe
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.scoring import root_cause_hits
from tocsin.intelligence.correlation.topology import ServiceGraph
from tocsin.model import Alert

T0 = 1_700_000_000.0
# frontend → checkout → {cart, payment}: a fault on cart that only slows checkout's calls.
GRAPH = ServiceGraph([("frontend", "checkout"), ("checkout", "cart"), ("checkout", "payment")])
NEZHA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nezha"


def alert(name: str, t: float, **labels: str) -> Alert:
    return Alert(labels={"alertname": name, **labels}, starts_at=T0 + t, ends_at=T0 + t + 60)


def minutes(values: list[float], start: float = T0 - 3600.0) -> tuple[np.ndarray, np.ndarray]:
    times = start + 60.0 * np.arange(len(values), dtype=float)
    return times, np.asarray(values, dtype=float)


def flat_then(level: float, spike: float, spike_at: int, n: int = 70) -> tuple[np.ndarray, np.ndarray]:
    """One sample a minute from an hour before T0; ``spike`` from sample ``spike_at`` on, with jitter."""
    rng = np.random.default_rng(7)
    vals = level + rng.normal(0.0, level * 0.02, n)
    vals[spike_at:] = spike
    return minutes(list(vals))


def probe_with(spiking: str) -> SeriesProbe:
    series = []
    for svc in ("frontend", "checkout", "cart", "payment"):
        spike = 10.0 if svc == spiking else 0.1
        series.append((svc, Series(f"{svc} latency", *flat_then(0.1, spike, 60))))
    return SeriesProbe(series)


def test_probe_measures_a_spike_against_the_trailing_baseline_and_names_the_series() -> None:
    probe = probe_with("cart")
    big, name = probe.deviation("cart", T0 - 60, T0 + 300)
    small, _ = probe.deviation("payment", T0 - 60, T0 + 300)
    assert name == "cart latency"
    assert big > 100 * max(small, 1.0)
    assert probe.deviation("unknown", T0, T0 + 60) == (0.0, "")
    # Before the spike the same series is quiet.
    assert probe.deviation("cart", T0 - 1200, T0 - 900)[0] < 5


def test_shifted_probe_and_combined_probe() -> None:
    probe = probe_with("cart")
    later = probe.shifted(1000.0)
    assert later.deviation("cart", T0 + 940, T0 + 1300)[0] == pytest.approx(
        probe.deviation("cart", T0 - 60, T0 + 300)[0]
    )
    other = SeriesProbe([("db", Series("db cpu", *flat_then(1.0, 50.0, 60)))])
    both = CombinedProbe([probe, other])
    assert both.deviation("db", T0 - 60, T0 + 300)[1] == "db cpu"
    assert both.deviation("cart", T0 - 60, T0 + 300)[1] == "cart latency"


def test_probe_rejects_bad_input() -> None:
    times, values = minutes([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="equally long"):
        Series("x", times, values[:2])
    with pytest.raises(ValueError, match="ascending"):
        Series("x", times[::-1].copy(), values)
    with pytest.raises(ValueError, match="baseline_s"):
        SeriesProbe([], baseline_s=0.0)
    with pytest.raises(ValueError, match="no service"):
        SeriesProbe([("", Series("x", times, values))])
    with pytest.raises(ValueError, match="ends before it starts"):
        SeriesProbe([]).deviation("x", T0, T0 - 1)
    with pytest.raises(ValueError, match="probe_scale"):
        RootCauseWeights(probe_scale=0.0)
    with pytest.raises(ValueError, match="metrics"):
        RootCauseWeights(metrics=-1.0)


def incident_with_checkout_latency() -> dict[str, ServiceEvidence]:
    return {"checkout": ServiceEvidence(first_seen=T0, last_seen=T0 + 60, alerts=2)}


def test_quiet_callee_is_ranked_and_metric_evidence_puts_it_first() -> None:
    services = incident_with_checkout_latency()
    without = rank_root_causes(services, GRAPH, RootCauseWeights())
    # Without metrics the alerting service leads, but the callees it depends on are candidates.
    assert without[0].service == "checkout"
    assert {c.service for c in without[1:]} == {"cart", "payment"}
    assert all("no alert of its own" in c.reasons for c in without[1:])
    with_probe = rank_root_causes(services, GRAPH, RootCauseWeights(), probe_with("cart"))
    assert with_probe[0].service == "cart"
    assert any("cart latency" in why for why in with_probe[0].reasons)
    # Evidence built without last_seen still gives the probe a valid window.
    bare = {"checkout": ServiceEvidence(first_seen=T0, alerts=1)}
    assert rank_root_causes(bare, GRAPH, RootCauseWeights(), probe_with("cart"))[0].service == "cart"
    # The probe points elsewhere: the ranking follows it.
    assert (
        rank_root_causes(services, GRAPH, RootCauseWeights(), probe_with("payment"))[0].service == "payment"
    )


def test_callers_are_not_candidates_and_expansion_can_be_switched_off() -> None:
    services = incident_with_checkout_latency()
    ranked = [
        c.service for c in rank_root_causes(services, GRAPH, RootCauseWeights(), probe_with("frontend"))
    ]
    assert "frontend" not in ranked  # a caller cannot explain its callee's latency
    only = rank_root_causes(services, GRAPH, RootCauseWeights(expand_downstream=False), probe_with("cart"))
    assert [c.service for c in only] == ["checkout"]
    # A learned graph's edges carry no call direction: no callees to expand to.
    learned = rank_root_causes(
        services, GRAPH, RootCauseWeights(), probe_with("cart"), graph_has_directions=False
    )
    assert [c.service for c in learned] == ["checkout"]


def test_correlator_root_causes_consult_the_probe() -> None:
    c = Correlator(CorrelationConfig(), graph=GRAPH, probe=probe_with("cart"))
    c.add(alert("FrontendLatencyHigh", 0, service="frontend"))
    d = c.add(alert("CallLatencyHigh", 5, service="checkout", caller="frontend"))
    assert not d.new_incident
    assert c.root_causes(d.incident_id, top=1)[0].service == "cart"
    plain = Correlator(CorrelationConfig(), graph=GRAPH)
    plain.add(alert("FrontendLatencyHigh", 0, service="frontend"))
    d = plain.add(alert("CallLatencyHigh", 5, service="checkout", caller="frontend"))
    assert plain.root_causes(d.incident_id, top=1)[0].service == "checkout"


def test_nezha_probe_finds_quiet_targets_on_a_real_day() -> None:
    if not (NEZHA / "rca_data" / "2022-08-23").is_dir():
        pytest.skip(f"Nezha data not found at {NEZHA} (shared/data beside the repo)")
    day = build_day(NEZHA, "OnlineBoutique", "2022-08-23")
    probe = nezha_probe(NEZHA, day.day)
    correlator = Correlator(CorrelationConfig(), graph=ServiceGraph(day.call_edges + day.host_edges))
    truth = [la.truth for la in day.alerts]
    pred = [correlator.add(la.alert).incident_id for la in day.alerts]
    targets = {f.fault_id: f.service for f in day.faults}

    def hits() -> tuple[int, int, int]:
        rankings = {i: [c.service for c in correlator.root_causes(i, 3)] for i in set(pred)}
        return root_cause_hits(truth, pred, targets, rankings)

    _, alerts_only, n = hits()
    correlator.probe = probe
    _, with_metrics, _ = hits()
    assert with_metrics >= 0.9 * n
    assert with_metrics > alerts_only
    with pytest.raises(ValueError, match="no column"):
        nezha_probe(NEZHA, day.day, ("NoSuchColumn",))
    with pytest.raises(FileNotFoundError, match="metric folder"):
        nezha_probe(NEZHA, "1999-01-01")
