"""Groups whose flush would change nothing are not re-evaluated on their ticks, and that never
changes what is sent or when: each scenario runs with the skip and with it disabled, and the
notifications must be identical."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tocsin.engine.silences import Silence
from tocsin.matchers import parse_matchers
from tocsin.notify.base import NotifyError

CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [cluster]
"""

Scenario = Callable[[Any], Awaitable[None]]


async def _silence_then_expiry(h: Any) -> None:
    await h.post({"labels": {"alertname": "A", "i": "1"}, "endsAt": h.at(6 * 3600)})
    await h.advance(31 * 60)
    await h.engine.set_silence(
        Silence(
            id="",
            matchers=parse_matchers('{alertname="A"}'),
            starts_at=h.clock.now() + 600,  # starts later: a time boundary, not a version change
            ends_at=h.clock.now() + 5400,
            created_by="t",
            comment="c",
        )
    )
    await h.advance(3 * 3600)


async def _inhibition_source_ends(h: Any) -> None:
    await h.post(
        {"labels": {"alertname": "W", "severity": "warning", "cluster": "c"}, "endsAt": h.at(5 * 3600)}
    )
    await h.post({"labels": {"alertname": "C", "severity": "critical", "cluster": "c"}, "endsAt": h.at(2000)})
    await h.advance(3 * 3600)


async def _alerts_time_out_one_by_one(h: Any) -> None:
    for i, end in enumerate((700, 1900, 5000)):
        await h.post({"labels": {"alertname": "A", "i": str(i)}, "endsAt": h.at(end)})
    await h.advance(2 * 3600)


async def _failure_is_retried_next_tick(h: Any) -> None:
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(5 * 3600)})
    await h.advance(30)
    h.rec["team"][0].fail_with = NotifyError("down", retryable=False)
    await h.post({"labels": {"alertname": "A", "i": "2"}, "endsAt": h.at(5 * 3600)})
    await h.advance(600)
    h.rec["team"][0].fail_with = None
    await h.advance(2 * 3600)


async def _repeat_interval_with_resends(h: Any) -> None:
    # Prometheus re-sends the same alert every minute with a later endsAt: a replaced alert.
    for _ in range(90):
        await h.post({"labels": {"alertname": "A"}, "startsAt": h.at(-60), "endsAt": h.at(240)})
        await h.advance(60)
    await h.advance(3 * 3600)


SCENARIOS = [
    _silence_then_expiry,
    _inhibition_source_ends,
    _alerts_time_out_one_by_one,
    _failure_is_retried_next_tick,
    _repeat_interval_with_resends,
]


async def _run(harness: Any, scenario: Scenario, skip: bool) -> tuple[list[Any], int]:
    h = harness(CONFIG)
    pipeline = h.engine.pipeline
    calls = 0
    run = pipeline.run

    async def counting_run(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        return await run(*args)

    pipeline.run = counting_run
    if not skip:
        pipeline.quiet_until = lambda route, key, tenant, alerts, now, muted=False: now
    await scenario(h)
    return h.rec["team"][0].batches(), calls


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__.strip("_") for s in SCENARIOS])
async def test_skipping_quiet_groups_changes_no_notification(harness, scenario: Scenario) -> None:
    with_skip, evaluated = await _run(harness, scenario, skip=True)
    without_skip, evaluated_all = await _run(harness, scenario, skip=False)
    assert with_skip == without_skip
    assert with_skip, "the scenario must notify something"
    assert evaluated <= evaluated_all


async def test_unchanged_groups_are_not_re_evaluated_until_their_repeat_interval(harness) -> None:
    _, evaluated = await _run(harness, _silence_then_expiry, skip=True)
    _, evaluated_all = await _run(harness, _silence_then_expiry, skip=False)
    # 3.5 h of 5-minute ticks: every tick without the skip; with it, only the first flush, the
    # silence's start and end, and the hourly repeats.
    assert evaluated_all >= 40
    assert evaluated <= 8
