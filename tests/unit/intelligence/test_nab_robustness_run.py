"""The committed robustness command, end to end on a tiny synthetic corpus in NAB's layout."""

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
from tocsin.intelligence.anomaly import tocsin_detector

ROBUSTNESS_PY = Path(__file__).resolve().parents[3] / "benchmarks" / "nab" / "robustness.py"


def _load() -> ModuleType:
    if "nab_robustness_run" in sys.modules:
        return sys.modules["nab_robustness_run"]
    spec = importlib.util.spec_from_file_location("nab_robustness_run", ROBUSTNESS_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _write_corpus(root: Path) -> None:
    rng = random.Random(5)
    labels: dict[str, list[list[str]]] = {}
    for name, jump_at in (("realKnownCause/a.csv", 900), ("realTweets/b.csv", 700)):
        path = root / "data" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        t0 = 1_400_000_000.0
        lines = ["timestamp,value"]
        for i in range(1200):
            value = 10.0 + 3.0 * math.sin(i / 30.0) + rng.gauss(0.0, 0.3) + (25.0 if i >= jump_at else 0.0)
            lines.append(f"{_stamp(t0 + 300.0 * i)},{value:.4f}")
        path.write_text("\n".join(lines) + "\n")
        lo, hi = jump_at - 40, jump_at + 40
        labels[name] = [[_stamp(t0 + 300.0 * lo) + ".000000", _stamp(t0 + 300.0 * hi) + ".000000"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def test_robustness_command_writes_grid_and_split(tmp_path: Path) -> None:
    _write_corpus(tmp_path)
    out = tmp_path / "robustness.json"
    assert _load().main(["--nab-root", str(tmp_path), "--json", str(out)]) == 0
    results = json.loads(out.read_text())
    chosen = "chosen: art(w10 s2 rho 0.9)"
    assert chosen in results["grid"] and "tocsin v1 (pair)" in results["grid"]
    assert all(len(v) == 3 for v in results["grid"].values())
    assert set(results["split"]) == {"tune on A, report on B", "tune on B, report on A"}
    # The replayed ensemble is the production detector: same scores as running it end to end.
    corpus = nab.load_corpus(tmp_path)
    direct = []
    for s in corpus:
        detector = tocsin_detector()
        direct.append([detector.update(t, x) for t, x in zip(s.timestamps, s.values, strict=True)])
    expected = [nab.oracle_threshold(corpus, direct, p).normalised for p in nab.PROFILES]
    assert results["grid"][chosen] == pytest.approx(expected, abs=1e-12)


def test_robustness_reports_missing_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _load().main(["--nab-root", str(tmp_path / "absent")]) == 2
    assert "cannot load NAB" in capsys.readouterr().out
