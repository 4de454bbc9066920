"""tocsin's own API: delivery history and test notifications, with real webhook deliveries."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tocsin.api.app import create_app
from tocsin.config import load_config_text
from tocsin.engine.clock import ManualClock
from tocsin.engine.engine import Engine
from tocsin.storage import open_storage

T0 = 1_800_000_000.0


@pytest.fixture
async def native(
    tmp_path: Path, sink
) -> AsyncIterator[tuple[httpx.AsyncClient, Engine, ManualClock, object]]:
    config = f"""
route:
  receiver: good
  group_by: [alertname]
  group_wait: 10s
  routes:
    - receiver: broken
      matchers: [team="void"]
receivers:
  - name: good
    webhook_configs: [{{url: "{sink.url}"}}]
  - name: broken
    webhook_configs: [{{url: "http://127.0.0.1:9/closed", send_resolved: false}}]
"""
    clock = ManualClock(T0)

    async def no_sleep(_: float) -> None:
        clock.advance(20)  # each retry moves simulated time on, so the retry loop ends quickly

    engine = Engine(
        load_config_text(config), open_storage(url=f"sqlite:///{tmp_path}/t.db"), clock=clock, sleep=no_sleep
    )

    async def reload() -> str | None:
        return None

    app = create_app(lambda: engine, reload, lambda: "")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        yield c, engine, clock, sink
    await engine.stop()
    engine.storage.close()


async def test_delivery_history_records_success_and_failure(native) -> None:
    c, engine, clock, sink = native
    await c.post(
        "/api/v2/alerts",
        json=[{"labels": {"alertname": "A"}}, {"labels": {"alertname": "B", "team": "void"}}],
    )
    clock.advance(10)
    await engine.dispatcher.run_due()
    engine.writer.flush()
    assert len(sink.payloads) == 1 and sink.payloads[0]["groupLabels"] == {"alertname": "A"}
    rows = (await c.get("/api/tocsin/v1/deliveries")).json()
    by_receiver = {r["receiver"]: r for r in rows}
    assert by_receiver["good"]["status"] == "ok" and by_receiver["good"]["reason"] == "first notification"
    assert by_receiver["good"]["integration"] == "webhook[0]" and by_receiver["good"]["alerts"] == 1
    assert by_receiver["broken"]["status"] == "failed" and by_receiver["broken"]["attempts"] >= 1
    assert "webhook POST failed" in by_receiver["broken"]["error"]
    failed = (await c.get("/api/tocsin/v1/deliveries", params={"status": "failed"})).json()
    assert [r["receiver"] for r in failed] == ["broken"]
    only_good = (await c.get("/api/tocsin/v1/deliveries", params={"receiver": "good"})).json()
    assert [r["receiver"] for r in only_good] == ["good"]


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "x"}, "limit"),
        ({"status": "meh"}, "status"),
        ({"since": "soon"}, "since"),
    ],
)
async def test_delivery_history_bad_params(native, params: dict, needle: str) -> None:
    c, *_ = native
    r = await c.get("/api/tocsin/v1/deliveries", params=params)
    assert r.status_code == 400 and needle in r.json()


async def test_test_receiver(native) -> None:
    c, engine, _, sink = native
    r = (await c.post("/api/tocsin/v1/receivers/good/test")).json()
    assert r["ok"] is True and r["integrations"][0]["integration"] == "webhook[0]"
    assert sink.payloads[-1]["alerts"][0]["labels"]["alertname"] == "TocsinTestNotification"
    bad = (await c.post("/api/tocsin/v1/receivers/broken/test")).json()
    assert bad["ok"] is False and "webhook POST failed" in bad["integrations"][0]["error"]
    missing = await c.post("/api/tocsin/v1/receivers/nobody/test")
    assert missing.status_code == 404
    engine.writer.flush()
    reasons = [d["reason"] for d in (await c.get("/api/tocsin/v1/deliveries")).json()]
    assert reasons.count("test notification") == 2


async def test_silence_link_page_then_post_creates_silence(native) -> None:
    c, engine, _, _ = native
    url = "/api/tocsin/v1/silence-link?filter=alertname%3D%22A%22&filter=team%3D%22db%22"
    page = await c.get(url)
    assert page.status_code == 200 and "<form" in page.text and 'alertname="A"' in html.unescape(page.text)
    assert len(engine.silences) == 0, "showing the page must not silence anything"
    done = await c.post(
        url,
        content=b"duration=4h&comment=disk+swap",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "Silence" in done.text
    (sil,) = engine.silences.all()
    assert sil.ends_at - sil.starts_at == 4 * 3600 and sil.comment == "disk swap"
    assert [str(m) for m in sil.matchers] == ['alertname="A"', 'team="db"']
    bad = await c.post(
        url, content=b"duration=1y", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert bad.status_code == 400 and "duration must be one of" in bad.text
    assert (await c.get("/api/tocsin/v1/silence-link")).status_code == 400


async def test_template_preview_is_served_by_the_app(native) -> None:
    c, *_ = native
    r = await c.post("/api/tocsin/v1/templates/render", json={"channel": "slack"})
    assert r.status_code == 200, r.text
    assert r.json()["parts"] and "HighLatency" in r.text
    # Without a signing secret there is no Slack endpoint at all.
    assert (await c.post("/api/tocsin/v1/slack/interactions", content=b"x")).status_code == 404
