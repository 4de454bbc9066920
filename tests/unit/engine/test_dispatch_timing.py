"""Alertmanager's notification timing on simulated time: group_wait, group_interval, repeat,
resolution, send_resolved, inhibition, silences, continue routes, time intervals, restart."""

from __future__ import annotations

import pytest

from tocsin.engine.silences import Silence
from tocsin.matchers import parse_matchers
from tocsin.notify.base import NotifyError

BASE = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
"""


def names(batch: list[tuple[str, str]]) -> list[str]:
    return sorted(n for n, _ in batch)


async def test_group_wait_batches_alerts(harness) -> None:
    h = harness(BASE)
    await h.post({"labels": {"alertname": "A", "i": "1"}})
    await h.advance(10)
    await h.post({"labels": {"alertname": "A", "i": "2"}})
    await h.advance(19)
    assert h.rec["team"][0].sent == []
    await h.advance(1)
    batches = h.rec["team"][0].batches()
    assert len(batches) == 1
    t, status, alerts = batches[0]
    assert t == h.T0 + 30 and status == "firing" and len(alerts) == 2


async def test_old_alert_flushes_at_once(harness) -> None:
    h = harness(BASE)
    await h.post({"labels": {"alertname": "A"}, "startsAt": h.at(-600)})
    await h.advance(0)
    assert len(h.rec["team"][0].sent) == 1


async def test_group_interval_carries_new_alerts_and_repeat_interval(harness) -> None:
    h = harness(BASE)
    await h.post({"labels": {"alertname": "A", "i": "1"}, "endsAt": h.at(5 * 3600)})
    await h.advance(30)
    await h.advance(60)
    await h.post({"labels": {"alertname": "A", "i": "2"}, "endsAt": h.at(5 * 3600)})
    await h.advance(239)
    assert len(h.rec["team"][0].sent) == 1
    await h.advance(1)  # t0 + 330: first tick after the flush at t0 + 30
    sent = h.rec["team"][0].batches()
    assert len(sent) == 2 and sent[1][0] == h.T0 + 330 and len(sent[1][2]) == 2
    # Nothing changes: ticks every 5 minutes are skipped until the repeat interval has passed;
    # the log entry is written after the send, so the tick exactly 4h later is still too early
    # and the repeat goes out on the tick after it, as with Alertmanager.
    await h.advance(4 * 3600)
    assert len(h.rec["team"][0].sent) == 2
    await h.advance(300)
    sent = h.rec["team"][0].batches()
    assert len(sent) == 3 and sent[2][0] == h.T0 + 330 + 4 * 3600 + 300


async def test_resolve_via_ends_at_and_group_is_dropped(harness) -> None:
    h = harness(BASE)
    await h.post({"labels": {"alertname": "A"}})
    await h.advance(30)
    await h.post({"labels": {"alertname": "A"}, "startsAt": h.at(0), "endsAt": h.at(40)})
    await h.advance(300)
    sent = h.rec["team"][0].batches()
    assert [s[1] for s in sent] == ["firing", "resolved"]
    assert sent[1][2] == [("A", "resolved")]
    assert h.engine.dispatcher.groups == {}


async def test_resolve_timeout(harness) -> None:
    h = harness(BASE.replace("route:", "global:\n  resolve_timeout: 2m\nroute:"))
    await h.post({"labels": {"alertname": "A"}})
    await h.advance(30)
    await h.advance(300)  # resolved after 2m without a re-post; notified on the next tick
    assert [s[1] for s in h.rec["team"][0].batches()] == ["firing", "resolved"]


async def test_repost_keeps_alert_firing(harness) -> None:
    h = harness(BASE.replace("route:", "global:\n  resolve_timeout: 2m\nroute:"))
    for _ in range(10):
        await h.post({"labels": {"alertname": "A"}, "startsAt": h.at(0)})
        await h.advance(60)
    assert [s[1] for s in h.rec["team"][0].batches()] == ["firing"]


CONTINUE = """
route:
  receiver: quiet
  group_by: [alertname]
  group_wait: 30s
  group_interval: 1m
  routes:
    - receiver: quiet
      matchers: ['severity="page"']
      continue: true
    - receiver: loud
      matchers: ['severity="page"']
receivers:
  - name: quiet
    webhook_configs: [{url: "http://127.0.0.1:1/q", send_resolved: false}]
  - name: loud
    webhook_configs: [{url: "http://127.0.0.1:1/l", send_resolved: true}]
"""


async def test_continue_and_send_resolved_per_receiver(harness) -> None:
    h = harness(CONTINUE)
    await h.post({"labels": {"alertname": "A", "severity": "page"}, "endsAt": h.at(100)})
    await h.advance(200)
    quiet = h.rec["quiet"][0].batches()
    loud = h.rec["loud"][0].batches()
    assert [s[1] for s in quiet] == ["firing"]
    assert [s[1] for s in loud] == ["firing", "resolved"]


INHIBIT = (
    BASE
    + """
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [cluster]
"""
)


async def test_inhibition_with_equal(harness) -> None:
    h = harness(INHIBIT.replace("group_by: [alertname]", "group_by: [alertname, cluster]"))
    await h.post(
        {"labels": {"alertname": "Down", "severity": "critical", "cluster": "a"}},
        {"labels": {"alertname": "Slow", "severity": "warning", "cluster": "a"}},
        {"labels": {"alertname": "Slow", "severity": "warning", "cluster": "b"}},
    )
    await h.advance(30)
    got = sorted((n.group_labels["alertname"], n.group_labels["cluster"]) for n in h.rec["team"][0].sent)
    assert got == [("Down", "a"), ("Slow", "b")]
    st = h.engine.alert_status(
        next(
            a
            for a in h.engine.store
            if a.labels == {"alertname": "Slow", "severity": "warning", "cluster": "a"}
        ),
        h.clock.now(),
    )
    assert st.state == "suppressed" and len(st.inhibited_by) == 1


async def test_alert_on_both_sides_is_not_inhibited_by_its_peer(harness) -> None:
    cfg = (
        BASE
        + """
inhibit_rules:
  - source_matchers: ['alertname="Node"']
    target_matchers: ['alertname="Node"']
    equal: []
"""
    )
    h = harness(cfg.replace("group_by: [alertname]", "group_by: [i]"))
    await h.post({"labels": {"alertname": "Node", "i": "1"}}, {"labels": {"alertname": "Node", "i": "2"}})
    await h.advance(30)
    assert len(h.rec["team"][0].sent) == 2


async def test_silence_mutes_and_expiry_unmutes(harness) -> None:
    h = harness(BASE.replace("group_interval: 5m", "group_interval: 1m"))
    sid = await h.engine.set_silence(
        Silence(parse_matchers('alertname="A"'), h.clock.now(), h.clock.now() + 3600, "me", "test")
    )
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(7200)})
    await h.advance(120)
    assert h.rec["team"][0].sent == []
    await h.engine.expire_silence(sid)
    await h.advance(60)
    assert len(h.rec["team"][0].sent) == 1


async def test_mute_time_interval(harness) -> None:
    cfg = BASE.replace(
        "  repeat_interval: 4h",
        "  repeat_interval: 4h\n  routes:\n    - receiver: team\n"
        '      matchers: [x="1"]\n      mute_time_intervals: [night]\n',
    )
    cfg += """
time_intervals:
  - name: night
    time_intervals:
      - times: [{start_time: "00:00", end_time: "06:00"}]
"""
    h = harness(cfg)
    # T0 = 2023-11-14 22:13:20 UTC: not in the night window
    await h.post({"labels": {"alertname": "A", "x": "1"}, "endsAt": h.at(12 * 3600)})
    await h.advance(30)
    assert len(h.rec["team"][0].sent) == 1
    await h.advance(2 * 3600)  # 00:13 UTC: inside the muted window
    await h.post({"labels": {"alertname": "B", "x": "1"}, "endsAt": h.at(12 * 3600)})
    await h.advance(3600)
    assert len(h.rec["team"][0].sent) == 1
    await h.advance(5 * 3600)  # after 06:00 the B group is notified on its next tick
    b = [n for n in h.rec["team"][0].sent if n.group_labels["alertname"] == "B"]
    assert len(b) == 1 and b[0].now >= h.T0 + 28000  # 06:00 UTC


async def test_retry_until_success_then_logged(harness) -> None:
    h = harness(BASE)
    rec = h.rec["team"][0]
    rec.fail_with = NotifyError("503", retryable=True)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(3600)})
    await h.advance(30)
    assert rec.sent == [] and rec.attempts > 3  # retried with backoff until the tick's deadline
    rec.fail_with = None
    await h.advance(300)
    assert len(rec.sent) == 1


async def test_non_retryable_error_is_not_retried(harness) -> None:
    h = harness(BASE)
    rec = h.rec["team"][0]
    rec.fail_with = NotifyError("400", retryable=False)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(3600)})
    await h.advance(30)
    assert rec.attempts == 1


async def test_restart_sends_no_duplicate_and_resolves_what_ended_meanwhile(harness) -> None:
    h = harness(BASE)
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(600)})
    await h.advance(30)
    assert len(h.rec["team"][0].sent) == 1
    h.restart()
    await h.advance(60)
    assert len(h.rec["team"][0].sent) == 1, "no duplicate after restart"
    # The alert ends at t0+600 while nothing re-posts it: the resolution still goes out.
    await h.advance(900)
    assert [s[1] for s in h.rec["team"][0].batches()] == ["firing", "resolved"]


async def test_restart_keeps_silences(harness) -> None:
    h = harness(BASE)
    sid = await h.engine.set_silence(
        Silence(parse_matchers('alertname="A"'), h.clock.now(), h.clock.now() + 3600, "me", "keep me")
    )
    h.restart()
    assert h.engine.silences.get(sid).comment == "keep me"


@pytest.mark.parametrize("resolved_first", [True, False])
async def test_payload_order_and_common_labels(harness, resolved_first: bool) -> None:
    h = harness(BASE)
    await h.post(
        {"labels": {"alertname": "A", "instance": "b", "job": "x"}, "annotations": {"s": "1"}},
        {"labels": {"alertname": "A", "instance": "a", "job": "x"}, "annotations": {"s": "1"}},
    )
    await h.advance(30)
    n = h.rec["team"][0].sent[0]
    assert [a.labels["instance"] for a in n.alerts] == ["a", "b"]
    assert n.common_labels == {"alertname": "A", "job": "x"}
    assert n.common_annotations == {"s": "1"}
    assert n.group_key == '{}:{alertname="A"}'


async def test_notification_in_flight_at_crash_is_resent_first_with_same_idempotency_key(harness) -> None:
    import asyncio

    h = harness(BASE)
    rec = h.rec["team"][0]
    release = asyncio.Event()
    original = rec.notify

    async def hang(n):  # the process "dies" while this request is on the wire
        rec.attempts += 1
        rec.sent.append(n)
        await release.wait()

    rec.notify = hang  # type: ignore[method-assign]
    await h.post({"labels": {"alertname": "A"}, "endsAt": h.at(3600)})
    h.clock.advance(30)
    task = asyncio.ensure_future(h.engine.dispatcher.run_due())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if rec.sent:
            break
    h.engine.writer.flush()
    first_key = rec.sent[0].idempotency_key
    task.cancel()
    rec.notify = original  # type: ignore[method-assign]
    h.restart()
    assert h.engine.stats()["outbox"] == 1
    await h.advance(0)  # flushed at once after the restart, not a group_interval later
    assert len(rec.sent) == 2
    assert rec.sent[1].idempotency_key == first_key
    h.engine.writer.flush()
    assert h.engine.stats()["outbox"] == 0
    assert h.engine.storage.load_docs("outbox") == []
