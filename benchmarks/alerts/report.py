"""Markdown tables of a benchmark run, with every tocsin figure beside Alertmanager's."""

from __future__ import annotations

import math
from typing import Any

AM = "alertmanager"


def _num(v: float, digits: int = 0) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:,.{digits}f}"


def _ref(rows: list[dict[str, Any]], row: dict[str, Any], key: str = "alerts") -> dict[str, Any] | None:
    return next((r for r in rows if r["target"] == AM and r.get(key) == row.get(key)), None)


def _ratio(ours: float, theirs: float | None, higher_is_better: bool) -> str:
    if not theirs or not ours or math.isnan(ours) or math.isnan(theirs):
        return ""
    r = ours / theirs if higher_is_better else theirs / ours
    return f" ({r:.2f}x)"


def ingest_table(rows: list[dict[str, Any]], group_wait: float) -> str:
    out = [
        "| alerts | target | alerts/s | last 20% alerts/s | p50 s | p99 s | max s | p99 beyond group_wait s"
        " | delivered | peak RSS MiB | RSS KiB/alert | CPU s | CPU µs/alert |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = None if r["target"] == AM else _ref(rows, r)

        def cell(key: str, digits: int, hib: bool, r: dict[str, Any] = r, ref: Any = ref) -> str:
            return _num(r[key], digits) + (_ratio(r[key], ref[key], hib) if ref else "")

        cpu_us = r["cpu_seconds"] / r["alerts"] * 1e6
        out.append(
            f"| {r['alerts']:,} | {r['target']} | {cell('alerts_per_s', 0, True)}"
            f" | {cell('tail_alerts_per_s', 0, True)} | {_num(r['latency_p50'], 2)}"
            f" | {cell('latency_p99', 2, False)} | {_num(r['latency_max'], 2)}"
            f" | {_num(r['latency_p99'] - group_wait, 2)} | {r['delivered_fraction']:.4f}"
            f" | {cell('peak_rss_mib', 0, False)} | {_num(r['rss_per_alert_kib'], 2)}"
            f" | {_num(r['cpu_seconds'], 1)} | {_num(cpu_us, 0)} |"
        )
    return "\n".join(out)


def budget_table(rows: list[dict[str, Any]]) -> str:
    """Where the machine's CPU went while each target ingested, in cores (CPU seconds per second
    of the ingest span): a server that leaves cores idle is waiting, not computing."""
    out = [
        "| alerts | target | POST answered p50 / p99 ms | server cores | … of them its main thread"
        " | database cores | generator cores | other cores | idle cores |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        b = r.get("budget")
        if not b or not b.get("wall_s"):
            continue
        wall = b["wall_s"]
        consumers = ("server", "server_main", "database", "generator", "other", "idle")
        cores = {k: _num(b[f"{k}_s"] / wall, 2) for k in consumers}
        if r["target"] == AM:  # a Go program: no thread is the server's main loop
            cores["server_main"] = "-"
        answered = f"{_num(r['answer_p50'] * 1e3, 1)} / {_num(r['answer_p99'] * 1e3, 1)}"
        out.append(
            f"| {r['alerts']:,} | {r['target']} | {answered} | {cores['server']} | {cores['server_main']}"
            f" | {cores['database']} | {cores['generator']} | {cores['other']} | {cores['idle']} |"
        )
    return "\n".join(out)


def _after(r: dict[str, Any], ref: dict[str, Any] | None, key: str) -> str:
    """A read timed right after a change, with its ratio; empty where the run did not time it."""
    v = r.get(key)
    if v is None:
        return ""
    theirs = None if ref is None else ref.get(key)
    return _num(v, 3) + ("" if theirs is None else _ratio(v, theirs, False))


def read_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| target | GET /api/v2/alerts s (median) | fastest s | … right after a new silence s (median)"
        " | … right after a new inhibiting alert s (median)"
        " | GET /api/v2/alerts/groups s (median) | fastest s | … right after a new silence s (median)"
        " | alerts returned | suppressed | groups |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = None if r["target"] == AM else _ref(rows, r)
        a = _num(r["get_alerts_median_s"], 3) + (
            _ratio(r["get_alerts_median_s"], ref["get_alerts_median_s"], False) if ref else ""
        )
        after_silence = _after(r, ref, "get_alerts_after_silence_median_s")
        after_source = _after(r, ref, "get_alerts_after_source_median_s")
        groups_after_silence = _after(r, ref, "get_groups_after_silence_median_s")
        g = _num(r["get_groups_median_s"], 3) + (
            _ratio(r["get_groups_median_s"], ref["get_groups_median_s"], False) if ref else ""
        )
        out.append(
            f"| {r['target']} | {a} | {_num(r['get_alerts_min_s'], 3)} | {after_silence}"
            f" | {after_source} | {g}"
            f" | {_num(r['get_groups_min_s'], 3)} | {groups_after_silence} | {r['returned_alerts']:,}"
            f" | {r['suppressed_alerts']:,} | {r['returned_groups']:,} |"
        )
    return "\n".join(out)


def steady_table(rows: list[dict[str, Any]]) -> str:
    out = [
        "| target | alerts | re-send rounds | CPU s | CPU µs per re-sent alert | round p50 s | round max s"
        " | peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        ref = None if r["target"] == AM else _ref(rows, r)
        c = _num(r["cpu_us_per_alert"], 1) + (
            _ratio(r["cpu_us_per_alert"], ref["cpu_us_per_alert"], False) if ref else ""
        )
        out.append(
            f"| {r['target']} | {r['alerts']:,} | {r['rounds']} | {_num(r['cpu_seconds'], 1)} | {c}"
            f" | {_num(r['round_p50_s'], 2)} | {_num(r['round_max_s'], 2)} | {_num(r['peak_rss_mib'], 0)} |"
        )
    return "\n".join(out)


def markdown(results: dict[str, Any], group_wait: float) -> str:
    m = results["machine"]
    parts = [
        f"Run started {results['started']} with `{' '.join(results['argv'])}`; {m['cpus']} CPUs,"
        f" {m['platform']}, Python {m['python']}; load average (1, 5, 15 min) at start"
        f" {m['load_at_start']}, at end {m.get('load_at_end')}.",
        "Ratios in brackets compare with Alertmanager in the same run; above 1x means tocsin is better.",
    ]
    if results["ingest"]:
        parts += ["### Ingest", ingest_table(results["ingest"], group_wait)]
        if any(r.get("budget") for r in results["ingest"]):
            parts += [
                "CPU over the ingest span (first POST to last answer), in cores; `other` is the rest"
                " of the machine (kernel threads, short-lived processes, other users):",
                budget_table(results["ingest"]),
            ]
        rounds = [r for r in results["ingest"] if len(r.get("rounds_alerts_per_s", ())) > 1]
        if rounds:
            parts.append(
                "Each row is the target's median round; the ingest rate of every round, in order:\n\n"
                + "\n".join(
                    f"- {r['alerts']:,} alerts, {r['target']}: "
                    + ", ".join(f"{v:,.0f}" for v in r["rounds_alerts_per_s"])
                    for r in rounds
                )
            )
    if results["read"]:
        parts += ["### Reads", read_table(results["read"])]
    if results["steady"]:
        parts += ["### Steady state", steady_table(results["steady"])]
    return "\n\n".join(parts) + "\n"
