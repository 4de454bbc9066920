"""The SDK surface applications use: in-process and against a remote tocsin."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from testkit import free_port
from tocsin import AlertSeverity, create_alert, get_alerts_system, send_alert

CONFIG = {
    "route": {"receiver": "ops", "group_by": ["alertname"], "group_wait": "1s"},
    "receivers": [{"name": "ops", "log_configs": [{}]}],
}


def test_create_alert_builds_labels_and_annotations() -> None:
    a = create_alert(
        "DiskFull",
        "disk / is 97% full",
        AlertSeverity.CRITICAL,
        source="db-1",
        tenant_id="t1",
        labels={"mount": "/", "empty": ""},
    )
    assert a.labels == {"alertname": "DiskFull", "severity": "critical", "source": "db-1", "mount": "/"}
    assert a.annotations == {"description": "disk / is 97% full"}
    assert a.tenant_id == "t1" and a.starts_at > 0


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"name": ""}, "name must not be empty"),
        ({"name": "A", "severity": "apocalyptic"}, "unknown severity 'apocalyptic'"),
        ({"name": "A", "labels": {"bad-name": "x"}}, "invalid name 'bad-name'"),
    ],
)
def test_create_alert_bad_input(kwargs: dict, needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        create_alert(**kwargs)


def test_in_process_system(tmp_path: Path) -> None:
    system = get_alerts_system(CONFIG, storage_url=f"sqlite:///{tmp_path}/sdk.db")
    try:
        assert send_alert(create_alert("A", "x", "warning", "app"))
        assert [a.labels["alertname"] for a in system.engine.store] == ["A"]  # type: ignore[attr-defined]
    finally:
        system.close()
    # State is durable: a new system on the same database still knows the alert.
    again = get_alerts_system(CONFIG, storage_url=f"sqlite:///{tmp_path}/sdk.db")
    try:
        assert len(again.engine.store) == 1  # type: ignore[attr-defined]
    finally:
        again.close()


def test_bad_config_dict_is_refused(tmp_path: Path) -> None:
    from tocsin.config import ConfigError

    with pytest.raises(ConfigError, match="receiver"):
        get_alerts_system(
            {"route": {"receiver": "nobody"}, "receivers": []}, storage_url=f"sqlite:///{tmp_path}/x.db"
        )


def test_send_without_system_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import tocsin.sdk

    monkeypatch.setattr(tocsin.sdk, "_default", None)
    with pytest.raises(RuntimeError, match="get_alerts_system"):
        send_alert(create_alert("A"))


@pytest.mark.slow
def test_remote_system(tmp_path: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration"))
    from tocsin_proc import start_tocsin

    port = free_port()
    proc = start_tocsin(None, [f"--storage.path={tmp_path}"], port, tmp_path / "log")
    try:
        system = get_alerts_system(url=f"http://127.0.0.1:{port}")
        assert send_alert(create_alert("Remote", "x", tenant_id="blue"))
        import httpx

        got = httpx.get(f"http://127.0.0.1:{port}/api/v2/alerts", headers={"X-Tocsin-Tenant": "blue"}).json()
        assert [a["labels"]["alertname"] for a in got] == ["Remote"]
        system.close()
    finally:
        proc.terminate()
        proc.wait(10)
    # The server is gone: send_alert reports failure instead of raising.
    down = get_alerts_system(url=f"http://127.0.0.1:{port}")
    assert send_alert(create_alert("Lost")) is False
    down.close()
    time.sleep(0)
