"""Co-occurrence and IDF learned alert by alert from a live stream: the same counts as learning
from a stored history, bounded, saved and restored, and read by a correlator that keeps its open
incidents while the history grows."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from tocsin.intelligence.correlate import CorrelationConfig, Correlator
from tocsin.intelligence.correlation.cooccurrence import CooccurrenceModel
from tocsin.intelligence.correlation.counts import rarest
from tocsin.intelligence.correlation.text import IdfWeights, TokenCounts, alert_tokens
from tocsin.model import Alert

T0 = 1_700_000_000.0
TABLES = ("key_counts", "pair_counts", "service_counts", "service_pairs", "service_accompanied")


def alert(name: str, t: float, service: str) -> Alert:
    return Alert(labels={"alertname": name, "service": service}, starts_at=T0 + t, ends_at=T0 + t + 60)


def service(a: Alert) -> str:
    return a.labels["service"]


def stream(n: int, seed: int = 5) -> list[Alert]:
    """A random stream with recurring pairs (db then api 30 s later) among noise, in start order."""
    rng = random.Random(seed)
    out, t = [], 0.0
    for _ in range(n):
        t += rng.expovariate(1 / 40.0)
        if rng.random() < 0.3:
            out += [alert("DbSlow", t, "db"), alert("ApiErrors", t + 30, "api")]
            t += 30
        else:
            out.append(alert(f"Noise{rng.randrange(8)}", t, f"svc{rng.randrange(6)}"))
    return out


def strengths(m: CooccurrenceModel) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    """Every non-zero strength, as the correlator reads it."""
    keys = {p: v for p in m.pair_counts if (v := m.strength_value(*p)) > 0}
    services = {p: v for p in m.service_pairs if (v := m.service_strength_value(*p)) > 0}
    companions = {s: v for s in m.service_counts if (v := m.companion_value(s)) > 0}
    return keys, services, companions


def test_observing_in_start_order_counts_exactly_what_learning_counts() -> None:
    alerts = stream(400)
    learned = CooccurrenceModel(window_s=120).learn(alerts, service)
    live = CooccurrenceModel(window_s=120)
    for i, a in enumerate(alerts):
        live.observe(a, service(a))
        if i % 5 == 0:  # reads in between must not disturb the incremental tables
            live.strength_value("db/DbSlow", "api/ApiErrors")
    for table in TABLES:
        assert getattr(live, table) == getattr(learned, table), table
    assert strengths(live) == strengths(learned)
    assert live.strength("db/DbSlow", "api/ApiErrors").count > 20


def test_alerts_arriving_late_still_pair_with_earlier_and_later_partners() -> None:
    # The service sees alerts when their group first flushes, group_wait after they started.
    m = CooccurrenceModel(window_s=120)
    for k in range(3):
        base = k * 3600.0
        m.observe(alert("ApiErrors", base + 30, "api"), "api")
        m.observe(alert("DbSlow", base, "db"), "db")  # started first, arrived second
    assert m.strength("db/DbSlow", "api/ApiErrors").count == 3
    assert m.strength_value("db/DbSlow", "api/ApiErrors") == 1.0
    assert m.companion_rate("db").count == 3
    # Later than the lateness allowance: counted, but it can no longer find its partners.
    m.observe(alert("Cache", 3 * 3600.0, "cache"), "cache")
    m.observe(alert("Queue", 3 * 3600.0 - 500, "queue"), "queue")
    assert m.service_strength("cache", "queue").count == 0 and m.key_counts["queue/Queue"] == 1


def test_live_strengths_equal_a_full_tabulation_after_a_disordered_stream() -> None:
    rng = random.Random(2)
    alerts = sorted(stream(300), key=lambda a: a.starts_at + rng.uniform(0, 60))
    m = CooccurrenceModel(window_s=120)
    for a in alerts:
        m.observe(a, service(a))
        m.companion_value("db")
    again = CooccurrenceModel.from_dict(json.loads(json.dumps(m.to_dict())))
    assert strengths(m) == strengths(again)


def test_bounds_drop_the_rarest_and_keep_the_rest_exact() -> None:
    alerts = stream(600)
    m = CooccurrenceModel(window_s=120)
    for a in alerts:
        m.observe(a, service(a))
        m.strength_value("", "")
        m.bound(max_keys=6, max_pairs=8)
    assert len(m.key_counts) <= 6 and len(m.pair_counts) <= 8
    assert len(m.service_counts) <= 6 and len(m.service_pairs) <= 8
    # The recurring pair is the most frequent one: it survives every cut with its count intact.
    full = CooccurrenceModel(window_s=120).learn(alerts, service)
    assert m.strength("db/DbSlow", "api/ApiErrors") == full.strength("db/DbSlow", "api/ApiErrors")
    # What is left tabulates as a fresh model with the same counts would.
    assert strengths(m) == strengths(CooccurrenceModel.from_dict(m.to_dict()))
    assert len(m) == len(alerts)  # the alert count (the base rate) is not cut
    with pytest.raises(ValueError, match="bounds must be >= 1"):
        m.bound(0, 10)


def test_rarest_breaks_ties_in_counting_order() -> None:
    assert rarest({"a": 3, "b": 1, "c": 1, "d": 2}, 2) == ["b", "c"]
    assert rarest({"a": 3, "b": 1, "c": 1, "d": 2}, 1) == ["b"]
    assert rarest({"a": 1}, 0) == [] and rarest({"a": 1}, 5) == ["a"]


def test_saved_counts_round_trip_and_bad_data_is_named() -> None:
    m = CooccurrenceModel(window_s=90, min_count=3).learn(stream(100), service)
    again = CooccurrenceModel.from_dict(json.loads(json.dumps(m.to_dict())))
    for table in TABLES:
        assert getattr(again, table) == getattr(m, table), table
    assert (again.window_s, again.min_count, len(again), again.alert_rate()) == (
        90,
        3,
        len(m),
        m.alert_rate(),
    )
    assert len(CooccurrenceModel.from_dict(CooccurrenceModel().to_dict())) == 0
    with pytest.raises(ValueError, match="unsupported version"):
        CooccurrenceModel.from_dict({"version": 99})
    for field, value in (("pairs", [0, 1]), ("pairs", [0, 99, 1]), ("pairs", [-1, 0, 1]), ("counts", "x")):
        broken = m.to_dict()
        broken["keys"][field] = value
        with pytest.raises(ValueError, match="co-occurrence data: malformed"):
            CooccurrenceModel.from_dict(broken)


def _first_layout(m: CooccurrenceModel) -> dict[str, Any]:
    """The version 1 layout (every pair with its two names), as earlier releases saved it."""
    return {
        "version": 1,
        "window_s": m.window_s,
        "min_count": m.min_count,
        "alerts_seen": m.alerts_seen,
        "first_start": m.first_start if m.alerts_seen else None,
        "last_start": m.last_start if m.alerts_seen else None,
        "keys": dict(m.key_counts),
        "pairs": [[a, b, n] for (a, b), n in m.pair_counts.items()],
        "services": dict(m.service_counts),
        "service_pairs": [[a, b, n] for (a, b), n in m.service_pairs.items()],
        "accompanied": dict(m.service_accompanied),
    }


def _ordered(m: CooccurrenceModel) -> list[list[Any]]:
    # Counting order decides what a bound drops among equal counts, so it must survive a save.
    return [list(getattr(m, table).items()) for table in TABLES]


def test_saves_name_each_key_once_keep_counting_order_and_read_the_first_layout() -> None:
    m = CooccurrenceModel(window_s=120)
    for a in stream(600):
        m.observe(a, service(a))
        m.bound(max_keys=6, max_pairs=8)
    # A bound drops names whose alerts are still in the window; they pair again with the next
    # alert, so some pairs name keys no longer counted, and the save must keep them.
    last = max(m.last_start, T0) - T0 + 1000
    for k, name in enumerate(("A", "B", "C")):
        m.observe(alert(name, last + k, f"x{k}"), f"x{k}")
    m.bound(max_keys=2, max_pairs=8)
    m.observe(alert("C", last + 3, "x2"), "x2")
    assert any(a not in m.key_counts or b not in m.key_counts for a, b in m.pair_counts)
    saved = m.to_dict()
    again = CooccurrenceModel.from_dict(json.loads(json.dumps(saved)))
    assert _ordered(again) == _ordered(m)
    old = CooccurrenceModel.from_dict(json.loads(json.dumps(_first_layout(m))))
    assert _ordered(old) == _ordered(m)
    full = CooccurrenceModel(window_s=120).learn(stream(600), service)
    assert len(json.dumps(full.to_dict())) < 0.6 * len(json.dumps(_first_layout(full)))


def test_token_counts_give_the_weights_of_a_batch_idf_and_stay_bounded() -> None:
    alerts = stream(200)
    counts = TokenCounts()
    for a in alerts:
        counts.observe(alert_tokens(a))
    batch = IdfWeights.from_alerts(alerts)
    live = counts.weights()
    for token in ("service=db", "service=svc3", "never-seen"):
        assert live.weight(token) == pytest.approx(batch.weight(token))
    assert live.weight("service=db") < live.weight("service=svc3")  # the frequent one weighs less
    again = TokenCounts.from_dict(json.loads(json.dumps(counts.to_dict())))
    assert again.df == counts.df and again.n_docs == counts.n_docs
    assert counts.bound(4) and len(counts.df) == 3 and not counts.bound(4)
    with pytest.raises(ValueError, match="token counts: malformed"):
        TokenCounts.from_dict({"n_docs": 1})


def test_a_correlator_reads_a_growing_history_and_keeps_its_open_incidents() -> None:
    history = CooccurrenceModel(window_s=120)
    config = CorrelationConfig(w_topology=0.0)  # the two share no label or word: history decides
    c, without = Correlator(config), Correlator(config)
    opened = c.add(alert("DbSlow", 10_000, "db"))
    without.add(alert("DbSlow", 10_000, "db"))
    assert without.add(alert("ApiErrors", 10_040, "api")).new_incident
    for k in range(12):  # the history learns while the incident is open
        history.observe(alert("DbSlow", k * 600.0, "db"), "db")
        history.observe(alert("ApiErrors", k * 600.0 + 30, "api"), "api")
    c.use_history(history)
    joined = c.add(alert("ApiErrors", 10_040, "api"))
    assert joined.incident_id == opened.incident_id and not joined.new_incident
    assert "api/ApiErrors and db/DbSlow co-occurred 12 times before" in str(joined.explanation)
    # Without a configured graph, the graph is learned from the history it was given.
    assert c.graph is not None and c.graph.distance("db", "api") == 1


def _reference_counts(
    alerts: list[Alert], window: float, lateness: float, max_recent: int
) -> dict[str, Counter[Any]]:
    """Co-occurrence counted the plain way, by walking every alert still in the window: what the
    indexed counting must equal."""
    out: dict[str, Counter[Any]] = {t: Counter() for t in TABLES}
    recent: list[list[Any]] = []  # [start, key, service, accompanied], ordered by start
    latest = float("-inf")
    for a in alerts:
        t, svc = a.starts_at, service(a)
        key = f"{svc}/{a.name}"
        latest = max(latest, t)
        recent = [r for r in recent if r[0] >= latest - window - lateness]
        out["key_counts"][key] += 1
        out["service_counts"][svc] += 1
        near = [r for r in recent if t - window <= r[0] <= t + window]
        for k in {r[1] for r in near if r[1] != key}:
            out["pair_counts"][tuple(sorted((key, k)))] += 1
        others = {r[2] for r in near if r[2] != svc}
        for s in others:
            out["service_pairs"][tuple(sorted((svc, s)))] += 1
        for r in near:
            if r[2] != svc and not r[3]:
                r[3] = True
                out["service_accompanied"][r[2]] += 1
        if others:
            out["service_accompanied"][svc] += 1
        recent.append([t, key, svc, bool(others)])
        recent.sort(key=lambda r: r[0])  # stable: equal starts keep arrival order
        if len(recent) > max_recent:
            del recent[0]
    return out


@pytest.mark.parametrize("seed", range(12))
def test_indexed_counting_equals_walking_the_window(seed: int) -> None:
    # Storms of few kinds, equal start times, arrivals out of order within the lateness, and a
    # small cap on the window so that alerts also leave it by number.
    rng = random.Random(seed)
    alerts, t = [], 0.0
    for _ in range(300):
        t += rng.choice([0.0, 0.0, 1.0, 5.0, 40.0, 200.0])
        late = rng.choice([0.0, 0.0, 0.0, 30.0, 90.0])
        alerts.append(alert(f"K{rng.randrange(4)}", round(t - late), f"s{rng.randrange(3)}"))
    max_recent = rng.choice([3, 8, 1000])
    live = CooccurrenceModel(window_s=60, lateness_s=120, max_recent=max_recent)
    for a in alerts:
        live.observe(a, service(a))
    expected = _reference_counts(alerts, 60, 120, max_recent)
    for table in TABLES:
        assert getattr(live, table) == +expected[table], table
