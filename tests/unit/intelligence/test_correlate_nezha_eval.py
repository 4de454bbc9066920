"""The Nezha evaluation-set generator: rule pieces on synthetic series, and one real day if present."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tocsin.intelligence.correlation.nezha_eval import (
    BACKGROUND,
    AlertRules,
    Fault,
    build_day,
    label_alerts,
    pod_service,
    spike_flags,
    to_jsonl,
)
from tocsin.model import Alert

NEZHA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "nezha"


def test_pod_service_and_bad_pod_name() -> None:
    assert pod_service("cartservice-579f59597d-wc2lz") == "cartservice"
    assert pod_service("ts-order-service-5b67c48447-mv5hb") == "ts-order-service"
    with pytest.raises(ValueError, match="deployment"):
        pod_service("redis")


def test_spike_flags_need_a_baseline_and_a_real_jump() -> None:
    values = [10.0 + (i % 3) for i in range(40)] + [60.0, 11.0]
    flags = spike_flags(values, AlertRules(), abs_floor=1.0)
    assert flags[40] and not any(flags[:40]) and not flags[41]
    assert not any(spike_flags(values, AlertRules(), abs_floor=1.0, above=100.0))


def test_labels_follow_window_and_call_graph() -> None:
    faults = [Fault("f0", 1000.0, "cart-1-x", "cart", "cpu"), Fault("f1", 1400.0, "db-1-x", "db", "cpu")]
    edges = [("frontend", "cart"), ("cart", "db")]

    def a(service: str, t: float) -> Alert:
        return Alert(labels={"alertname": "X", "service": service}, starts_at=t, ends_at=t + 60)

    alerts = [a("cart", 1100), a("frontend", 1200), a("db", 1200), a("cart", 1500), a("cart", 2100)]
    truth = [la.truth for la in label_alerts(alerts, faults, edges, window_s=600)]
    # db is a callee of cart, not a caller; the fourth starts after f1's injection (window cut there).
    assert truth == ["f0", "f0", BACKGROUND, "f1", BACKGROUND]


def test_real_day_builds_reproducibly() -> None:
    if not (NEZHA / "rca_data" / "2022-08-22").is_dir():
        pytest.skip(f"Nezha data not found at {NEZHA} (shared/data beside the repo)")
    day = build_day(NEZHA, "OnlineBoutique", "2022-08-22")
    assert day.alerts and day.faults and day.call_edges
    starts = [la.alert.starts_at for la in day.alerts]
    assert starts == sorted(starts)
    assert any(la.truth != BACKGROUND for la in day.alerts)
    # Every timestamp lies on the recording day (one file's epoch column is 2e8 s off).
    assert all(1661126400 <= t < 1661126400 + 2 * 86400 for t in starts)
    first = to_jsonl(day)
    assert first == to_jsonl(build_day(NEZHA, "OnlineBoutique", "2022-08-22"))
    row = json.loads(first.splitlines()[0])
    assert {"labels", "starts_at", "truth"} <= set(row)
    with pytest.raises(ValueError, match="unknown system/day"):
        build_day(NEZHA, "OnlineBoutique", "2023-01-29")
