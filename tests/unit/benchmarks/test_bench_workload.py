"""The benchmark's workload generator: deterministic, distinct alerts, the same config for all."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import msgspec
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # the repo root holds benchmarks/

from benchmarks.alerts.procstat import cpu_seconds, memory
from benchmarks.alerts.profile_summary import summarise
from benchmarks.alerts.scenarios import Tracker, percentile
from benchmarks.alerts.workload import (
    ID_LABEL,
    Workload,
    WorkloadError,
    alert_docs,
    config_yaml,
    encode_batches,
    group_of,
    labels_for,
    silence_docs,
)

from tocsin.config import load_config_text


def test_alerts_are_distinct_deterministic_and_grouped() -> None:
    w = Workload(alerts=1000, group_size=100, alertnames=4)
    docs = alert_docs(w)
    assert len({tuple(sorted(d["labels"].items())) for d in docs}) == 1000
    assert alert_docs(w) == docs
    assert alert_docs(w, 200, 300) == docs[200:300]
    assert w.groups == 10
    assert {group_of(w, i) for i in range(1000)} == {
        (f"Bench{g % 4}", f"cluster-{g // 4}") for g in range(10)
    }
    assert labels_for(w, 5, random.Random(1))[ID_LABEL] == "5"


def test_batches_cover_every_alert_once() -> None:
    w = Workload(alerts=130, batch_size=64)
    batches = encode_batches(w, alert_docs(w), 0, (1_700_000_000.0, 1_700_000_060.0))
    assert [(first, n) for first, n, _ in batches] == [(0, 64), (64, 64), (128, 2)]
    decoded = msgspec.json.decode(batches[2][2])
    assert decoded[0]["labels"][ID_LABEL] == "128"
    assert decoded[0]["startsAt"] == "2023-11-14T22:13:20.000000Z"


def test_config_is_valid_alertmanager_yaml() -> None:
    w = Workload(alerts=10, group_wait=1.0, group_interval=10.0)
    cfg = load_config_text(config_yaml(w, "http://127.0.0.1:9/hook", inhibit_rules=3))
    assert cfg.route.group_by_labels == ["alertname", "cluster"]
    assert len(cfg.inhibit_rules) == 3


def test_silences_are_valid_and_spread() -> None:
    w = Workload(alerts=1000)
    sils = silence_docs(w, 10, 1_700_000_000.0)
    assert len({s["matchers"][1]["value"] for s in sils}) == 10


@pytest.mark.parametrize(
    ("field", "value"), [("alerts", 0), ("batch_size", 0), ("extra_labels", -1), ("group_wait", 0.0)]
)
def test_bad_workload_is_named(field: str, value: float) -> None:
    with pytest.raises(WorkloadError, match=field):
        Workload(**{"alerts": 10, field: value}).validate()  # type: ignore[arg-type]


def test_tracker_records_first_firing_notification_only() -> None:
    t = Tracker(3)
    t.posted[0] = t.posted[1] = 10.0
    body = msgspec.json.encode(
        {
            "alerts": [
                {"labels": {ID_LABEL: "0"}, "status": "firing"},
                {"labels": {ID_LABEL: "1"}, "status": "resolved"},
            ]
        }
    )
    t.on_webhook(body, 11.5)
    t.on_webhook(body, 20.0)
    t.on_webhook(b"not json", 21.0)
    assert t.delivered == 1 and t.bad_payloads == 1 and t.notifications == 3
    assert t.latencies() == [1.5]
    assert percentile([1.0, 2.0, 3.0], 0.5) == 2.0


def test_procstat_reads_this_process() -> None:
    import os

    rss, hwm = memory(os.getpid())
    assert 0 < rss <= hwm
    assert cpu_seconds(os.getpid()) > 0


def test_profile_summary_adds_up_functions() -> None:
    text = "thread (1): Main;f (a/src/x.py:1);g (a/src/x.py:9) 3\nthread (1): Main;f (a/src/x.py:2) 1\n"
    total, inclusive, own = summarise(text)
    assert total == 4
    assert inclusive["f (x.py)"] == 4 and own["g (x.py)"] == 3 and own["f (x.py)"] == 1


def test_micro_compaction_runs_a_whole_pass(capsys: pytest.CaptureFixture[str]) -> None:
    from benchmarks.alerts import micro

    assert micro.main(["--alerts", "60000", "compaction"]) == 0
    line = capsys.readouterr().out
    assert "compaction of 120000 rows (60000 live)" in line and "longest" in line


def test_micro_postgres_commits_and_drops_its_schema(capsys: pytest.CaptureFixture[str]) -> None:
    from testkit import PG_URL, postgres_available

    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    import psycopg
    from benchmarks.alerts import micro

    assert micro.main(["--alerts", "500", "postgres"]) == 0
    line = capsys.readouterr().out
    assert "commits of 100 alerts (500 in all)" in line and "backend CPU" in line
    with psycopg.connect(PG_URL) as conn:
        left = conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'micro_%'").fetchone()
    assert left == (0,)
