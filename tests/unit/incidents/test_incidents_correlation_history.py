"""Correlation history learned by the running service: alerts that fired together before are
joined, the join says how often, and what was learned survives a restart, on real SQLite and
real PostgreSQL (simulated time; the engine's writer does the saving)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from testkit import INCIDENTS_HEAD, PG_URL, Harness, postgres_available
from tocsin.config.errors import ConfigError
from tocsin.engine.engine import Engine
from tocsin.engine.pipeline import Backoff
from tocsin.incidents.config import load_incidents_text
from tocsin.incidents.model import EventKind, Incident
from tocsin.model import format_time
from tocsin.storage import open_storage

CONFIG = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 30s
  group_interval: 5m
receivers:
  - name: team
    webhook_configs: [{url: "http://127.0.0.1:1/unused"}]
"""

INCIDENTS = (
    INCIDENTS_HEAD
    + """reopen_window: 1m
correlation:
  history:
    min_alerts: 20
    save_interval: 10m
"""
)


class StoreHarness(Harness):
    """The simulated-time engine over a storage URL of the test's choosing."""

    def __init__(self, url: str, tmp: Path) -> None:
        self.url = url
        super().__init__(CONFIG, tmp, incidents_yaml=INCIDENTS)

    def _new_engine(self) -> Engine:
        async def fake_sleep(seconds: float) -> None:
            self.clock.advance(seconds)

        return Engine(
            self.config,
            open_storage(url=self.url),
            clock=self.clock,
            sleep=fake_sleep,
            backoff=Backoff(),
            integrations=dict(self.rec),  # type: ignore[arg-type]
            incidents=self.incidents,
        )


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/history.db"
        return
    reason = postgres_available()
    if reason:
        pytest.skip(reason)
    schema = f"t_{uuid.uuid4().hex[:10]}"
    yield f"{PG_URL}?schema={schema}"
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def ends_in(h: Harness, seconds: float) -> str:
    return format_time(h.clock.now() + seconds)


async def episode(h: Harness) -> None:
    """The database slows down; 30 s later the API behind it errors; both resolve in 10 minutes."""
    await h.post(
        {
            "labels": {"alertname": "DbSlow", "service": "db"},
            "startsAt": ends_in(h, 0),
            "endsAt": ends_in(h, 600),
        }
    )
    await h.advance(30)
    await h.post(
        {
            "labels": {"alertname": "ApiErrors", "service": "api"},
            "startsAt": ends_in(h, 0),
            "endsAt": ends_in(h, 570),
        }
    )
    await h.advance(3570)


def correlated(h: Harness) -> list[str]:
    incidents: list[Incident] = list(h.engine.incidents.manager.incidents.values())  # type: ignore[union-attr]
    return [e.text for inc in incidents for e in inc.events(EventKind.CORRELATED)]


async def test_history_is_learned_saved_and_used_for_joins_after_a_restart(
    store_url: str, tmp_path: Path
) -> None:
    h = StoreHarness(store_url, tmp_path)
    try:
        for _ in range(10):
            await episode(h)
        # Nothing joins the two yet: they share no label or word, there is no service graph, and
        # the history takes part only from min_alerts (20) on.
        assert correlated(h) == [] and len(h.engine.incidents.manager.incidents) == 20  # type: ignore[union-attr]
        svc = h.engine.incidents
        assert svc is not None and svc.manager.history is not None
        await svc.idle()  # the periodic save started by the flushes
        h.restart()  # as after kill -9: nothing saved at a clean stop
        svc = h.engine.incidents
        assert svc is not None and svc.manager.history is not None
        learned = svc.manager.history.tenants["default"].model
        saved_pairs = learned.strength("db/DbSlow", "api/ApiErrors").count
        saved_alerts = len(learned)
        assert saved_pairs >= 9 and saved_alerts >= 19  # as of the last periodic save

        # Learning goes on after the restart, and the history now joins the pair.
        await episode(h)
        texts = correlated(h)
        assert len(texts) == 1 and "ApiErrors" in texts[0]
        assert f"api/ApiErrors and db/DbSlow co-occurred {saved_pairs} times before" in texts[0]

        # A clean stop saves everything learned, to the last alert.
        await h.engine.stop()
        h.engine.storage.close()
        h.engine = h._new_engine()
        h.engine.restore()
        again = h.engine.incidents.manager.history.tenants["default"].model  # type: ignore[union-attr]
        assert again.strength("db/DbSlow", "api/ApiErrors").count == saved_pairs + 1
        assert len(again) == saved_alerts + 2
    finally:
        h.close()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "  history: {window: 0s}\n",
            "incidents.yml:11: correlation.history.window: window must be greater than 0",
        ),
        ("  history: {max_pairs: 3}\n", "correlation.history.max_pairs"),
        ("  history: {min_alerts: -1}\n", "correlation.history.min_alerts"),
        ("  history: {colour: blue}\n", "unknown field 'colour' in correlation.history"),
        (
            "  prometheus: {queries: ['up{service=\"$service\"}']}\n",
            "missing required field 'url' in correlation.prometheus",
        ),
        ("  prometheus: {url: 'ftp://p', queries: ['x{s=\"$service\"}']}\n", "unsupported scheme 'ftp'"),
        ("  prometheus: {url: 'http://p:9090', queries: []}\n", "correlation.prometheus.queries"),
        (
            "  prometheus: {url: 'http://p:9090', queries: ['up']}\n",
            "queries[0] must contain $service",
        ),
        (
            "  prometheus: {url: 'http://p:9090', queries: ['x{s=\"$service\"}'], step: 0s}\n",
            "correlation.prometheus.step: step must be greater than 0",
        ),
        (
            "  prometheus: {url: 'http://p:9090', queries: ['x{s=\"$service\"}'], timeout: soon}\n",
            "correlation.prometheus.timeout",
        ),
    ],
)
def test_bad_history_and_prometheus_settings_are_refused_naming_the_field(section: str, message: str) -> None:
    base = INCIDENTS.split("correlation:")[0]
    with pytest.raises(ConfigError) as e:
        load_incidents_text(base + "correlation:\n" + section, "incidents.yml")
    assert message in str(e.value)


def test_history_settings_reach_the_setup_and_can_be_turned_off() -> None:
    base = INCIDENTS.split("correlation:")[0]
    setup = load_incidents_text(
        base + "correlation:\n  history: {window: 90s, max_keys: 50}\n"
        "  prometheus: {url: 'http://p:9090', queries: ['x{s=\"$service\"}'], baseline: 10m}\n"
    )
    assert setup.correlation is not None and setup.correlation.history is not None
    assert (setup.correlation.history.window, setup.correlation.history.max_keys) == (90.0, 50)
    assert setup.correlation.prometheus is not None
    assert setup.correlation.prometheus.baseline == 600.0
    assert setup.correlation.prometheus.queries == ('x{s="$service"}',)
    off = load_incidents_text(base + "correlation:\n  history: {enabled: false}\n")
    assert off.correlation is not None and off.correlation.history is None
