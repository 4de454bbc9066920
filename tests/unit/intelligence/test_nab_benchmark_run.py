"""The committed NAB benchmark command, end to end on a tiny synthetic corpus in NAB's layout."""

from __future__ import annotations

import importlib.util
import json
import math
import random
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from tocsin.intelligence import nab

RUN_PY = Path(__file__).resolve().parents[3] / "benchmarks" / "nab" / "run.py"


def _load_runner() -> ModuleType:
    if "nab_benchmark_run" in sys.modules:
        return sys.modules["nab_benchmark_run"]
    spec = importlib.util.spec_from_file_location("nab_benchmark_run", RUN_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being defined
    spec.loader.exec_module(module)
    return module


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _write_corpus(root: Path) -> None:
    rng = random.Random(11)
    labels: dict[str, list[list[str]]] = {}
    for name, jump_at in (("realKnownCause/ramp.csv", 1500), ("realTweets/spike.csv", 1200)):
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = 1_400_000_000.0
        lines = ["timestamp,value"]
        for i in range(2000):
            value = 10.0 + 3.0 * math.sin(i / 40.0) + rng.gauss(0.0, 0.3)
            if i >= jump_at:
                value += 0.2 * (i - jump_at)  # a steady climb to a new level
            lines.append(f"{_stamp(t0 + 300.0 * i)},{value:.4f}")
        path.write_text("\n".join(lines) + "\n")
        lo, hi = jump_at - 50, jump_at + 50
        labels[name] = [[_stamp(t0 + 300.0 * lo) + ".000000", _stamp(t0 + 300.0 * hi) + ".000000"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_benchmark_command_runs_and_writes_every_number(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    runner = _load_runner()
    out = tmp_path / "results.json"
    assert (
        runner.main(
            [
                "--nab-root",
                str(tmp_path),
                "--json",
                str(out),
                "--detectors",
                "compact",
                "tocsin",
                "tocsin (batched)",
                "--fleet-sizes",
                "3",
            ]
        )
        == 0
    )
    results = json.loads(out.read_text())
    assert results["points"] == 4000
    batched = results["detectors"]["tocsin (batched)"]
    assert batched["scores_identical_to_scalar"] is True
    assert batched["oracle"] == results["detectors"]["tocsin"]["oracle"]
    assert set(batched["points_per_cpu_second_by_fleet_size"]) == {"3"}
    for name in ("compact", "tocsin", "tocsin (batched)"):
        row = results["detectors"][name]
        assert set(row["oracle"]) == {p.name for p in nab.PROFILES}
        assert row["oracle"]["standard"]["score"] > 0  # both windows are easy to catch
        assert row["state_bytes_max"] > 0 and row["points_per_cpu_second"] > 0
    assert results["forecast"]["windows"] == 1  # only the realKnownCause series is forecast


def test_benchmark_reports_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _load_runner().main(["--nab-root", str(tmp_path / "absent")]) == 2
    assert "cannot load NAB" in capsys.readouterr().out


def test_self_tuned_feedback_only_sees_labels_after_the_fact(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    runner = _load_runner()
    corpus = nab.load_corpus(tmp_path)
    scores = [[1.0 if i % 500 == 0 else 0.0 for i in range(len(s))] for s in corpus]
    plain = runner.self_tuned(corpus, scores, feedback=False)
    fed = runner.self_tuned(corpus, scores, feedback=True)
    # Identical up to the first alert that feedback could have reacted to.
    first = min(i for i, f in enumerate(plain[0]) if f)
    assert plain[0][: first + 1] == fed[0][: first + 1]


def test_loader_names_malformed_files(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    bad = tmp_path / "data" / "realTweets" / "spike.csv"
    bad.write_text("timestamp,value\n2014-01-01 00:00:00,abc\n")
    with pytest.raises(nab.NabDataError, match="non-numeric value"):
        nab.load_corpus(tmp_path, only=["realTweets/spike.csv"])
    bad.write_text("time,val\n")
    with pytest.raises(nab.NabDataError, match="missing column"):
        nab.load_corpus(tmp_path, only=["realTweets/spike.csv"])
    with pytest.raises(nab.NabDataError, match="not in the NAB label file"):
        nab.load_corpus(tmp_path, only=["realTweets/other.csv"])
