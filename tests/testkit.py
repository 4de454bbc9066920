"""Helpers shared by the test suite: paths, free ports, PostgreSQL, an engine on simulated time
with recording receivers. Imported by name (``from testkit import ...``); conftest.py only
turns them into fixtures."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.engine.pipeline import Backoff
from tocsin.incidents.config import load_incidents_text
from tocsin.notify.base import Integration, Notification, NotifyError
from tocsin.storage import open_storage

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
PG_URL = os.environ.get("TOCSIN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(PG_URL, connect_timeout=3):
            return None
    except Exception as e:
        return f"PostgreSQL not reachable at {PG_URL}: {e}"


class Recorder(Integration):
    """A receiver integration that remembers what it was sent and can be told to fail."""

    kind = "webhook"

    def __init__(self, receiver: str, index: int = 0, send_resolved: bool = True) -> None:
        super().__init__(receiver, index, send_resolved)
        self.sent: list[Notification] = []
        self.fail_with: NotifyError | None = None
        self.attempts = 0

    async def notify(self, n: Notification) -> None:
        self.attempts += 1
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(n)

    def batches(self) -> list[tuple[float, str, list[tuple[str, str]]]]:
        """(time, status, [(alertname, status)]) per notification: easy to compare."""
        return [
            (
                n.now,
                n.status,
                [
                    (a.labels.get("alertname", ""), "firing" if a.ends_at > n.now else "resolved")
                    for a in n.alerts
                ],
            )
            for n in self.sent
        ]


class Harness:
    """An Engine driven by a manual clock: ``await h.advance(s)`` fires every timer due on the way."""

    T0 = 1_700_000_000.0

    def __init__(
        self,
        config_yaml: str,
        tmp: Path,
        receivers: dict[str, list[bool]] | None = None,
        incidents_yaml: str | None = None,
    ) -> None:
        self.tmp = tmp
        self.config = load_config_text(config_yaml)
        self.incidents = load_incidents_text(incidents_yaml) if incidents_yaml else None
        self.clock = ManualClock(self.T0)
        self.rec: dict[str, list[Recorder]] = {}
        for r in self.config.receivers:
            flags = (receivers or {}).get(r.name)
            integs = r.integrations()
            if flags is None:
                flags = [bool(cfg.send_resolved) for _, _, cfg in integs] or [True]
            self.rec[r.name] = [Recorder(r.name, i, sr) for i, sr in enumerate(flags)]
        self.engine = self._new_engine()

    def _new_engine(self) -> Engine:
        storage = open_storage(url=f"sqlite:///{self.tmp / 'tocsin.db'}")

        async def fake_sleep(seconds: float) -> None:
            self.clock.advance(seconds)

        return Engine(
            self.config,
            storage,
            clock=self.clock,
            sleep=fake_sleep,
            backoff=Backoff(),
            integrations=dict(self.rec),  # type: ignore[arg-type]
            incidents=self.incidents,
        )

    def restart(self) -> None:
        """Drop the engine without a clean stop (as after kill -9) and build a new one from disk."""
        self.engine.writer.flush()
        self.engine.writer.close()
        self.engine.storage.close()
        self.engine = self._new_engine()
        self.engine.restore()

    async def post(self, *alerts: dict) -> None:
        from tocsin.api.alerts_codec import PostableAlert, to_alerts

        posted = [PostableAlert(**a) for a in alerts]
        valid, errors = to_alerts(posted, self.clock.now(), self.config.global_.resolve_timeout, "default")
        assert not errors, errors
        await self.engine.ingest(valid)

    async def advance(self, seconds: float) -> None:
        """Move simulated time on, firing group flushes and incident timers in time order."""
        end = self.clock.now() + seconds
        while True:
            dues = [d for d in (self.engine.dispatcher.next_due(), self._incident_due()) if d is not None]
            due = min(dues, default=None)
            if due is None or due > end:
                break
            if due > self.clock.now():
                self.clock.set(due)
            await self.engine.dispatcher.run_due()
            if self.engine.incidents is not None:
                await self.engine.incidents.fire_due()
        self.clock.set(end)

    def _incident_due(self) -> float | None:
        return None if self.engine.incidents is None else self.engine.incidents.manager.next_due()

    def at(self, offset: float) -> str:
        from tocsin.model import format_time

        return format_time(self.T0 + offset)

    def close(self) -> None:
        self.engine.writer.flush()
        self.engine.writer.close()
        self.engine.storage.close()


#: the head of an incidents.yml: one user and one escalation policy paging her
INCIDENTS_HEAD = """
users:
  - {id: ana, email: ana@example.com}
escalation_policies:
  - name: main
    levels:
      - {targets: [{user: ana}], wait: 10m}
default_policy: main
"""

#: incidents.yml correlation probing Prometheus at {url} with one latency query; format with
#: url=, timeout= and (optionally) query=
PROBE_QUERY = 'svc_latency_seconds{service="$service"}'
PROBE_CORRELATION = """correlation:
  topology:
    frontend: [cart, checkout]
  prometheus:
    url: {url}
    queries: ['{query}']
    step: 15s
    baseline: 20m
    timeout: {timeout}
"""


def probe_incidents(url: str, timeout: str, query: str = PROBE_QUERY) -> str:
    """INCIDENTS_HEAD with PROBE_CORRELATION."""
    return INCIDENTS_HEAD + PROBE_CORRELATION.format(url=url, timeout=timeout, query=query)


#: A call graph for the callers' client-latency signal: a gateway calls a..e; the target T is called
#: by a, b and c; the bystander B by c, d and e; the bystander L by a alone. With only the gateway
#: alerting, T, B and L all explain it equally: only the callers' client latency tells them apart.
CALLEE_EDGES = [
    *(("gateway", s) for s in "abcde"),
    ("a", "T"),
    ("b", "T"),
    ("c", "T"),
    ("c", "B"),
    ("d", "B"),
    ("e", "B"),
    ("a", "L"),
]
