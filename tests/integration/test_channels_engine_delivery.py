"""Real channels driven by the engine's pipeline on simulated time: a 503 then success is
retried and delivered once; a 400 is not retried; deliveries are recorded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _channels_httpd import Provider, provider_fixture  # noqa: F401

from tocsin.api.alerts_codec import PostableAlert, to_alerts
from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.engine.pipeline import Backoff
from tocsin.storage import open_storage

T0 = 1_700_000_000.0


class Driver:
    def __init__(self, config_yaml: str, tmp: Path) -> None:
        self.clock = ManualClock(T0)
        self.config = load_config_text(config_yaml)

        async def fake_sleep(seconds: float) -> None:
            self.clock.advance(seconds)

        import random

        self.engine = Engine(
            self.config,
            open_storage(url=f"sqlite:///{tmp / 'tocsin.db'}"),
            clock=self.clock,
            sleep=fake_sleep,
            backoff=Backoff(rng=random.Random(7)),
        )

    async def post(self, **labels: str) -> None:
        alerts, errors = to_alerts(
            [PostableAlert(labels=labels, annotations={"summary": "disk full"})],
            self.clock.now(),
            self.config.global_.resolve_timeout,
            "default",
        )
        assert not errors
        await self.engine.ingest(alerts)

    async def advance(self, seconds: float) -> None:
        end = self.clock.now() + seconds
        while (due := self.engine.dispatcher.next_due()) is not None and due <= end:
            self.clock.set(max(due, self.clock.now()))
            await self.engine.dispatcher.run_due()
        self.clock.set(end)

    def deliveries(self) -> list:
        self.engine.writer.flush()
        return self.engine.storage.query_deliveries("default")

    def close(self) -> None:
        self.engine.writer.flush()
        self.engine.writer.close()
        self.engine.storage.close()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[type[Driver]]:
    made: list[Driver] = []

    def make(yaml: str) -> Driver:
        d = Driver(yaml, tmp_path)
        made.append(d)
        return d

    yield make  # type: ignore[misc]
    for d in made:
        d.close()


def _config(url: str) -> str:
    return f"""
route:
  receiver: pd
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
- name: pd
  pagerduty_configs:
  - routing_key: 0123456789abcdef0123456789abcdef
    url: {url}/v2/enqueue
"""


async def test_server_error_is_retried_then_delivered_once(driver: type[Driver], provider: Provider) -> None:
    d = driver(_config(provider.url))
    provider.reply(503, "busy")
    provider.reply(202, {"status": "success"})
    await d.post(alertname="DiskFull", instance="db-1")
    await d.advance(60)
    assert len(provider.seen) == 2
    assert provider.seen[0].json() == provider.seen[1].json()
    [delivery] = d.deliveries()
    assert delivery.ok and delivery.attempts == 2 and delivery.integration.startswith("pagerduty")
    await d.advance(60)  # nothing new: the notification log remembers the delivery
    assert len(provider.seen) == 2


async def test_client_error_is_not_retried(driver: type[Driver], provider: Provider) -> None:
    d = driver(_config(provider.url))
    provider.reply(400, {"status": "invalid event"})
    await d.post(alertname="DiskFull", instance="db-1")
    await d.advance(60)
    assert len(provider.seen) == 1
    [delivery] = d.deliveries()
    assert not delivery.ok and delivery.attempts == 1 and "400" in delivery.error
