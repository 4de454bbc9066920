"""Root cause from the callers' client latency: rises at a service's callers are attributed to it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from testkit import CALLEE_EDGES
from tocsin.intelligence.correlation.callee_attribution import binomial_tail, caller_evidence
from tocsin.intelligence.correlation.metric_probe import CombinedProbe, Series, SeriesProbe, held_rise
from tocsin.intelligence.correlation.nezha_metrics import nezha_probe
from tocsin.intelligence.correlation.rootcause import RootCauseWeights, ServiceEvidence, rank_root_causes
from tocsin.intelligence.correlation.topology import ServiceGraph

T0 = 1_700_000_000.0
NEZHA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nezha"
EDGES = CALLEE_EDGES  # T, B and L explain the alerting gateway equally (see testkit)
GRAPH = ServiceGraph(EDGES)
ALL = sorted(GRAPH.services)


def client_series(mode: str, seed: int) -> Series:
    """One sample a minute from an hour before T0: flat with jitter, then (from T0 on) ``rise``: ten
    times the level for the rest; ``blip``: ten times the level for the one sample at T0."""
    rng = np.random.default_rng(seed)
    n = 70
    times = T0 - 3600.0 + 60.0 * np.arange(n, dtype=float)
    values = 0.1 + rng.normal(0.0, 0.002, n)
    if mode == "rise":
        values[60:] = 1.0
    elif mode == "blip":
        values[60] = 1.0
    elif mode != "quiet":
        raise ValueError(mode)
    return Series(f"client latency ({mode})", times, values)


def probe(modes: dict[str, str]) -> SeriesProbe:
    """Every service of the graph has a client-latency series, quiet unless ``modes`` says otherwise."""
    client = [(s, client_series(modes.get(s, "quiet"), i)) for i, s in enumerate(ALL)]
    return SeriesProbe([], client_series=client)


def gateway_incident() -> dict[str, ServiceEvidence]:
    return {"gateway": ServiceEvidence(first_seen=T0, last_seen=T0 + 60, alerts=2)}


WEIGHTS = RootCauseWeights(callers=2.0)


def scores(ranked: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {c.service: c.score for c in ranked}


def test_held_rise_needs_the_rise_to_last() -> None:
    rise, blip = client_series("rise", 1), client_series("blip", 1)
    assert held_rise(rise, T0 - 180, T0 + 120, 2, 1800.0) > 100
    assert held_rise(blip, T0 - 180, T0 + 120, 1, 1800.0) > 100
    assert held_rise(blip, T0 - 180, T0 + 120, 2, 1800.0) < 3  # one sample is not a rise that lasted
    # A window with fewer samples than asked for, or no baseline, says nothing.
    assert held_rise(rise, T0, T0 + 30, 2, 1800.0) == 0.0
    assert held_rise(rise, T0 - 3600, T0 - 3000, 1, 1800.0) == 0.0


def test_binomial_tail() -> None:
    assert binomial_tail(3, 0, 0.3) == 1.0
    assert binomial_tail(3, 4, 0.3) == 0.0
    assert binomial_tail(3, 3, 0.5) == pytest.approx(0.125)
    assert binomial_tail(4, 2, 0.25) == pytest.approx(1 - 0.75**4 - 4 * 0.25 * 0.75**3)
    with pytest.raises(ValueError, match="p must be"):
        binomial_tail(3, 1, 1.5)


def test_every_caller_rising_points_at_the_callee_not_at_a_bystander() -> None:
    # A delay on T: its callers a, b, c wait. c also calls B, a also calls L.
    p = probe({"a": "rise", "b": "rise", "c": "rise"})
    ev = caller_evidence(GRAPH, p, ["T", "B", "L"], T0 - 180, T0 + 120)
    assert (ev["T"].rising, ev["T"].callers) == (3, 3)
    assert (ev["B"].rising, ev["B"].callers) == (1, 3)
    assert (ev["L"].rising, ev["L"].callers) == (1, 1)
    assert ev["T"].base_rising == 3 and ev["T"].base_measured == len(ALL)
    assert ev["T"].score > ev["L"].score > 0
    assert ev["T"].score > ev["B"].score
    ranked = rank_root_causes(gateway_incident(), GRAPH, WEIGHTS, p)
    order = [c.service for c in ranked]
    assert order[0] == "T"
    assert order.index("T") < order.index("B") and order.index("T") < order.index("L")
    assert any("client latency rose at 3 of its 3 callers" in why for why in ranked[0].reasons)
    # Without the signal T, B and L tie: nothing else separates them.
    plain = scores(rank_root_causes(gateway_incident(), GRAPH, RootCauseWeights(), p))
    assert plain["T"] == plain["B"] == plain["L"]


def test_a_rise_everywhere_is_evidence_for_no_one() -> None:
    # A global slowdown: every service's client latency rises, so T's three rising callers are little
    # surprise (the smoothed base rate stays under 1: 10 of 11 here), and no bystander gains on it either.
    p = probe(dict.fromkeys(ALL, "rise"))
    ev = caller_evidence(GRAPH, p, ["T", "B", "L"], T0 - 180, T0 + 120)
    targeted = caller_evidence(
        GRAPH, probe({"a": "rise", "b": "rise", "c": "rise"}), ["T"], T0 - 180, T0 + 120
    )
    assert all(e.score < 0.15 for e in ev.values())
    assert ev["T"].score < targeted["T"].score / 4
    with_signal = scores(rank_root_causes(gateway_incident(), GRAPH, WEIGHTS, p))
    assert with_signal["T"] == pytest.approx(with_signal["B"], abs=0.2)
    assert with_signal["L"] <= with_signal["T"]


def test_a_bystander_whose_callers_rose_is_picked_and_blips_do_not_count() -> None:
    # The callers of B rise (c, d, e): B, not T, is the one the callers point at.
    p = probe({"c": "rise", "d": "rise", "e": "rise"})
    assert rank_root_causes(gateway_incident(), GRAPH, WEIGHTS, p)[0].service == "B"
    # One-sample blips at T's callers: with the default persistence (2 samples) they are not rises.
    blips = probe({"a": "blip", "b": "blip", "c": "blip"})
    ev = caller_evidence(GRAPH, blips, ["T"], T0 - 180, T0 + 120)
    assert ev["T"].rising == 0 and ev["T"].score == 0.0
    assert caller_evidence(GRAPH, blips, ["T"], T0 - 180, T0 + 120, samples=1)["T"].rising == 3


def test_the_signal_is_off_without_weight_directions_or_client_series() -> None:
    p = probe({"a": "rise", "b": "rise", "c": "rise"})
    base = scores(rank_root_causes(gateway_incident(), GRAPH, RootCauseWeights(), p))
    # Weight 0 (the default).
    assert scores(rank_root_causes(gateway_incident(), GRAPH, RootCauseWeights(callers=0.0), p)) == base
    # A probe that knows no client latency.
    quiet = client_series("quiet", 1)
    no_client = SeriesProbe([("T", Series("T cpu", quiet.times, quiet.values))])
    plain = rank_root_causes(gateway_incident(), GRAPH, WEIGHTS, no_client)
    assert not any("callers" in why for c in plain for why in c.reasons)
    # A learned graph (no call directions): only the alerting services are ranked, without the signal.
    learned = rank_root_causes(gateway_incident(), GRAPH, WEIGHTS, p, graph_has_directions=False)
    assert [c.service for c in learned] == ["gateway"]
    assert not any("callers" in why for why in learned[0].reasons)
    # Services without measured callers get no evidence.
    assert "gateway" not in caller_evidence(GRAPH, p, ["gateway"], T0 - 180, T0 + 120)


def test_the_base_rate_is_taken_within_the_candidate_s_component() -> None:
    # Another system behind the same correlator, which calls nothing of this one, slows down
    # everywhere at the same time: its rises must not make T's three rising callers look common.
    other_edges = [("x-gateway", f"x{i}") for i in range(9)]
    both = ServiceGraph([*EDGES, *other_edges])
    modes = {"a": "rise", "b": "rise", "c": "rise"}
    client = [(s, client_series(modes.get(s, "quiet"), i)) for i, s in enumerate(ALL)]
    client += [(s, client_series("rise", 100 + i)) for i, s in enumerate(sorted(both.component("x-gateway")))]
    p = SeriesProbe([], client_series=client)
    alone = caller_evidence(GRAPH, probe(modes), ["T"], T0 - 180, T0 + 120)
    ev = caller_evidence(both, p, ["T", "x0"], T0 - 180, T0 + 120)
    assert (ev["T"].base_rising, ev["T"].base_measured) == (3, len(ALL))
    assert ev["T"].score == pytest.approx(alone["T"].score)
    # In the other system every caller rose along with everything else: little surprise there.
    assert (ev["x0"].base_rising, ev["x0"].base_measured) == (10, 10)
    assert ev["x0"].score < ev["T"].score / 2


class _Unlisted:
    """A client-latency probe that cannot list its services in advance (as a metrics store)."""

    def __init__(self, inner: SeriesProbe) -> None:
        self.inner = inner
        self.asked: list[str] = []

    @property
    def client_services(self) -> list[str] | None:
        return None

    def client_rise(self, service: str, start: float, end: float, samples: int) -> float | None:
        self.asked.append(service)
        return self.inner.client_rise(service, start, end, samples)


def test_a_probe_that_cannot_list_its_services_is_asked_about_every_service() -> None:
    listed = probe({"a": "rise", "b": "rise", "c": "rise"})
    # "gateway" has no client series behind the unlisted probe: it is not measured, not quiet.
    partial = SeriesProbe([], client_series=[(s, listed._client[s][0]) for s in ALL if s != "gateway"])
    unlisted = _Unlisted(partial)
    ev = caller_evidence(GRAPH, unlisted, ["T", "a"], T0 - 180, T0 + 120)
    assert sorted(unlisted.asked) == ALL
    assert ev["T"].base_measured == len(ALL) - 1 and ev["T"].base_rising == 3
    assert "a" not in ev  # its one caller, the gateway, is not measured


def test_shifted_and_combined_probes_answer_client_latency() -> None:
    p = probe({"a": "rise"})
    later = p.shifted(1000.0)
    assert later.client_rise("a", T0 + 820, T0 + 1120, 2) == pytest.approx(
        p.client_rise("a", T0 - 180, T0 + 120, 2)
    )
    assert p.client_rise("nobody", T0, T0 + 60, 2) is None
    other = SeriesProbe([], client_series=[("db", client_series("rise", 3))])
    both = CombinedProbe([p, other, SeriesProbe([])])
    assert set(both.client_services) == set(ALL) | {"db"}
    rise = both.client_rise("db", T0 - 180, T0 + 120, 2)
    assert rise is not None and rise > 100
    assert both.client_rise("nobody", T0, T0 + 60, 2) is None


def test_bad_input_is_rejected() -> None:
    p = probe({})
    with pytest.raises(ValueError, match="samples"):
        p.client_rise("a", T0, T0 + 60, 0)
    with pytest.raises(ValueError, match="ends before it starts"):
        p.client_rise("a", T0, T0 - 1, 2)
    with pytest.raises(ValueError, match="threshold"):
        caller_evidence(GRAPH, p, ["T"], T0, T0 + 60, threshold=math.nan)
    with pytest.raises(ValueError, match="samples"):
        caller_evidence(GRAPH, p, ["T"], T0, T0 + 60, samples=0)
    with pytest.raises(ValueError, match="callers_samples"):
        RootCauseWeights(callers_samples=0)
    with pytest.raises(ValueError, match="callers"):
        RootCauseWeights(callers=-1.0)
    with pytest.raises(ValueError, match="no service"):
        SeriesProbe([], client_series=[("", client_series("quiet", 1))])


def test_nezha_probe_loads_client_latency() -> None:
    if not (NEZHA / "rca_data" / "2023-01-30").is_dir():
        pytest.skip(f"Nezha data not found at {NEZHA} (shared/data beside the repo)")
    p = nezha_probe(NEZHA, "2023-01-30")
    assert "ts-auth-service" in p.client_services
    # 2023-01-30 12:29:29 UTC: a network delay on ts-verification-code-service, which only ts-auth-service
    # calls; auth's client latency rises and stays up.
    start = 1675081769.0
    rise = p.client_rise("ts-auth-service", start - 180, start + 300, 2)
    assert rise is not None and rise > 3
