"""Build the integrations of every receiver from the configuration."""

from __future__ import annotations

import logging
from typing import Any

from tocsin.notify.base import Integration, Notification, NotifyError
from tocsin.notify.channels import build_channel
from tocsin.notify.http_options import auth_headers, is_plain, make_client
from tocsin.notify.log import LogIntegration
from tocsin.notify.signing import load_secret
from tocsin.notify.webhook import WebhookIntegration

log = logging.getLogger(__name__)


class UnavailableIntegration(Integration):
    """A configured channel this version of tocsin cannot deliver to yet.

    The configuration still loads (so an Alertmanager config moves over unchanged), but every
    delivery through it fails loudly and is recorded as failed rather than silently dropped.
    """

    def __init__(self, kind: str, receiver: str, index: int, send_resolved: bool) -> None:
        super().__init__(receiver, index, send_resolved)
        self.kind = kind

    async def notify(self, n: Notification) -> None:
        raise NotifyError(
            f"the {self.kind} channel is not available in this version of tocsin", retryable=False
        )


def build_integration(receiver: str, kind: str, index: int, cfg: Any) -> Integration:
    if kind == "webhook":
        plain = is_plain(cfg.http_config)
        return WebhookIntegration(
            receiver,
            index,
            url=str(cfg.url) if cfg.url else None,
            url_file=cfg.url_file,
            send_resolved=cfg.send_resolved,
            max_alerts=cfg.max_alerts,
            timeout=cfg.timeout,
            headers=auth_headers(cfg.http_config),
            # A plain http_config (the usual global default) gets no client now: the webhook makes
            # its own when it first needs one (an https:// URL, a redirect), so httpx and its
            # client (7.5 MiB resident) stay unloaded for plain-HTTP webhooks. TLS and proxy
            # settings are applied here, so that bad ones are still refused at start-up.
            client=None if plain else make_client(cfg.http_config),
            signing_secret=load_secret(cfg.signing_secret, cfg.signing_secret_file, f"receiver {receiver!r}"),
            body_template=cfg.body_template,
            plain_http=plain,
            follow_redirects=cfg.http_config is None or cfg.http_config.follow_redirects,
        )
    if kind == "log":
        return LogIntegration(receiver, index, send_resolved=cfg.send_resolved, level=cfg.level)
    channel = build_channel(receiver, kind, index, cfg)
    if channel is not None:
        return channel
    log.warning(
        "receiver %r: the %s channel is not available in this version; its deliveries will fail",
        receiver,
        kind,
    )
    return UnavailableIntegration(kind, receiver, index, cfg.send_resolved)


def build_integrations(config: Any) -> dict[str, list[Integration]]:
    return {
        r.name: [build_integration(r.name, kind, i, cfg) for kind, i, cfg in r.integrations()]
        for r in config.receivers
    }
