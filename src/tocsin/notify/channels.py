"""Which module builds each receiver kind. Modules are imported on first use, so a config
without, say, Apprise receivers never pays for importing Apprise."""

from __future__ import annotations

import importlib
from typing import Any

from tocsin.notify.base import Integration

#: kind (the ``*_configs`` key without the suffix) → (module, builder function)
CHANNEL_BUILDERS: dict[str, tuple[str, str]] = {
    "email": ("tocsin.notify.email", "build"),
    "slack": ("tocsin.notify.slack", "build"),
    "msteams": ("tocsin.notify.msteams", "build"),
    "msteamsv2": ("tocsin.notify.msteams", "build_v2"),
    "pagerduty": ("tocsin.notify.pagerduty", "build"),
    "opsgenie": ("tocsin.notify.opsgenie", "build"),
    "telegram": ("tocsin.notify.telegram", "build"),
    "discord": ("tocsin.notify.discord", "build"),
    "mattermost": ("tocsin.notify.mattermost", "build"),
    "pushover": ("tocsin.notify.pushover", "build"),
    "victorops": ("tocsin.notify.victorops", "build"),
    "webex": ("tocsin.notify.webex", "build"),
    "sns": ("tocsin.notify.sns", "build"),
    "twilio": ("tocsin.notify.sms_twilio", "build"),
    "apprise": ("tocsin.notify.apprise_channel", "build"),
}


def build_channel(receiver: str, kind: str, index: int, cfg: Any) -> Integration | None:
    """The integration for ``kind``, or None when no channel module handles it."""
    target = CHANNEL_BUILDERS.get(kind)
    if target is None:
        return None
    module = importlib.import_module(target[0])
    integration: Integration = getattr(module, target[1])(receiver, index, cfg)
    return integration
