"""The Python SDK: raise alerts from an application, into an in-process engine or a remote tocsin.

from tocsin import get_alerts_system, create_alert, send_alert, AlertSeverity

system = get_alerts_system({"route": {"receiver": "ops"}, "receivers": [{"name": "ops", ...}]})
alert = create_alert("DiskFull", "disk / is 97% full", AlertSeverity.CRITICAL, source="db-1")
send_alert(alert)   # True once the alert is durably stored
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from tocsin.model import DEFAULT_TENANT, Alert, AlertSeverity, format_time, validate_labels

log = logging.getLogger(__name__)


def create_alert(
    name: str,
    description: str = "",
    severity: AlertSeverity | str = AlertSeverity.WARNING,
    source: str = "",
    tenant_id: str = DEFAULT_TENANT,
    labels: Mapping[str, str] | None = None,
    *,
    annotations: Mapping[str, str] | None = None,
    ends_at: float = 0.0,
    generator_url: str = "",
) -> Alert:
    """Build an alert. ``name`` becomes the ``alertname`` label, ``severity`` and ``source`` labels,
    ``description`` an annotation. Raises ValueError naming what is wrong."""
    if not name:
        raise ValueError("create_alert: name must not be empty")
    try:
        sev = AlertSeverity(severity)
    except ValueError:
        allowed = ", ".join(s.value for s in AlertSeverity)
        raise ValueError(f"create_alert: unknown severity {severity!r} (use one of {allowed})") from None
    all_labels = {"alertname": name, "severity": sev.value}
    if source:
        all_labels["source"] = source
    all_labels.update({k: v for k, v in (labels or {}).items() if v != ""})
    problem = validate_labels(all_labels)
    if problem:
        raise ValueError(f"create_alert: {problem}")
    ann = dict(annotations or {})
    if description:
        ann.setdefault("description", description)
    return Alert(
        labels=all_labels,
        annotations=ann,
        starts_at=time.time(),
        ends_at=ends_at,
        generator_url=generator_url,
        tenant_id=tenant_id,
    )


def _postable(alert: Alert) -> dict[str, Any]:
    d: dict[str, Any] = {"labels": alert.labels, "annotations": alert.annotations}
    if alert.starts_at:
        d["startsAt"] = format_time(alert.starts_at)
    if alert.ends_at:
        d["endsAt"] = format_time(alert.ends_at)
    if alert.generator_url:
        d["generatorURL"] = alert.generator_url
    return d


class AlertsSystem:
    """Where ``send_alert`` delivers: an engine running in this process, or a remote tocsin."""

    def send(self, alert: Alert) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> AlertsSystem:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RemoteAlertsSystem(AlertsSystem):
    def __init__(self, url: str) -> None:
        from tocsin.client import Client

        self.url = url
        self._clients: dict[str, Client] = {}

    def send(self, alert: Alert) -> bool:
        from tocsin.client import Client, ClientError

        client = self._clients.get(alert.tenant_id)
        if client is None:
            client = self._clients[alert.tenant_id] = Client(self.url, alert.tenant_id)
        try:
            client.post_alerts([_postable(alert)])
        except ClientError as e:
            log.error("send_alert failed: %s", e)
            return False
        return True

    def close(self) -> None:
        for c in self._clients.values():
            c.close()


class LocalAlertsSystem(AlertsSystem):
    """An engine on its own event loop in a background thread, so plain synchronous code can use it."""

    def __init__(self, config: Any, storage_url: str) -> None:
        from tocsin.engine.engine import Engine
        from tocsin.storage import open_storage
        from tocsin.storage.lock import instance_lock

        self.storage = open_storage(url=storage_url)
        self.lock = instance_lock(self.storage)
        self.lock.acquire(wait=False)
        self.engine = Engine(config, self.storage)
        self.engine.restore()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tocsin-sdk", daemon=True)
        self._thread.start()
        self._call(self.engine.start())

    def _call(self, coro: Any, timeout: float = 30.0) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return fut.result(timeout)

    def send(self, alert: Alert) -> bool:
        from tocsin.api.alerts_codec import PostableAlert, to_alerts

        p = PostableAlert(
            labels=alert.labels,
            annotations=alert.annotations,
            startsAt=format_time(alert.starts_at) if alert.starts_at else None,
            endsAt=format_time(alert.ends_at) if alert.ends_at else None,
            generatorURL=alert.generator_url or None,
        )
        alerts, errors = to_alerts(
            [p], time.time(), self.engine.config.global_.resolve_timeout, alert.tenant_id
        )
        if errors:
            log.error("send_alert refused the alert: %s", "; ".join(errors))
            return False
        try:
            self._call(self.engine.ingest(alerts))
        except Exception as e:
            log.error("send_alert failed: %s", e)
            return False
        return True

    def close(self) -> None:
        if self._loop.is_running():
            self._call(self.engine.stop())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
        self.storage.close()
        self.lock.release()


_default: AlertsSystem | None = None


def get_alerts_system(
    config: Mapping[str, Any] | None = None,
    *,
    url: str | None = None,
    storage_url: str = "sqlite:///data/tocsin-sdk.db",
) -> AlertsSystem:
    """Build the system that ``send_alert`` uses and make it the default.

    ``url`` given: alerts go to the tocsin (or Alertmanager) at that URL. Otherwise an engine
    runs in this process with ``config`` (the same structure as the YAML file; None means the
    built-in default) and stores its state at ``storage_url``.
    """
    global _default
    system: AlertsSystem
    if url:
        if config:
            raise ValueError(
                "get_alerts_system: give either a config (in-process) or a url (remote), not both"
            )
        system = RemoteAlertsSystem(url)
    else:
        from tocsin.config import default_config, load_config_dict

        cfg = load_config_dict(dict(config)) if config else default_config()
        system = LocalAlertsSystem(cfg, storage_url)
    _default = system
    return system


def send_alert(alert: Alert, system: AlertsSystem | None = None) -> bool:
    """Deliver ``alert`` to ``system`` (default: the last one built); True when it was accepted."""
    target = system or _default
    if target is None:
        raise RuntimeError("send_alert: no alerts system; call get_alerts_system(...) first")
    return target.send(alert)
