"""Any other service through Apprise URLs (``apprise_configs``, a tocsin extension).

Apprise reports only success or failure per call, with no status code or ``Retry-After``, so a
failure is treated as retryable and the engine's backoff decides when to try again.
"""

from __future__ import annotations

import logging
from typing import Any

import apprise

from tocsin.notify.base import Integration, Notification, NotifyError
from tocsin.notify.retry_http import scrub
from tocsin.notify.templates import render_part, template_data

log = logging.getLogger(__name__)

_FORMATS = {
    "text": apprise.NotifyFormat.TEXT,
    "markdown": apprise.NotifyFormat.MARKDOWN,
    "html": apprise.NotifyFormat.HTML,
}


class AppriseIntegration(Integration):
    kind = "apprise"

    def __init__(self, receiver: str, index: int, cfg: Any) -> None:
        super().__init__(receiver, index, cfg.send_resolved)
        self.cfg = cfg
        self.apprise = apprise.Apprise()
        for url in cfg.urls:
            if not self.apprise.add(str(url)):
                # The URL itself may hold a token: name the scheme only.
                scheme = str(url).split("://", 1)[0]
                raise ValueError(
                    f"receiver {receiver!r}: apprise cannot use a {scheme}:// URL "
                    "(unknown service or bad form)"
                )

    async def notify(self, n: Notification) -> None:
        data = template_data(n)
        title = render_part("apprise", "title", data, self.cfg.title).strip()
        body = render_part("apprise", "body", data, self.cfg.body)
        notify_type = apprise.NotifyType.SUCCESS if n.status == "resolved" else apprise.NotifyType.FAILURE
        try:
            ok = await self.apprise.async_notify(
                body=body, title=title, notify_type=notify_type, body_format=_FORMATS[self.cfg.body_format]
            )
        except Exception as e:  # apprise plugins raise their own errors
            secrets = [str(u) for u in self.cfg.urls]
            raise NotifyError(
                f"apprise failed: {type(e).__name__}: {scrub(str(e), secrets)}", retryable=True
            ) from None
        if not ok:
            raise NotifyError(
                f"apprise could not deliver to every one of {len(self.cfg.urls)} URL(s)", retryable=True
            )


def build(receiver: str, index: int, cfg: Any) -> AppriseIntegration:
    return AppriseIntegration(receiver, index, cfg)
