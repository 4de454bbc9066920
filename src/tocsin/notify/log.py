"""The log channel: writes each notification to tocsin's log, so a new install shows something happen."""

from __future__ import annotations

import logging

from tocsin.notify.base import Integration, Notification

log = logging.getLogger("tocsin.notify.log")


class LogIntegration(Integration):
    kind = "log"

    def __init__(self, receiver: str, index: int, send_resolved: bool = True, level: str = "info") -> None:
        super().__init__(receiver, index, send_resolved)
        self.level = logging.getLevelNamesMapping()[level.upper()]
        self.sent: int = 0

    async def notify(self, n: Notification) -> None:
        names = sorted({a.labels.get("alertname", "") for a in n.alerts})
        log.log(
            self.level,
            "notification receiver=%s status=%s alerts=%d firing=%d resolved=%d group=%s"
            " alertnames=%s reason=%r",
            n.receiver,
            n.status,
            len(n.alerts),
            len(n.firing()),
            len(n.resolved()),
            n.group_key,
            ",".join(names),
            n.reason,
        )
        self.sent += 1
